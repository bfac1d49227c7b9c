"""Shared test fixtures: network guard, shared real-data location, deterministic torch settings."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from hypothesis import settings as _hypothesis_settings

REPO_ROOT = Path(__file__).resolve().parent.parent

# Property tests are derandomized (the same examples on every run, so CI cannot flake on a rare draw) and keep
# no example database. BIOJEPA_HYPOTHESIS_PROFILE=explore draws fresh random examples, for local bug hunts.
_hypothesis_settings.register_profile("deterministic", derandomize=True, database=None)
_hypothesis_settings.register_profile("explore", derandomize=False, database=None)
_hypothesis_settings.load_profile(os.environ.get("BIOJEPA_HYPOTHESIS_PROFILE", "deterministic"))


def shared_data_dir() -> Path | None:
    """``$BIOJEPA_SHARED_DATA`` or ``../shared/data`` beside the checkout, if it exists."""
    env = os.environ.get("BIOJEPA_SHARED_DATA")
    cand = Path(env) if env else REPO_ROOT.parent / "shared" / "data"
    return cand if cand.is_dir() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Root of the shared real recordings; tests using it must carry ``@pytest.mark.realdata``."""
    root = shared_data_dir()
    if root is None:
        if os.environ.get("BIOJEPA_REQUIRE_REALDATA") == "1":
            pytest.fail("BIOJEPA_REQUIRE_REALDATA=1 but the shared real data was not found", pytrace=False)
        pytest.skip(
            "shared real data not found: set BIOJEPA_SHARED_DATA or place the project's shared/data "
            "folder beside the checkout"
        )
    return root


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "shared_data" in getattr(item, "fixturenames", ()) and "realdata" not in item.keywords:
            raise pytest.UsageError(f"{item.nodeid} uses shared_data but lacks @pytest.mark.realdata")


class NetworkBlockedError(RuntimeError):
    """A test tried to reach the network."""


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    if isinstance(address, tuple) and address:
        host = str(address[0])
        return host in {"localhost", "::1", "0.0.0.0", ""} or host.startswith("127.")
    return False


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_local(address):
        raise NetworkBlockedError(f"network access is blocked in tests (tried to connect to {address!r})")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _is_local(address):
        raise NetworkBlockedError(f"network access is blocked in tests (tried to connect to {address!r})")
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True, scope="session")
def _isolated_home(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Point ``$BIOJEPA_HOME`` (weights, dataset caches) at a session temp dir: tests never touch ~/.cache."""
    home = tmp_path_factory.mktemp("biojepa_home")
    old = {k: os.environ.get(k) for k in ("BIOJEPA_HOME", "BIOJEPA_CACHE_DIR")}
    os.environ["BIOJEPA_HOME"] = str(home)
    os.environ.pop("BIOJEPA_CACHE_DIR", None)
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(autouse=True)
def _block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True, scope="session")
def _torch_threads() -> None:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a core dependency
        return
    torch.set_num_threads(int(os.environ.get("BIOJEPA_TEST_THREADS", "2")))
