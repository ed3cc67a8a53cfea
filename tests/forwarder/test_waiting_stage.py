"""The middleware model's two extensions, end to end on real sockets: a request hook that waits (`waits`)
and end-of-exchange callbacks (`req.at_end`). The middlewares here are test doubles of the kinds that use
them (forwardAuth, inFlightReq); the gateway, the upstream and the clients are real."""

from __future__ import annotations

import asyncio
import io
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


class Waiter(Middleware):
    """Waits, then adds a request header, answers by itself, or fails, as told by the request path."""

    waits = True
    edits_request_headers = True

    def __init__(self) -> None:
        self.ended: list[tuple[str, int, int]] = []
        self.in_flight = 0
        self.started = asyncio.Event()

    async def on_request(self, req: RequestHead) -> Reply | None:
        self.in_flight += 1
        req.at_end(lambda outcome: self._end(outcome))
        self.started.set()
        if req.path.startswith("/slow"):
            await asyncio.sleep(0.3)
        else:
            await asyncio.sleep(0.01)
        if req.path.startswith("/deny"):
            return Reply.text(401, "denied")
        if req.path.startswith("/boom"):
            raise RuntimeError("a bug in a middleware")
        req.headers.add("X-Waited", "yes")
        return None

    def _end(self, outcome: Any) -> None:
        self.in_flight -= 1
        self.ended.append((outcome.head.path, outcome.status, outcome.attempts))


class Stamp(Middleware):
    """A plain sync middleware before the waiter: its response hook must see the waiter's own answer."""

    has_response_hook = True

    def on_request(self, req: RequestHead) -> Reply | None:
        req.headers.add("X-Stamp", "before")
        return None

    def on_response(self, req: RequestHead, status: int, headers: HeaderList) -> None:
        headers.add("X-Stamped", str(status))


async def echo(request: web.BaseRequest) -> web.Response:
    body = await request.read()
    return web.json_response(
        {
            "path": request.raw_path,
            "waited": request.headers.get("X-Waited"),
            "stamp": request.headers.get("X-Stamp"),
            "body": len(body),
        }
    )


@pytest.fixture
async def stack() -> Any:
    async with serve_aiohttp(echo) as upstream:
        async with Gateway(ROUTES, service_overrides={"app": upstream.url}) as gateway:
            plan = gateway.routers["app@file"]
            waiter = Waiter()
            waiting = RoutePlan.build(
                plan.router, [("stamp", Stamp()), ("waiter", waiter)], plan.service, plan.service_name
            )
            assert waiting.waiting_hooks and waiting.request_hooks  # Stamp runs inline, the waiter in a task
            runtime = gateway.entry_point_servers["http"].runtime
            runtime.table = RouteTable([Route(plan.router, 1, compile_rule("PathPrefix(`/`)"), waiting)])
            yield gateway, waiter


async def test_a_waiting_hook_runs_before_the_request_goes_upstream(stack: Any) -> None:
    gateway, waiter = stack
    async with aiohttp.ClientSession() as client, client.get(gateway.url + "/app") as response:
        assert response.status == 200
        assert await response.json() == {"path": "/app", "waited": "yes", "stamp": "before", "body": 0}
        assert response.headers["X-Stamped"] == "200"
    assert waiter.ended == [("/app", 200, 1)] and waiter.in_flight == 0


async def test_a_waiting_hooks_answer_passes_back_through_earlier_middlewares(stack: Any) -> None:
    gateway, waiter = stack
    async with aiohttp.ClientSession() as client, client.get(gateway.url + "/deny") as response:
        assert response.status == 401
        assert await response.text() == "denied"
        assert response.headers["X-Stamped"] == "401"
    assert waiter.ended == [("/deny", 401, 0)]


async def test_a_body_sent_while_the_hook_waits_arrives_whole(stack: Any) -> None:
    gateway, waiter = stack
    body = b"x" * (900 * 1024)  # past the bytes held before the client is paused (aiohttp takes 1 MiB)
    async with aiohttp.ClientSession() as client, client.post(gateway.url + "/slow", data=io.BytesIO(body)) as response:
        assert response.status == 200
        assert (await response.json())["body"] == len(body)
    assert waiter.ended == [("/slow", 200, 1)]


async def test_a_failing_hook_gets_500_and_the_gateway_goes_on(stack: Any) -> None:
    gateway, waiter = stack
    async with aiohttp.ClientSession() as client:
        async with client.get(gateway.url + "/boom") as response:
            assert response.status == 500
        async with client.get(gateway.url + "/after") as response:
            assert response.status == 200
    assert [(path, status) for path, status, _ in waiter.ended] == [("/boom", 500), ("/after", 200)]


async def test_pipelined_requests_keep_their_order_around_a_wait(stack: Any) -> None:
    gateway, waiter = stack
    host, port = gateway.url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"GET /slow/1 HTTP/1.1\r\nHost: a\r\n\r\nGET /fast/2 HTTP/1.1\r\nHost: a\r\n\r\n"
        b"GET /deny/3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    )
    data = await asyncio.wait_for(reader.read(-1), 5)
    writer.close()
    assert data.index(b"/slow/1") < data.index(b"/fast/2") < data.index(b"denied")
    assert [path for path, _, _ in waiter.ended] == ["/slow/1", "/fast/2", "/deny/3"]


async def test_a_client_that_leaves_during_the_wait_cancels_it_and_ends_once(stack: Any) -> None:
    gateway, waiter = stack
    host, port = gateway.url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    sock.sendall(b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
    await asyncio.wait_for(waiter.started.wait(), 5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # a reset: the connection is gone (a FIN alone would still be owed its answer)
    for _ in range(100):
        if waiter.ended:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.4)  # past the hook's own sleep: a task that was not cancelled would go on
    assert waiter.ended == [("/slow", 499, 0)] and waiter.in_flight == 0
    assert gateway.exchanges[-1].status == 499


class Sometimes(Middleware):
    """A plain hook that waits only for some requests (a rate limiter's empty bucket): it returns an
    awaitable then, and the hooks after it run after the wait, in order."""

    edits_request_headers = True

    def on_request(self, req: RequestHead) -> Any:
        if not req.path.startswith("/maybe"):
            return None

        async def later() -> Reply | None:
            await asyncio.sleep(0.01)
            req.headers.add("X-Waited", "later")
            return Reply.text(429, "later") if req.path == "/maybe/refuse" else None

        return later()


@pytest.mark.parametrize(
    ("path", "status", "waited"),
    [
        pytest.param("/now", 200, None, id="no wait: no task"),
        pytest.param("/maybe", 200, "later", id="waited, then the next hook"),
        pytest.param("/maybe/refuse", 429, None, id="the awaited answer"),
    ],
)
async def test_a_plain_hook_may_return_an_awaitable(path: str, status: int, waited: str | None) -> None:
    async with serve_aiohttp(echo) as upstream:
        async with Gateway(ROUTES, service_overrides={"app": upstream.url}) as gateway:
            plan = gateway.routers["app@file"]
            sometimes = RoutePlan.build(
                plan.router, [("sometimes", Sometimes()), ("stamp", Stamp())], plan.service, plan.service_name
            )
            assert not sometimes.waiting_hooks  # nothing waits by declaration
            gateway.entry_point_servers["http"].runtime.table = RouteTable(
                [Route(plan.router, 1, compile_rule("PathPrefix(`/`)"), sometimes)]
            )
            async with aiohttp.ClientSession() as client, client.get(gateway.url + path) as response:
                assert response.status == status
                if status == 200:
                    body = await response.json()
                    assert (body["waited"], body["stamp"]) == (waited, "before")  # the next hook ran too
                else:
                    assert "X-Stamped" not in response.headers  # Stamp comes after it: it never ran
