"""``biojepa bench fmri``: throughput and memory of the full Brain-JEPA pretraining step.

What one timed step is: :func:`biojepa.engine.step.train_step` — the function the Trainer calls — on one
batch of random ROI x time inputs ``(B, R, T)`` of the model's signal contract (450 ROIs x 160 frames =
450 x 10 = 4,500 tokens for ``fmri_vit_s`` / ``_b`` / ``_l``; 116 x 80 = 116 x 5 = 580 for ``fmri_vit_tiny``)
with masks from the registered ``spatiotemporal`` mask at its defaults (Brain-JEPA's ranges), the model built
as Brain-JEPA trains it (``build_jepa(spec, loss="smooth_l1", target_norm=True)``: smooth-L1 on layer-normed
EMA targets). Inputs and masks are made before the timer starts, one batch per step; the step includes the
target encoder over all tokens, the context encoder over the kept tokens, the predictor, backward, the
gradient-norm check, fused AdamW and the EMA update.

Default rows (the issue's plan): on CPU in fp32, ``fmri_vit_s`` at batch 1 (3 timed steps after 1 warm-up;
the step is about 1 TFLOP) and ``fmri_vit_tiny`` at batch 8 (5 after 2); with ``device="auto"`` and a CUDA
device (or ``device="cuda"``), ``fmri_vit_s`` and ``fmri_vit_b`` at batch 8 under bf16 autocast (10 after 3),
the GPU named in ``env.gpu`` and in each CUDA row.

A *sample* is one input crop: ``samples_per_s = batch / median step``.

FLOPs (analytic, :func:`brainjepa_step_flops`; conventions of :mod:`biojepa.bench.flops`): 2 FLOP per
multiply-accumulate, only matrix products count (Linear layers, the patch projection, the ROI position
``Linear(k -> D/2)``, attention's ``QKᵀ`` and ``AV``); backward = 2 x forward for trained parts, except the
patch projection and the position Linear, whose inputs are data (the frames, the fixed gradient table):
weight gradient only, 1 x. Per sample: the target encoder forward over all ``N`` tokens; the context encoder
forward and backward over the ``K`` kept tokens; the predictor forward and backward over ``K + M`` tokens
(``M`` = target slots, padding included: the padded slots are computed) with its down- and up-projections.
The position Linear maps the whole ``(R, k)`` table once per forward call whatever the batch (three calls a
step: target encoder, context encoder, predictor), so its share per sample is divided by the batch.
The spatiotemporal mask redraws its block sizes every step, so ``K`` and ``M`` change from step to step; a
row reports the mean over its timed steps (and the per-step values in ``step_gflop_per_sample``).
"""

from __future__ import annotations

import gc
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from biojepa.bench.flops import block_macs
from biojepa.bench.report import format_table
from biojepa.errors import ConfigError

__all__ = [
    "CPU_PLAN",
    "CUDA_PLAN",
    "FmriStepFlops",
    "brainjepa_step_flops",
    "format_table",
    "run_fmri_bench",
]

MASK_NAME = "spatiotemporal"
#: Brain-JEPA's objective (fmri.md §1.5): smooth-L1 on layer-normed EMA targets.
LOSS, TARGET_NORM = "smooth_l1", True
#: ``(batch, timed steps, warm-up steps)`` of a CPU row by model; any other model gets ``CPU_PLAN[None]``.
CPU_PLAN: dict[str | None, tuple[int, int, int]] = {"fmri_vit_tiny": (8, 5, 2), None: (1, 3, 1)}
#: ``(timed steps, warm-up steps)`` of a CUDA row (its batch is ``cuda_batch``).
CUDA_PLAN: tuple[int, int] = (10, 3)
# constant step hyperparameters (their values do not change the cost of a step)
_LR, _WD, _MOMENTUM = 1e-4, 0.05, 0.998


# -- analytic FLOPs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FmriStepFlops:
    """FLOPs of one Brain-JEPA step, per sample (one input crop), in GFLOP.

    Attributes:
        target_fwd: target encoder forward (patch projection, position Linear share, all ``N`` tokens).
        context_fwd: context encoder forward (the ``K`` kept tokens).
        predictor_fwd: predictor forward (down/up projections and its position Linear share included).
        trained_fwd_bwd: context encoder + predictor, forward and backward.
        total: ``target_fwd + trained_fwd_bwd``.
        pos_fwd_per_step: the three position Linears (target, context, predictor) of one step, forward only
            (a per-step cost, shared by the ``batch`` samples).
        n_rois: ROIs ``R``.
        n_patches: time patches per ROI ``P``.
        n_tokens: all tokens ``N = R · P``.
        n_ctx: context tokens ``K``.
        n_tgt: target slots ``M`` (padding included).
        batch: samples sharing the per-step position cost.
    """

    target_fwd: float
    context_fwd: float
    predictor_fwd: float
    trained_fwd_bwd: float
    total: float
    pos_fwd_per_step: float
    n_rois: int
    n_patches: int
    n_tokens: int
    n_ctx: int
    n_tgt: int
    batch: int

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def _grid(spec: Any) -> tuple[int, int, int]:
    """``(R, P, patch_len)`` of the spec's signal window."""
    patch = int(spec.tokenizer.args.get("patch_len", 16))
    return len(spec.signal.channels), int(spec.signal.n_times) // patch, patch


def brainjepa_step_flops(spec: Any, n_ctx: int, n_tgt: int, *, batch: int = 1) -> FmriStepFlops:
    """Analytic FLOPs of one Brain-JEPA pretraining step, per sample (see the module docstring).

    Per sample, with ``p`` frames per token, ``k`` columns of the ROI table, encoder width ``D``, predictor
    width ``d`` and ``S(n, w, L)`` the FLOPs of ``L`` blocks over ``n`` tokens of width ``w``
    (:func:`~biojepa.bench.flops.block_macs`, x 2)::

        patch(n) = 2 n p D                          pos(w) = 2 R k (w / 2) / batch
        target   = patch(N) + pos(D) + S(N, D, L)                       forward only
        context  = 2 patch(K) + 2 pos(D) + 3 S(K, D, L)                 forward + backward
        pred     = 3 (2 K D d + S(K + M, d, L_p) + 2 M d D) + 2 pos(d)  forward + backward
        total    = target + context + pred

    (register tokens, none in the registered fMRI models, are added to the encoder counts.)

    Args:
        spec: the model's :class:`~biojepa.models.ModelSpec` (tokenizer ``fmri_roi``).
        n_ctx: context tokens ``K``.
        n_tgt: target slots ``M`` (padding included).
        batch: samples of the step (the position Linears run once per step).

    Returns:
        :class:`FmriStepFlops` in GFLOP per sample.

    Raises:
        ConfigError: a spec that is not an ``fmri_roi`` model, or counts that do not fit the token grid.

    Example:
        >>> from biojepa.models import get_spec
        >>> f = brainjepa_step_flops(get_spec("fmri_vit_tiny"), 200, 150)
        >>> f.n_tokens, round(f.total, 3)
        (580, 3.208)
    """
    if spec.tokenizer.kind != "fmri_roi":
        raise ConfigError(
            "brainjepa_step_flops counts fMRI ROI models (tokenizer 'fmri_roi'), "
            f"found {spec.tokenizer.kind!r}"
        )
    r, p_count, patch = _grid(spec)
    n = r * p_count
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ConfigError(f"batch must be an integer >= 1, found {batch!r}")
    if n_ctx < 1 or n_tgt < 1 or n_ctx + n_tgt > n:
        raise ConfigError(
            f"token counts do not fit: K={n_ctx}, M={n_tgt}, N={n}; need K >= 1, M >= 1, K + M <= N "
            "(context and targets are disjoint)"
        )
    e, p = spec.encoder, spec.predictor
    regs = e.n_registers
    roi_pos = spec.tokenizer.args.get("roi_pos", "gradients")
    k = int(spec.tokenizer.args.get("roi_dim", 30)) if roi_pos in ("gradients", "xyz") else 0

    def stack(n_tok: int, dim: int, depth: int, ratio: float) -> float:
        return 2.0 * depth * block_macs(n_tok, dim, ratio)

    def patch_embed(n_tok: int) -> float:
        return 2.0 * n_tok * patch * e.dim

    def pos_step(dim: int) -> float:  # one forward call of the position Linear: (R, k) -> (R, dim / 2)
        return 2.0 * r * k * (dim // 2)

    pos_e, pos_p = pos_step(e.dim) / batch, pos_step(p.dim) / batch
    target = patch_embed(n) + pos_e + stack(n + regs, e.dim, e.depth, e.mlp_ratio)
    ctx_stack = stack(n_ctx + regs, e.dim, e.depth, e.mlp_ratio)
    ctx_fwd = patch_embed(n_ctx) + pos_e + ctx_stack
    pred_mm = (
        2.0 * n_ctx * e.dim * p.dim  # down-projection
        + stack(n_ctx + n_tgt, p.dim, p.depth, p.mlp_ratio)
        + 2.0 * n_tgt * p.dim * e.dim  # up-projection
    )
    pred_fwd = pred_mm + pos_p
    # backward: 2 x for the transformer and the projections, 1 x (weight gradient) for data-fed Linears
    trained = ctx_fwd + (patch_embed(n_ctx) + pos_e + 2.0 * ctx_stack) + pred_fwd + (2.0 * pred_mm + pos_p)
    g = 1e-9
    return FmriStepFlops(
        target_fwd=target * g,
        context_fwd=ctx_fwd * g,
        predictor_fwd=pred_fwd * g,
        trained_fwd_bwd=trained * g,
        total=(target + trained) * g,
        pos_fwd_per_step=(2.0 * pos_step(e.dim) + pos_step(p.dim)) * g,
        n_rois=r,
        n_patches=p_count,
        n_tokens=n,
        n_ctx=int(n_ctx),
        n_tgt=int(n_tgt),
        batch=int(batch),
    )


# -- one benchmark row ---------------------------------------------------------------------------------


def _mean(values: Sequence[float]) -> float | int:
    m = statistics.fmean(values)
    return int(m) if m == int(m) else m


def _effective_mask_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The mask's keyword defaults completed by ``params``: the values the timed masks were drawn with."""
    import inspect

    from biojepa.registry import MASKS

    sig = inspect.signature(MASKS.get(MASK_NAME))
    empty = inspect.Parameter.empty
    out = {n: p.default for n, p in list(sig.parameters.items())[2:] if p.default is not empty}
    return {**out, **params}


def _bench_row(
    name: str, *, batch: int, steps: int, warmup: int, dev: Any, dtype: str, seed: int
) -> dict[str, Any]:
    import torch

    from biojepa.bench.engine import attention_backend, time_train_steps
    from biojepa.bench.env import DevicePeakMemory
    from biojepa.engine.step import build_optimizer
    from biojepa.masks.base import build_mask, make_mask_rngs, mask_params_with_defaults
    from biojepa.models import build_jepa, get_spec
    from biojepa.nn.vit import cpu_linear_backend

    spec = get_spec(name)
    n_rois, n_times = len(spec.signal.channels), spec.signal.n_times
    memory = DevicePeakMemory(dev).start()
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        model = build_jepa(spec, loss=LOSS, target_norm=TARGET_NORM).to(dev).train()
        opt = build_optimizer(model)
        tok = model.context_encoder.tokenizer
        grid = tuple(tok.grid((n_rois, n_times)))  # (R, P)
        params = mask_params_with_defaults(MASK_NAME, {}, tok.mask_defaults())
        make_masks: Callable[..., Any] = build_mask(MASK_NAME, params)
        timed = time_train_steps(
            model, opt, lambda i: make_masks(grid, make_mask_rngs(seed, i, range(i * batch, (i + 1) * batch))),
            (batch, n_rois, n_times), steps=steps, warmup=warmup, dev=dev, precision=dtype, seed=seed,
        )
    peak_mb, mem_method = memory.stop()
    times, cpu_share, loss, skipped = timed.times, timed.cpu_share, timed.loss, timed.skipped
    shapes = []  # (K, M, valid targets per row) per timed step
    for masks in timed.masks:
        k, m = int(masks.ctx_idx.shape[1]), int(masks.tgt_idx.shape[1])
        v = masks.tgt_valid
        shapes.append((k, m, m if v is None else float(v.sum()) / v.shape[0]))
    per_step = [brainjepa_step_flops(spec, k, m, batch=batch) for k, m, _ in shapes]
    # masks differ from step to step (block sizes are redrawn per batch): the mean over the timed steps
    flops = {key: _mean([getattr(f, key) for f in per_step]) for key in FmriStepFlops.__dataclass_fields__}
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
    if dev.type == "cuda":
        torch.cuda.empty_cache()
    return {
        "name": f"{name}/{dtype}/eager",
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
        "step_gflop_per_sample": [f.total for f in per_step],
        "flops": flops,
        "achieved_gflops": flops["total"] * samples_per_s,
        "dtype": dtype,
        "compile": False,
        "attention_backend": attention,
        "linear_backend": cpu_linear_backend() if dev.type == "cpu" and dtype == "fp32" else "aten",
        "device": str(dev),
        "n_rois": n_rois,
        "n_frames": n_times,
        "grid": list(grid),
        "n_tokens": n_tokens,
        "n_ctx_tokens": flops["n_ctx"],
        "n_tgt_tokens": flops["n_tgt"],
        "n_tgt_tokens_valid": statistics.fmean(v for *_, v in shapes),
        "mask": MASK_NAME,
        "mask_params": _effective_mask_params(params),
        "loss": LOSS,
        "target_norm": TARGET_NORM,
        "final_loss": loss,
        "nonfinite_steps": skipped,
    }


# -- the benchmark -------------------------------------------------------------------------------------


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, found {value!r}")
    return value


def _check_models(what: str, models: Any, *, allow_empty: bool) -> tuple[str, ...]:
    if isinstance(models, str) or not isinstance(models, Sequence) or (not models and not allow_empty):
        raise ConfigError(
            f"{what} must be a {'' if allow_empty else 'non-empty '}list of fMRI model names "
            f"(e.g. fmri_vit_s, fmri_vit_tiny), found {models!r}"
        )
    names = tuple(models)
    if len(set(names)) != len(names):
        raise ConfigError(f"{what} must not repeat a model, found {list(names)}")
    from biojepa.models import get_spec

    for name in names:  # fail fast, before minutes of timing
        spec = get_spec(name)
        if spec.tokenizer.kind != "fmri_roi":
            raise ConfigError(
                f"model {name!r} in {what} is not a Brain-JEPA fMRI model "
                f"(tokenizer {spec.tokenizer.kind!r}); "
                "use fmri_vit_tiny, fmri_vit_s, fmri_vit_b or fmri_vit_l"
            )
    return names


def _cpu_plan(
    models: Sequence[str],
    batch: int | None,
    steps: int | None,
    warmup: int | None,
    cpu_batches: Mapping[str, int] | None,
) -> list[tuple[str, int, int, int]]:
    """``(model, batch, steps, warmup)`` of each CPU row."""
    if cpu_batches is not None:
        if not isinstance(cpu_batches, Mapping):
            raise ConfigError(f"cpu_batches must map model names to batch sizes, found {cpu_batches!r}")
        stray = sorted(set(cpu_batches) - set(models))
        if stray:
            raise ConfigError(
                f"cpu_batches names model(s) {', '.join(map(repr, stray))} that are not in models "
                f"({', '.join(models)}); add them to models or drop them"
            )
        for name, b in cpu_batches.items():
            _check_int(f"cpu_batches[{name!r}]", b, 1)
    plan = []
    for name in models:
        b0, s0, w0 = CPU_PLAN.get(name, CPU_PLAN[None])
        b = (cpu_batches or {}).get(name, b0 if batch is None else batch)
        plan.append((name, b, s0 if steps is None else steps, w0 if warmup is None else warmup))
    return plan


def run_fmri_bench(
    *,
    models: Sequence[str] = ("fmri_vit_s", "fmri_vit_tiny"),
    batch: int | None = None,
    cpu_batches: Mapping[str, int] | None = None,
    steps: int | None = None,
    warmup: int | None = None,
    threads: int | None = 2,
    device: str = "auto",
    cuda_models: Sequence[str] = ("fmri_vit_s", "fmri_vit_b"),
    cuda_batch: int = 8,
    seed: int = 0,
    matmul_n: int | None = None,
) -> dict[str, Any]:
    """Time the full Brain-JEPA pretraining step of fMRI models on CPU (fp32) and, when asked, CUDA (bf16).

    Args:
        models: registered Brain-JEPA models (``fmri_roi`` tokenizer) timed on CPU, one row each.
        batch: CPU batch of every CPU row; None: the per-model plan :data:`CPU_PLAN` (``fmri_vit_tiny`` 8,
            the 450-ROI sizes 1).
        cpu_batches: per-model CPU batch (model name -> batch), winning over ``batch``; its models must be
            in ``models``.
        steps: timed steps of every row (the figure is their median); None: the plan (``fmri_vit_tiny`` 5,
            the 450-ROI sizes 3, CUDA rows 10).
        warmup: untimed steps first, for every row; None: the plan (2, 1 and 3).
        threads: ``torch.set_num_threads`` for the run (restored afterwards); None leaves it alone.
        device: ``"cpu"`` (CPU rows only), ``"auto"`` (plus the CUDA rows when CUDA is available) or
            ``"cuda"`` / ``"cuda:N"`` (plus the CUDA rows; CUDA required).
        cuda_models: models timed on CUDA under bf16 autocast (empty: none).
        cuda_batch: batch of the CUDA rows.
        seed: seed of the model init, the inputs and the masks.
        matmul_n: matrix size of the matmul-peak measurement (default 2048 on CPU, 8192 on CUDA).

    Returns:
        ``{"schema_version": 1, "status": "ok", "bench": "fmri", "env": {...}, "rows": [...],
        "checks": {}, "params": {...}, "errors": []}`` — the DESIGN.md §5 ``bench`` schema. Rows are named
        ``<model>/<dtype>/eager`` (``fp32`` on CPU, ``bf16`` on CUDA) and add ``n_tokens``, ``grid``,
        ``n_ctx_tokens`` and ``n_tgt_tokens`` (means over the timed steps; targets count padded slots),
        ``n_tgt_tokens_valid``, the ``flops`` breakdown (:class:`FmriStepFlops`), ``step_gflop_per_sample``,
        ``step_s_min``, ``mfu_or_peak_ratio``, ``cpu_utilization`` and ``final_loss``; CUDA rows add ``gpu``
        (the device name, also in ``env.gpu``).

    Raises:
        ConfigError: invalid arguments, a model that is not a Brain-JEPA fMRI model, or ``device="cuda"``
            without CUDA.
        UnknownNameError: an unknown model name.
    """
    ints = {"cuda_batch": (cuda_batch, 1), "seed": (seed, 0)}
    for key, value, low in (("batch", batch, 1), ("steps", steps, 1), ("warmup", warmup, 0)):
        if value is not None:
            ints[key] = (value, low)
    for key, (value, low) in ints.items():
        _check_int(key, value, low)
    if matmul_n is not None:
        _check_int("matmul_n", matmul_n, 1)
    if device not in ("auto", "cpu", "cuda") and not str(device).startswith("cuda:"):
        raise ConfigError(f"device must be 'cpu', 'auto', 'cuda' or 'cuda:N', found {device!r}")
    models = _check_models("models", models, allow_empty=False)
    cuda_models = _check_models("cuda_models", cuda_models, allow_empty=True)
    cpu_plan = _cpu_plan(models, batch, steps, warmup, cpu_batches)
    import torch

    from biojepa.bench import engine
    from biojepa.bench.env import env_info, matmul_peak_gflops, num_threads

    cuda_device: str | None = None
    if device == "auto":
        cuda_device = "cuda" if torch.cuda.is_available() else None
    elif device != "cpu":
        engine._resolve_device(device)  # raises ConfigError without CUDA
        cuda_device = device
    cuda_steps = CUDA_PLAN[0] if steps is None else steps
    cuda_warmup = CUDA_PLAN[1] if warmup is None else warmup
    runs: list[tuple[Any, str, list[tuple[str, int, int, int]]]] = [(torch.device("cpu"), "fp32", cpu_plan)]
    if cuda_device is not None and cuda_models:
        plan = [(name, cuda_batch, cuda_steps, cuda_warmup) for name in cuda_models]
        runs.append((torch.device(cuda_device), "bf16", plan))
    rows: list[dict[str, Any]] = []
    with num_threads(threads):
        env = env_info("cpu")
        for dev, dtype, plan in runs:
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
            for name, b, s, w in plan:
                row = _bench_row(name, batch=b, steps=s, warmup=w, dev=dev, dtype=dtype, seed=seed)
                row["mfu_or_peak_ratio"] = row["achieved_gflops"] / peak if peak > 0 else None
                if dev.type == "cuda":
                    row["gpu"] = env["gpu"]
                rows.append(row)
    return {
        "schema_version": engine.SCHEMA_VERSION,
        "status": "ok",
        "bench": "fmri",
        "env": env,
        "rows": rows,
        "checks": {},
        "params": {
            "models": list(models), "batch": batch, "cpu_batches": dict(cpu_batches or {}), "steps": steps,
            "warmup": warmup, "threads": threads, "device": device, "cuda_models": list(cuda_models),
            "cuda_batch": cuda_batch, "seed": seed, "mask": MASK_NAME, "loss": LOSS,
            "target_norm": TARGET_NORM,
            "cpu_plan": [{"model": m, "batch": b, "steps": s, "warmup": w} for m, b, s, w in cpu_plan],
        },
        "errors": [],
    }
