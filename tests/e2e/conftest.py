"""Shared fixtures: a recording upstream on loopback and an in-process gateway built from TOML text."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from proxy.config.loader import load_dynamic
from proxy.config.static import EntryPointConfig, StaticConfig
from proxy.server.gateway import Gateway


@dataclass
class Recorded:
    method: str
    path: str  # raw path with query, as received
    headers: list[tuple[str, str]]
    body: bytes
    version: str

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None


@dataclass
class Upstream:
    url: str
    port: int
    requests: list[Recorded] = field(default_factory=list)

    @property
    def last(self) -> Recorded:
        return self.requests[-1]


async def _upstream_handler(upstream: Upstream, request: web.BaseRequest) -> web.StreamResponse:
    body, length = b"", 0
    async for piece in request.content.iter_chunked(1 << 16):  # counted, not kept, past 1 MiB
        length += len(piece)
        if length <= 1 << 20:
            body += piece
    raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers]
    upstream.requests.append(
        Recorded(request.method, request.raw_path, raw, body, f"{request.version.major}.{request.version.minor}")
    )
    path = request.path
    if path.startswith("/status/"):
        return web.Response(status=int(path.rsplit("/", 1)[1]), text="" if path.endswith(("204", "304")) else "s")
    if path == "/sse":
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for i in range(3):
            await response.write(f"data: {i}\n\n".encode())
            await asyncio.sleep(0.2)
        await response.write_eof()
        return response
    if path == "/chunked":
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for piece in (b"hello ", b"chunked ", b"world"):
            await response.write(piece)
        await response.write_eof()
        return response
    if path == "/cookies":
        response = web.Response(text="c")
        response.headers.add("Set-Cookie", "a=1; Path=/")
        response.headers.add("Set-Cookie", "b=2; Path=/")
        return response
    if path.startswith("/bytes/"):
        size = int(path.rsplit("/", 1)[1])
        return web.Response(body=b"x" * size, content_type="application/octet-stream")
    if path == "/sleep":
        await asyncio.sleep(float(request.query.get("s", "1")))
        return web.Response(text="slept")
    if path == "/gzip":
        return web.Response(body=b"\x1f\x8b not really", headers={"Content-Encoding": "gzip"})
    payload = {"method": request.method, "path": request.raw_path, "body_length": length}
    return web.Response(text=json.dumps(payload), content_type="application/json", headers={"X-Upstream": "1"})


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    """A recording HTTP server on 127.0.0.1 with a few behaviours selected by path."""
    holder: list[Upstream] = []

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        return await _upstream_handler(holder[0], request)

    runner = web.ServerRunner(web.Server(handle), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    holder.append(Upstream(f"http://127.0.0.1:{port}", port))
    yield holder[0]
    await runner.cleanup()


GatewayFactory = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def make_gateway(tmp_path: Path) -> AsyncIterator[GatewayFactory]:
    """Start an in-process gateway from dynamic TOML text; entry points `http` (and `other`) on free ports."""
    started: list[Gateway] = []

    async def factory(routes: str, entry_points: tuple[str, ...] = ("http",), **entry_options: object) -> Gateway:
        path = tmp_path / f"routes{len(started)}.toml"
        path.write_text(routes)
        dynamic, _ = load_dynamic([path])
        static = StaticConfig(
            entry_points={
                name: EntryPointConfig.model_validate({"address": "127.0.0.1:0", **entry_options})
                for name in entry_points
            }
        )
        gateway = Gateway(static)
        gateway.apply(dynamic)
        await gateway.start()
        started.append(gateway)
        return gateway

    yield factory
    for gateway in reversed(started):
        await gateway.stop()
