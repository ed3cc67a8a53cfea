"""Heads decided by their header names once per distinct list (proxy/forwarder/shape.py), checked end to end.

A response head with a lone Content-Length and no hop-by-hop header goes to the client as the upstream wrote
it (names, case, order and repeats kept; only the status line is Go's own); anything else takes the general
path. On the request side, a cached "these names are fine" must never skip a check on the values.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from e2e_helpers import raw_exchange, routes_to

from proxy.forwarder import shape


class CannedUpstream:
    """A raw HTTP/1.1 server on loopback that answers every request head with the bytes it is given."""

    def __init__(self) -> None:
        self.response = b""
        self.heads: list[bytes] = []
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                self.heads.append(await reader.readuntil(b"\r\n\r\n"))
                writer.write(self.response)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def canned() -> AsyncIterator[CannedUpstream]:
    upstream = CannedUpstream()
    server = await asyncio.start_server(upstream._serve, "127.0.0.1", 0)
    upstream.port = server.sockets[0].getsockname()[1]
    yield upstream
    server.close()
    await server.wait_closed()


async def gateway_port(make_gateway: Callable, canned: CannedUpstream) -> int:
    gateway = await make_gateway(routes_to(f"http://127.0.0.1:{canned.port}"))
    return int(gateway.url.rsplit(":", 1)[1])


async def test_plain_response_head_goes_out_as_written(make_gateway: Callable, canned: CannedUpstream) -> None:
    canned.response = (
        b"HTTP/1.1 200 Fine\r\nx-lower: a\r\nContent-Length: 2\r\nX-Dup: 1\r\nX-DUP: 2\r\n"
        b"Date: Wed, 25 Nov 2026 12:00:00 GMT\r\n\r\nok"
    )
    port = await gateway_port(make_gateway, canned)
    request = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
    first, second = await raw_exchange(port, request * 2, responses=2)
    expected = (
        b"HTTP/1.1 200 OK\r\nx-lower: a\r\nContent-Length: 2\r\nX-Dup: 1\r\nX-DUP: 2\r\n"
        b"Date: Wed, 25 Nov 2026 12:00:00 GMT\r\n\r\n"
    )
    assert (first.head, first.body) == (expected, b"ok")
    assert (second.head, second.body) == (expected, b"ok")  # the cached shape, on a reused upstream


@pytest.mark.parametrize(
    "hop",
    [b"Keep-Alive: timeout=5", b"Connection: X-Private\r\nX-Private: 1", b"Trailer: X-T"],
    ids=["keep-alive", "connection-listed", "trailer"],
)
async def test_hop_headers_still_leave_the_response(make_gateway: Callable, canned: CannedUpstream, hop: bytes) -> None:
    canned.response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + hop + b"\r\nX-Kept: yes\r\n\r\nok"
    port = await gateway_port(make_gateway, canned)
    (response,) = await raw_exchange(port, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    names = {name.lower() for name, _ in response.headers}
    assert names == {"content-length", "x-kept"}, response.head
    assert response.body == b"ok"


@pytest.mark.parametrize(
    "request_head, expect_connection",
    [
        (b"GET / HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n", "keep-alive"),
        (b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", "close"),
    ],
    ids=["http10-keep-alive", "client-closes"],
)
async def test_client_side_framing_changes_are_applied(
    make_gateway: Callable, canned: CannedUpstream, request_head: bytes, expect_connection: str
) -> None:
    canned.response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    port = await gateway_port(make_gateway, canned)
    (response,) = await raw_exchange(port, request_head)
    assert response.header("Connection") == expect_connection
    assert response.body == b"ok"


async def test_http10_request_without_host_gets_the_servers_address(
    make_gateway: Callable, canned: CannedUpstream
) -> None:
    """HTTP/1.0 allows no Host; Traefik passes the empty Host on and Go's transport then writes the
    server's host:port (http.Request.Host falls back to URL.Host), so the upstream always gets one."""
    canned.response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    port = await gateway_port(make_gateway, canned)
    (response,) = await raw_exchange(port, b"GET /x HTTP/1.0\r\n\r\n")
    assert response.body == b"ok"
    (head,) = canned.heads
    host_lines = [line for line in head.split(b"\r\n") if line.lower().startswith(b"host:")]
    assert host_lines == [f"Host: 127.0.0.1:{canned.port}".encode()], head


async def test_closing_client_gets_the_head_as_written_plus_connection_close(
    make_gateway: Callable, canned: CannedUpstream
) -> None:
    """A `Connection: close` exchange still relays the upstream's head as written (nginx's keep-alive
    line dropped), with `Connection: close` added, and the connection then closes."""
    canned.response = b"HTTP/1.1 200 OK\r\nx-lower: a\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"
    port = await gateway_port(make_gateway, canned)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        everything = await asyncio.wait_for(reader.read(), 5)  # up to EOF: the proxy closes
    finally:
        writer.close()
    assert everything == b"HTTP/1.1 200 OK\r\nx-lower: a\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


async def test_head_request_relays_no_body(make_gateway: Callable, canned: CannedUpstream) -> None:
    canned.response = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
    port = await gateway_port(make_gateway, canned)
    request = b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n"
    first, second = await raw_exchange(port, request * 2, responses=2, head_only=True)
    assert first.status == second.status == 200
    assert first.header("Content-Length") == "5"


async def test_same_names_do_not_skip_value_checks(make_gateway: Callable, canned: CannedUpstream) -> None:
    """The second request has the very names of the first (a cached, valid shape) but a malformed Host."""
    canned.response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    port = await gateway_port(make_gateway, canned)
    good = b"GET / HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n"
    bad = b'GET / HTTP/1.1\r\nHost: a"b\r\nAccept: */*\r\n\r\n'
    first, second = await raw_exchange(port, good + bad, responses=2)
    assert (first.status, second.status) == (200, 400)
    assert len(canned.heads) == 1


async def test_forwarded_headers_follow_each_request_host(make_gateway: Callable, canned: CannedUpstream) -> None:
    """X-Forwarded-* sets are built once per (host, client, scheme): a new Host must get its own."""
    canned.response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    port = await gateway_port(make_gateway, canned)
    heads = b"".join(b"GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % host for host in (b"one:81", b"two", b"one:81"))
    await raw_exchange(port, heads, responses=3)
    sent = [head.decode() for head in canned.heads]
    assert ["X-Forwarded-Host: one:81" in h and "X-Forwarded-Port: 81" in h for h in sent] == [True, False, True]
    assert "X-Forwarded-Host: two\r\n" in sent[1] and "X-Forwarded-Port: 80\r\n" in sent[1]


def test_shape_caches_stay_bounded() -> None:
    for index in range(shape.CACHE_LIMIT + 10):
        names = [b"Host", b"X-N%d" % index]
        assert shape.request_shape(names).keys == ("host", f"x-n{index}")
        assert shape.response_shape([*names, b"Content-Length"]).length_at == 2
    assert len(shape._requests) <= shape.CACHE_LIMIT and len(shape._responses) <= shape.CACHE_LIMIT


@pytest.mark.parametrize(
    "names, valid, plain",
    [
        ((b"Host", b"Accept"), True, True),
        ((b"Host", b"Host"), False, True),
        ((b"Accept",), False, True),
        ((b"Host", b"Bad Name"), False, True),
        ((b"Host", b"Connection"), True, False),
        ((b"Host", b"x_forwarded_for"), True, False),
        ((b"Host", b"X-Real-Ip"), True, False),
        ((b"Host", b"Pragma"), True, False),
        ((b"Host", b"Expect"), True, False),
    ],
    ids=["plain", "two-hosts", "no-host", "bad-name", "hop", "underscore", "managed-x", "pragma", "expect"],
)
def test_request_shape_flags(names: list[bytes], valid: bool, plain: bool) -> None:
    found = shape.request_shape(list(names))
    assert (found.valid, found.plain) == (valid, plain)


async def test_connection_keep_alive_is_dropped_like_any_connection_listing(
    make_gateway: Callable, canned: CannedUpstream
) -> None:
    canned.response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    port = await gateway_port(make_gateway, canned)
    heads = (
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n"
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: X-Private\r\nX-Private: 1\r\nX-Other: 2\r\n\r\n"
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Keep-Alive, X-Other\r\nX-Other: 2\r\n\r\n"
    )
    responses = await raw_exchange(port, heads, responses=3)
    assert [r.status for r in responses] == [200, 200, 200]
    sent = [head.decode().lower() for head in canned.heads]
    assert not any("connection:" in h or "x-private:" in h or "keep-alive" in h for h in sent), sent
    assert ["x-other: 2" in h for h in sent] == [False, True, False]
    assert all("x-forwarded-for: 127.0.0.1" in h for h in sent)


@pytest.mark.parametrize("byte", [0x00, 0x01, 0x0B, 0x1F, 0x7F], ids=lambda b: f"0x{b:02x}")
async def test_control_characters_in_values_are_refused_by_the_parser(
    make_gateway: Callable, canned: CannedUpstream, byte: int
) -> None:
    """The forwarder skips Go's value check because llhttp already refuses these (and NUL separates the
    values it decodes at once): if httptools ever let one through, this fails."""
    canned.response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    port = await gateway_port(make_gateway, canned)
    (response,) = await raw_exchange(port, b"GET / HTTP/1.1\r\nHost: h\r\nX-V: a%cb\r\n\r\n" % byte)
    assert response.status == 400
    assert canned.heads == []


async def test_tab_and_high_bytes_in_values_pass_through(make_gateway: Callable, canned: CannedUpstream) -> None:
    canned.response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    port = await gateway_port(make_gateway, canned)
    (response,) = await raw_exchange(port, b"GET / HTTP/1.1\r\nHost: h\r\nX-V: a\tb\xe9\xff c\r\n\r\n")
    assert response.status == 200
    assert b"\r\nX-V: a\tb\xe9\xff c\r\n" in canned.heads[0]


@pytest.mark.parametrize(
    "connection, kept",
    [
        (b"keep-alive", True),
        (b"Keep-Alive", True),
        (b"close", True),
        (b"X-Private", False),
    ],
    ids=["keep-alive", "keep-alive-caps", "close", "listing"],
)
async def test_upstream_connection_header_never_reaches_the_client(
    make_gateway: Callable, canned: CannedUpstream, connection: bytes, kept: bool
) -> None:
    """nginx sends `Connection: keep-alive` on every response: it goes, and so does what it lists."""
    canned.response = (
        b"HTTP/1.1 200 OK\r\nServer: o\r\nContent-Length: 2\r\nConnection: %s\r\nX-Private: p\r\n\r\nok" % connection
    )
    port = await gateway_port(make_gateway, canned)
    (response,) = await raw_exchange(port, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    assert response.head == (
        b"HTTP/1.1 200 OK\r\nServer: o\r\nContent-Length: 2\r\n" + (b"X-Private: p\r\n" if kept else b"") + b"\r\n"
    )
    assert response.body == b"ok"


async def test_hop_headers_added_by_a_middleware_are_still_dropped(
    make_gateway: Callable, canned: CannedUpstream
) -> None:
    """A plain request (no hop-by-hop header from the client) routed through a headers middleware that adds
    some: the last hop-by-hop pass must still run for it."""
    canned.response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    extra = """
[http.middlewares.add.headers.customRequestHeaders]
  Keep-Alive = "timeout=5"
  Proxy-Connection = "keep-alive"
  X-Added = "yes"
"""
    gateway = await make_gateway(routes_to(f"http://127.0.0.1:{canned.port}", extra=extra, middlewares='["add"]'))
    (response,) = await raw_exchange(int(gateway.url.rsplit(":", 1)[1]), b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    assert response.status == 200
    sent = canned.heads[0].decode().lower()
    assert "x-added: yes" in sent
    assert "keep-alive" not in sent and "proxy-connection" not in sent, sent


@pytest.mark.parametrize(
    "names, only_connection",
    [
        ([b"Host", b"Connection"], True),
        ([b"Host", b"Connection", b"Connection"], True),
        ([b"Host", b"Connection", b"Pragma"], False),
        ([b"Host", b"Connection", b"X_Any"], False),
        ([b"Host", b"Accept"], False),
    ],
    ids=["lone", "repeated", "with-pragma", "with-underscore", "none"],
)
def test_request_shape_only_connection(names: list[bytes], only_connection: bool) -> None:
    assert shape.request_shape(names).only_connection is only_connection
