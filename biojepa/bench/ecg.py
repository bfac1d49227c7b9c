"""``biojepa bench ecg``: the ECG data pipeline and the ECG pretraining step on this machine.

Four measurements, in one result of the DESIGN.md §5 ``bench`` schema:

1. **Cache build** (``data/cache_build_500hz``, ``data/cache_build_100hz_to_500hz``). ``n_records``
   synthetic 12-lead records (:func:`biojepa.adapters.ecg.synthetic.simulate_ecg`, 10 s, leads I..V6, mV)
   are written as WFDB files (format 16) at 500 Hz and at 100 Hz — the PTB-XL 100 Hz path. Each timed
   build is ``DATASETS.create("wfdb").prepare(root, cache_dir=<fresh dir>, sfreq=500)`` in one process
   (``workers`` 1): read, FFT resample (a no-op at 500 Hz), fingerprint, float16 memmap write with fsync.
   The source files were just written, so they are read from the page cache: the figure is the CPU cost of
   the build, not the disk's read rate. One untimed build comes first when ``warmup > 0`` (imports).
2. **Sampler crops** (``data/sampler_crop``). The 500 Hz cache opened as the ``ecg_vit_xs`` model sees it
   (z-score + clip at read), a :class:`~biojepa.data.sampler.WeightedCropSampler` with ``crop_len`` 5000;
   one timed unit is ``batch`` calls of ``sample(step, slot)`` (one step's keys).
3. **Collated batches** (``data/collated_batch``). The full loader path in one process: a DataLoader
   (``num_workers=0``) over :class:`~biojepa.data.sampler.KeyedDataset` with a
   :class:`~biojepa.data.sampler.StepBatchSampler` and the ECG-JEPA
   :class:`~biojepa.masks.MaskCollator` (``block1d``, keep 0.15-0.25, min block 10, grid (200,)); one timed
   unit is one ``(B, 12, 5000)`` batch with its masks. A training run spreads this over DataLoader worker
   processes, so this is the rate of a single worker.
4. **Pretraining** (rows named ``<model>/<dtype>/eager``). :func:`biojepa.bench.engine.run_engine_bench` on
   ``models`` (default ``ecg_vit_xs`` and ``ecg_vit_s``, inputs 12 × 5000) at ``batch`` in fp32 on CPU;
   when CUDA is available (``device="auto"``, the default) or asked for (``device="cuda"``), again in bf16
   at ``cuda_batch`` (default 256) on the GPU, whose name is in ``env["gpu"]`` and in each CUDA row.

Training rows are exactly the engine benchmark's rows. Data rows carry the same keys (``name``, ``batch``,
``samples_per_s``, ``step_s``, ``step_s_min``, ``step_times_s``, ``steps``, ``warmup``, ``peak_mem_mb``,
``peak_mem_method``, ``cpu_utilization``, ``device``, ``dtype``, ``compile``; the FLOP and attention keys
are None) plus their own:

* ``stage``: ``"cache_build"``, ``"sampler_crop"`` or ``"collated_batch"``.
* ``records_per_s`` (cache builds): records ÷ median build time; there ``step_s`` is the time of one whole
  build of ``n_records`` records, ``batch`` and ``samples_per_s`` are None.
* ``samples_per_s`` / ``batches_per_s`` (sampler, collated): ``batch`` ÷ median time of one step's worth,
  and its inverse; ``step_s`` is that median time.
* ``n_records``, ``source_sfreq``, ``target_sfreq``, ``workers``, ``source_mb`` (the WFDB files),
  ``cache_mb`` (the built cache) for cache builds; ``crop_len``, ``n_channels`` for the sampler and the
  collated batches, plus ``mask`` and ``grid`` for the latter.
* ``cpu_utilization`` of a data row is process CPU time ÷ wall time (the data path runs on one thread; a
  figure well below 1 means waiting — on the fsync of a cache build — or other processes on the cores).
* ``peak_mem_mb``: the resident-set high-water mark of the stage, as in the engine rows.

Top level: ``checks = {"data_to_train_ratio": collated samples/s ÷ the fastest CPU training samples/s,
"data_keeps_up": ratio >= 10, "required_ratio": 10.0, "fastest_train_row": name}`` (the data pipeline must
never be the bottleneck, DESIGN.md §8), plus ``data_to_cuda_train_ratio`` (collated samples/s ÷ the fastest
CUDA row, for information: a GPU run feeds the step from several DataLoader workers) when there are CUDA rows;
and ``params`` (the arguments of the run).
"""

from __future__ import annotations

import contextlib
import gc
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from biojepa.bench.report import format_table
from biojepa.errors import ConfigError

__all__ = ["DATA_MODEL", "REQUIRED_RATIO", "format_table", "run_ecg_bench", "write_wfdb_corpus"]

#: The model whose signal contract (500 Hz, 12 × 5000, 200 tokens) the data stages serve.
DATA_MODEL = "ecg_vit_xs"
#: Collated samples/s must be at least this multiple of the fastest CPU training samples/s.
REQUIRED_RATIO = 10.0
#: The ECG-JEPA mask of the collated-batch stage.
MASK_NAME = "block1d"
MASK_PARAMS: dict[str, Any] = {"keep_min": 0.15, "keep_max": 0.25, "min_block": 10}
_DURATION_S = 10.0


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, found {value!r}")
    return value


def write_wfdb_corpus(root: Path, n_records: int, sfreq: float, seed: int = 0) -> list[str]:
    """Write ``n_records`` synthetic 12-lead, 10 s records as WFDB files (format 16, mV) into ``root``.

    Args:
        root: the folder (created if missing).
        n_records: number of records (>= 1).
        sfreq: sampling rate of the files in Hz (>= 50).
        seed: seed of :func:`~biojepa.adapters.ecg.synthetic.simulate_ecg`.

    Returns:
        The record names (``rec00000``, ...), sorted.
    """
    import numpy as np

    from biojepa.adapters.ecg.leads import STANDARD_LEADS
    from biojepa.adapters.ecg.readers import _import_wfdb  # wfdb without its pandas warning
    from biojepa.adapters.ecg.synthetic import EcgSynthSpec, simulate_ecg

    wfdb = _import_wfdb()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    x, _ = simulate_ecg(EcgSynthSpec(n_records=n_records, sfreq=sfreq, duration_s=_DURATION_S, seed=seed))  # (N, 12, T)
    names = []
    with warnings.catch_warnings():
        # wfdb 4.3 calls DataFrame.drop(inplace=True) when writing, deprecated by pandas 3.1
        warnings.filterwarnings("ignore", message=".*inplace keyword.*", category=DeprecationWarning)
        for i in range(n_records):
            name = f"rec{i:05d}"
            wfdb.wrsamp(
                name,
                fs=sfreq,
                units=["mV"] * len(STANDARD_LEADS),
                sig_name=list(STANDARD_LEADS),
                p_signal=np.ascontiguousarray(x[i].T, dtype=np.float64),  # (T, 12)
                fmt=["16"] * len(STANDARD_LEADS),
                write_dir=str(root),
            )
            names.append(name)
    return names


def _dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 2**20


@contextlib.contextmanager
def _measured(out: dict[str, Any]) -> Iterator[None]:
    """Record the peak-RSS delta (``peak_mem_mb``, ``peak_mem_method``) of the body into ``out``."""
    from biojepa.bench.env import MemoryProbe

    gc.collect()
    probe = MemoryProbe().start()
    try:
        yield
    finally:
        out["peak_mem_mb"] = probe.stop()
        out["peak_mem_method"] = probe.method


def _timed(fn: Callable[[int], Any], warmup: int, repeats: int) -> tuple[list[float], list[float]]:
    """Call ``fn(i)`` for ``i < warmup + repeats``; wall and CPU seconds of the last ``repeats`` calls."""
    walls: list[float] = []
    cpus: list[float] = []
    for i in range(warmup + repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn(i)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if i >= warmup:
            walls.append(dt)
            cpus.append(dc)
    return walls, cpus


def _data_row(
    name: str, stage: str, walls: list[float], cpus: list[float], warmup: int, mem: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    step_s = statistics.median(walls)
    return {
        "name": name,
        "stage": stage,
        "batch": None,
        "samples_per_s": None,
        "records_per_s": None,
        "batches_per_s": None,
        "step_s": step_s,
        "step_s_min": min(walls),
        "step_times_s": walls,
        "cpu_utilization": statistics.median(c / w for c, w in zip(cpus, walls, strict=True) if w > 0),
        "steps": len(walls),
        "warmup": warmup,
        "peak_mem_mb": mem.get("peak_mem_mb"),
        "peak_mem_method": mem.get("peak_mem_method"),
        "gflop_per_sample": None,
        "achieved_gflops": None,
        "mfu_or_peak_ratio": None,
        "dtype": None,
        "compile": False,
        "attention_backend": None,
        "device": "cpu",
        **extra,
    }


def _bench_cache_build(
    name: str, src: Path, work: Path, *, source_sfreq: float, target_sfreq: float, n_records: int,
    repeats: int, warmup: int,
) -> dict[str, Any]:
    from biojepa.registry import DATASETS

    source = DATASETS.create("wfdb")
    n_warm = 1 if warmup > 0 else 0
    last: dict[str, Any] = {}

    def build(i: int) -> None:
        res = source.prepare(src, cache_dir=work / f"cache-{i}", sfreq=target_sfreq, params={})
        if not res.built or res.n_ok != n_records:
            raise RuntimeError(
                f"cache build of {src} gave {res.n_ok} of {n_records} records (built={res.built}, "
                f"quarantined={res.n_quarantined}); see {res.cache_path / 'quarantine.csv'}"
            )
        last["path"] = res.cache_path

    mem: dict[str, Any] = {}
    with _measured(mem):
        walls, cpus = _timed(build, n_warm, repeats)
    row = _data_row(
        name, "cache_build", walls, cpus, n_warm, mem,
        n_records=n_records, source_sfreq=source_sfreq, target_sfreq=target_sfreq, workers=1,
        source_mb=_dir_mb(src), cache_mb=_dir_mb(last["path"]),
    )
    row["records_per_s"] = n_records / row["step_s"]
    row["dtype"] = "fp16"  # what the cache stores
    return row


def _bench_loader(store: Any, *, batch: int, steps: int, warmup: int, seed: int) -> list[dict[str, Any]]:
    import torch.utils.data

    from biojepa.bench.flops import spec_num_tokens
    from biojepa.data.sampler import KeyedDataset, SourceSpec, StepBatchSampler, WeightedCropSampler
    from biojepa.masks import MaskCollator
    from biojepa.models import get_spec

    spec = get_spec(DATA_MODEL)
    crop_len = int(spec.signal.n_times)
    n_chans = len(spec.signal.channels)
    grid = spec_num_tokens(spec)
    sampler = WeightedCropSampler([SourceSpec("wfdb", store, 1.0)], crop_len=crop_len, seed=seed, global_batch=batch)
    rows = []

    def crops(i: int) -> None:
        for slot in range(batch):
            s = sampler.sample(i, slot)
            if s.x.shape != (n_chans, crop_len):
                raise RuntimeError(f"sampler returned a {s.x.shape} crop, expected {(n_chans, crop_len)}")

    mem: dict[str, Any] = {}
    with _measured(mem):
        walls, cpus = _timed(crops, warmup, steps)
    rows.append(_data_row("data/sampler_crop", "sampler_crop", walls, cpus, warmup, mem,
                          crop_len=crop_len, n_channels=n_chans))

    collator = MaskCollator(MASK_NAME, MASK_PARAMS, grid=grid, seed=seed)
    loader = torch.utils.data.DataLoader(
        KeyedDataset(sampler), batch_sampler=StepBatchSampler(0, warmup + steps, batch), collate_fn=collator,
        num_workers=0,
    )
    it = iter(loader)

    def collated(i: int) -> None:
        b = next(it)
        if tuple(b.x.shape) != (batch, n_chans, crop_len):
            raise RuntimeError(f"collated batch is {tuple(b.x.shape)}, expected {(batch, n_chans, crop_len)}")

    mem = {}
    with _measured(mem):
        walls, cpus = _timed(collated, warmup, steps)
    rows.append(_data_row("data/collated_batch", "collated_batch", walls, cpus, warmup, mem,
                          crop_len=crop_len, n_channels=n_chans, mask=MASK_NAME, grid=list(grid)))
    for row in rows:
        row["batch"] = batch
        row["dtype"] = "fp32"
        row["samples_per_s"] = batch / row["step_s"]
        row["batches_per_s"] = 1.0 / row["step_s"]
    return rows


def _data_rows(
    n_records: int, batch: int, data_steps: int, build_repeats: int, warmup: int, seed: int,
    workdir: str | Path | None,
) -> list[dict[str, Any]]:
    from biojepa.models import get_spec
    from biojepa.registry import DATASETS

    signal = get_spec(DATA_MODEL).signal
    target = float(signal.sfreq)
    with tempfile.TemporaryDirectory(prefix="biojepa-bench-ecg-", dir=workdir) as tmp:
        work = Path(tmp)
        rows = []
        for source_sfreq, name in ((target, f"data/cache_build_{target:g}hz"),
                                   (100.0, f"data/cache_build_100hz_to_{target:g}hz")):
            src = work / f"wfdb_{source_sfreq:g}hz"
            write_wfdb_corpus(src, n_records, source_sfreq, seed)
            rows.append(_bench_cache_build(
                name, src, work / f"builds_{source_sfreq:g}hz", source_sfreq=source_sfreq, target_sfreq=target,
                n_records=n_records, repeats=build_repeats, warmup=warmup,
            ))
        store = DATASETS.create("wfdb").open(
            work / f"wfdb_{target:g}hz", cache_dir=work / "opened", params={}, signal=signal
        )
        rows += _bench_loader(store, batch=batch, steps=data_steps, warmup=warmup, seed=seed)
        del store
        gc.collect()
    return rows


def _checks(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    train = [r for r in rows if r.get("stage") is None and r.get("device") == "cpu"]
    data = [r for r in rows if r.get("stage") == "collated_batch"]
    if not train or not data:
        return {"data_to_train_ratio": None, "data_keeps_up": None, "required_ratio": REQUIRED_RATIO,
                "fastest_train_row": None}
    fastest = max(train, key=lambda r: r["samples_per_s"])
    ratio = data[0]["samples_per_s"] / fastest["samples_per_s"]
    out = {"data_to_train_ratio": ratio, "data_keeps_up": bool(ratio >= REQUIRED_RATIO),
           "required_ratio": REQUIRED_RATIO, "fastest_train_row": fastest["name"]}
    cuda = [r for r in rows if r.get("stage") is None and str(r.get("device", "")).startswith("cuda")]
    if cuda:  # informative: one loader process against the GPU step (a run adds DataLoader workers)
        out["data_to_cuda_train_ratio"] = data[0]["samples_per_s"] / max(r["samples_per_s"] for r in cuda)
    return out


def run_ecg_bench(
    n_records: int = 64,
    steps: int = 10,
    warmup: int = 3,
    batch: int = 32,
    threads: int | None = 2,
    models: Sequence[str] = ("ecg_vit_xs", "ecg_vit_s"),
    device: str = "auto",
    keep: float = 0.20,
    seed: int = 0,
    data_steps: int = 50,
    build_repeats: int = 3,
    cuda_batch: int = 256,
    matmul_n: int | None = None,
    workdir: str | Path | None = None,
) -> dict[str, Any]:
    """Time the ECG cache build, the crop sampler, the collated batches and the pretraining step.

    Args:
        n_records: synthetic WFDB records written per source rate (the cache-build workload).
        steps: timed training steps per model (median reported).
        warmup: untimed training steps; also untimed data batches, and one untimed cache build when > 0.
        batch: CPU training batch and data batch (samples per step).
        threads: ``torch.set_num_threads`` for the run (restored afterwards); None leaves it alone.
        models: registered ECG models to train (inputs of their signal contracts).
        device: ``"cpu"`` (CPU rows only), ``"auto"`` (plus bf16 CUDA rows when CUDA is available) or
            ``"cuda"`` / ``"cuda:N"`` (plus CUDA rows; CUDA required).
        keep: context keep ratio of the training step (fixed, as in ``bench engine``).
        seed: seed of the synthetic records, the sampler, the masks and the models.
        data_steps: timed batches of the sampler and collated stages.
        build_repeats: timed cache builds per source rate.
        cuda_batch: batch of the CUDA rows.
        matmul_n: matrix size of the matmul-peak measurement (default 2048 on CPU, 8192 on CUDA).
        workdir: parent folder of the temporary WFDB files and caches (default: the system temp folder);
            everything written is removed at the end.

    Returns:
        ``{"schema_version": 1, "status": "ok", "bench": "ecg", "env": {...}, "rows": [...],
        "checks": {...}, "params": {...}, "errors": [...]}`` (see the module docstring).

    Raises:
        ConfigError: invalid arguments, or ``device="cuda"`` without CUDA.
        UnknownNameError: an unknown model name.
    """
    from biojepa.bench import engine
    from biojepa.models import get_spec

    for name, value, low in (("n_records", n_records, 1), ("data_steps", data_steps, 1),
                             ("build_repeats", build_repeats, 1), ("cuda_batch", cuda_batch, 1)):
        _check_int(name, value, low)
    models = tuple(models) if not isinstance(models, str) else models
    engine._check_args(models, batch, steps, warmup, keep, "cpu", "fp32")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, found {seed!r}")
    if device != "auto" and device != "cpu" and not str(device).startswith("cuda"):
        raise ConfigError(f"device must be 'cpu', 'auto', 'cuda' or 'cuda:N', found {device!r}")
    for name in models:
        if get_spec(name).modality != "ecg":
            raise ConfigError(f"model {name!r} is not an ECG model; use ecg_vit_tiny, ecg_vit_xs, ecg_vit_s, ...")
    import torch

    cuda_device: str | None = None
    if device == "auto":
        cuda_device = "cuda" if torch.cuda.is_available() else None
    elif device != "cpu":
        engine._resolve_device(device)  # raises ConfigError without CUDA
        cuda_device = device

    from biojepa.bench.env import num_threads

    with num_threads(threads):
        data = _data_rows(n_records, batch, data_steps, build_repeats, warmup, seed, workdir)
    cpu = engine.run_engine_bench(
        models=models, batch=batch, steps=steps, warmup=warmup, threads=threads, keep=keep, device="cpu",
        seed=seed, matmul_n=matmul_n,
    )
    env = dict(cpu["env"])
    rows = list(cpu["rows"])
    errors = list(cpu["errors"])
    if cuda_device is not None:
        gpu = engine.run_engine_bench(
            models=models, batch=cuda_batch, steps=steps, warmup=warmup, threads=threads, keep=keep,
            device=cuda_device, dtype="bf16", seed=seed, matmul_n=matmul_n,
        )
        env["gpu"] = gpu["env"].get("gpu")
        env["cuda_device"] = gpu["env"]["device"]
        env["cuda_matmul_peak_gflops"] = gpu["env"]["matmul_peak_gflops"]
        env["cuda_matmul_peak_kernel"] = gpu["env"]["matmul_peak_kernel"]
        rows += [{**r, "gpu": env["gpu"]} for r in gpu["rows"]]
        errors += gpu["errors"]
    rows = data + rows
    return {
        "schema_version": engine.SCHEMA_VERSION,
        "status": "ok",
        "bench": "ecg",
        "env": env,
        "rows": rows,
        "checks": _checks(rows),
        "params": {
            "n_records": n_records, "steps": steps, "warmup": warmup, "batch": batch, "threads": threads,
            "models": list(models), "device": device, "keep": keep, "seed": seed, "data_steps": data_steps,
            "build_repeats": build_repeats, "cuda_batch": cuda_batch, "data_model": DATA_MODEL,
            "mask": {"name": MASK_NAME, **MASK_PARAMS},
        },
        "errors": errors,
    }

