"""``biojepa bench engine``: throughput of the full JEPA pretraining step.

What one timed step is: :func:`biojepa.engine.step.train_step` — the function the Trainer calls — on one
micro-batch: target-encoder pass over all tokens, context-encoder pass over the kept tokens, predictor, L1
loss, backward, gradient-norm check, AdamW, EMA update. Inputs (random ``(B, C, T)`` signals of the model's
signal contract) and masks (the registered ``block1d`` mask with its keep ratio pinned to ``keep``;
``random_tokens`` for multi-dimensional token grids) are made before the timer starts, one batch per step.

Reported per model (DESIGN.md §5 ``bench`` schema): the median and the minimum step time over ``steps``
steps after ``warmup`` untimed steps, samples/s (batch / median), the peak-memory delta, the analytic
GFLOP per sample (:mod:`biojepa.bench.flops`), the achieved GFLOP/s and its ratio to a dense matmul peak
measured in the same run with the same threads (:func:`biojepa.bench.env.matmul_peak_gflops`).
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from biojepa.bench.env import DevicePeakMemory, env_info, matmul_peak_gflops, num_threads, sync
from biojepa.bench.report import format_table
from biojepa.errors import ConfigError

__all__ = ["SCHEMA_VERSION", "attention_backend", "format_table", "run_engine_bench"]

SCHEMA_VERSION = 1
_DEVICE_DEFAULTS = {"cpu": (32, "fp32"), "cuda": (256, "bf16")}
# constant step hyperparameters (their values do not change the cost of a step)
_LR, _WD, _MOMENTUM = 1e-4, 0.05, 0.998


@dataclass(frozen=True)
class _FallbackMasks:
    """Duck-typed stand-in for ``MaskSet`` when :mod:`biojepa.masks` cannot be imported."""

    ctx_idx: Any
    tgt_idx: Any
    tgt_valid: Any = None

    def to(self, device: Any) -> _FallbackMasks:
        return _FallbackMasks(self.ctx_idx.to(device), self.tgt_idx.to(device))


def _check_args(
    models: Sequence[str], batch: int, steps: int, warmup: int, keep: float, device: str, dtype: str
) -> None:
    if isinstance(models, str) or not models:
        raise ConfigError(f"models must be a non-empty list of registered model names, found {models!r}")
    for name, value, low in (("batch", batch, 1), ("steps", steps, 1), ("warmup", warmup, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"{name} must be an integer >= {low}, found {value!r}")
    if isinstance(keep, bool) or not isinstance(keep, (int, float)) or not 0.0 < float(keep) < 1.0:
        raise ConfigError(f"keep must be a fraction in (0, 1) (e.g. 0.20 as in ECG-JEPA), found {keep!r}")
    if dtype not in ("fp32", "bf16"):
        raise ConfigError(f"dtype must be 'fp32' or 'bf16', found {dtype!r}")
    if device == "cpu" and dtype == "bf16":
        raise ConfigError("bf16 autocast is only benchmarked on CUDA; use dtype='fp32' on CPU")


def _resolve_device(device: str) -> Any:
    import torch

    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ConfigError(f"invalid device {device!r}: {exc}; use 'cpu' or 'cuda'") from None
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"the engine benchmark runs on 'cpu' or 'cuda', found {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device='cuda' was requested but torch sees no CUDA device; use device='cpu'")
    return dev


def _mask_source(
    grid: tuple[int, ...], keep: float, batch: int, seed: int = 0
) -> tuple[str, str, Callable[[int], Any]]:
    """``(mask name, note, fn(step) -> masks)`` for a token grid with the keep ratio pinned to ``keep``."""
    import numpy as np
    import torch

    try:
        from biojepa.masks import build_mask, make_mask_rngs
    except ImportError:
        n = math.prod(grid)
        k = min(max(math.ceil(keep * n), 1), n - 1)

        def contiguous(step: int) -> _FallbackMasks:
            rng = np.random.default_rng([seed, step])
            starts = rng.integers(0, n - k + 1, size=batch)  # (B,)
            ctx = np.stack([np.arange(s, s + k) for s in starts])  # (B, K)
            tgt = np.stack([np.setdiff1d(np.arange(n), row) for row in ctx])  # (B, N - K)
            return _FallbackMasks(torch.from_numpy(ctx), torch.from_numpy(tgt))

        note = "biojepa.masks is not importable: masks are one random contiguous context block per sample"
        return "fallback_contiguous", note, contiguous

    if len(grid) == 1:
        name, fn = "block1d", build_mask("block1d", {"keep_min": keep, "keep_max": keep})
    else:
        name, fn = "random_tokens", build_mask("random_tokens", {"keep": keep})
    def masks(step: int) -> Any:
        return fn(grid, make_mask_rngs(seed, step, range(step * batch, (step + 1) * batch)))

    return name, "", masks


def attention_backend(n_heads: int, head_dim: int, n_tokens: int, batch: int, device: Any, dtype: Any) -> str:
    """The SDPA kernel torch picks for a training call of this shape, e.g. ``"sdpa/flash_attention"``."""
    import torch

    try:
        from torch.nn.attention import SDPBackend

        q = torch.zeros(batch, n_heads, n_tokens, head_dim, device=device, dtype=dtype, requires_grad=True)
        choice = SDPBackend(int(torch._fused_sdp_choice(q, q, q)))
        return f"sdpa/{choice.name.lower()}"
    except Exception:  # a private helper: report the API only when it is missing or changed
        return "sdpa"


@dataclass
class TimedSteps:
    """What :func:`time_train_steps` measured.

    Attributes:
        times: wall seconds of each timed step.
        cpu_share: process CPU time / (wall time x threads) of each timed step.
        masks: the mask set of each timed step (for per-step FLOP counts).
        loss: the last step's loss.
        skipped: non-finite (skipped) steps, warm-up included.
    """

    times: list[float]
    cpu_share: list[float]
    masks: list[Any]
    loss: float
    skipped: int


def time_train_steps(
    model: Any,
    opt: Any,
    make_masks: Callable[[int], Any],
    input_shape: tuple[int, int, int],
    *,
    steps: int,
    warmup: int,
    dev: Any,
    precision: str,
    seed: int,
) -> TimedSteps:
    """Time ``warmup + steps`` calls of :func:`biojepa.engine.step.train_step` on random inputs (the last ``steps``).

    Step ``i`` trains on ``torch.randn(*input_shape)`` (a seeded generator on ``dev``) with ``make_masks(i)``;
    inputs and masks are made before the timer starts and the device is synchronised around the step. Shared by
    ``bench engine``, ``bench eeg`` and ``bench fmri``; run it inside the caller's ``torch.random.fork_rng``.
    """
    import torch

    from biojepa.engine.step import train_step

    gen = torch.Generator(device=dev).manual_seed(seed)
    out = TimedSteps([], [], [], float("nan"), 0)
    for i in range(warmup + steps):
        x = torch.randn(*input_shape, generator=gen, device=dev)  # (B, C, T)
        masks = make_masks(i)
        if dev.type == "cuda":
            masks = masks.to(dev)
        sync(dev)
        c0, t0 = time.process_time(), time.perf_counter()
        stats = train_step(model, opt, [(x, masks)], lr=_LR, weight_decay=_WD, momentum=_MOMENTUM,
                           precision=precision)
        sync(dev)
        dt = time.perf_counter() - t0
        if i >= warmup:
            out.times.append(dt)
            out.cpu_share.append((time.process_time() - c0) / (dt * torch.get_num_threads()))
            out.masks.append(masks)
        out.loss = stats.loss
        out.skipped += 0 if stats.finite else 1
    return out


def _bench_model(
    name: str,
    *,
    batch: int,
    steps: int,
    warmup: int,
    keep: float,
    compile: bool,
    dev: Any,
    dtype: str,
    seed: int,
) -> dict[str, Any]:
    import torch

    from biojepa.bench.flops import jepa_step_flops
    from biojepa.engine.step import build_optimizer
    from biojepa.models import build_jepa, get_spec
    from biojepa.nn.vit import cpu_linear_backend

    spec = get_spec(name)
    n_chans, n_times = len(spec.signal.channels), spec.signal.n_times
    precision = dtype
    memory = DevicePeakMemory(dev).start()
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        model = build_jepa(spec).to(dev).train()
        if compile:
            model.compile()
        opt = build_optimizer(model)
        tok = model.context_encoder.tokenizer
        grid = tuple(tok.grid((n_chans, n_times)))
        mask_name, mask_note, make_masks = _mask_source(grid, keep, batch, seed)
        timed = time_train_steps(model, opt, make_masks, (batch, n_chans, n_times), steps=steps, warmup=warmup,
                                 dev=dev, precision=precision, seed=seed)
    peak_mb, mem_method = memory.stop()
    times, cpu_share, masks, loss, skipped = (timed.times, timed.cpu_share, timed.masks[-1], timed.loss,
                                              timed.skipped)
    n_ctx, n_tgt = int(masks.ctx_idx.shape[1]), int(masks.tgt_idx.shape[1])
    flops = jepa_step_flops(spec, n_ctx=n_ctx, n_tgt=n_tgt, n_tokens=math.prod(grid))
    e = spec.encoder
    attn_dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    attention = attention_backend(
        e.n_heads, e.dim // e.n_heads, flops.n_tokens + e.n_registers, batch, dev, attn_dtype
    )
    step_s = statistics.median(times)
    samples_per_s = batch / step_s
    del model, opt
    gc.collect()
    return {
        "name": f"{name}/{dtype}/{'compile' if compile else 'eager'}",
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
        "gflop_per_sample": flops.total,
        "flops": flops.as_dict(),
        "achieved_gflops": flops.total * samples_per_s,
        "dtype": dtype,
        "compile": compile,
        "attention_backend": attention,
        "linear_backend": cpu_linear_backend() if dev.type == "cpu" and dtype == "fp32" else "aten",
        "device": str(dev),
        "keep": keep,
        "mask": mask_name,
        "mask_note": mask_note,
        "final_loss": loss,
        "nonfinite_steps": skipped,
    }


def run_engine_bench(
    models: Sequence[str] = ("synthetic_vit_xs", "synthetic_vit_s"),
    batch: int | None = None,
    steps: int = 10,
    warmup: int = 3,
    threads: int | None = 2,
    keep: float = 0.20,
    compile: bool = False,
    device: str = "cpu",
    dtype: str | None = None,
    seed: int = 0,
    matmul_n: int | None = None,
) -> dict[str, Any]:
    """Time the JEPA pretraining step of registered models.

    Args:
        models: registered model names (``biojepa models list``).
        batch: samples per step; default 32 on CPU, 256 on CUDA.
        steps: timed steps (the figure is their median; report >= 10).
        warmup: untimed steps first.
        threads: ``torch.set_num_threads`` for the run (restored afterwards); None leaves it alone.
        keep: context keep ratio, fixed for every batch (K = ceil(keep · N)).
        compile: also time each model under ``torch.compile`` (an extra ``.../compile`` row; a failed
            compilation is reported under ``errors``, not raised).
        device: ``"cpu"``, ``"cuda"`` (or ``"cuda:N"``), or ``"auto"`` (CUDA when available).
        dtype: ``"fp32"`` or ``"bf16"`` (bf16 autocast, CUDA only); default fp32 on CPU, bf16 on CUDA.
        seed: seed of the model init, inputs and masks.
        matmul_n: matrix size of the matmul-peak measurement; default 2048 on CPU, 8192 on CUDA.

    Returns:
        ``{"schema_version": 1, "status": "ok", "bench": "engine", "env": {...}, "rows": [...],
        "errors": [...]}`` — the DESIGN.md §5 ``bench`` schema; each row adds ``step_s_min``,
        ``mfu_or_peak_ratio`` (achieved GFLOP/s ÷ ``env.matmul_peak_gflops``) and details (``flops``
        breakdown, ``mask``, ``linear_backend``, ``peak_mem_method``, ``final_loss``,
        ``cpu_utilization`` — the median over steps of process CPU time ÷ (wall time × threads); well
        below 1 on CPU means other processes competed for the cores and the timing is pessimistic).

    Raises:
        ConfigError: invalid arguments (bad sizes, bf16 on CPU, CUDA not available).
        UnknownNameError: an unknown model name.
    """
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device not in _DEVICE_DEFAULTS and not str(device).startswith("cuda:"):
        raise ConfigError(f"device must be 'cpu', 'cuda' or 'auto', found {device!r}")
    default_batch, default_dtype = _DEVICE_DEFAULTS["cpu" if device == "cpu" else "cuda"]
    batch = default_batch if batch is None else batch
    dtype = default_dtype if dtype is None else dtype
    models = tuple(models) if not isinstance(models, str) else models
    _check_args(models, batch, steps, warmup, keep, device, dtype)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, found {seed!r}")
    from biojepa.models import get_spec

    for name in models:  # fail fast on unknown names, before minutes of timing
        get_spec(name)
    dev = _resolve_device(device)
    keep = float(keep)
    rows: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    with num_threads(threads):
        env = env_info(str(dev))
        n = matmul_n if matmul_n is not None else (2048 if dev.type == "cpu" else 8192)
        peak = matmul_peak_gflops(None, n=n, device=str(dev), dtype=dtype)
        env["matmul_peak_gflops"] = peak
        env["matmul_peak_kernel"] = f"biojepa.nn.vit.linear, {dtype}, n={n}"
        env["matmul_peak_gflops_torch_mm"] = matmul_peak_gflops(
            None, n=n, device=str(dev), dtype=dtype, kernel="torch_mm"
        )
        for name in models:
            for use_compile in (False, True) if compile else (False,):
                kwargs = dict(
                    batch=batch, steps=steps, warmup=warmup, keep=keep, compile=use_compile, dev=dev,
                    dtype=dtype, seed=seed,
                )
                if not use_compile:
                    row = _bench_model(name, **kwargs)  # type: ignore[arg-type]
                else:
                    try:
                        row = _bench_model(name, **kwargs)  # type: ignore[arg-type]
                    except Exception as exc:  # torch.compile needs a compiler toolchain; report, go on
                        msg = f"{type(exc).__name__}: {exc}"
                        errors.append({"name": f"{name}/{dtype}/compile", "error": msg})
                        continue
                row["mfu_or_peak_ratio"] = row["achieved_gflops"] / peak if peak > 0 else None
                rows.append(row)
    return {
        "schema_version": SCHEMA_VERSION,
        "status": "ok",
        "bench": "engine",
        "env": env,
        "rows": rows,
        "errors": errors,
    }
