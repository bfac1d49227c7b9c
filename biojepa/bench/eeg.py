"""``biojepa bench eeg``: throughput and memory of the full S-JEPA pretraining step.

What one timed step is: :func:`biojepa.engine.step.train_step` — the function the Trainer calls — on one
batch of random EEG-shaped inputs ``(B, C, n_times)`` (62 channels x 16 s at 128 Hz = 62 x 15 = 930 tokens for
``eeg_sjepa``) with masks from the registered ``spatial`` mask, its electrode positions taken from the model
(:func:`biojepa.masks.mask_params_with_defaults` with the tokenizer's ``mask_defaults()``). ``n_contexts = R``
masks are drawn per input (S-JEPA draws 8): the target encoder runs once per input over all tokens, the
context encoder (on the kept channels only, CNN included) and the predictor once per mask row. Inputs and
masks are made before the timer starts; the step includes backward, the gradient-norm check, fused AdamW
and the EMA update.

A *sample* is one input crop, so ``samples_per_s = batch / median step`` whatever ``R`` is.

FLOPs (analytic, :func:`sjepa_step_flops`; conventions of :mod:`biojepa.bench.flops`): 2 FLOP per
multiply-accumulate, only convolutions and matrix products count (Linear layers, the local encoder's
convolutions, attention's ``QKᵀ`` and ``AV``); backward = 2 x forward for trained parts, except the first
convolution of the local encoder, whose input is data (weight gradient only, 1 x). Per sample: the target
encoder forward (CNN on all ``C`` channels, transformer over ``N`` tokens), plus, per mask row, the context
encoder (CNN on the ``K / t`` kept channels, transformer over ``K`` tokens) and the predictor over ``K + M``
tokens (``M`` = target slots of the row, padding included: the padded slots are computed) with its down-
and up-projections, forward and backward. Target rows are ragged, so ``M`` changes from step to step; the
row reports the mean over the timed steps.

The result also carries a ``target`` entry: issue 6 asks for >= 10 samples/s at batch 32 under 4 GiB for the
single-context step of ``eeg_sjepa`` on CPU in fp32.
"""

from __future__ import annotations

import gc
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from numbers import Real
from typing import Any

from biojepa.bench.flops import block_macs
from biojepa.bench.report import format_table
from biojepa.errors import ConfigError

__all__ = [
    "TARGET",
    "EegStepFlops",
    "format_table",
    "local_encoder_macs",
    "run_eeg_bench",
    "sjepa_step_flops",
]

MASK_NAME = "spatial"
#: Issue 6: the single-context S-JEPA step of ``eeg_sjepa`` at batch 32, CPU fp32.
TARGET: dict[str, Any] = {
    "model": "eeg_sjepa",
    "batch": 32,
    "n_times": 2048,
    "n_contexts": 1,
    "min_samples_per_s": 10.0,
    "max_peak_mem_mb": 4096.0,
}
# constant step hyperparameters (their values do not change the cost of a step)
_LR, _WD, _MOMENTUM = 1e-4, 0.05, 0.998


# -- analytic FLOPs ------------------------------------------------------------------------------------


def _conv_lengths(n_times: int, conv_layers: Sequence[Sequence[int]]) -> list[int]:
    """Output length of each conv layer (valid convolution, no padding)."""
    lengths, n = [], int(n_times)
    for _, k, s in conv_layers:
        n = (n - int(k)) // int(s) + 1 if n >= int(k) else 0
        lengths.append(n)
    return lengths


def local_encoder_macs(n_times: int, conv_layers: Sequence[Sequence[int]]) -> tuple[int, int]:
    """Multiply-accumulates of the per-channel CNN for one channel of ``n_times`` samples.

    Args:
        n_times: samples per channel.
        conv_layers: ``(out_channels, kernel, stride)`` per layer, input width 1 (the tokenizer's layers).

    Returns:
        ``(all layers, first layer)`` MACs per channel: a layer costs ``L_out · c_out · c_in · k``.

    Example:
        >>> local_encoder_macs(512, [(8, 32, 8), (16, 2, 2), (32, 2, 2), (64, 2, 2), (64, 2, 2)])
        (91904, 15616)
    """
    macs, c_in = [], 1
    for (c_out, k, _), n_out in zip(conv_layers, _conv_lengths(n_times, conv_layers), strict=True):
        macs.append(n_out * int(c_out) * c_in * int(k))
        c_in = int(c_out)
    return sum(macs), macs[0]


@dataclass(frozen=True)
class EegStepFlops:
    """FLOPs of one S-JEPA step, per sample (one input crop), in GFLOP.

    Attributes:
        target_fwd: target encoder forward (CNN on all channels + transformer over all tokens), no backward.
        context_fwd: context encoder forward of one mask row (CNN on the kept channels + transformer).
        predictor_fwd: predictor forward of one mask row (down/up projections included).
        trained_fwd_bwd: context encoder + predictor, forward and backward, summed over the
            ``n_contexts`` rows.
        total: ``target_fwd + trained_fwd_bwd``.
        local_fwd_per_channel: the CNN's forward for one channel.
        n_contexts: mask rows per input ``R``.
        n_channels: input channels ``C``.
        n_time_tokens: tokens per channel ``t``.
        n_tokens: all tokens ``N = C · t``.
        n_ctx_channels: channels run through the context encoder's CNN.
        n_ctx_tokens: context tokens per row ``K``.
        n_tgt_tokens: target slots per row ``M`` (padding included).
    """

    target_fwd: float
    context_fwd: float
    predictor_fwd: float
    trained_fwd_bwd: float
    total: float
    local_fwd_per_channel: float
    n_contexts: int
    n_channels: int
    n_time_tokens: int
    n_tokens: int
    n_ctx_channels: int
    n_ctx_tokens: int
    n_tgt_tokens: int

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def sjepa_step_flops(
    spec: Any,
    *,
    conv_layers: Sequence[Sequence[int]],
    n_times: int,
    n_ctx_tokens: int,
    n_tgt_tokens: int,
    n_contexts: int = 1,
    n_ctx_channels: int | None = None,
) -> EegStepFlops:
    """Analytic FLOPs of one S-JEPA pretraining step, per sample (see the module docstring).

    Args:
        spec: the model's :class:`~biojepa.models.ModelSpec` (encoder and predictor sizes, channel table).
        conv_layers: the local encoder's ``(out, kernel, stride)`` layers (``tokenizer.local.conv_layers``).
        n_times: samples per channel of the input.
        n_ctx_tokens: context tokens per mask row ``K``.
        n_tgt_tokens: target slots per mask row ``M`` (padding included).
        n_contexts: mask rows per input ``R``.
        n_ctx_channels: channels the context encoder runs its CNN on; default ``K / t`` (whole channels, as
            the spatial mask keeps them).

    Returns:
        :class:`EegStepFlops` in GFLOP per sample.

    Raises:
        ConfigError: counts that do not fit the token grid.
    """
    e, p = spec.encoder, spec.predictor
    c = len(spec.signal.channels)
    t = _conv_lengths(n_times, conv_layers)[-1]
    n = c * t
    if t < 1:
        raise ConfigError(f"{n_times} samples give no token with these conv layers; use a longer window")
    if n_ctx_tokens < 1 or n_tgt_tokens < 1 or n_ctx_tokens > n or n_contexts < 1:
        raise ConfigError(
            f"token counts do not fit: K={n_ctx_tokens}, M={n_tgt_tokens}, R={n_contexts}, N={n}; "
            "need 1 <= K <= N, M >= 1 and R >= 1"
        )
    if n_ctx_channels is None:
        if n_ctx_tokens % t:
            raise ConfigError(
                f"K={n_ctx_tokens} context tokens are not whole channels of {t} tokens; pass n_ctx_channels"
            )
        n_ctx_channels = n_ctx_tokens // t
    conv_all, conv_first = local_encoder_macs(n_times, conv_layers)
    regs = e.n_registers

    def stack(n_tok: int, dim: int, depth: int, ratio: float) -> float:
        return 2.0 * depth * block_macs(n_tok, dim, ratio)

    target = 2.0 * c * conv_all + stack(n + regs, e.dim, e.depth, e.mlp_ratio)
    ctx_conv = 2.0 * n_ctx_channels * conv_all
    ctx_conv_bwd = 2.0 * ctx_conv - 2.0 * n_ctx_channels * conv_first  # no input gradient for the data
    ctx_stack = stack(n_ctx_tokens + regs, e.dim, e.depth, e.mlp_ratio)
    pred = (
        2.0 * n_ctx_tokens * e.dim * p.dim  # down-projection
        + stack(n_ctx_tokens + n_tgt_tokens, p.dim, p.depth, p.mlp_ratio)
        + 2.0 * n_tgt_tokens * p.dim * e.dim  # up-projection
    )
    trained = n_contexts * (ctx_conv + ctx_conv_bwd + 3.0 * (ctx_stack + pred))
    g = 1e-9
    return EegStepFlops(
        target_fwd=target * g,
        context_fwd=(ctx_conv + ctx_stack) * g,
        predictor_fwd=pred * g,
        trained_fwd_bwd=trained * g,
        total=(target + trained) * g,
        local_fwd_per_channel=2.0 * conv_all * g,
        n_contexts=int(n_contexts),
        n_channels=c,
        n_time_tokens=t,
        n_tokens=n,
        n_ctx_channels=int(n_ctx_channels),
        n_ctx_tokens=int(n_ctx_tokens),
        n_tgt_tokens=int(n_tgt_tokens),
    )


# -- one benchmark row ---------------------------------------------------------------------------------


def _whole_channels(ctx_idx: Any, t: int) -> int | None:
    """``K / t`` when every row of ``ctx_idx (rows, K)`` keeps whole channels in order, else None."""
    import torch

    k = int(ctx_idx.shape[1])
    if k % t:
        return None
    ch = ctx_idx[:, ::t] // t  # (rows, K/t)
    offsets = torch.arange(t, device=ctx_idx.device).repeat(k // t)  # (K,)
    expect = (ch * t).repeat_interleave(t, dim=1) + offsets  # (rows, K)
    return k // t if torch.equal(expect, ctx_idx) else None


def _mean(values: Sequence[float]) -> float | int:
    m = statistics.fmean(values)
    return int(m) if m == int(m) else m


def _bench_row(
    name: str,
    *,
    n_contexts: int,
    batch: int,
    steps: int,
    warmup: int,
    n_times: int,
    radius: float,
    dev: Any,
    dtype: str,
    seed: int,
) -> dict[str, Any]:
    import torch

    from biojepa.bench.engine import attention_backend, time_train_steps
    from biojepa.bench.env import DevicePeakMemory
    from biojepa.engine.step import build_optimizer
    from biojepa.masks.base import build_mask, make_mask_rngs, mask_params_with_defaults
    from biojepa.models import build_jepa, get_spec
    from biojepa.nn.vit import cpu_linear_backend

    spec = get_spec(name)
    n_chans = len(spec.signal.channels)
    memory = DevicePeakMemory(dev).start()
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        model = build_jepa(spec).to(dev).train()
        opt = build_optimizer(model)
        tok = model.context_encoder.tokenizer
        grid = tuple(tok.grid((n_chans, n_times)))  # (C, t)
        params = mask_params_with_defaults(
            MASK_NAME, {"radius": radius, "n_contexts": n_contexts}, tok.mask_defaults()
        )
        make_masks: Callable[..., Any] = build_mask(MASK_NAME, params)
        timed = time_train_steps(
            model, opt, lambda i: make_masks(grid, make_mask_rngs(seed, i, range(i * batch, (i + 1) * batch))),
            (batch, n_chans, n_times), steps=steps, warmup=warmup, dev=dev, precision=dtype, seed=seed,
        )
        conv_layers = tok.local.conv_layers
    peak_mb, mem_method = memory.stop()
    times, cpu_share, loss, skipped = timed.times, timed.cpu_share, timed.loss, timed.skipped
    shapes = []  # (K, M, CNN channels, valid targets per row) per timed step
    for masks in timed.masks:
        k, m = int(masks.ctx_idx.shape[1]), int(masks.tgt_idx.shape[1])
        v = masks.tgt_valid
        shapes.append((k, m, _whole_channels(masks.ctx_idx, grid[1]) or n_chans,
                       m if v is None else float(v.sum()) / v.shape[0]))
    per_step = [
        sjepa_step_flops(
            spec, conv_layers=conv_layers, n_times=n_times, n_ctx_tokens=k, n_tgt_tokens=m,
            n_contexts=n_contexts, n_ctx_channels=ch,
        )
        for k, m, ch, _ in shapes
    ]
    # masks differ from step to step (ragged target blocks): the mean over the timed steps
    flops = {key: _mean([getattr(f, key) for f in per_step]) for key in EegStepFlops.__dataclass_fields__}
    e = spec.encoder
    attn_dtype = torch.bfloat16 if dtype == "bf16" else torch.float32
    n_tokens = math.prod(grid)
    attention = attention_backend(
        e.n_heads, e.dim // e.n_heads, n_tokens + e.n_registers, batch, dev, attn_dtype
    )
    step_s = statistics.median(times)
    samples_per_s = batch / step_s
    del model, opt
    gc.collect()
    return {
        "name": f"{name}/{dtype}/eager/ctx{n_contexts}",
        "model": name,
        "batch": batch,
        "samples_per_s": samples_per_s,
        "step_s": step_s,
        "step_s_min": min(times),
        "step_times_s": times,
        "cpu_utilization": statistics.median(cpu_share) if dev.type == "cpu" else None,
        "steps": steps,
        "warmup": warmup,
        "peak_mem_mb": peak_mb,
        "peak_mem_method": mem_method,
        "gflop_per_sample": flops["total"],
        "flops": flops,
        "achieved_gflops": flops["total"] * samples_per_s,
        "dtype": dtype,
        "compile": False,
        "attention_backend": attention,
        "linear_backend": cpu_linear_backend() if dev.type == "cpu" and dtype == "fp32" else "aten",
        "device": str(dev),
        "n_contexts": n_contexts,
        "n_times": n_times,
        "grid": list(grid),
        "n_tokens": n_tokens,
        "n_ctx_tokens": flops["n_ctx_tokens"],
        "n_tgt_tokens": flops["n_tgt_tokens"],
        "n_tgt_tokens_valid": statistics.fmean(v for *_, v in shapes),
        "mask": MASK_NAME,
        "mask_params": {k: v for k, v in params.items() if k != "positions"},
        "final_loss": loss,
        "nonfinite_steps": skipped,
    }


# -- the benchmark -------------------------------------------------------------------------------------


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, found {value!r}")
    return value


def _check_args(
    models: Any, contexts: Any, radius: Any, device: Any, n_times: Any, ints: dict[str, tuple[Any, int]]
) -> tuple[tuple[str, ...], tuple[int, ...]]:
    for key, (value, low) in ints.items():
        _check_int(key, value, low)
    if isinstance(models, str) or not models:
        raise ConfigError(
            f"models must be a non-empty list of EEG model names (e.g. eeg_sjepa), found {models!r}"
        )
    if isinstance(contexts, (str, int)) or not contexts:
        raise ConfigError(
            f"contexts must be a non-empty list of masks-per-input counts (e.g. 1, 8), found {contexts!r}"
        )
    ctx = tuple(contexts)
    for r in ctx:
        _check_int("each of contexts", r, 1)
    if len(set(ctx)) != len(ctx):
        raise ConfigError(f"contexts must not repeat a value, found {list(ctx)}")
    if isinstance(radius, bool) or not isinstance(radius, Real) or not 0.0 < float(radius) < math.inf:
        raise ConfigError(
            f"radius must be a number > 0 (in head radii; S-JEPA used 0.4-0.8), found {radius!r}"
        )
    if device not in ("auto", "cpu", "cuda") and not str(device).startswith("cuda:"):
        raise ConfigError(f"device must be 'cpu', 'auto', 'cuda' or 'cuda:N', found {device!r}")
    from biojepa.adapters.eeg.tokenizer import SJEPA_CONV_LAYERS, conv_output_length, receptive_field
    from biojepa.models import get_spec

    for name in models:  # fail fast, before minutes of timing
        spec = get_spec(name)
        if spec.tokenizer.kind != "sjepa_local":
            raise ConfigError(
                f"model {name!r} is not an S-JEPA EEG model (tokenizer {spec.tokenizer.kind!r}); "
                "use eeg_sjepa, eeg_sjepa_l or eeg_sjepa_tiny"
            )
        layers = spec.tokenizer.args.get("conv_layers") or SJEPA_CONV_LAYERS
        if conv_output_length(n_times, layers) < 1:
            raise ConfigError(
                f"n_times={n_times} is shorter than the receptive field of {name}'s local encoder "
                f"({receptive_field(layers)} samples); use n_times >= {receptive_field(layers)}"
            )
    return tuple(models), ctx


def _target(rows: Sequence[dict[str, Any]], models: Sequence[str], n_times: int) -> dict[str, Any]:
    """Does the single-context CPU fp32 row of ``eeg_sjepa`` (else the first model) meet issue 6's target?"""
    model = TARGET["model"] if TARGET["model"] in models else models[0]
    name = f"{model}/fp32/eager/ctx1"
    row = next((r for r in rows if r["name"] == name and r["device"] == "cpu"), None)
    out: dict[str, Any] = {**TARGET, "row": name if row else None}
    if row is None:
        return {**out, "samples_per_s": None, "peak_mem_mb": None, "meets_speed": None, "meets_memory": None,
                "met": None, "comparable": False}
    speed = bool(row["samples_per_s"] >= TARGET["min_samples_per_s"])
    mem = bool(row["peak_mem_mb"] < TARGET["max_peak_mem_mb"])
    comparable = (model, row["batch"], n_times) == (TARGET["model"], TARGET["batch"], TARGET["n_times"])
    return {**out, "samples_per_s": row["samples_per_s"], "peak_mem_mb": row["peak_mem_mb"],
            "meets_speed": speed, "meets_memory": mem, "met": speed and mem, "comparable": comparable}


def run_eeg_bench(
    *,
    models: Sequence[str] = ("eeg_sjepa",),
    batch: int = 32,
    steps: int = 5,
    warmup: int = 2,
    threads: int | None = 2,
    device: str = "auto",
    n_times: int = 2048,
    contexts: Sequence[int] = (1, 8),
    radius: float = 0.4,
    cuda_batch: int = 32,
    seed: int = 0,
    matmul_n: int | None = None,
) -> dict[str, Any]:
    """Time the full S-JEPA pretraining step of EEG models with 1 and 8 spatial masks per input.

    Args:
        models: registered S-JEPA models (``sjepa_local`` tokenizer): ``eeg_sjepa``, ``eeg_sjepa_l``, ...
        batch: inputs per step on CPU.
        steps: timed steps per row (the figure is their median).
        warmup: untimed steps first.
        threads: ``torch.set_num_threads`` for the run (restored afterwards); None leaves it alone.
        device: ``"cpu"`` (CPU rows only), ``"auto"`` (plus bf16 CUDA rows when CUDA is available) or
            ``"cuda"`` / ``"cuda:N"`` (plus CUDA rows; CUDA required).
        n_times: samples per channel of an input (2048 = 16 s at 128 Hz: 15 tokens per channel).
        contexts: masks per input ``R`` to time, one row each (S-JEPA trains with 8).
        radius: spatial block radius in head radii (S-JEPA compared 0.4, 0.6, 0.8).
        cuda_batch: inputs per step of the CUDA rows.
        seed: seed of the model init, the inputs and the masks.
        matmul_n: matrix size of the matmul-peak measurement (default 2048 on CPU, 8192 on CUDA).

    Returns:
        ``{"schema_version": 1, "status": "ok", "bench": "eeg", "env": {...}, "rows": [...],
        "target": {...}, "checks": {...}, "params": {...}, "errors": []}`` — the DESIGN.md §5 ``bench``
        schema.
        Rows are named ``<model>/<dtype>/eager/ctx<R>`` and add ``n_contexts``, ``n_tokens``,
        ``n_ctx_tokens``, ``n_tgt_tokens`` (mean padded target slots per mask row), ``n_tgt_tokens_valid``,
        the ``flops`` breakdown, ``step_s_min``, ``mfu_or_peak_ratio``, ``cpu_utilization`` and
        ``final_loss``. ``target`` says whether the ctx1 CPU row meets >= 10 samples/s and < 4096 MiB
        (``comparable`` is false unless the run is ``eeg_sjepa`` at batch 32 and 2048 samples).

    Raises:
        ConfigError: invalid arguments, a model that is not an S-JEPA EEG model, a window shorter than the
            local encoder's receptive field, or ``device="cuda"`` without CUDA.
        UnknownNameError: an unknown model name.
    """
    ints = {"batch": (batch, 1), "steps": (steps, 1), "warmup": (warmup, 0), "n_times": (n_times, 1),
            "cuda_batch": (cuda_batch, 1), "seed": (seed, 0)}
    models, ctx = _check_args(models, contexts, radius, device, n_times, ints)
    import torch

    from biojepa.bench import engine
    from biojepa.bench.env import env_info, matmul_peak_gflops, num_threads

    cuda_device: str | None = None
    if device == "auto":
        cuda_device = "cuda" if torch.cuda.is_available() else None
    elif device != "cpu":
        engine._resolve_device(device)  # raises ConfigError without CUDA
        cuda_device = device
    radius = float(radius)
    runs = [(torch.device("cpu"), batch, "fp32")]
    if cuda_device is not None:
        runs.append((torch.device(cuda_device), cuda_batch, "bf16"))
    rows: list[dict[str, Any]] = []
    with num_threads(threads):
        env = env_info("cpu")
        for dev, dev_batch, dtype in runs:
            n = matmul_n if matmul_n is not None else (2048 if dev.type == "cpu" else 8192)
            peak = matmul_peak_gflops(None, n=n, device=str(dev), dtype=dtype)
            if dev.type == "cpu":
                env["matmul_peak_gflops"] = peak
                env["matmul_peak_kernel"] = f"biojepa.nn.vit.linear, {dtype}, n={n}"
            else:
                env["gpu"] = torch.cuda.get_device_name(dev)
                env["cuda_device"] = str(dev)
                env["cuda_matmul_peak_gflops"] = peak
                env["cuda_matmul_peak_kernel"] = f"biojepa.nn.vit.linear, {dtype}, n={n}"
            for name in models:
                for r in ctx:
                    row = _bench_row(
                        name, n_contexts=r, batch=dev_batch, steps=steps, warmup=warmup, n_times=n_times,
                        radius=radius, dev=dev, dtype=dtype, seed=seed,
                    )
                    row["mfu_or_peak_ratio"] = row["achieved_gflops"] / peak if peak > 0 else None
                    if dev.type == "cuda":
                        row["gpu"] = env["gpu"]
                    rows.append(row)
    target = _target(rows, models, n_times)
    return {
        "schema_version": engine.SCHEMA_VERSION,
        "status": "ok",
        "bench": "eeg",
        "env": env,
        "rows": rows,
        "target": target,
        # the table's check line: the verdict only when the run is the configuration
        "checks": {
            "target_row": target["row"], "target_met": target["met"] if target["comparable"] else None
        },
        "params": {
            "models": list(models), "batch": batch, "steps": steps, "warmup": warmup, "threads": threads,
            "device": device, "n_times": n_times, "contexts": list(ctx), "radius": radius,
            "cuda_batch": cuda_batch, "seed": seed, "mask": MASK_NAME,
        },
        "errors": [],
    }
