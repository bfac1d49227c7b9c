"""The S-JEPA tokenizer: receptive field, shape-agnostic local encoder, channel-major tokens, embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biojepa.adapters.eeg.models import TEN_TWENTY_19
from biojepa.adapters.eeg.positions import unit_head_positions
from biojepa.adapters.eeg.tokenizer import (
    SJEPA_CONV_LAYERS,
    ChannelTimeEmbed,
    LocalEncoder,
    SJepaTokenizer,
    conv_output_length,
    position_features,
    receptive_field,
)
from biojepa.errors import ConfigError, ContractError
from biojepa.models import build_encoder, get_spec


def test_receptive_field_and_token_counts_match_the_paper() -> None:
    assert receptive_field(SJEPA_CONV_LAYERS) == 152  # 1.1875 s at 128 Hz
    assert [conv_output_length(n) for n in (151, 152, 512, 536, 2048)] == [0, 1, 3, 4, 15]
    assert sum(p.numel() for p in LocalEncoder().parameters()) == 13_840  # eeg.md §1.1


def test_local_encoder_is_shape_agnostic_and_per_channel() -> None:
    torch.manual_seed(0)
    enc = LocalEncoder().eval()
    x = torch.randn(2, 5, 536)  # (B, C, T)
    h = enc(x)
    assert h.shape == (2, 5, 4, 64)
    # the same weights run on any channel count; each channel is encoded on its own
    h1 = enc(x[:, 2:3])
    torch.testing.assert_close(h1[:, 0], h[:, 2])
    assert enc(torch.randn(1, 4, 152)).shape == (1, 4, 1, 64)
    with pytest.raises(ContractError, match="receptive field"):
        enc(torch.randn(1, 4, 151))


def test_position_features_zero_for_unknown_and_distinct_for_neighbours() -> None:
    pos = unit_head_positions(["C3", "C1", "Cz", "NOPE"])
    f = position_features(pos, 30)
    assert f.shape == (4, 30)
    assert np.all(f[3] == 0)
    assert np.linalg.norm(f[0] - f[1]) > 0.1 and np.linalg.norm(f[1] - f[2]) > 0.1


def test_channel_time_embed_layout() -> None:
    pos = unit_head_positions(["C3", "Cz", "C4"])
    emb = ChannelTimeEmbed(64, pos)
    assert emb.spat_dim == 30
    coords = torch.tensor([[[0.0, 0.0], [0.0, 1.0], [2.0, 0.0]]])  # (1, 3, 2)
    out = emb(coords)
    assert out.shape == (1, 3, 64)
    torch.testing.assert_close(out[0, 0, :30], out[0, 1, :30])  # same channel, same channel part
    assert not torch.equal(out[0, 0, 30:], out[0, 1, 30:])  # different time, different time part
    torch.testing.assert_close(out[0, 0, 30:], out[0, 2, 30:])  # same time, same time part
    torch.testing.assert_close(out[0, 0, :30], torch.from_numpy(position_features(pos, 30))[0])
    assert emb.channel.weight.requires_grad


def test_tokenizer_channel_major_tokens_and_kept_channel_fast_path() -> None:
    torch.manual_seed(0)
    tok = SJepaTokenizer(64, channels=list(TEN_TWENTY_19))
    assert tok.grid((19, 512)) == (19, 3)
    x = torch.randn(2, 19, 512) * 20
    full = tok.embed(x)  # (B, 57, D)
    assert full.shape == (2, 57, 64)
    local = tok.local(x)  # (B, C, t, D)
    torch.testing.assert_close(full[:, 3 * 4 + 2], local[:, 4, 2])  # token c*t + j = channel c, time j
    keep = torch.tensor([[3, 4, 5, 9, 10, 11], [0, 1, 2, 54, 55, 56]])  # whole channels (fast path)
    torch.testing.assert_close(tok.embed(x, keep), torch.gather(full, 1, keep[..., None].expand(-1, -1, 64)))
    ragged = torch.tensor([[0, 4, 7], [1, 2, 50]])  # not channel-aligned (general path)
    torch.testing.assert_close(tok.embed(x, ragged), torch.gather(full, 1, ragged[..., None].expand(-1, -1, 64)))
    coords = tok.coords(x)
    assert coords.shape == (1, 57, 2) and coords[0, 13].tolist() == [4.0, 1.0]
    with pytest.raises(ContractError, match="channel table has 19"):
        tok.grid((18, 512))
    with pytest.raises(ContractError, match="receptive field"):
        tok.grid((19, 100))


def test_tokenizer_configuration_errors() -> None:
    with pytest.raises(ConfigError, match="channel names or a positions"):
        SJepaTokenizer(64)
    with pytest.raises(ConfigError, match="rows"):
        SJepaTokenizer(64, channels=["Cz", "C3"], positions=[[0, 0, 1]])
    with pytest.raises(ContractError, match="positions is known"):
        SJepaTokenizer(64, channels=["X1", "X2"])
    with pytest.raises(ConfigError, match="token width"):
        SJepaTokenizer(64, channels=["Cz"], conv_layers=[[8, 32, 8], [32, 2, 2]])
    assert SJepaTokenizer(64, positions=[[0, 0, 1], None]).n_channels == 2


def test_model_contract_window_shorter_than_receptive_field_is_rejected_at_construction() -> None:
    with pytest.raises(ContractError, match="receptive field"):
        build_encoder(get_spec("eeg_sjepa_tiny", signal={"n_times": 128}))


def test_reordering_channels_by_name_gives_identical_tokens() -> None:
    """Two models whose channel tables list the same channels in a different order agree channel by channel."""
    torch.manual_seed(0)
    names = ["C3", "Cz", "C4", "Pz", "Fz"]
    a = build_encoder(get_spec("eeg_sjepa_tiny", signal={"channels": names})).eval()
    perm = [2, 0, 4, 1, 3]
    b = build_encoder(get_spec("eeg_sjepa_tiny", signal={"channels": [names[i] for i in perm]})).eval()
    b.load_state_dict(a.state_dict())
    with torch.no_grad():  # channel embedding rows follow the names
        b.pos_embed.channel.weight.copy_(a.pos_embed.channel.weight[perm])
    x = torch.randn(1, 5, 512) * 20
    with torch.no_grad():
        ta = a(x).reshape(1, 5, 3, 64)
        tb = b(x[:, perm]).reshape(1, 5, 3, 64)
    torch.testing.assert_close(tb, ta[:, perm], rtol=1e-5, atol=1e-5)
