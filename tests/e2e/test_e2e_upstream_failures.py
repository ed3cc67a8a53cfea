"""Misbehaving upstreams, written as raw asyncio servers so each failure is exact."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from e2e_helpers import raw_exchange, read_response, routes_to

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class RawUpstream:
    def __init__(self) -> None:
        self.connections = 0
        self.closed = 0
        self.server: asyncio.Server | None = None
        self.url = ""

    async def start(self, handler: Handler) -> None:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                self.closed += 1
                writer.close()

        self.server = await asyncio.start_server(serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"


@pytest.fixture
async def raw_upstream() -> AsyncIterator[RawUpstream]:
    upstream = RawUpstream()
    yield upstream
    if upstream.server is not None:
        upstream.server.close()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


def ok(body: bytes = b"ok") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)


async def keep_serving(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        head = await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf" if b"/truncate" in head else ok())
        await writer.drain()
        if b"/truncate" in head:
            return


async def get(port: int, target: str) -> object:
    data = f"GET {target} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n".encode()
    return (await raw_exchange(port, data))[0]


async def test_truncated_body_cuts_client_off_and_connection_is_not_reused(make_gateway, raw_upstream):
    await raw_upstream.start(keep_serving)
    gateway = await make_gateway(routes_to(raw_upstream.url))
    port = gateway.entry_point_servers["http"].port
    with pytest.raises(asyncio.IncompleteReadError):
        await get(port, "/truncate")
    assert (await get(port, "/next")).body == b"ok"
    assert raw_upstream.connections == 2


async def test_idle_pooled_connection_closed_after_idle_conn_timeout(make_gateway, raw_upstream):
    await raw_upstream.start(keep_serving)
    routes = routes_to(
        raw_upstream.url,
        service_extra='  serversTransport = "t"',
        extra="""
[http.serversTransports.t.forwardingTimeouts]
  idleConnTimeout = "200ms"
""",
    )
    gateway = await make_gateway(routes)
    await get(gateway.entry_point_servers["http"].port, "/a")
    assert raw_upstream.closed == 0
    await asyncio.sleep(0.5)
    assert raw_upstream.closed == 1


async def test_pooled_connection_reused_for_sequential_requests(make_gateway, raw_upstream):
    await raw_upstream.start(keep_serving)
    gateway = await make_gateway(routes_to(raw_upstream.url))
    for _ in range(5):
        assert (await get(gateway.entry_point_servers["http"].port, "/a")).body == b"ok"
    assert raw_upstream.connections == 1


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(b"NOT HTTP AT ALL\r\n\r\n", id="garbage"),
        pytest.param(b"", id="closes-without-answer"),
    ],
)
async def test_broken_answers_give_502(make_gateway, raw_upstream, answer):
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer)
        await writer.drain()

    await raw_upstream.start(handler)
    gateway = await make_gateway(routes_to(raw_upstream.url))
    response = await get(gateway.entry_point_servers["http"].port, "/x")
    assert (response.status, response.body) == (502, b"Bad Gateway")


async def test_expect_100_continue_is_relayed(make_gateway, raw_upstream):
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await read_request(reader)
        assert b"expect: 100-continue" in head.lower()
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
        body = await reader.readexactly(5)
        writer.write(ok(body))
        await writer.drain()

    await raw_upstream.start(handler)
    gateway = await make_gateway(routes_to(raw_upstream.url))
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.entry_point_servers["http"].port)
    writer.write(b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    interim = await asyncio.wait_for(read_response(reader), 5)
    assert interim.status == 100
    writer.write(b"hello")
    final = await asyncio.wait_for(read_response(reader), 5)
    assert (final.status, final.body) == (200, b"hello")
    writer.close()


async def test_chunked_trailers_are_relayed(make_gateway, raw_upstream):
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 42\r\n\r\n"
        )
        await writer.drain()

    await raw_upstream.start(handler)
    gateway = await make_gateway(routes_to(raw_upstream.url))
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.entry_point_servers["http"].port)
    writer.write(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    raw = await asyncio.wait_for(reader.read(), 5)
    assert raw.endswith(b"3\r\nabc\r\n0\r\nX-Sum: 42\r\n\r\n")
    writer.close()


async def test_until_close_body_is_chunked_for_http11_client(make_gateway, raw_upstream):
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nstreamed until close")
        await writer.drain()

    await raw_upstream.start(handler)
    gateway = await make_gateway(routes_to(raw_upstream.url))
    data = b"GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    first, second = await raw_exchange(gateway.entry_point_servers["http"].port, data, responses=2)
    assert first.header("Transfer-Encoding") == "chunked"
    assert first.body == second.body == b"streamed until close"


async def test_content_length_body_in_pieces_and_bytes_beyond_it(make_gateway, raw_upstream):
    """A Content-Length body arriving after its head is relayed as raw pieces; bytes past the announced
    length are not relayed and the connection is not reused."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
            await writer.drain()
            for piece in (b"01234", b"56789EXTRA"):
                await asyncio.sleep(0.05)
                writer.write(piece)
                await writer.drain()

    await raw_upstream.start(handler)
    gateway = await make_gateway(routes_to(raw_upstream.url))
    port = gateway.entry_point_servers["http"].port
    assert (await get(port, "/a")).body == b"0123456789"
    assert (await get(port, "/b")).body == b"0123456789"
    assert raw_upstream.connections == 2
