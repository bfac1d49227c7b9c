"""S-JEPA downstream classifiers: braindecode signal arguments, the three architectures, transfer, schemes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biojepa.adapters.eeg.classifier import ARCHS, SignalJepaClassifier, n_parameters
from biojepa.errors import ConfigError, ContractError
from biojepa.eval.metrics import binomial_chance_bound
from biojepa.eval.supervised import SupervisedConfig, fit_classifier, predict_logits
from biojepa.models import build_encoder, get_spec

NAMES = ["C3", "Cz", "C4", "Pz"]


@pytest.fixture(scope="module")
def encoder() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_encoder(get_spec("eeg_sjepa_tiny", encoder={"depth": 1}))


def _chs_info(names: list[str]) -> list[dict]:
    import mne

    info = mne.create_info(names, 128.0, "eeg")
    info.set_montage("colin27_1005" if "colin27_1005" in mne.channels.get_builtin_montages() else "standard_1005")
    return list(info["chs"])


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("pretrained", [False, True])
def test_forward_features_and_head(arch: str, pretrained: bool, encoder: torch.nn.Module) -> None:
    m = SignalJepaClassifier(3, chs_info=_chs_info(NAMES), input_window_seconds=536 / 128, sfreq=128.0, arch=arch,
                             encoder=encoder if pretrained else None)
    assert m.n_chans == 4 and m.n_times == 536 and m.n_tokens_per_channel == 4
    x = torch.randn(2, 4, 536) * 10
    assert m(x).shape == (2, 3)
    feats = m(x, return_features=True)
    assert set(feats) == {"features", "cls_token"} and feats["features"].shape == (2, 4 * 4 * 64)
    m.reset_head(5)
    assert m(x).shape == (2, 5) and m.final_layer.out_features == 5
    new = sum(n_parameters(k) for k in m.new_modules())
    assert new < n_parameters(m)


def test_pre_local_transfer_copies_the_pretrained_local_encoder(encoder: torch.nn.Module) -> None:
    """The braindecode 1.8 bug (eeg.md §1.4): the copied local encoder must run on the 4 virtual channels."""
    m = SignalJepaClassifier(2, n_chans=22, n_times=536, arch="pre_local", encoder=encoder)
    for a, b in zip(m.local.parameters(), encoder.tokenizer.local.parameters(), strict=True):
        assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()  # a copy with the pretrained values
    assert m(torch.randn(2, 22, 536)).shape == (2, 2)


def test_contextual_maps_the_channel_table_by_name(encoder: torch.nn.Module) -> None:
    # eeg_sjepa_tiny's table is the 19 10-20 channels; C3/Cz/C4/Pz rows are copied, "CP1" is new
    m = SignalJepaClassifier(2, channels=["Pz", "C3", "CP1"], n_times=512, arch="contextual", encoder=encoder)
    old = list(encoder.spec.signal.channels)
    w_old = encoder.pos_embed.channel.weight
    w_new = m.encoder.pos_embed.channel.weight
    torch.testing.assert_close(w_new[0], w_old[old.index("Pz")])
    torch.testing.assert_close(w_new[1], w_old[old.index("C3")])
    assert not any(torch.allclose(w_new[2], w_old[i]) for i in range(len(old)))
    assert m(torch.randn(1, 3, 512)).shape == (1, 2)
    with pytest.raises(ConfigError, match="channel names"):
        SignalJepaClassifier(2, n_chans=3, n_times=512, arch="contextual")


def test_signal_arguments_are_cross_checked() -> None:
    with pytest.raises(ConfigError, match="chs_info describes"):
        SignalJepaClassifier(2, n_chans=5, chs_info=_chs_info(NAMES), n_times=536)
    with pytest.raises(ConfigError, match="disagrees"):
        SignalJepaClassifier(2, n_chans=4, n_times=500, input_window_seconds=4.0, sfreq=128.0)
    with pytest.raises(ConfigError, match="window length"):
        SignalJepaClassifier(2, n_chans=4)
    with pytest.raises(ContractError, match="receptive field"):
        SignalJepaClassifier(2, n_chans=4, n_times=128, sfreq=128.0)
    with pytest.raises(ConfigError, match="unknown arch"):
        SignalJepaClassifier(2, n_chans=4, n_times=536, arch="late")  # type: ignore[arg-type]
    with pytest.raises(ContractError, match="built for 4 channels"):
        SignalJepaClassifier(2, n_chans=4, n_times=536)(torch.randn(1, 3, 536))


def _planted(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A phase-locked toy task: an 8 Hz (class 0) or 20 Hz (class 1) response on channels 0-1, in noise.

    (With a random phase per trial the same task needs ~200 training trials: the S-JEPA heads read
    phase-sensitive tokens, 1 per second, without pooling.)
    """
    rng = np.random.default_rng(seed)
    t = np.arange(536) / 128.0
    y = np.arange(n) % 2
    x = rng.standard_normal((n, 4, 536)) * 5
    for i in range(n):
        x[i, :2] += 15 * np.sin(2 * np.pi * (20 if y[i] else 8) * t)
    return x.astype(np.float32), y


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("scheme", ["new", "full"])
def test_every_head_trains_under_both_schemes(arch: str, scheme: str, encoder: torch.nn.Module) -> None:
    x, y = _planted(48, 0)
    xt, yt = _planted(80, 1)
    torch.manual_seed(0)
    m = SignalJepaClassifier(2, channels=NAMES, n_times=536, arch=arch, encoder=encoder)
    before = [p.detach().clone() for p in m.pretrained_modules()[0].parameters()]
    fit = fit_classifier(m, x[:36], y[:36], x[36:], y[36:],
                         SupervisedConfig(scheme=scheme, max_epochs=15, patience=15, warmup_epochs=3, seed=0),  # type: ignore[arg-type]
                         pretrained=m.pretrained_modules())
    after = list(m.pretrained_modules()[0].parameters())
    changed = any(not torch.equal(a, b) for a, b in zip(after, before, strict=True))
    assert changed == (scheme == "full" and fit.best_epoch >= 3)
    assert fit.history[0]["train_loss"] > min(h["train_loss"] for h in fit.history)
    acc = float(np.mean(predict_logits(m, xt).argmax(1) == yt))
    assert acc > binomial_chance_bound(len(yt), 0.5), acc  # above chance at the 5 % level
