"""What the benchmark machine can do: matmul peak, thread settings, memory high-water marks.

Everything here is measured in the same process as the benchmark it accompanies, with the same thread
count, so the "fraction of peak" figures compare like with like.
"""

from __future__ import annotations

import contextlib
import re
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from biojepa.errors import ConfigError

__all__ = ["DevicePeakMemory", "MemoryProbe", "env_info", "matmul_peak_gflops", "num_threads", "sync"]

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


@contextlib.contextmanager
def num_threads(threads: int | None) -> Iterator[None]:
    """Run the body with ``torch.set_num_threads(threads)``, restoring the previous value afterwards.

    Args:
        threads: intra-op threads (>= 1), or None to leave the setting alone.

    Raises:
        ConfigError: ``threads`` is not a positive integer.
    """
    import torch

    if threads is None:
        yield
        return
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"threads must be a positive integer, found {threads!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def sync(device: Any) -> None:
    """Wait for queued device work (CUDA); a no-op on CPU."""
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak_gflops(
    threads: int | None,
    n: int = 2048,
    *,
    device: str = "cpu",
    dtype: str = "fp32",
    kernel: str = "engine",
    repeats: int = 5,
) -> float:
    """Measured dense matmul throughput, the yardstick for ``mfu_or_peak_ratio``.

    Times ``(n × n) @ (n × n)`` products (2·n³ FLOP each): 2 warm-ups, then the median of ``repeats``.

    Args:
        threads: intra-op threads for the measurement (None: leave as is).
        n: matrix size.
        device: ``"cpu"`` or ``"cuda"``.
        dtype: ``"fp32"`` or ``"bf16"``.
        kernel: ``"engine"`` — the kernel the models' Linear layers use
            (:func:`biojepa.nn.vit.linear`: oneDNN on x86-64 CPUs in fp32, else ``F.linear``);
            ``"torch_mm"`` — plain ``torch.mm`` (MKL/OpenBLAS on CPU, cuBLAS on CUDA).
        repeats: timed repetitions.

    Returns:
        GFLOP/s (median).

    Raises:
        ConfigError: an invalid size, kernel, dtype or device.
    """
    import torch

    from biojepa.nn.vit import linear

    if isinstance(n, bool) or not isinstance(n, int) or n < 1 or repeats < 1:
        raise ConfigError(
            f"matmul_peak_gflops needs n >= 1 and repeats >= 1, found n={n!r}, repeats={repeats!r}"
        )
    if kernel not in ("engine", "torch_mm"):
        raise ConfigError(f"kernel must be 'engine' or 'torch_mm', found {kernel!r}")
    tdtype = _torch_dtype(dtype)
    dev = torch.device(device)
    with num_threads(threads), torch.no_grad():
        g = torch.Generator(device=dev).manual_seed(0)
        a = torch.randn(n, n, generator=g, device=dev).to(tdtype)  # (n, n)
        b = torch.randn(n, n, generator=g, device=dev).to(tdtype)  # (n, n)
        out = torch.empty(n, n, device=dev, dtype=tdtype)  # (n, n)

        def once() -> None:
            if kernel == "torch_mm":
                torch.mm(a, b, out=out)
            else:
                linear(a, b)

        times = []
        for i in range(2 + repeats):
            sync(dev)
            t0 = time.perf_counter()
            once()
            sync(dev)
            if i >= 2:
                times.append(time.perf_counter() - t0)
    return 2.0 * n**3 / statistics.median(times) / 1e9


def _torch_dtype(dtype: str) -> Any:
    import torch

    table = {"fp32": torch.float32, "bf16": torch.bfloat16}
    if dtype not in table:
        raise ConfigError(f"dtype must be one of {', '.join(table)}, found {dtype!r}")
    return table[dtype]


def env_info(device: str = "cpu") -> dict[str, Any]:
    """Versions and settings that a benchmark figure depends on."""
    import platform

    import torch

    from biojepa.nn.vit import cpu_linear_backend

    info: dict[str, Any] = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "threads": torch.get_num_threads(),
        "device": device,
        "cpu_linear_backend": cpu_linear_backend(),
        "blas": _blas_name(),
    }
    if torch.device(device).type == "cuda" and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown"


def _blas_name() -> str:
    import torch

    cfg = torch.__config__.show()
    m = re.search(r"BLAS_INFO=(\w+)", cfg)
    return m.group(1) if m else "unknown"


# -- memory -------------------------------------------------------------------------------------------


def _status_kb(field: str) -> int | None:
    try:
        m = re.search(rf"^{field}:\s+(\d+)\s+kB", _STATUS.read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(m.group(1)) if m else None


def _current_rss_bytes() -> int | None:
    kb = _status_kb("VmRSS")
    if kb is not None:
        return kb * 1024
    try:
        import psutil  # type: ignore[import-not-found, import-untyped]
    except ImportError:
        return None
    return int(psutil.Process().memory_info().rss)


def _malloc_trim() -> None:
    """Give freed heap pages back to the OS (glibc), so an earlier peak's leftovers do not hide this one."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        pass


@dataclass
class MemoryProbe:
    """Peak resident memory (RSS) of this process over a region, minus the RSS when it started.

    Methods, best first:

    * ``"vmhwm"`` (Linux): the kernel's high-water mark ``VmHWM``, reset at :meth:`start` through
      ``/proc/self/clear_refs``; exact and free.
    * ``"psutil_sampled"``: RSS sampled every ``interval_s`` by a background thread (other platforms with
      psutil installed); can miss short spikes.
    * ``"ru_maxrss"``: the lifetime peak from ``resource.getrusage`` (cannot be reset: an earlier, larger peak
      hides this region's).

    :meth:`start` first calls glibc's ``malloc_trim(0)`` so that memory freed by earlier work does not sit in
    the baseline and get reused unseen. RSS counts every page the process touches — model, optimizer state,
    activations, the allocator's free-but-kept blocks — so it is an upper bound on what the computation needs;
    on CUDA the benchmark reports ``torch.cuda.max_memory_allocated`` instead.
    """

    interval_s: float = 0.005
    method: str = "none"
    _base: int = 0
    _peak: int = 0
    _stop: threading.Event | None = None
    _thread: threading.Thread | None = None

    def start(self) -> MemoryProbe:
        """Return freed heap memory to the OS, reset the high-water mark and record the starting RSS."""
        _malloc_trim()
        self._base = _current_rss_bytes() or 0
        self._peak = self._base
        if _status_kb("VmHWM") is not None:
            try:
                _CLEAR_REFS.write_text("5")
                self.method = "vmhwm"
                return self
            except OSError:
                pass
        try:
            import psutil  # type: ignore[import-not-found, import-untyped]
        except ImportError:
            self.method = "ru_maxrss"
            return self
        self.method = "psutil_sampled"
        proc = psutil.Process()
        self._stop = threading.Event()
        stop = self._stop

        def sample() -> None:
            while not stop.is_set():
                self._peak = max(self._peak, int(proc.memory_info().rss))
                stop.wait(self.interval_s)

        self._thread = threading.Thread(target=sample, name="biojepa-memprobe", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> float:
        """The peak RSS since :meth:`start` minus the starting RSS, in MiB (>= 0)."""
        if self.method == "vmhwm":
            peak = (_status_kb("VmHWM") or 0) * 1024
        elif self.method == "psutil_sampled":
            if self._stop is not None and self._thread is not None:
                self._stop.set()
                self._thread.join()
            peak = max(self._peak, _current_rss_bytes() or 0)
        else:
            import resource

            scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
        return max(peak - self._base, 0) / 2**20


class DevicePeakMemory:
    """Peak memory of a timed region on ``device``: the CUDA allocator's peak, else :class:`MemoryProbe` (RSS).

    ``start()`` collects garbage and resets the counter; ``stop()`` returns ``(peak MiB, method)``.
    """

    def __init__(self, device: Any) -> None:
        self.device = device
        self._probe: MemoryProbe | None = None

    def start(self) -> DevicePeakMemory:
        """Reset the peak counter of the device (or start the RSS probe on CPU)."""
        import gc

        import torch

        gc.collect()
        if getattr(self.device, "type", str(self.device)) == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self._probe = MemoryProbe().start()
        return self

    def stop(self) -> tuple[float, str]:
        """``(peak MiB since start, method)``."""
        if self._probe is None:
            import torch

            return torch.cuda.max_memory_allocated(self.device) / 2**20, "cuda_max_memory_allocated"
        return self._probe.stop(), self._probe.method
