"""The upstream side of the hot path: one keep-alive HTTP/1.1 connection to a server.

It parses responses with llhttp (httptools) and hands the head and body pieces to the Exchange that owns
it; bytes bound for the client are gathered per read event and written in one call.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import httptools

from proxy.forwarder.shape import decode_values, latin1, response_shape
from proxy.message import HeaderList

if TYPE_CHECKING:
    from proxy.forwarder.exchange import Exchange
    from proxy.services.transport import ConnectionPool


class UpstreamConnection(asyncio.Protocol):
    __slots__ = (
        "pool",
        "transport",
        "exchange",
        "parser",
        "head_lines",
        "in_head",
        "trailers",
        "complete",
        "broken",
        "received",
        "tunnel",
        "in_pool",
        "idle_since",
        "_paused",
        "raw_left",
        "_parser_idle",
        "head_bytes",
        "interims",
    )

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.exchange: Exchange | None = None
        self.parser: httptools.HttpResponseParser | None = None
        # The response head's header lines so far: name, b": ", value, CRLF for each, as llhttp hands
        # them over; joined, they are the head's header block as the upstream wrote it.
        self.head_lines: list[bytes] = []
        self.in_head = True  # False once the response head is complete (later headers are trailers)
        self.trailers: list[tuple[bytes, bytes]] = []
        self.complete = False
        self.broken = False  # never reuse: error, unread bytes, `Connection: close`
        self.received = False  # any response byte seen for the current exchange
        self.tunnel = False  # after `101 Switching Protocols`: raw bytes both ways
        self.in_pool = False
        self.idle_since = 0.0  # when it was last released to the pool (time.monotonic)
        self._paused = False
        self._parser_idle = False  # llhttp finished the last response: it is ready for the next one
        # Bytes of a Content-Length body still to come. Once the head is parsed, such a body is relayed
        # as the very bytes objects the socket gave us, without llhttp copying each piece (downloads).
        self.raw_left = 0
        # Bytes of the current response head read in earlier reads: counted only while a head spans reads
        # (most end in the read they start in), bounded by pool.settings.max_response_header_bytes.
        self.head_bytes = 0
        self.interims = 0  # 1xx heads seen on this connection (a head that ends resets head_bytes)

    # -- pool life ---------------------------------------------------------------------------
    def reusable(self) -> bool:
        return not self.broken and self.transport is not None and not self.transport.is_closing()

    def close(self) -> None:
        self.broken = True
        if self.transport is not None:
            self.transport.close()

    # -- one exchange -----------------------------------------------------------------------
    def begin(self, exchange: Exchange) -> None:
        """Prepare for the response to `exchange`'s request.

        The parser is reused only when llhttp itself saw the last response end; after an answer to HEAD
        it still expects the body its Content-Length announced, so a fresh parser is needed.
        """
        self.exchange = exchange
        if self.parser is None or not self._parser_idle:
            self.parser = httptools.HttpResponseParser(self)
        self._parser_idle = False
        self.head_lines = []
        self.trailers = []
        self.in_head = True
        self.complete = False
        self.received = False
        self.raw_left = 0
        self.head_bytes = 0

    def write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # asyncio gives a stream protocol a Transport

    def data_received(self, data: bytes) -> None:
        exchange = self.exchange
        if exchange is None:  # bytes while idle: the server is confused, drop the connection
            self.close()
            return
        if self.tunnel:
            exchange.client.write(data)
            return
        if self.raw_left:
            self._relay_raw_body(exchange, data)
            return
        self.received = True
        if self.head_bytes and self.head_bytes + len(data) > self.pool.settings.max_response_header_bytes:
            self._head_at_limit(exchange, data)
            return
        try:
            self.parser.feed_data(data)  # type: ignore[union-attr]  # begin() set it (an exchange is here)
        except httptools.HttpParserUpgrade as upgrade:
            exchange.flush_to_client()
            exchange.start_tunnel(data[upgrade.args[0] :])
            return
        except httptools.HttpParserError as exc:
            self.broken = True
            exchange.upstream_failed(f"invalid response from {self.pool.host}:{self.pool.port}: {exc}")
            return
        if self.exchange is not exchange:
            return  # the exchange let go of this connection to try again elsewhere (retry)
        if self.in_head:  # the head goes on in the next read
            self._head_continues(exchange, len(data))
            return
        exchange.flush_to_client()
        if self.complete:
            exchange.response_complete()

    def _head_continues(self, exchange: Exchange, size: int) -> None:
        self.head_bytes += size
        if self.head_bytes > self.pool.settings.max_response_header_bytes:  # a first read over the limit
            self._head_too_large(exchange)
            return
        exchange.flush_to_client()  # 1xx heads that came in this read

    def _head_at_limit(self, exchange: Exchange, data: bytes) -> None:
        """`data` would take a head that spans reads past its limit: parse only what the limit allows. A head
        that ends within it goes on as usual (the rest of `data` is body, or the next head after a 1xx); one
        that does not is a 502, as Go's Transport fails such a response, and the connection is dropped."""
        allowed = self.pool.settings.max_response_header_bytes - self.head_bytes
        if allowed > 0:
            interims = self.interims
            self.head_bytes = 0  # the call below takes the usual path: `allowed` fits the limit
            self.data_received(data[:allowed])
            if self.exchange is not exchange:  # failed, or complete and released: the rest is not ours
                self.close()
                return
            if not self.in_head or self.interims != interims:  # the head, or a 1xx head, ended in time
                self.data_received(data[allowed:])
                return
        self._head_too_large(exchange)

    def _head_too_large(self, exchange: Exchange) -> None:
        self.broken = True
        exchange.upstream_failed(
            f"response head from {self.pool.host}:{self.pool.port} larger than "
            f"{self.pool.settings.max_response_header_bytes} bytes"
        )

    def _relay_raw_body(self, exchange: Exchange, data: bytes) -> None:
        """A piece of a Content-Length body, past the parser (which is replaced before the next exchange)."""
        if len(data) > self.raw_left:  # bytes beyond the announced length: keep the body, drop the rest
            data = data[: self.raw_left]
            self.broken = True
        self.raw_left -= len(data)
        exchange.response_body(data)
        if not self.raw_left:
            self.complete = True
            exchange.response_body_end([])
        exchange.flush_to_client()
        if self.complete:
            exchange.response_complete()

    def eof_received(self) -> bool | None:
        self.broken = True
        exchange = self.exchange
        # llhttp has no "end of input" call: a body delimited by the connection's end completes here.
        if (
            exchange is not None
            and not self.tunnel
            and not self.in_head
            and not self.complete
            and exchange.body_until_close
        ):
            self.complete = True
            exchange.response_body_end([])
            exchange.flush_to_client()
            exchange.response_complete()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.broken = True
        if self.in_pool:
            self.in_pool = False
            self.pool.forget(self)
        exchange = self.exchange
        if exchange is not None:
            self.exchange = None
            if self.tunnel:
                exchange.client.close()
            elif not self.complete:
                exchange.upstream_lost(self, exc)

    def pause_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.client.pause_reading(self)

    def resume_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.client.resume_reading(self)

    def pause_reading(self) -> None:
        if not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()

    # -- llhttp callbacks -------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        if self.in_head:
            self.head_lines += (name, b": ", value, b"\r\n")
        else:
            self.trailers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self.parser
        status = parser.get_status_code()  # type: ignore[union-attr]  # llhttp calls back from feed_data only
        lines = self.head_lines
        self.head_lines = []
        exchange: Exchange = self.exchange  # type: ignore[assignment]  # feed_data runs with one set
        if 100 <= status < 200 and status != 101:
            exchange.interim_response(status, decoded_headers(lines))
            # Go's Transport resets its header limit after a 1xx that ReverseProxy relays: each head has
            # the whole limit (to within a read: the read the 1xx ended in counts for the next head).
            self.head_bytes = 0
            self.interims += 1
            return
        if exchange.retry is not None and exchange.retries_status(status):
            self.exchange = None  # this response is dropped, unread: the connection cannot be reused
            self.complete = True  # on_body and on_message_complete ignore the rest of it
            self.close()
            return
        self.in_head = False
        if not parser.should_keep_alive():  # type: ignore[union-attr]  # as above
            self.broken = True
        shape = response_shape(lines[0::4])
        if shape.length_at >= 0 and exchange.relays_head_as_is(status, shape.keys, lines):
            at = 4 * shape.connection_at
            # `Connection: keep-alive` says what HTTP/1.1 means anyway: dropping it is all Go would do.
            if at < 0 or lines[at + 2].lower() == b"keep-alive":
                length = int(lines[4 * shape.length_at + 2])  # llhttp has validated it
                if at >= 0:
                    del lines[at : at + 4]
                exchange.response_head_as_is(status, lines)
                self.raw_left = length
                return
        headers = decoded_headers(lines)
        keys = headers.keys
        declared = (
            headers.get("content-length") if "content-length" in keys and "transfer-encoding" not in keys else None
        )
        if exchange.response_head(status, headers):
            self.complete = True  # HEAD: no body follows whatever the headers say
        elif declared is not None and status not in (204, 304):
            self.raw_left = int(declared)  # llhttp has validated it; on_body counts down what it still sees

    def on_body(self, body: bytes) -> None:
        if not self.complete:
            if self.raw_left:
                self.raw_left -= len(body)
            self.exchange.response_body(body)  # type: ignore[union-attr]  # None only once complete

    def on_message_complete(self) -> None:
        if not self.in_head:
            self._parser_idle = True
            if not self.complete:
                self.complete = True
                self.raw_left = 0
                self.exchange.response_body_end(self.trailers)  # type: ignore[union-attr]  # None only once complete


def decoded_headers(lines: list[bytes]) -> HeaderList:
    # Not strict: with no header at all decode_values gives [""] for no names (the zip drops it).
    return HeaderList(list(zip(map(latin1, lines[0::4]), decode_values(lines[2::4]), strict=False)))
