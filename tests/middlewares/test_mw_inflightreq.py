"""inFlightReq, from traefik/traefik pkg/middlewares/inflightreq/inflight_req.go (default source: the request
host) and vulcand/oxy connlimit (refuse once `amount` are in progress, 429 "max connections reached: N",
release when the response is over). Traefik has no test file for it; the cases follow the code and docs
(docs/content/reference/routing-configuration/http/middlewares/inflightreq.md).
"""

from __future__ import annotations

import asyncio
import socket
import struct

import aiohttp
import httpx
import pytest
from aiohttp import web

from proxy.config.dynamic_middlewares import MiddlewareConfig
from proxy.message import HeaderList, RequestHead
from proxy.middlewares.factory import build_middleware
from proxy.middlewares.inflightreq import InFlightReq


def build(options: dict) -> InFlightReq:
    config = MiddlewareConfig.model_validate({"inFlightReq": options})
    middleware = build_middleware("inFlightReq", config.options(), lambda _: None, "f@file")
    assert isinstance(middleware, InFlightReq)
    return middleware


def request(host: str = "foo", client_ip: str = "127.0.0.1", headers: dict[str, str] | None = None) -> RequestHead:
    return RequestHead("GET", "/", None, HeaderList(list((headers or {}).items())), host=host, client_ip=client_ip)


def finish(req: RequestHead) -> None:
    for callback in req.end_callbacks or ():
        callback(None)


@pytest.mark.parametrize(
    ("options", "first", "same", "other"),
    [
        pytest.param(
            {"amount": 1}, request("a"), request("a", "10.0.0.9"), request("b"), id="default source is the request host"
        ),
        pytest.param(
            {"amount": 1, "sourceCriterion": {"ipStrategy": {}}},
            request("a", "10.0.0.1"),
            request("b", "10.0.0.1"),
            request("a", "10.0.0.2"),
            id="ipStrategy: the remote address",
        ),
        pytest.param(
            {"amount": 1, "sourceCriterion": {"requestHeaderName": "X-Tenant"}},
            request(headers={"X-Tenant": "t1"}),
            request("other", headers={"X-Tenant": "t1"}),
            request(headers={"X-Tenant": "t2"}),
            id="requestHeaderName",
        ),
    ],
)
def test_sources(options: dict, first: RequestHead, same: RequestHead, other: RequestHead) -> None:
    limiter = build(options)
    assert limiter.on_request(first) is None
    refused = limiter.on_request(same)
    assert refused is not None and refused.status == 429
    assert limiter.on_request(other) is None
    finish(first)
    assert limiter.on_request(same) is None


@pytest.mark.parametrize(
    ("amount", "allowed"),
    [
        pytest.param(3, 3, id="amount requests at once"),
        pytest.param(1, 1, id="one"),
        pytest.param(0, 0, id="amount 0 refuses everything, as oxy compares count >= max"),
    ],
)
def test_amount(amount: int, allowed: int) -> None:
    limiter = build({"amount": amount})
    replies = [limiter.on_request(request()) for _ in range(amount + 2)]
    assert sum(reply is None for reply in replies) == allowed
    refused = next(reply for reply in replies if reply is not None)
    assert refused.status == 429 and refused.body == f"max connections reached: {amount}".encode()
    assert ("Content-Type", "text/plain; charset=utf-8") in refused.headers


def test_counts_are_forgotten_when_nothing_is_in_flight() -> None:
    limiter = build({"amount": 2})
    reqs = [request(f"h{i}") for i in range(100)]
    for req in reqs:
        limiter.on_request(req)
    for req in reqs:
        finish(req)
    assert limiter.counts == {}


def test_mutually_exclusive_criteria() -> None:
    with pytest.raises(ValueError, match="requestHost and RequestHeaderName are mutually exclusive"):
        build({"amount": 1, "sourceCriterion": {"requestHost": True, "requestHeaderName": "X"}})


# -- through a live gateway ---------------------------------------------------------------------------
@pytest.fixture
async def streaming_upstream(aiohttp_server):
    """/stream sends a chunk, then waits for the test to say go, then ends; /ok answers at once."""
    gate = asyncio.Event()

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(b"first ")
        try:
            await asyncio.wait_for(gate.wait(), 10)
        except TimeoutError:
            pass
        await response.write(b"last")
        await response.write_eof()
        return response

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/stream", stream)
    app.router.add_get("/ok", ok)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/"), gate


def config(upstream: str, amount: int = 1) -> dict:
    return {
        "http": {
            "routers": {"r": {"rule": "PathPrefix(`/`)", "service": "svc", "middlewares": ["inflight"]}},
            "middlewares": {"inflight": {"inFlightReq": {"amount": amount}}},
            "services": {"svc": {"loadBalancer": {"servers": [{"url": upstream}]}}},
        }
    }


async def test_a_streamed_response_counts_until_its_end(streaming_upstream, stripproxy) -> None:
    url, gate = streaming_upstream
    gateway = await stripproxy(config(url))
    async with aiohttp.ClientSession() as session, httpx.AsyncClient(base_url=gateway.url) as other:
        async with session.get(gateway.url + "/stream") as streaming:
            assert await streaming.content.readexactly(6) == b"first "
            refused = await other.get("/ok")
            assert refused.status_code == 429
            assert refused.text == "max connections reached: 1"
            gate.set()
            assert await streaming.read() == b"last"
        for _ in range(50):  # the count drops once the exchange is over on the gateway's side
            response = await other.get("/ok")
            if response.status_code == 200:
                break
            await asyncio.sleep(0.02)
        assert response.status_code == 200


async def test_a_client_that_leaves_releases_its_place(streaming_upstream, stripproxy) -> None:
    url, _gate = streaming_upstream
    gateway = await stripproxy(config(url))
    host, port = gateway.url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    # Closing with a zero linger resets the connection: the gateway sees the client gone at once (a plain
    # FIN could be a half-close from a client still waiting for its response).
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(f"GET /stream HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    await writer.drain()
    await reader.readuntil(b"first ")
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        assert (await client.get("/ok")).status_code == 429
        writer.close()  # gone mid-response
        for _ in range(50):
            response = await client.get("/ok")
            if response.status_code == 200:
                break
            await asyncio.sleep(0.02)
    assert response.status_code == 200


async def test_concurrent_requests_over_the_amount(streaming_upstream, stripproxy) -> None:
    url, gate = streaming_upstream
    gateway = await stripproxy(config(url, amount=2))
    async with aiohttp.ClientSession() as session:
        first = await session.get(gateway.url + "/stream")
        second = await session.get(gateway.url + "/stream")
        third = await session.get(gateway.url + "/stream")
        assert (first.status, second.status, third.status) == (200, 200, 429)
        gate.set()
        assert await first.read() == b"first last" and await second.read() == b"first last"
        third.release()
