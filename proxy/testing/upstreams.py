"""Serve an app on a free loopback port so it can sit behind the gateway: aiohttp apps directly, ASGI apps
(FastAPI, Starlette...) through uvicorn (the `asgi` extra). The port is bound before the server starts, so
there is no race with other tests or xdist workers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from proxy.testing.loop_thread import LoopThread

START_TIMEOUT = 15.0


@dataclass(frozen=True)
class ServedApp:
    """Where an app is being served: use `url` as a service URL (`services={"app": served.url}`)."""

    url: str
    host: str
    port: int


def bound_socket(host: str = "127.0.0.1") -> socket.socket:
    """A TCP socket bound to a free port of `host` (not yet listening)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    return sock


def _served(host: str, port: int) -> ServedApp:
    shown = f"[{host}]" if ":" in host else host
    return ServedApp(f"http://{shown}:{port}", host, port)


@asynccontextmanager
async def serve_aiohttp(app: web.Application | Any, host: str = "127.0.0.1") -> AsyncIterator[ServedApp]:
    """An aiohttp Application (or a low-level handler `async (request) -> response`) on a free port."""
    runner: web.BaseRunner
    if isinstance(app, web.Application):
        runner = web.AppRunner(app, access_log=None)
    else:
        runner = web.ServerRunner(web.Server(app), access_log=None)
    await runner.setup()
    sock = bound_socket(host)
    try:
        site = web.SockSite(runner, sock)
        await site.start()
        yield _served(host, sock.getsockname()[1])
    finally:
        await runner.cleanup()
        sock.close()


@asynccontextmanager
async def serve_asgi(
    app: Any, *, root_path: str = "", host: str = "127.0.0.1", **uvicorn_options: Any
) -> AsyncIterator[ServedApp]:
    """An ASGI app served by uvicorn on the running loop; `root_path` is uvicorn's `--root-path`."""
    try:
        import uvicorn
    except ImportError:  # pragma: no cover - depends on the environment
        raise RuntimeError("serving ASGI apps needs uvicorn: pip install 'stripproxy[asgi]'") from None

    class QuietServer(uvicorn.Server):
        """Leaves the process's signal handlers alone: the test runner owns them."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:  # as uvicorn's, minus the handlers
            yield

    from uvicorn.config import WS_PROTOCOLS

    # WebSockets on: the sans-I/O implementation where uvicorn has it (its older one warns of deprecation).
    options: dict[str, Any] = {
        "log_config": None,
        "log_level": "warning",
        "access_log": False,
        "lifespan": "auto",
        "ws": "websockets-sansio" if "websockets-sansio" in WS_PROTOCOLS else "auto",
    }
    options.update(uvicorn_options)
    server = QuietServer(uvicorn.Config(app, root_path=root_path, **options))
    sock = bound_socket(host)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="uvicorn")
    try:
        await _until_started(server, task)
        yield _served(host, sock.getsockname()[1])
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, START_TIMEOUT)
        sock.close()


async def _until_started(server: Any, task: asyncio.Task[None]) -> None:
    deadline = asyncio.get_running_loop().time() + START_TIMEOUT
    while not server.started:
        if task.done():
            error = task.exception() if not task.cancelled() else None
            raise RuntimeError(f"uvicorn did not start (lifespan startup failed?): {error!r}") from error
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"uvicorn did not start within {START_TIMEOUT} s")
        await asyncio.sleep(0.005)


def serve_app(app: Any, **options: Any) -> contextlib.AbstractAsyncContextManager[ServedApp]:
    """An aiohttp Application -> `serve_aiohttp`; anything else is taken as an ASGI app -> `serve_asgi`.
    (A bare aiohttp handler function: call `serve_aiohttp` itself.)"""
    if isinstance(app, web.Application):
        return serve_aiohttp(app, **options)
    return serve_asgi(app, **options)


@contextmanager
def serve_app_in_thread(app: Any, **options: Any) -> Iterator[ServedApp]:
    """`serve_app` for synchronous code: the server runs on its own loop in a background thread."""
    thread = LoopThread("stripproxy-upstream")
    manager = serve_app(app, **options)
    try:
        served = thread.run(manager.__aenter__())
    except BaseException:
        thread.close()
        raise
    try:
        yield served
    finally:
        try:
            thread.run(manager.__aexit__(None, None, None))
        finally:
            thread.close()


@dataclass
class Received:
    """One request a ControlledUpstream got."""

    method: str
    path_qs: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        lname = name.lower()
        return next((value for key, value in self.headers if key.lower() == lname), None)


class ControlledUpstream:
    """A loopback upstream a test steers while it runs: it answers every request with its `name` (body and
    `X-Upstream` header) and the chosen `status` after `delay` seconds; `health_path` answers
    `health_status` after `health_delay` (flip it to take the server down or bring it back); `health_redirect`
    makes the health endpoint redirect there first. Everything received is kept in `received` / `health_checks`.

        async with ControlledUpstream("a").serve() as a:
            ...  # a.url; a.health_status = 503
    """

    def __init__(self, name: str = "upstream", *, health_path: str = "/health") -> None:
        self.name = name
        self.health_path = health_path
        self.health_status = 200
        self.health_redirect: str | None = None
        self.health_delay = 0.0
        self.status = 200
        self.delay = 0.0
        self.received: list[Received] = []
        self.health_checks: list[Received] = []
        self.url = ""

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        body = await request.read()
        seen = Received(request.method, request.path_qs, list(request.headers.items()), body)
        if request.path == self.health_path or (self.health_redirect and request.path == self.health_redirect):
            self.health_checks.append(seen)
            if self.health_redirect and request.path == self.health_path:
                raise web.HTTPFound(self.health_redirect)
            if self.health_delay:
                await asyncio.sleep(self.health_delay)
            return web.Response(status=self.health_status, text=f"{self.name} health {self.health_status}")
        self.received.append(seen)
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.Response(status=self.status, text=self.name, headers={"X-Upstream": self.name})

    @asynccontextmanager
    async def serve(self, host: str = "127.0.0.1") -> AsyncIterator[ControlledUpstream]:
        async with serve_aiohttp(self._handle, host) as served:
            self.url = served.url
            yield self
