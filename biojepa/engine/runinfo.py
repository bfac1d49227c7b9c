"""Run-directory provenance: the resolved config, its hash, and the software / hardware environment.

Files written into the run directory::

    config.yaml     the resolved RunConfig (recipe + overrides, validated), loadable as a recipe
    config.sha256   biojepa.config.config_hash of it
    env.json        biojepa / torch / numpy / python versions, platform, threads, device, git SHA
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from biojepa.config import RunConfig, config_hash

__all__ = ["environment_info", "git_sha", "write_run_info"]


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def git_sha(cwd: str | Path | None = None) -> str | None:
    """``git rev-parse HEAD`` of the checkout holding the biojepa package, or None (never raises).

    Args:
        cwd: where to ask git; default: the folder above the installed ``biojepa`` package.
    """
    if cwd is None:
        cwd = Path(__file__).resolve().parents[2]
    try:
        res = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=str(cwd),
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    sha = res.stdout.strip()
    if res.returncode != 0 or len(sha) < 7 or any(c not in "0123456789abcdef" for c in sha):
        return None
    return sha


def environment_info(device: str | None = None) -> dict[str, Any]:
    """Versions, platform, thread count, device and git SHA, as a JSON-able dict."""
    import numpy as np
    import torch

    from biojepa._version import __version__

    info: dict[str, Any] = {
        "biojepa": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "device": device,
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "git_sha": git_sha(),
    }
    return info


def write_run_info(run_dir: str | Path, cfg: RunConfig, *, device: str | None = None) -> str:
    """Write ``config.yaml``, ``config.sha256`` and ``env.json`` into ``run_dir`` (created if needed).

    Returns:
        The config hash.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    digest = config_hash(cfg)
    data = cfg.model_dump(mode="json")
    header = f"# resolved biojepa run config; sha256 {digest}\n"
    _atomic_write(run_dir / "config.yaml", header + yaml.safe_dump(data, sort_keys=False))
    _atomic_write(run_dir / "config.sha256", digest + "\n")
    _atomic_write(run_dir / "env.json", json.dumps(environment_info(device), indent=1) + "\n")
    return digest
