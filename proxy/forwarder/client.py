"""The client side of the hot path: one accepted connection, parsed by llhttp (httptools).

Callbacks, not a task per request: each parsed head becomes an Exchange; exchanges run one at a time in
request order (pipelined requests wait their turn, with reading paused so memory stays bounded).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time

import httptools

from proxy.forwarder.context import EntryPointRuntime
from proxy.forwarder.dispatch import dispatch
from proxy.forwarder.exchange import Exchange
from proxy.forwarder.shape import decode_values, request_shape
from proxy.forwarder.upstream import UpstreamConnection
from proxy.forwarder.wire import encode_reply, error_reply
from proxy.message import HeaderList, Reply, RequestHead, TLSInfo
from proxy.tls.hello import is_tls_start

log = logging.getLogger("proxy.forwarder")

PIPELINE = "pipeline"  # reason for pausing reads: a previous response is still going out
REJECTED = "rejected"  # reason for pausing reads: unparseable input, an error answer is owed
DRAINING = "draining"  # reason for pausing reads: the gateway stops, no new request is read
LINGER = 1.0  # seconds we keep reading (and dropping) after answering unparseable input
# Seconds we keep reading (and dropping) a request body the upstream answered before it was all sent
# (a 401 or 413 to an upload): nginx's lingering_time is 30 s.
EARLY_ANSWER_LINGER = 30.0
READING = "reading the request"  # what the connection's deadline is for
IDLE = "idle keep-alive"


class Phase(enum.Enum):
    """What `data_received` does with the next bytes (the table in proxy/forwarder/__init__.py)."""

    PARSING = "llhttp parses heads and chunked bodies"
    RAW_BODY = "a Content-Length request body, relayed past the parser"
    UPGRADING = "an Upgrade request is answered: bytes go to its exchange unparsed"
    TUNNEL = "after a 101: bytes go to the upstream connection as they are"
    DISCARDING = "answered and half-closed: input is dropped until we close"


# Module globals: `phase is PARSING` is one global lookup, not an attribute lookup on the class as well.
PARSING, RAW_BODY, UPGRADING, TUNNEL, DISCARDING = Phase


class ClientConnection(asyncio.Protocol):
    __slots__ = (
        "ep",
        "phase",
        "transport",
        "parser",
        "client_ip",
        "url",
        "raw_headers",
        "queue",
        "receiving",
        "upgrading",
        "tunnel",
        "write_paused",
        "head_bytes",
        "in_head",
        "raw_left",
        "peer_done",
        "pending_reject",
        "_read_pausers",
        "deadline",
        "deadline_what",
        "write_deadline",
        "parsing",
        "held",
        "tls",
    )

    def __init__(self, ep: EntryPointRuntime) -> None:
        self.ep = ep
        self.phase = PARSING
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.client_ip = ""
        self.url = b""
        # The request head's header names and values so far, alternating, as llhttp hands them over
        # (decoded at the end, the names once per distinct list: see shape.py).
        self.raw_headers: list[bytes] = []
        # queue[0] is the exchange whose response is going out. A list, not a deque: it rarely holds more
        # than one, and an idle connection's empty deque costs ~600 bytes more (RSS per idle connection).
        self.queue: list[Exchange] = []
        self.receiving: Exchange | None = None  # the exchange whose request body is being read
        self.upgrading: Exchange | None = None  # an Upgrade request: later bytes go to its upstream
        self.tunnel: UpstreamConnection | None = None
        self.write_paused = False
        self.head_bytes = 0  # bytes read while a request head is incomplete (bounded by max_header_bytes)
        self.in_head = True
        self.raw_left = 0  # bytes of a Content-Length request body still to come (RAW_BODY while > 0)
        self.peer_done = False  # the client half-closed: finish what is queued, then close
        self.pending_reject = 0  # a 4xx owed for unparseable input, sent after the requests before it
        self._read_pausers: list[object] = []  # why reading is paused; a list for the same reason
        # Coarse deadlines (time.monotonic), enforced by the entry point's sweeper: no timer per request.
        self.deadline = 0.0  # reading a request, or idling between requests; 0: none
        self.deadline_what = ""
        self.write_deadline = 0.0
        self.parsing = False  # inside parser.feed_data
        self.held: Exchange | None = None  # an exchange holding its upstream bytes until the read is parsed
        self.tls: TLSInfo | None = None  # set by the entry point for a TLS connection

    # -- asyncio.Protocol ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # asyncio gives a stream protocol a Transport
        peer = transport.get_extra_info("peername")
        self.client_ip = peer[0] if isinstance(peer, tuple) else ""
        if self.tls is not None:
            ssl_object = transport.get_extra_info("ssl_object")
            if ssl_object is not None:
                self.tls.peer_cert = ssl_object.getpeercert(binary_form=True)
        self.ep.connections.add(self)
        self._set_deadline(self.ep.read_timeout, READING)

    def data_received(self, data: bytes) -> None:
        phase = self.phase
        if phase is not PARSING:
            if phase is RAW_BODY:
                data = self._relay_raw_body(data)
                if not data or self.phase is not PARSING:  # the body's end may have closed the connection
                    return
            elif phase is TUNNEL:
                self.tunnel.write(data)  # type: ignore[union-attr]  # set with the phase
                return
            elif phase is UPGRADING:
                self.upgrading.send_body_raw(data)  # type: ignore[union-attr]  # set with the phase
                return
            else:
                return  # DISCARDING
        in_head = self.in_head
        self.parsing = True
        try:
            self.parser.feed_data(data)
            if in_head and self.in_head:
                self.head_bytes += len(data)
                if self.head_bytes > self.ep.max_header_bytes:
                    self._reject(431, "request head too large")
        except httptools.HttpParserUpgrade as upgrade:
            rest = data[upgrade.args[0] :]
            exchange = self.receiving or (self.queue[-1] if self.queue else None)
            if exchange is not None and exchange.reply is None and self.phase is not DISCARDING:
                self.upgrading = exchange
                self.phase = UPGRADING
                if rest:
                    exchange.send_body_raw(rest)
        except httptools.HttpParserError as exc:
            # A TLS handshake record (0x16; 0x80: SSLv2, which Traefik counts as TLS for the handshake to refuse)
            # before any request line was parsed ("0.0"): https:// on a plain port, handed to TLS when it can be.
            tls_hello = self.ep.tls_hello
            if not (
                data
                and is_tls_start(data[0])
                and tls_hello is not None
                and self.parser.get_http_version() == "0.0"
                and tls_hello(self, data)
            ):
                self._reject(400, str(exc))
        finally:
            self.parsing = False
            if self.held is not None:
                held, self.held = self.held, None
                held.release_held()

    def eof_received(self) -> bool | None:
        self.peer_done = True
        if self.tunnel is not None:  # either side ending an upgraded connection ends both, as in Go
            self.tunnel.close()
            return False
        if self.phase is DISCARDING or self.upgrading is not None:
            return False
        if self.receiving is not None and not self.receiving.request_complete:
            return False  # the body can never complete: close, which aborts the upstream request too
        if self.queue and self.queue[0].reply is not None and self.queue[0].reply.stream is not None:
            return False  # a streamed answer (an event stream) has no end to wait for: the reader is gone
        # A half-closed client may still want its response; keep the socket open until it is written.
        return bool(self.queue)

    def connection_lost(self, exc: Exception | None) -> None:
        self.ep.connections.discard(self)
        self.parser = None  # type: ignore[assignment]  # it refers back to us: no cycle left for the collector
        pending = list(self.queue)
        if self.receiving is not None and self.receiving not in pending:
            pending.append(self.receiving)
        for exchange in pending:
            if not exchange.finished:
                exchange.abandon()
                self._record(exchange)
                if exchange.head.end_callbacks is not None:
                    exchange.run_end_callbacks()
        self.queue.clear()
        self.receiving = None
        if self.tunnel is not None:
            self.tunnel.close()
            self.tunnel = None

    def pause_writing(self) -> None:
        self.write_paused = True
        upstream = self.tunnel or (self.queue[0].upstream if self.queue else None)
        if upstream is not None:
            upstream.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        upstream = self.tunnel or (self.queue[0].upstream if self.queue else None)
        if upstream is not None:
            upstream.resume_reading()

    # -- llhttp callbacks ----------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.in_head = True
        if self.deadline_what is not READING:
            self._set_deadline(self.ep.read_timeout, READING)

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.raw_headers += (name, value)  # after the head: trailers, dropped at the message's end

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.head_bytes = 0
        parser = self.parser
        raw = self.raw_headers
        self.raw_headers = []
        shape = request_shape(raw[0::2])
        values = decode_values(raw[1::2])
        # Not strict: a head without headers (HTTP/1.0) decodes to [""] for no names (the zip drops it).
        headers = HeaderList(list(zip(shape.names, values, strict=False)), list(shape.keys))
        chunked = shape.has_te and "chunked" in (headers.get("transfer-encoding") or "").lower()
        length = headers.get("content-length") if shape.has_length else None
        has_body = chunked or (length is not None and length.strip() not in ("", "0"))
        target = self.url.decode("latin-1")
        self.url = b""
        ep = self.ep
        head = RequestHead(
            parser.get_method().decode("latin-1"),
            target,
            None,
            headers,
            values[shape.host_at] if shape.host_at >= 0 else "",
            self.client_ip,
            ep.scheme,
            parser.get_http_version(),
            ep.name,
        )
        if self.tls is not None:
            head.tls = self.tls
        exchange = Exchange(self, head, parser.should_keep_alive(), has_body, chunked, target, shape, values)
        if length is not None and len(length) > 18 and not chunked and _beyond_int63(length):
            exchange.reply = error_reply(400)  # Go reads Content-Length as int64; llhttp allows uint64
            exchange.keep_alive = False
        elif chunked and (
            headers.keys.count("transfer-encoding") > 1
            or (headers.get("transfer-encoding") or "").strip().lower() != "chunked"
        ):
            exchange.reply = Reply.text(501, "Unsupported transfer encoding")  # Go: only a lone `chunked`
            exchange.keep_alive = False
        else:
            dispatch(exchange, ep, shape)
        if ep.write_timeout > 0 and not self.write_deadline:
            self.write_deadline = time.monotonic() + ep.write_timeout
        self.receiving = exchange
        if has_body and not chunked:
            self.raw_left = exchange.request_length = int(length)  # type: ignore[arg-type]  # llhttp validated it
            self.phase = RAW_BODY  # from the next read on: the rest of this one is llhttp's (on_body)
        queue = self.queue
        queue.append(exchange)
        if len(queue) == 1:
            exchange.begin()
        else:
            self.pause_reading(PIPELINE)

    def on_body(self, body: bytes) -> None:
        receiving = self.receiving
        if self.raw_left:
            self.raw_left -= len(body)
        elif receiving is not None:  # a chunked body: its size is known as it comes
            receiving.request_length += len(body)
        if receiving is not None:
            receiving.send_body(body)

    def _relay_raw_body(self, data: bytes) -> bytes:
        """A piece of a Content-Length request body, past the parser: relayed as the very bytes the socket
        gave us (uploads). Returns what follows the body, for a fresh parser (pipelined requests)."""
        left = self.raw_left
        body, rest = (data, b"") if len(data) <= left else (data[:left], data[left:])
        self.raw_left = left - len(body)
        if self.receiving is not None:
            self.receiving.send_body(body)
        if not self.raw_left:
            self.parser = httptools.HttpRequestParser(self)  # the old one still expects the body
            self.on_message_complete()
        return rest

    def on_message_complete(self) -> None:
        if self.raw_headers:  # request trailers: not forwarded
            self.raw_headers = []
        self.raw_left = 0
        if self.phase is RAW_BODY:
            self.phase = PARSING
        self.deadline = 0.0
        self.deadline_what = ""
        exchange, self.receiving = self.receiving, None
        if exchange is not None:
            exchange.end_body()

    # -- used by exchanges ----------------------------------------------------------------------------
    def hold(self, exchange: Exchange) -> None:
        """`exchange` keeps its upstream bytes until this read is parsed (then one write, not two)."""
        if self.held is not None and self.held is not exchange:
            self.held.release_held()
        self.held = exchange

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def exchange_done(self, exchange: Exchange) -> None:
        if exchange.finished:
            return
        exchange.finished = True
        if self.ep.observers:
            self._record(exchange)
        if exchange.head.end_callbacks is not None:
            exchange.run_end_callbacks()
        if self.queue and self.queue[0] is exchange:
            del self.queue[0]
        self.write_deadline = 0.0
        if self.pending_reject and not self.queue:
            self._answer_reject()
            return
        if not exchange.keep_alive or (self.peer_done and len(self.queue) == 0):
            if exchange.request_complete or self.peer_done:
                self.close()
            else:  # answered before the client finished sending: let it read the answer, not a reset
                self._close_gently(EARLY_ANSWER_LINGER)
            return
        if self.queue:
            self.queue[0].begin()
        if len(self.queue) <= 1 and self._read_pausers:
            self.resume_reading(PIPELINE)
        if not self.queue and self.receiving is None:
            self._set_deadline(self.ep.idle_timeout, IDLE)

    def start_tunnel(self, exchange: Exchange, upstream: UpstreamConnection) -> None:
        self.tunnel = upstream
        self.upgrading = None
        if self.phase is not DISCARDING:
            self.phase = TUNNEL
        if self.queue and self.queue[0] is exchange:
            del self.queue[0]
        self._record(exchange)
        exchange.finished = True
        if exchange.head.end_callbacks is not None:
            exchange.run_end_callbacks()
        self.deadline = self.write_deadline = 0.0
        self._read_pausers.clear()
        if self.transport is not None:
            self.transport.resume_reading()

    def pause_reading(self, reason: object) -> None:
        if not self._read_pausers and self.transport is not None:
            self.transport.pause_reading()
        if reason not in self._read_pausers:
            self._read_pausers.append(reason)

    def resume_reading(self, reason: object) -> None:
        if reason in self._read_pausers:
            self._read_pausers.remove(reason)
            if not self._read_pausers and self.transport is not None and not self.transport.is_closing():
                self.transport.resume_reading()

    def drain(self) -> None:
        """The gateway is stopping: close now if idle, else after the requests already read are answered
        (the last answer says `Connection: close`), as Go's Server.Shutdown does."""
        if self.tunnel is not None:
            return  # a WebSocket or other upgraded connection ends with the grace period
        if not self.queue and self.receiving is None:
            self.close()
            return
        last = self.receiving or self.queue[-1]
        last.keep_alive = False
        if self.receiving is None:
            self.pause_reading(DRAINING)  # no request after the last one is read

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # -- helpers --------------------------------------------------------------------------------------
    def hand_over(self) -> None:
        """The transport goes to another protocol (TLS): this connection forgets it, with no answer."""
        self.ep.connections.discard(self)
        self.deadline = self.write_deadline = 0.0
        self.phase = DISCARDING
        self.transport = None

    def _reject(self, status: int, why: str) -> None:
        """Unparseable input: answer it once the requests before it are answered, then close."""
        log.info("bad request from %s: %s", self.client_ip, why)
        if self.receiving is not None and not self.receiving.request_complete:
            self.close()  # garbage inside a body: that request can never be completed
            return
        self.pending_reject = status
        self.pause_reading(REJECTED)
        if not self.queue:
            self._answer_reject()

    def _answer_reject(self) -> None:
        """Send the pending error and close gently, so that the client reads it instead of a reset."""
        self.write(encode_reply(error_reply(self.pending_reject), keep_alive=False, head_only=False))
        self._close_gently(LINGER)

    def _close_gently(self, seconds: float) -> None:
        """Half-close, then read and drop what the client still sends for up to `seconds` (or until it
        closes), then close. Closing with unread input would make the kernel send a reset, which can reach
        the client before it has read our last answer (Go lingers the same way, nginx's lingering_close)."""
        self.phase = DISCARDING
        self.raw_left = 0
        self.receiving = None
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if transport.can_write_eof():
            transport.write_eof()
            self._read_pausers.clear()
            transport.resume_reading()
            self.deadline = self.write_deadline = 0.0
            asyncio.get_running_loop().call_later(seconds, self.close)
        else:
            self.close()

    def _set_deadline(self, seconds: float, what: str) -> None:
        self.deadline = time.monotonic() + seconds if seconds > 0 else 0.0
        self.deadline_what = what

    def check_deadlines(self, now: float) -> None:
        """Called by the entry point's sweeper: cut off a peer that overran a timeout."""
        if self.deadline and now >= self.deadline:
            self._timed_out(self.deadline_what)
        elif self.write_deadline and now >= self.write_deadline:
            self._timed_out("writing the response")

    def _timed_out(self, what: str) -> None:
        log.info("closing connection from %s: timeout %s", self.client_ip, what)
        self.deadline = self.write_deadline = 0.0
        self.abort()

    def _record(self, exchange: Exchange) -> None:
        """Tell the entry point's observers (the exchange record, access log, metrics) how it went."""
        exchange.ended = time.monotonic()  # one clock read for all of them
        for observer in self.ep.observers:
            try:
                observer(exchange)
            except Exception:
                log.exception("exchange observer %r failed", observer)


def _beyond_int63(length: str) -> bool:
    try:
        return int(length) > 2**63 - 1
    except ValueError:
        return False
