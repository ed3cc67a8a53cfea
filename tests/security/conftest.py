"""Fixtures for attacking a live gateway on loopback: raw-socket upstreams and in-process gateways."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from proxy.server.gateway import Gateway

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def raw_upstream() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """`await raw_upstream(handler)` -> the URL of an asyncio server on 127.0.0.1 running `handler` per
    connection; every server started is closed at teardown."""
    servers: list[asyncio.Server] = []
    writers: list[asyncio.StreamWriter] = []

    async def start(handler: Handler) -> str:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.append(writer)
            try:
                await handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    yield start
    for server in servers:
        server.close()
    for writer in writers:  # handlers still writing get ConnectionError and end
        writer.transport.abort()
    await asyncio.sleep(0)


@pytest.fixture
async def gateway() -> AsyncIterator[Callable[..., Awaitable[Gateway]]]:
    """`await gateway(config, **options)` -> a started strict Gateway on a free loopback port."""
    started: list[Gateway] = []

    async def start(config: Any, **options: Any) -> Gateway:
        gw = Gateway(config, strict=True, **options)
        await gw.start()
        started.append(gw)
        return gw

    yield start
    for gw in reversed(started):
        await gw.stop()
