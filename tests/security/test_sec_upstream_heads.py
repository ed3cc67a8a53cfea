"""Hostile upstream response heads: past Go's Transport limit (10 MiB, which Traefik leaves as is: it has no
setting for it) a head is never relayed; the client gets 502 at once and the gateway keeps serving.

Go's net/http Transport (`maxHeaderResponseSize`, `persistConn.readLimit`) fails a response whose head does
not end within the limit; Traefik's ReverseProxy answers that error with 502. 1xx heads that ReverseProxy
relays each get the whole limit again (Go >= 1.24, Traefik builds with 1.26).
"""

from __future__ import annotations

import asyncio
import time

import pytest
from rawhttp import exchange, get, port_of, read_answer

from proxy.services.transport import MAX_RESPONSE_HEADER_BYTES

LIMIT = MAX_RESPONSE_HEADER_BYTES
STATUS_LINE = b"HTTP/1.1 200 OK\r\n"
PIECE = 1 << 16


def routes(url: str) -> dict:
    return {
        "http": {
            "routers": {"r": {"rule": "PathPrefix(`/`)", "service": "s"}},
            "services": {"s": {"loadBalancer": {"servers": [{"url": url}]}}},
        }
    }


async def stream(writer: asyncio.StreamWriter, data: bytes, total: int, sent: list[int] | None = None) -> None:
    """Write `data` repeatedly until `total` bytes went out (or the gateway hung up); counts in `sent`."""
    sent = sent if sent is not None else [0]
    while sent[0] < total:
        writer.write(data)
        sent[0] += len(data)
        await writer.drain()


def head_of_size(size: int, end: bytes = b"\r\n\r\n") -> bytes:
    """A 200 head of exactly `size` bytes (one big header), announcing an empty body."""
    fixed = STATUS_LINE + b"Content-Length: 0\r\nX-Big: " + end
    return STATUS_LINE + b"Content-Length: 0\r\nX-Big: " + b"a" * (size - len(fixed)) + end


async def answer_then_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hostile: bytes) -> None:
    """The first request gets `hostile`, later ones on new connections a plain 200 "ok"."""
    await reader.readuntil(b"\r\n\r\n")
    writer.write(hostile)
    await writer.drain()
    await reader.read()  # until the gateway drops us


def one_big_header(size: int) -> bytes:
    return STATUS_LINE + b"X-Big: " + b"a" * size + b"\r\nContent-Length: 2\r\n\r\nok"


def many_headers(size: int) -> bytes:
    line = b"X-Many: " + b"b" * 50 + b"\r\n"
    return STATUS_LINE + line * (size // len(line) + 1) + b"Content-Length: 2\r\n\r\nok"


def endless_status_line(size: int) -> bytes:
    return b"HTTP/1.1 200 " + b"O" * size


def interim_then_big(size: int) -> bytes:
    return b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" + one_big_header(size)


HOSTILE = [
    pytest.param(one_big_header(LIMIT + PIECE), id="one-header-over-limit"),
    pytest.param(one_big_header(3 * LIMIT), id="one-header-30MiB"),
    pytest.param(many_headers(LIMIT + PIECE), id="many-small-headers-over-limit"),
    pytest.param(endless_status_line(LIMIT + PIECE), id="status-line-without-end"),
    # The head after a 1xx may gain the rest of the read the 1xx ended in (Go: the rest of its 64 KiB
    # buffer), so this one is over by more than a read.
    pytest.param(interim_then_big(LIMIT + (1 << 20)), id="103-then-big-head"),
]


@pytest.mark.parametrize("hostile", HOSTILE)
async def test_oversized_head_gets_502_and_is_never_relayed(raw_upstream, gateway, hostile):
    async def handler(reader, writer):
        await answer_then_ok(reader, writer, hostile)

    gw = await gateway(routes(await raw_upstream(handler)))
    started = time.monotonic()
    answer = await exchange(port_of(gw), get("/"), timeout=20)
    assert (answer.status, answer.body) == (502, b"Bad Gateway")
    assert b"X-Big" not in answer.head and b"X-Many" not in answer.head and len(answer.head) < 1024
    assert time.monotonic() - started < 10
    assert "larger than 10485760 bytes" in gw.exchanges[-1].detail


async def test_never_ending_header_line_gets_502_while_bytes_still_flow(raw_upstream, gateway):
    """The upstream never ends its header line (it would write 1 GiB): the gateway answers 502 once 10 MiB
    have come and hangs up, which is what stops the upstream."""
    sent = [0]
    stopped = asyncio.Event()

    async def handler(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(STATUS_LINE + b"X-Endless: ")
        try:
            await stream(writer, b"z" * PIECE, 1 << 30, sent)
        finally:
            stopped.set()

    gw = await gateway(routes(await raw_upstream(handler)))
    answer = await exchange(port_of(gw), get("/"), timeout=20)
    assert (answer.status, answer.body) == (502, b"Bad Gateway")
    await asyncio.wait_for(stopped.wait(), 5)
    assert LIMIT <= sent[0] < 64 << 20  # socket buffers hold a few MiB at most


async def test_endless_header_line_does_not_stall_other_clients(raw_upstream, gateway):
    """While one exchange is being fed a head without end, another client's request is answered quickly."""

    async def hostile(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        if b"/evil" in head:
            writer.write(STATUS_LINE + b"X-Endless: ")
            await stream(writer, b"z" * PIECE, 1 << 30)  # until the gateway hangs up
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    gw = await gateway(routes(await raw_upstream(hostile)))
    port = port_of(gw)
    evil = asyncio.create_task(exchange(port, get("/evil"), timeout=30))
    await asyncio.sleep(0.05)
    worst = 0.0
    for _ in range(10):
        started = time.monotonic()
        answer = await exchange(port, get("/fine"))
        worst = max(worst, time.monotonic() - started)
        assert answer.body == b"ok"
    assert (await evil).status == 502
    assert worst < 1.0, f"a plain request took {worst:.3f}s while a hostile head streamed"


@pytest.mark.parametrize(
    "size,status",
    [
        pytest.param(LIMIT, 200, id="exactly-the-limit"),
        pytest.param(LIMIT + 1, 502, id="one-byte-over"),
    ],
)
async def test_limit_is_exact(raw_upstream, gateway, size, status):
    """A head of exactly 10 MiB (status line to blank line) is relayed; one byte more is not."""
    head = head_of_size(size)
    assert len(head) == size

    async def handler(reader, writer):
        await answer_then_ok(reader, writer, head)

    gw = await gateway(routes(await raw_upstream(handler)))
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(gw), limit=64 << 20)
    try:
        writer.write(get("/"))
        answer = await asyncio.wait_for(read_answer(reader), 20)
    finally:
        writer.close()
    assert answer.status == status
    assert (answer.header("x-big") or "").startswith("aaaa") == (status == 200)


@pytest.mark.parametrize("interims", [1, 3])
async def test_each_relayed_1xx_head_gets_the_whole_limit(raw_upstream, gateway, interims):
    """Go resets the limit after each 1xx that ReverseProxy relays: 103 heads of 6 MiB each, then a final
    6 MiB head, all pass (together over 10 MiB)."""
    big = b"a" * (6 << 20)
    hostile = b"HTTP/1.1 103 Early Hints\r\nLink: " + big + b"\r\n\r\n"
    final = STATUS_LINE + b"X-Big: " + big + b"\r\nContent-Length: 2\r\n\r\nok"

    async def handler(reader, writer):
        await answer_then_ok(reader, writer, hostile * interims + final)

    gw = await gateway(routes(await raw_upstream(handler)))
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(gw), limit=64 << 20)
    try:
        writer.write(get("/"))
        for _ in range(interims):
            assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 20)).startswith(b"HTTP/1.1 103")
        last = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 20)
        assert last.startswith(b"HTTP/1.1 200 OK\r\n") and len(last) > 6 << 20
        assert await reader.readexactly(2) == b"ok"
    finally:
        writer.close()


@pytest.mark.parametrize(
    "size,tail,status,body",
    [
        pytest.param(LIMIT, b"", 200, b"", id="limit-reached-in-the-last-read"),
        pytest.param(LIMIT + 1, b"", 502, b"", id="one-over-in-the-last-read"),
        pytest.param(LIMIT, b"body!", 200, b"body!", id="body-in-the-read-that-reaches-the-limit"),
    ],
)
async def test_limit_across_read_boundaries(raw_upstream, gateway, size, tail, status, body):
    """The head comes in two writes with a pause between, so its last read is the one that meets the limit;
    a body in that same read is the body, not head bytes."""
    head = head_of_size(size).replace(b"Content-Length: 0", b"Content-Length: %d" % len(tail))
    assert len(head) == size  # Content-Length: 0 and 5 take the same room

    async def handler(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(head[:-100])
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.write(head[-100:] + tail)
        await writer.drain()
        await reader.read()

    gw = await gateway(routes(await raw_upstream(handler)))
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(gw), limit=64 << 20)
    try:
        writer.write(get("/"))
        answer = await asyncio.wait_for(read_answer(reader), 20)
    finally:
        writer.close()
    assert answer.status == status
    if status == 200:
        assert answer.body == body
