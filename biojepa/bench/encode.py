"""``biojepa bench encode``: throughput and cold start of :func:`biojepa.encode` on ECGs.

Two measurements, in one result of the DESIGN.md §5 ``bench`` schema:

1. **Throughput** (rows ``encode/<model>/fp32``; on CUDA ``encode/<model>/fp32/cuda``). ``n_records``
   synthetic 12-lead records (:func:`biojepa.adapters.ecg.synthetic.simulate_ecg`, mV, leads I..V6) at the
   model's own sampling rate and window (10 s at 500 Hz, ``(12, 5000)``, for ``ecg_vit_xs`` / ``ecg_vit_s``)
   are made once, before any timer starts. One timed unit is one call
   ``biojepa.encode(x, model, sfreq=..., channels=..., batch_size=batch, device=...)`` on the whole
   ``(n_records, 12, T)`` array with an already loaded model: the contract checks (channel matching,
   sampling rate, amplitude plausibility, NaN), the z-score normalisation with the contract's statistics,
   the windowing and the eval-mode forward passes under ``torch.inference_mode()``, and the copy of the
   embeddings back to numpy. The models are randomly initialised (weights do not change the cost) and
   carry a z-score contract with statistics (mean 0, std 0.2 mV, clip 5) so that ``normalization="contract"``
   works as it does for a trained model. CPU rows run with ``threads`` torch threads; when CUDA is available
   (``device="auto"``, the default) or asked for (``device="cuda"``), every model is timed again on the GPU
   (fp32, as ``encode`` runs), whose name is in ``env["gpu"]`` and in each CUDA row.
2. **Cold start** (row ``encode/cold_start/<first model>``). A fresh Python process (``sys.executable``)
   runs ``import biojepa``; ``biojepa.load(<model directory>)`` (written beforehand with
   :func:`biojepa.io.save_pretrained` to a temporary folder, sha256 verified on load);
   ``biojepa.encode(<one record>, model, device="cpu")``. ``cold_start_s`` is the wall time of those three
   statements measured inside the child (``import_s``, ``load_s`` and ``encode_s`` are its parts; ``load_s``
   includes the import of torch, which ``import biojepa`` defers); ``process_wall_s`` adds the interpreter
   start and exit, measured by the parent. The child's imports are cold, but its files are in the OS page
   cache (the parent has just imported the same modules): the figure is a warm-disk cold start.
   ``OMP_NUM_THREADS`` is set to ``threads`` in the child.

Throughput rows carry the engine benchmark's keys (``name``, ``batch``, ``samples_per_s``, ``step_s``,
``step_s_min``, ``step_times_s``, ``steps``, ``warmup``, ``peak_mem_mb``, ``peak_mem_method``,
``gflop_per_sample``, ``achieved_gflops``, ``mfu_or_peak_ratio``, ``cpu_utilization``, ``dtype``,
``compile``, ``attention_backend``, ``device``) plus ``stage`` (``"encode"``), ``model``, ``n_records``,
``records_per_s`` (``n_records`` ÷ median call time; equal to ``samples_per_s``: one sample is one record),
``windows_per_record``, ``sfreq``, ``n_times`` and ``n_channels``. ``step_s`` is the median wall time of one
call on ``n_records`` records; ``batch`` is the ``batch_size`` passed to ``encode``; ``gflop_per_sample`` is
the analytic encoder forward per record (:func:`biojepa.bench.flops.encoder_forward_flops`);
``cpu_utilization`` is process CPU time ÷ (wall time × threads) on CPU (None on CUDA); ``peak_mem_mb`` is
the resident-set high-water mark of the calls above the level before them on CPU (the model is already
loaded), ``torch.cuda.max_memory_allocated`` (weights included) on CUDA.

The cold-start row has ``cold_start_s`` (also in ``step_s``, ``step_s_min``), ``import_s``, ``load_s``,
``encode_s``, ``process_wall_s``, ``batch`` 1, ``n_records`` 1 and ``peak_mem_mb``: the child's whole peak
resident set (``peak_mem_method`` ``"child_ru_maxrss"``); its rate keys are None.

``env`` adds ``load_avg_start`` / ``load_avg_end`` (the OS load averages, 1/5/15 min, before and after the
run): a load above the thread count means other processes shared the cores and the figures are pessimistic.

Top level: ``checks = {"target_records_per_s": 60.0, "xs_meets_target": bool | None,
"xs_records_per_s": float | None}`` (the issue's target: ``encode()`` of ``ecg_vit_xs`` at >= 60 records/s
on CPU; None when ``ecg_vit_xs`` is not among ``models``), ``params`` (the arguments) and ``errors`` (a
failed cold-start child is reported there, not raised).
"""

from __future__ import annotations

import gc
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from biojepa.bench.env import DevicePeakMemory, env_info, matmul_peak_gflops, num_threads, sync
from biojepa.bench.report import format_table
from biojepa.errors import ConfigError

__all__ = ["TARGET_MODEL", "TARGET_RECORDS_PER_S", "ZSCORE_STD_MV", "format_table", "make_model", "run_encode_bench"]

#: The issue's throughput target: encode() of ViT-XS on CPU at this many 10-s 12-lead records per second.
TARGET_RECORDS_PER_S = 60.0
#: The model the target applies to.
TARGET_MODEL = "ecg_vit_xs"
#: Standard deviation (mV) of the z-score statistics given to the benchmarked models' contracts.
ZSCORE_STD_MV = 0.2
_CLIP = 5.0
_COLD_TIMEOUT_S = 600

# The cold-start child: argv[1] is a JSON object {model_dir, x_path, sfreq, channels}; prints one JSON line.
_COLD_START_CODE = """\
import time
t0 = time.perf_counter()
import biojepa
t1 = time.perf_counter()
import json, sys
args = json.loads(sys.argv[1])
model = biojepa.load(args["model_dir"])
t2 = time.perf_counter()
import numpy as np
x = np.load(args["x_path"])
emb = biojepa.encode(x, model, sfreq=args["sfreq"], channels=args["channels"], device="cpu")
t3 = time.perf_counter()
import resource
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "encode_s": t3 - t2, "cold_start_s": t3 - t0,
                  "shape": list(emb.shape), "finite": bool(np.isfinite(emb).all()), "peak_rss_bytes": rss}))
"""


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, found {value!r}")
    return value


def _check_args(
    n_records: int, repeats: int, warmup: int, batch: int, threads: int | None, models: Any, device: str,
    cold_start: Any, seed: int, matmul_n: int | None,
) -> tuple[str, ...]:
    """Validate the arguments (cheaply, before any timing); the models as a tuple."""
    from biojepa.models import get_spec

    for name, value, low in (("n_records", n_records, 1), ("repeats", repeats, 1), ("warmup", warmup, 0),
                             ("batch", batch, 1), ("seed", seed, 0)):
        _check_int(name, value, low)
    if threads is not None:
        _check_int("threads", threads, 1)
    if matmul_n is not None:
        _check_int("matmul_n", matmul_n, 1)
    if not isinstance(cold_start, bool):
        raise ConfigError(f"cold_start must be True or False, found {cold_start!r}")
    if isinstance(models, str) or not isinstance(models, Sequence) or not models:
        raise ConfigError(
            f"models must be a non-empty list of registered ECG model names (e.g. ('ecg_vit_xs',)), found {models!r}"
        )
    for name in models:
        if not isinstance(name, str):
            raise ConfigError(f"models must hold model names (strings), found {name!r}")
        if get_spec(name).modality != "ecg":  # UnknownNameError for an unknown name
            raise ConfigError(
                f"model {name!r} is not an ECG model; the encode benchmark feeds 12-lead ECGs: use ecg_vit_tiny, "
                "ecg_vit_xs, ecg_vit_s, ..."
            )
    if not isinstance(device, str) or (device not in ("auto", "cpu") and not device.startswith("cuda")):
        raise ConfigError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', found {device!r}")
    return tuple(models)


def make_model(name: str, seed: int = 0) -> Any:
    """A randomly initialised ECG encoder whose contract holds z-score statistics (mean 0, std 0.2 mV).

    Args:
        name: a registered ECG model name.
        seed: torch seed of the initialisation (the global RNG is left as it was).

    Returns:
        The :class:`~biojepa.nn.encoder.SignalEncoder`, in eval mode, on CPU.
    """
    import torch

    from biojepa import create_model
    from biojepa.models import get_spec

    n = len(get_spec(name).signal.channels)
    stats = {"mean": [0.0] * n, "std": [ZSCORE_STD_MV] * n}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = create_model(name, signal={"normalization": {"method": "zscore", "stats": stats, "clip": _CLIP}})
    return model.eval()


def _records(spec: Any, n_records: int, seed: int) -> Any:
    """``(n_records, 12, n_times)`` float32 synthetic ECGs (mV) at the spec's rate and window."""
    from biojepa.adapters.ecg.synthetic import EcgSynthSpec, simulate_ecg

    sig = spec.signal
    x, _ = simulate_ecg(EcgSynthSpec(n_records=n_records, sfreq=float(sig.sfreq),
                                     duration_s=sig.n_times / float(sig.sfreq), seed=seed))  # (N, 12, T)
    return x


def _bench_model(
    name: str, x: Any, *, batch: int, repeats: int, warmup: int, device: str, seed: int
) -> dict[str, Any]:
    """Time ``encode`` of ``x`` with a fresh ``name`` model on ``device``: one throughput row."""
    import torch

    from biojepa.adapters.ecg.leads import STANDARD_LEADS
    from biojepa.api import encode
    from biojepa.bench.engine import attention_backend
    from biojepa.bench.flops import encoder_forward_flops, spec_num_tokens

    dev = torch.device(device)
    model = make_model(name, seed).to(dev)
    spec = model.spec
    sig = spec.signal
    n_records = int(x.shape[0])
    kwargs = {"sfreq": float(sig.sfreq), "channels": list(STANDARD_LEADS), "batch_size": batch, "device": str(dev)}
    walls: list[float] = []
    cpu_share: list[float] = []
    emb = None
    memory = DevicePeakMemory(dev).start()
    for i in range(warmup + repeats):
        sync(dev)
        c0, t0 = time.process_time(), time.perf_counter()
        emb = encode(x, model, **kwargs)
        sync(dev)
        dt = time.perf_counter() - t0
        if i >= warmup:
            walls.append(dt)
            cpu_share.append((time.process_time() - c0) / (dt * torch.get_num_threads()))
    peak_mb, mem_method = memory.stop()
    if emb is None or emb.shape != (n_records, model.num_features):
        raise RuntimeError(f"encode returned {getattr(emb, 'shape', None)}, expected {(n_records, model.num_features)}")
    n_tokens = math.prod(spec_num_tokens(spec))
    gflop = encoder_forward_flops(spec, n_tokens) * 1e-9
    e = spec.encoder
    step_s = statistics.median(walls)
    rate = n_records / step_s
    row = {
        "name": f"encode/{name}/fp32" + ("/cuda" if dev.type == "cuda" else ""),
        "stage": "encode",
        "model": name,
        "batch": batch,
        "n_records": n_records,
        "records_per_s": rate,
        "samples_per_s": rate,
        "step_s": step_s,
        "step_s_min": min(walls),
        "step_times_s": walls,
        "steps": repeats,
        "warmup": warmup,
        "cpu_utilization": statistics.median(cpu_share) if dev.type == "cpu" else None,
        "peak_mem_mb": peak_mb,
        "peak_mem_method": mem_method,
        "gflop_per_sample": gflop,
        "achieved_gflops": gflop * rate,
        "mfu_or_peak_ratio": None,
        "dtype": "fp32",
        "compile": False,
        "attention_backend": attention_backend(
            e.n_heads, e.dim // e.n_heads, n_tokens + e.n_registers, min(batch, n_records), dev, torch.float32
        ),
        "device": str(dev),
        "windows_per_record": 1,
        "sfreq": float(sig.sfreq),
        "n_times": int(sig.n_times),
        "n_channels": len(sig.channels),
    }
    del model
    gc.collect()
    return row


def _cold_start(name: str, threads: int | None, seed: int, workdir: str | Path | None) -> dict[str, Any]:
    """Cold ``import biojepa`` + ``load`` + ``encode`` of one record in a fresh child process: one row."""
    import numpy as np

    from biojepa.adapters.ecg.leads import STANDARD_LEADS
    from biojepa.io import save_pretrained

    model = make_model(name, seed)
    model_spec = model.spec
    sig = model_spec.signal
    with tempfile.TemporaryDirectory(prefix="biojepa-bench-encode-", dir=workdir) as tmp:
        model_dir = save_pretrained(model, Path(tmp) / "model")
        del model
        x_path = Path(tmp) / "record.npy"
        np.save(x_path, _records(model_spec, 1, seed)[0])  # (12, T)
        args = {"model_dir": str(model_dir), "x_path": str(x_path), "sfreq": float(sig.sfreq),
                "channels": list(STANDARD_LEADS)}
        env = dict(os.environ)
        if threads is not None:
            env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", _COLD_START_CODE, json.dumps(args)], capture_output=True, text=True, env=env,
            timeout=_COLD_TIMEOUT_S, check=False,
        )
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"the cold-start process exited with {proc.returncode}: {' | '.join(tail)}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if not out["finite"] or len(out["shape"]) != 2 or out["shape"][0] != 1:
        raise RuntimeError(f"the cold-start encode returned shape {out['shape']} (finite: {out['finite']})")
    cold = float(out["cold_start_s"])
    return {
        "name": f"encode/cold_start/{name}",
        "stage": "cold_start",
        "model": name,
        "batch": 1,
        "n_records": 1,
        "records_per_s": None,
        "samples_per_s": None,
        "cold_start_s": cold,
        "import_s": float(out["import_s"]),
        "load_s": float(out["load_s"]),
        "encode_s": float(out["encode_s"]),
        "process_wall_s": wall,
        "step_s": cold,
        "step_s_min": cold,
        "step_times_s": [cold],
        "steps": 1,
        "warmup": 0,
        "cpu_utilization": None,
        "peak_mem_mb": out["peak_rss_bytes"] / 2**20,
        "peak_mem_method": "child_ru_maxrss",
        "gflop_per_sample": None,
        "achieved_gflops": None,
        "mfu_or_peak_ratio": None,
        "dtype": "fp32",
        "compile": False,
        "attention_backend": None,
        "device": "cpu",
        "threads": threads,
    }


def _checks(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    xs = [r for r in rows if r.get("stage") == "encode" and r.get("model") == TARGET_MODEL and r["device"] == "cpu"]
    rate = xs[0]["records_per_s"] if xs else None
    return {
        "target_records_per_s": TARGET_RECORDS_PER_S,
        "xs_meets_target": None if rate is None else bool(rate >= TARGET_RECORDS_PER_S),
        "xs_records_per_s": rate,
    }


def _load_avg() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages (how busy the machine was), None where the OS has none."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _gpu_name(device: str) -> str:
    import torch

    return str(torch.cuda.get_device_name(torch.device(device)))


def run_encode_bench(
    n_records: int = 64,
    repeats: int = 3,
    warmup: int = 1,
    batch: int = 64,
    threads: int | None = 2,
    models: Sequence[str] = ("ecg_vit_xs", "ecg_vit_s"),
    device: str = "auto",
    cold_start: bool = True,
    seed: int = 0,
    matmul_n: int | None = None,
    workdir: str | Path | None = None,
) -> dict[str, Any]:
    """Time ``biojepa.encode()`` on synthetic 12-lead ECGs, and its cold start in a fresh process.

    Args:
        n_records: records per timed ``encode`` call (one ``(n_records, 12, T)`` array).
        repeats: timed calls per model and device (the median is reported).
        warmup: untimed calls first.
        batch: ``batch_size`` of ``encode`` (windows per forward pass).
        threads: ``torch.set_num_threads`` for the CPU rows (restored afterwards) and ``OMP_NUM_THREADS`` of
            the cold-start child; None leaves both alone.
        models: registered ECG models; each is fed records of its own contract (rate, window).
        device: ``"cpu"`` (CPU rows only), ``"auto"`` (plus CUDA rows when CUDA is available) or ``"cuda"`` /
            ``"cuda:N"`` (plus CUDA rows; CUDA required).
        cold_start: also measure the cold start (first model of ``models``) in a child process.
        seed: seed of the synthetic records and of the model initialisation.
        matmul_n: matrix size of the matmul-peak measurement (default 2048 on CPU, 8192 on CUDA).
        workdir: parent folder of the cold start's temporary model directory (default: the system temp
            folder); it is removed at the end.

    Returns:
        ``{"schema_version": 1, "status": "ok", "bench": "encode", "env": {...}, "rows": [...],
        "checks": {...}, "params": {...}, "errors": [...]}`` (see the module docstring).

    Raises:
        ConfigError: invalid arguments, or ``device="cuda"`` without CUDA.
        UnknownNameError: an unknown model name.
    """
    from biojepa.bench import engine

    models = _check_args(n_records, repeats, warmup, batch, threads, models, device, cold_start, seed, matmul_n)
    import torch

    cuda_device: str | None = None
    if device == "auto":
        cuda_device = "cuda" if torch.cuda.is_available() else None
    elif device != "cpu":
        cuda_device = str(engine._resolve_device(device))  # raises ConfigError without CUDA
    from biojepa.models import get_spec

    by_shape: dict[tuple[float, int], Any] = {}  # one input per (rate, window), shared by the models
    inputs: dict[str, Any] = {}
    for name in models:
        spec = get_spec(name)
        key = (float(spec.signal.sfreq), int(spec.signal.n_times))
        if key not in by_shape:
            by_shape[key] = _records(spec, n_records, seed)  # (N, 12, T)
        inputs[name] = by_shape[key]

    rows: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    common = {"batch": batch, "repeats": repeats, "warmup": warmup, "seed": seed}
    load_start = _load_avg()
    with num_threads(threads):
        env = env_info("cpu")
        env["load_avg_start"] = load_start
        n = matmul_n if matmul_n is not None else 2048
        env["matmul_peak_gflops"] = peak = matmul_peak_gflops(None, n=n, device="cpu", dtype="fp32")
        env["matmul_peak_kernel"] = f"biojepa.nn.vit.linear, fp32, n={n}"
        for name in models:
            row = _bench_model(name, inputs[name], device="cpu", **common)
            row["mfu_or_peak_ratio"] = row["achieved_gflops"] / peak if peak > 0 else None
            rows.append(row)
        if cuda_device is not None:
            n_cuda = matmul_n if matmul_n is not None else 8192
            cuda_peak = matmul_peak_gflops(None, n=n_cuda, device=cuda_device, dtype="fp32")
            env["gpu"] = _gpu_name(cuda_device)
            env["cuda_device"] = cuda_device
            env["cuda_matmul_peak_gflops"] = cuda_peak
            env["cuda_matmul_peak_kernel"] = f"biojepa.nn.vit.linear, fp32, n={n_cuda}"
            for name in models:
                row = _bench_model(name, inputs[name], device=cuda_device, **common)
                row["mfu_or_peak_ratio"] = row["achieved_gflops"] / cuda_peak if cuda_peak > 0 else None
                row["gpu"] = env["gpu"]
                rows.append(row)
    if cold_start:
        try:
            rows.append(_cold_start(models[0], threads, seed, workdir))
        except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError, KeyError, OSError) as exc:
            errors.append({"name": f"encode/cold_start/{models[0]}", "error": f"{type(exc).__name__}: {exc}"})
    env["load_avg_end"] = _load_avg()
    return {
        "schema_version": engine.SCHEMA_VERSION,
        "status": "ok",
        "bench": "encode",
        "env": env,
        "rows": rows,
        "checks": _checks(rows),
        "params": {
            "n_records": n_records, "repeats": repeats, "warmup": warmup, "batch": batch, "threads": threads,
            "models": list(models), "device": device, "cold_start": cold_start, "seed": seed,
            "zscore_std_mv": ZSCORE_STD_MV, "target_model": TARGET_MODEL,
        },
        "errors": errors,
    }
