"""A plain request hook that returns an awaitable when, for this request, it has to wait (basicAuth on a
cache miss), with hooks after it (test_waiting_stage.py has it alone). End to end on real sockets: the hooks
after it still run, in order, its answer passes back through the hooks before it, pipelined requests keep
their order, and a client that leaves cancels the wait. The middlewares are test doubles;
gateway, upstream and clients are real."""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from proxy import Gateway
from proxy.message import HeaderList, Reply, RequestHead
from proxy.middlewares.base import Middleware
from proxy.routing.plan import RoutePlan
from proxy.routing.table import Route, RouteTable
from proxy.rules import compile_rule
from proxy.testing import serve_aiohttp

ROUTES = """
[http.routers.app]
  rule = "PathPrefix(`/`)"
  service = "app"
[http.services.app.loadBalancer]
  [[http.services.app.loadBalancer.servers]]
    url = "http://127.0.0.1:1"
"""


class MaybeWaiter(Middleware):
    """Answers at once for /now..., waits for /wait... and /deny... (then refuses the latter)."""

    edits_request_headers = True

    def __init__(self) -> None:
        self.waits_started = 0
        self.cancelled = 0
        self.started = asyncio.Event()

    def on_request(self, req: RequestHead) -> Any:
        if req.path.startswith("/now"):
            req.headers.add("X-Maybe", "now")
            return None
        return asyncio.ensure_future(self._later(req))

    async def _later(self, req: RequestHead) -> Reply | None:
        self.waits_started += 1
        self.started.set()
        try:
            await asyncio.sleep(0.3 if req.path.startswith("/wait/slow") else 0.01)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if req.path.startswith("/deny"):
            return Reply.text(401, "denied")
        req.headers.add("X-Maybe", "waited")
        return None


class Stamp(Middleware):
    has_response_hook = True
    edits_request_headers = True

    def __init__(self, name: str) -> None:
        self.name = name

    def on_request(self, req: RequestHead) -> Reply | None:
        req.headers.add("X-Order", self.name)
        return None

    def on_response(self, req: RequestHead, status: int, headers: HeaderList) -> None:
        headers.add("X-Back", f"{self.name}:{status}")


async def echo(request: web.BaseRequest) -> web.Response:
    return web.json_response(
        {
            "path": request.raw_path,
            "maybe": request.headers.get("X-Maybe"),
            "order": request.headers.getall("X-Order", []),
        }
    )


@pytest.fixture
async def stack() -> Any:
    async with serve_aiohttp(echo) as upstream:
        async with Gateway(ROUTES, service_overrides={"app": upstream.url}) as gateway:
            plan = gateway.routers["app@file"]
            waiter = MaybeWaiter()
            built = RoutePlan.build(
                plan.router,
                [("before", Stamp("before")), ("maybe", waiter), ("after", Stamp("after"))],
                plan.service,
                plan.service_name,
            )
            assert not built.waiting_hooks  # nothing `waits`: every hook is an inline one
            runtime = gateway.entry_point_servers["http"].runtime
            runtime.table = RouteTable([Route(plan.router, 1, compile_rule("PathPrefix(`/`)"), built)])
            yield gateway, waiter


@pytest.mark.parametrize(
    ("path", "maybe", "waited"),
    [
        pytest.param("/now", "now", 0, id="no wait: the synchronous path"),
        pytest.param("/wait", "waited", 1, id="a wait, then the hooks after it"),
    ],
)
async def test_hooks_after_it_run_in_order(stack: Any, path: str, maybe: str, waited: int) -> None:
    gateway, waiter = stack
    async with aiohttp.ClientSession() as client, client.get(gateway.url + path) as response:
        assert response.status == 200
        assert await response.json() == {"path": path, "maybe": maybe, "order": ["before", "after"]}
        assert response.headers.getall("X-Back") == ["after:200", "before:200"]
    assert waiter.waits_started == waited


async def test_its_answer_passes_back_through_the_hooks_before_it(stack: Any) -> None:
    gateway, _ = stack
    async with aiohttp.ClientSession() as client, client.get(gateway.url + "/deny") as response:
        assert response.status == 401
        assert await response.text() == "denied"
        assert response.headers.getall("X-Back") == ["before:401"]


async def test_pipelined_requests_keep_their_order(stack: Any) -> None:
    gateway, _ = stack
    host, port = gateway.url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"GET /wait/slow/1 HTTP/1.1\r\nHost: a\r\n\r\nGET /now/2 HTTP/1.1\r\nHost: a\r\n\r\n"
        b"GET /deny/3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    )
    data = await asyncio.wait_for(reader.read(-1), 5)
    writer.close()
    assert data.index(b"/wait/slow/1") < data.index(b"/now/2") < data.index(b"denied")


async def test_a_client_that_leaves_cancels_the_wait(stack: Any) -> None:
    gateway, waiter = stack
    host, port = gateway.url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    sock.sendall(b"GET /wait/slow HTTP/1.1\r\nHost: a\r\n\r\n")
    await asyncio.wait_for(waiter.started.wait(), 5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    for _ in range(100):
        if waiter.cancelled:
            break
        await asyncio.sleep(0.01)
    assert waiter.cancelled == 1
    for _ in range(100):
        if gateway.exchanges and gateway.exchanges[-1].status == 499:
            break
        await asyncio.sleep(0.01)
    assert gateway.exchanges[-1].status == 499
