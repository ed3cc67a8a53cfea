"""buffering, from traefik/traefik pkg/middlewares/buffering/buffering_test.go and vulcand/oxy buffer/buffer_test.go
(the library Traefik's middleware is), end to end through a live gateway."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp import web
from body_upstream import answer, body_of, one_router

from proxy import Gateway
from proxy.middlewares.buffering import Buffering
from proxy.testing import serve_aiohttp


@pytest.fixture
async def upstream_url() -> AsyncIterator[str]:
    async with serve_aiohttp(answer) as served:
        yield served.url


async def gateway_for(stripproxy: Any, url: str, **options: Any) -> Any:
    return await stripproxy(one_router(url, {"b": {"buffering": options}}))


PAYLOAD = os.urandom(127)  # math.MaxInt8 bytes, as Traefik's test


# -- TestBuffering (Traefik) ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "status"),
    [
        pytest.param({}, 200, id="Unlimited response and request body size"),
        pytest.param({"maxRequestBodyBytes": 1}, 413, id="Limited request body size"),
        pytest.param({"maxResponseBodyBytes": 1}, 500, id="Limited response body size"),
    ],
)
async def test_buffering(stripproxy: Any, upstream_url: str, options: dict[str, Any], status: int) -> None:
    gateway = await gateway_for(stripproxy, upstream_url, **options)
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{gateway.url}/?echo=1", content=PAYLOAD)
    assert response.status_code == status
    if status == 200:
        assert response.content == PAYLOAD
    elif status == 413:
        assert response.content == b"Request Entity Too Large" and "content-type" not in response.headers
    else:
        assert response.content == b"Internal Server Error"


# -- request side (oxy) -------------------------------------------------------------------------------------
async def test_chunked_request_goes_up_with_a_content_length(stripproxy: Any, upstream_url: str) -> None:
    """TestBuffer_chunkedEncodingSuccess: the upstream sees a Content-Length, not chunked."""
    gateway = await gateway_for(stripproxy, upstream_url)

    async def pieces() -> AsyncIterator[bytes]:
        for word in (b"testtest1", b"testtest2", b"testtest3"):
            yield word

    async with httpx.AsyncClient() as client:
        response = await client.post(f"{gateway.url}/?echo=1", content=pieces())
    assert response.content == b"testtest1testtest2testtest3"
    assert response.headers["x-request-framing"] == "length:27"


@pytest.mark.parametrize(
    ("chunked", "size", "limit"),
    [
        pytest.param(True, 27, 8, id="TestBuffer_chunkedEncodingLimitReached"),
        pytest.param(False, 24, 4, id="TestBuffer_requestLimitReached (declared length)"),
        pytest.param(True, 3 * 1024 * 1024, 2 * 1024 * 1024, id="chunked, past the limit after spilling to disk"),
    ],
)
async def test_request_limit(stripproxy: Any, upstream_url: str, chunked: bool, size: int, limit: int) -> None:
    gateway = await gateway_for(stripproxy, upstream_url, maxRequestBodyBytes=limit, memRequestBodyBytes=1024)
    body = body_of(size)

    async def pieces() -> AsyncIterator[bytes]:
        for at in range(0, size, 65536):
            yield body[at : at + 65536]

    async with httpx.AsyncClient() as client:
        try:
            response = await client.post(f"{gateway.url}/?echo=1", content=pieces() if chunked else body)
        except httpx.TransportError:  # the proxy closed while a large body was still being sent
            assert size > 1024 * 1024
            return
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("size", "memory"),
    [
        pytest.param(5 * 1024 * 1024, 64 * 1024, id="spills to a temporary file"),
        pytest.param(200 * 1024, 0, id="stays in memory (default 1 MiB)"),
    ],
)
async def test_large_request_body_intact(stripproxy: Any, upstream_url: str, size: int, memory: int) -> None:
    gateway = await gateway_for(stripproxy, upstream_url, memRequestBodyBytes=memory)
    body = os.urandom(size)
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(f"{gateway.url}/?echo=1", content=body)
    assert response.status_code == 200
    assert response.headers["x-body-length"] == str(size) and response.content == body


async def test_nothing_goes_upstream_before_the_body_is_complete(stripproxy: Any) -> None:
    arrived: list[float] = []

    async def record(request: web.BaseRequest) -> web.Response:
        arrived.append(time.monotonic())
        return web.Response(body=await request.read())

    async with serve_aiohttp(record) as served:
        gateway = await gateway_for(stripproxy, served.url)
        host, port = gateway.url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
        await writer.drain()
        await asyncio.sleep(0.4)
        assert not arrived  # the head waits with the first half of the body
        finished = time.monotonic()
        writer.write(b"world")
        await writer.drain()
        response = await asyncio.wait_for(reader.read(4096), 10)
        writer.close()
    assert arrived and arrived[0] >= finished
    assert response.startswith(b"HTTP/1.1 200") and response.endswith(b"helloworld")


async def test_expect_continue_is_answered_while_holding(stripproxy: Any, upstream_url: str) -> None:
    gateway = await gateway_for(stripproxy, upstream_url)
    host, port = gateway.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"POST /?echo=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
    await writer.drain()
    assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 0.5) == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(b"body")
    await writer.drain()
    response = await asyncio.wait_for(reader.read(4096), 10)
    writer.close()
    assert response.startswith(b"HTTP/1.1 200") and response.endswith(b"body")


# -- response side (oxy) ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("size", "limit"),
    [
        pytest.param(33, 4, id="small limit with body larger than max response bytes"),
        pytest.param(32769, 4, id="small limit with body larger than 32768 bytes"),
        pytest.param(32769, 2000, id="larger limit with body larger than 32768 bytes"),
        pytest.param(32769 + 1999, 2000, id="larger limit with body larger than 32768 + 1999 bytes"),
        pytest.param(65537 + 2000, 2000, id="larger limit with body larger than 65536 + 2000 bytes"),
    ],
)
@pytest.mark.parametrize("framing", ["length", "chunked"])
async def test_response_limit_reached(stripproxy: Any, upstream_url: str, size: int, limit: int, framing: str) -> None:
    gateway = await gateway_for(stripproxy, upstream_url, maxResponseBodyBytes=limit)
    query = f"size={size}" if framing == "length" else f"size={size}&stream=1"
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{gateway.url}/?{query}")
        assert response.status_code == 500 and response.content == b"Internal Server Error"
        again = await client.get(f"{gateway.url}/?size=3")  # the connection goes on
    assert again.status_code == 200 and again.content == body_of(3)


@pytest.mark.parametrize(
    ("query", "status"),
    [
        pytest.param("size=51", 200, id="TestBuffer_fileStreamingResponse"),
        pytest.param("size=3000000&stream=1", 200, id="a large chunked body spilled to disk"),
        pytest.param("status=304", 304, id="TestBuffer_notModified"),
        pytest.param("status=204", 204, id="TestBuffer_noBody"),
        pytest.param("size=10&h=Grpc-Status:2&stream=1", 200, id="TestBuffer_GRPC_ErrorResponse passes as is"),
    ],
)
async def test_response_passes(stripproxy: Any, upstream_url: str, query: str, status: int) -> None:
    gateway = await gateway_for(stripproxy, upstream_url, memResponseBodyBytes=4)
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(f"{gateway.url}/?{query}")
    assert response.status_code == status
    if "size=" in query:
        assert response.content == body_of(int(query.split("size=")[1].split("&")[0]))
        held = "Grpc-Status" not in query
        assert ("content-length" in response.headers) is held  # a held body goes out with its length


async def test_response_held_until_its_end(stripproxy: Any, upstream_url: str) -> None:
    gateway = await gateway_for(stripproxy, upstream_url)
    started = time.monotonic()
    async with httpx.AsyncClient() as client:
        async with client.stream("GET", f"{gateway.url}/?size=10&stream=3&gap=0.2") as response:
            head_after = time.monotonic() - started
            body = await response.aread()
    assert head_after >= 0.5  # three pieces 0.2 s apart: nothing before the last
    assert body == body_of(10) * 3 and response.headers["content-length"] == "30"


async def test_endless_response_over_the_limit_is_answered_at_once(stripproxy: Any) -> None:
    """A hostile upstream streaming far past maxResponseBodyBytes: 500 as soon as the limit is passed, the
    rest read and dropped (memory holds at most the limit)."""

    async def flood(request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        piece = b"x" * 65536
        try:
            for _ in range(2000):
                await response.write(piece)
        except ConnectionError:
            pass
        return response

    async with serve_aiohttp(flood) as served:
        gateway = await gateway_for(stripproxy, served.url, maxResponseBodyBytes=1024 * 1024)
        async with httpx.AsyncClient() as client:
            started = time.monotonic()
            response = await client.get(gateway.url)
        assert response.status_code == 500 and time.monotonic() - started < 5


def test_retry_expression_refused_with_reason(tmp_path: Any) -> None:
    with pytest.raises(ValueError, match="retryExpression .* not supported yet"):
        Buffering(retry_expression="IsNetworkError() && Attempts() < 2")

    async def build() -> list[str]:
        config = one_router("http://127.0.0.1:1", {"b": {"buffering": {"retryExpression": "Attempts() < 2"}}})
        gateway = Gateway(config, free_ports=True)
        return gateway.problems

    problems = asyncio.run(build())
    assert any("retryExpression" in p and "not supported yet" in p for p in problems), problems


async def test_limits_validated() -> None:
    with pytest.raises(ValueError, match="maxRequestBodyBytes: should be >= 0"):
        Buffering(max_request_body_bytes=-1)


async def test_aiohttp_client_through_buffering(stripproxy: Any, upstream_url: str) -> None:
    gateway = await gateway_for(stripproxy, upstream_url, memRequestBodyBytes=10, memResponseBodyBytes=10)
    async with aiohttp.ClientSession() as session:
        async with session.put(f"{gateway.url}/?echo=1", data=b"a" * 5000) as response:
            assert response.status == 200 and await response.read() == b"a" * 5000


async def test_413_passes_back_through_the_middlewares_before(stripproxy: Any, upstream_url: str) -> None:
    config = one_router(upstream_url, {"c": {"compress": {}}, "b": {"buffering": {"maxRequestBodyBytes": 4}}})
    gateway = await stripproxy(config)
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{gateway.url}/?echo=1", content=b"too long", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 413 and response.headers["vary"] == "Accept-Encoding"
