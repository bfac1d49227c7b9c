"""The conftest must make any non-loopback connection fail loudly."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import NetworkBlockedError


def test_external_connection_is_blocked() -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(NetworkBlockedError, match="network access is blocked"):
            s.connect(("93.184.216.34", 80))
    finally:
        s.close()


def test_loopback_is_allowed() -> None:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        cli.connect(srv.getsockname())
        conn, _ = srv.accept()
        conn.close()
    finally:
        cli.close()
        srv.close()
