"""A live gateway from a static TOML (entry points `web` and `traefik` on free loopback ports) with the
observability sections under test, in front of a small aiohttp upstream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from obs_helpers import ROUTES

from proxy.server.gateway import Gateway
from proxy.testing.upstreams import ServedApp, serve_aiohttp


async def _handle(request: web.Request) -> web.StreamResponse:
    if request.path.endswith("/slow"):
        import asyncio

        await asyncio.sleep(0.3)
    if request.path.endswith("/teapot"):
        return web.Response(status=418, text="short and stout")
    return web.Response(text="hello world")  # 11 bytes


@pytest.fixture
async def app_server() -> AsyncIterator[ServedApp]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _handle)
    async with serve_aiohttp(app) as served:
        yield served


LiveGateway = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def live_gateway(tmp_path: Path, app_server: ServedApp) -> AsyncIterator[LiveGateway]:
    """`await live_gateway(static_toml_tail, routes=ROUTES)`: started, stopped at teardown."""
    started: list[Gateway] = []

    async def factory(static_tail: str, routes: str = ROUTES) -> Gateway:
        (tmp_path / "routes.toml").write_text(routes)
        static = tmp_path / "traefik.toml"
        static.write_text(
            '[entryPoints.web]\naddress = "127.0.0.1:0"\n[entryPoints.traefik]\naddress = "127.0.0.1:0"\n'
            '[providers.file]\nfilename = "routes.toml"\nwatch = false\n' + static_tail
        )
        gateway = Gateway(static, services={"app": app_server.url}, free_ports=True)
        await gateway.start()
        started.append(gateway)
        return gateway

    yield factory
    for gateway in reversed(started):
        await gateway.stop()


@pytest.fixture
def app_server_sync() -> Iterator[str]:
    """The same upstream from a background thread, for tests that drive a subprocess synchronously."""
    from proxy.testing.upstreams import serve_app_in_thread

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _handle)
    with serve_app_in_thread(app) as served:
        yield served.url
