"""Fixtures for the middleware tests: a real redis-server on a free loopback port; a live gateway that writes
Traefik's common access log to a file and is watched by the access log capture."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from proxy.testing.redis_server import RedisServer, redis_server_binary


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh redis-server (no persistence) for one test; skipped only when none can be run here."""
    if redis_server_binary() is None:
        pytest.skip(
            "redis-server is not installed and scripts/test.sh could not install it "
            "(needs root and apt-get: `apt-get install redis-server`)"
        )
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


LoggedGateway = Callable[[str], Awaitable[tuple[Any, Any, Path]]]


@pytest.fixture
def logged_gateway(stripproxy, stripproxy_access_log, tmp_path: Path) -> LoggedGateway:
    """`gateway, records, log_file = await logged_gateway("routes.toml")`: the gateway on the dynamic file
    of that name in tmp_path (written by the test), an accessLog file, the capture attached."""

    async def start(routes_name: str) -> tuple[Any, Any, Path]:
        log_file = tmp_path / "access.log"
        (tmp_path / "traefik.toml").write_text(
            f'[entryPoints.web]\naddress = "127.0.0.1:0"\n[providers.file]\nfilename = "{routes_name}"\n'
            f'[accessLog]\nfilePath = "{log_file}"\n'
        )
        gateway = await stripproxy(tmp_path / "traefik.toml")
        return gateway, stripproxy_access_log(gateway), log_file

    return start
