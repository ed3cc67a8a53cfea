"""Fixtures for the middleware tests: a real redis-server on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

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
