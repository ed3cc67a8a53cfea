"""One request/response exchange: routes the request, moves its body up and the response down.

An Exchange is created when a request head has been parsed. It either answers directly (no route, a
middleware's redirect, a bad path) or borrows an upstream connection and streams both bodies, re-framing
them only where the two sides need different framing (chunked vs. Content-Length vs. until-close).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from proxy.forwarder.hop import strip_hop_headers
from proxy.forwarder.upstream import UpstreamConnection
from proxy.forwarder.wire import (
    LAST_CHUNK,
    encode_chunk,
    encode_head,
    encode_reply,
    error_reply,
    status_line,
    status_line_bytes,
)
from proxy.message import HeaderList, Reply, RequestHead
from proxy.services.loadbalancer import NoServerAvailable, UpstreamServer

if TYPE_CHECKING:
    from proxy.forwarder.client import ClientConnection
    from proxy.forwarder.filters import ClientSink
    from proxy.forwarder.heldbody import HeldBody
    from proxy.forwarder.shape import RequestShape
    from proxy.middlewares.retry import RetryPolicy
    from proxy.routing.plan import RoutePlan

log = logging.getLogger("proxy.forwarder")

REPLAYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
EXPECT_CONTINUE_TIMEOUT = 1.0  # seconds, Traefik's transport setting
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
MAX_PENDING = 256 * 1024  # request bytes held while dialling before the client is paused


class Exchange:
    __slots__ = (
        "client",
        "head",
        "plan",
        "server",
        "reply",
        "upstream",
        "pending",
        "pending_bytes",
        "sent_head",
        "request_complete",
        "response_started",
        "response_done",
        "status",
        "chunked_out",
        "body_until_close",
        "chunked_request",
        "keep_alive",
        "out",
        "started",
        "original_target",
        "request_shape",
        "request_values",
        "request_length",
        "ended",
        "_header_timer",
        "_connect_task",
        "_retried",
        "finished",
        "bytes_out",
        "detail",
        "_continue",
        "holding",
        "stage",
        "turn",
        "attempts",
        "retry",
        "replay",
        "replay_bytes",
        "replay_limit",
        # Set (and read) only once a plan that sees bodies makes this a BodyExchange (bodyexchange.py).
        "sink",
        "held_body",
    )
    sink: ClientSink | None
    held_body: HeldBody | None

    def __init__(
        self,
        client: ClientConnection,
        head: RequestHead,
        keep_alive: bool,
        has_body: bool,
        chunked_request: bool,
        original_target: str,
        request_shape: RequestShape | None = None,
        request_values: list[str] | None = None,
    ) -> None:
        self.client = client
        self.head = head
        self.plan: RoutePlan | None = None
        self.server: UpstreamServer | None = None
        self.reply: Reply | None = None
        self.upstream: UpstreamConnection | None = None
        self.pending: list[bytes] = []  # request bytes not yet written upstream
        self.pending_bytes = 0  # body bytes among them: past MAX_PENDING the client is paused
        self.sent_head = b""  # kept to replay a body-less request on a fresh connection
        self.request_complete = not has_body
        self.response_started = False
        self.response_done = False
        self.status = 0
        self.chunked_out = False  # re-chunking the body for the client
        self.body_until_close = False  # upstream body ends when its connection does
        self.chunked_request = chunked_request
        self.keep_alive = keep_alive
        self.out: list[bytes] = []  # bytes for the client gathered during one upstream read
        self.started = time.monotonic()
        self.original_target = original_target
        # The head's names and values as the client sent them, before any middleware (what Traefik's
        # entry point metrics see): the metrics read the protocol there by position. None for an exchange
        # not parsed from the wire (explain's).
        self.request_shape = request_shape
        self.request_values = request_values
        # The request body's size (the metrics' request bytes): its Content-Length, or a chunked body's
        # bytes as they come (set by the client connection).
        self.request_length = 0
        self.ended = 0.0  # time.monotonic() when it was over: set just before the observers are told
        # (they read it; at_end callbacks run after them, and see 0.0 when the entry point has none)
        self._header_timer: asyncio.TimerHandle | None = None
        self._connect_task: asyncio.Task[None] | None = None
        self._retried = False
        self.finished = False
        self.bytes_out = 0
        self.detail = ""  # why we answered ourselves, for the exchange record and logs
        # `Expect: 100-continue`: None (not asked), a timer while waiting for the upstream's 100, or True
        # once a 100 went to the client.
        self._continue: asyncio.TimerHandle | bool | None = None
        # Request bytes wait in `pending` until the client connection's parser is done with the current
        # read: a head and the body bytes that came with it leave in one write (see ClientConnection.hold).
        self.holding = False
        self.stage: asyncio.Task[None] | None = None  # the waiting middlewares' task (see dispatch)
        self.turn = False  # begin() was called while the stage ran: the stage's end begins the exchange
        self.attempts = 0  # times the request was sent upstream
        self.retry: RetryPolicy | None = None  # the route's retry middleware, set by dispatch
        # The request body bytes as sent, kept while a status-based retry may need them again (None: not kept).
        self.replay: list[bytes] | None = None
        self.replay_bytes = 0
        self.replay_limit = 0  # past this many body bytes `replay` is dropped (None)

    # -- request side ---------------------------------------------------------------------------
    def begin(self) -> None:
        """Called when this exchange's turn comes on the client connection."""
        if self.stage is not None:
            self.turn = True
            return
        if self.reply is not None:
            self.answer(self.reply)
            return
        assert self.server is not None
        self.attempts += 1
        self.sent_head = self._request_head_bytes()
        if self.pending:  # body bytes that came with the head: they go after it
            self.pending.insert(0, self.sent_head)
        else:
            self.pending = [self.sent_head]
        conn = self.server.pool.take_idle()
        if conn is not None:
            self._attach(conn)
        else:
            self._connect_task = asyncio.get_running_loop().create_task(self._dial())

    def stage_done(self) -> None:
        """The waiting middlewares are done: `reply` or `server` is set. Go on if it is our turn."""
        self.stage = None
        if self.turn and not self.finished:
            self.begin()

    def _request_head_bytes(self, again: bool = False) -> bytes:
        head, server = self.head, self.server
        assert server is not None
        headers = head.headers
        if head.host and server.pass_host_header:
            headers.set("Host", head.host)
        else:  # passHostHeader off, or an HTTP/1.0 request without one: Go's client sends the URL's host
            headers.set("Host", server.host_header)
        if self.chunked_request and not again:
            headers.add("Transfer-Encoding", "chunked")
        path = head.path or "/"  # a middleware may leave it empty (Go's URL.Path), Go sends "/"
        if server.base_path:
            path = server.base_path + path
        target = path if head.query is None else f"{path}?{head.query}"
        return encode_head(f"{head.method} {target} HTTP/1.1", headers.items)

    async def _dial(self) -> None:
        server = self.server
        assert server is not None
        pool = server.pool
        try:
            conn = await pool.connect(lambda: UpstreamConnection(pool))
        except TimeoutError:
            self._connect_task = None
            self._dial_failed(504, f"dial {server.address} timed out")
            return
        except OSError as exc:
            self._connect_task = None
            self._dial_failed(502, f"dial {server.address}: {exc.strerror or exc}")
            return
        self._connect_task = None
        if self.finished:  # the client left while we dialled
            pool.release(conn)
            return
        self._attach(conn)

    def _dial_failed(self, status: int, detail: str) -> None:
        """Nothing of the request left: the retry middleware (if any) tries again, else `status`."""
        retry = self.retry
        if retry is not None and retry.network and self._may_retry():
            log.debug("%s %s: %s; attempt %d", self.head.method, self.original_target, detail, self.attempts + 1)
            self._schedule_retry()
            return
        self.fail(status, detail)

    def _may_retry(self) -> bool:
        retry = self.retry
        assert retry is not None
        return (
            self.attempts < retry.attempts
            and not self.finished
            and not self.response_started
            and not (retry.timeout > 0 and time.monotonic() - self.started >= retry.timeout)
        )

    def retries_status(self, status: int) -> bool:
        """The upstream answered `status`: when the retry middleware wants another attempt, drop this one
        (the caller discards the response) and return True."""
        retry = self.retry
        assert retry is not None
        if not (
            self.replay is not None
            and self.request_complete
            and self.replay_bytes <= retry.max_body
            and retry.retries_status(status)
            and self.client.upgrading is not self
            and self._may_retry()
        ):
            return False
        log.debug("%s %s: status %d; attempt %d", self.head.method, self.original_target, status, self.attempts + 1)
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        self._stop_continue_timer()
        self.upstream = None
        self.pending = [*self.replay]  # after the new head (see _next_attempt)
        self._schedule_retry()
        return True

    def _schedule_retry(self) -> None:
        assert self.retry is not None
        delay = self.retry.delay(self.attempts)
        self._connect_task = asyncio.get_running_loop().create_task(self._next_attempt(delay))

    async def _next_attempt(self, delay: float) -> None:
        """Wait the backoff, let the service pick a server again, send the request there."""
        if delay > 0:
            await asyncio.sleep(delay)
        plan = self.plan
        assert plan is not None
        try:
            self.server = server = plan.service.pick(self.head)
        except NoServerAvailable:
            self._connect_task = None
            self.fail(503, "no server available for another attempt")
            return
        self.attempts += 1
        if self.pending and self.pending[0] is self.sent_head:
            self.pending[0] = self.sent_head = self._request_head_bytes(again=True)  # a dial failed
        else:
            self.sent_head = self._request_head_bytes(again=True)  # the status was retried
            self.pending.insert(0, self.sent_head)
        conn = server.pool.take_idle()
        if conn is not None:
            self._connect_task = None
            self._attach(conn)
        else:
            await self._dial()

    def _attach(self, conn: UpstreamConnection) -> None:
        self.upstream = conn
        conn.begin(self)
        if not self.request_complete and self._continue is None and _expects_continue(self.head):
            # Traefik's transport waits 1 s (ExpectContinueTimeout) for the upstream's 100, then sends
            # the body anyway; Go's server tells the client to go on when the body is read.
            self._continue = asyncio.get_running_loop().call_later(EXPECT_CONTINUE_TIMEOUT, self._go_on)
        pending = self.pending
        if pending and not self.request_complete and self.client.parsing:
            self.holding = True  # the body's first bytes are likely in this very read
            self.client.hold(self)
        elif pending:
            conn.write(pending[0] if len(pending) == 1 else b"".join(pending))
            self.pending = []
            if self.pending_bytes:
                self.pending_bytes = 0
                self.client.resume_reading(self)  # it was paused once too much was held
        if self.request_complete and self.server.response_header_timeout > 0:  # type: ignore[union-attr]  # set by now
            self._start_header_timer()

    def send_body(self, data: bytes) -> None:
        if self.reply is not None or self.finished:
            return  # answered already: the body is read and dropped
        if self.chunked_request:
            data = encode_chunk(data)
        if self.replay is not None:
            self._keep_for_replay(data)
        if self.upstream is not None and not self.holding:
            self.upstream.write(data)
        elif self.holding:
            self.pending.append(data)  # bounded by one read
        else:
            self.pending.append(data)
            self.pending_bytes += len(data)
            if self.pending_bytes > MAX_PENDING:
                self.client.pause_reading(self)

    def end_body(self) -> None:
        if self.request_complete:
            return
        self.request_complete = True
        if self.reply is None and self.chunked_request:
            self.send_body_raw(LAST_CHUNK)
        if self.upstream is not None:
            self._start_header_timer()
        if self.response_done:
            self.client.exchange_done(self)

    def _keep_for_replay(self, data: bytes) -> None:
        self.replay_bytes += len(data)
        if self.replay_bytes > self.replay_limit:
            self.replay = None  # too large to keep: not retried on status, not mirrored (as in Traefik)
        else:
            self.replay.append(data)  # type: ignore[union-attr]  # callers check it is a list

    def send_body_raw(self, data: bytes) -> None:
        if self.replay is not None:
            self._keep_for_replay(data)
        if self.upstream is not None and not self.holding:
            self.upstream.write(data)
        else:
            self.pending.append(data)

    def release_held(self) -> None:
        """The parser is done with the read: write what was held back, in one call."""
        self.holding = False
        pending = self.pending
        if pending and self.upstream is not None:
            self.upstream.write(pending[0] if len(pending) == 1 else b"".join(pending))
            self.pending = []

    def _start_header_timer(self) -> None:
        timeout = self.server.response_header_timeout if self.server else 0
        if timeout > 0 and not self.response_started and self._header_timer is None:
            self._header_timer = asyncio.get_running_loop().call_later(timeout, self._header_timeout)

    def _header_timeout(self) -> None:
        self._header_timer = None
        if not self.response_started:
            self.fail(504, f"no response head from {self.server.address if self.server else '?'} in time")

    # -- response side --------------------------------------------------------------------------
    def interim_response(self, status: int, headers: HeaderList) -> None:
        """1xx (100 Continue, 103 Early Hints): passed on as they come, untouched as Go does."""
        if status == 100:
            if self._continue is True:
                return  # the client was already told to go on
            self._stop_continue_timer()
            self._continue = True
        self.out.append(encode_head(status_line(status), headers.items))

    def _go_on(self) -> None:
        """No 100 from the upstream in time: tell the client to send its body."""
        self._continue = True
        if not self.response_started and not self.finished:
            self.client.write(CONTINUE)

    def _stop_continue_timer(self) -> None:
        if isinstance(self._continue, asyncio.TimerHandle):
            self._continue.cancel()
            self._continue = None

    def relays_head_as_is(self, status: int, names: frozenset[str], lines: list[bytes]) -> bool:
        """Whether a response head with a lone Content-Length and no hop-by-hop header (`names`: its header
        names, lower-cased; `lines`: the head as upstream.py holds it) can go to the client as the upstream
        wrote it: nothing below would change it (no hook, or only hooks that act on names it lacks; no
        framing change; a closing exchange only gets `Connection: close` added)."""
        plan = self.plan
        return (
            status >= 200
            and status != 204
            and status != 304
            and self.head.version == "1.1"
            and self.head.method != "HEAD"
            and plan is not None
            and (plan.relays_as_is or (plan.relays_unless is not None and plan.relays_unless.isdisjoint(names)))
            and self.client.upgrading is not self
        )

    def response_head_as_is(self, status: int, lines: list[bytes]) -> None:
        """`lines`: the upstream's header lines (name, b": ", value, CRLF for each); the status line is ours."""
        self._head_arrived(status)
        close = b"" if self.keep_alive else b"Connection: close\r\n"  # what response_head would set
        self.out.append(b"%s\r\n%s%s\r\n" % (status_line_bytes(status), b"".join(lines), close))

    def _head_arrived(self, status: int) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        self.response_started = True
        self.status = status
        if self._continue is not None:
            self._stop_continue_timer()

    def response_head(self, status: int, headers: HeaderList) -> bool:
        """Write the upstream's response head; returns True when no body can follow (HEAD)."""
        self._head_arrived(status)
        if status != 101 and self.client.upgrading is self:
            # A refused upgrade (or CONNECT): raw client bytes may already have gone upstream, and the
            # client's parser is past the request. Neither connection can carry another exchange.
            self.keep_alive = False
            if self.upstream is not None:
                self.upstream.broken = True
        no_body = self.head.method == "HEAD" or status in (204, 304)
        keys = headers.keys
        chunked_in = "transfer-encoding" in keys and "chunked" in (headers.get("transfer-encoding") or "").lower()
        has_length = "content-length" in keys and not chunked_in
        self.body_until_close = not (no_body or chunked_in or has_length)
        if status != 101:  # Go relays a 101's Connection/Upgrade untouched
            strip_hop_headers(headers, keep_upgrade=False)
        plan = self.plan
        if plan is not None:
            for middleware in plan.response_hooks:
                middleware.on_response(self.head, status, headers)
        if status != 101 and not no_body and not has_length:
            if self.head.version == "1.1":
                self.chunked_out = True
                headers.add("Transfer-Encoding", "chunked")
            else:
                self.keep_alive = False  # HTTP/1.0 client: the body ends when we close
        if status == 101:
            self.keep_alive = False
        elif not self.keep_alive:
            headers.set("Connection", "close")
        elif self.head.version == "1.0":
            headers.set("Connection", "keep-alive")
        self.out.append(encode_head(status_line(status), headers.items))
        if self.head.method == "HEAD":
            self.response_body_end([])
            return True
        return False

    def response_body(self, data: bytes) -> None:
        self.bytes_out += len(data)
        self.out.append(encode_chunk(data) if self.chunked_out else data)

    def response_body_end(self, trailers: list[tuple[bytes, bytes]]) -> None:
        if self.chunked_out:
            if trailers:
                self.out.append(b"0\r\n" + b"".join(k + b": " + v + b"\r\n" for k, v in trailers) + b"\r\n")
            else:
                self.out.append(LAST_CHUNK)

    def flush_to_client(self) -> None:
        if self.out:
            self.client.write(b"".join(self.out) if len(self.out) > 1 else self.out[0])
            self.out = []

    def release_upstream(self) -> None:
        """The upstream's response is all read: its connection goes back to the pool (closed when the request
        body was not all sent: the connection is out of step)."""
        conn = self.upstream
        self.upstream = None
        if conn is not None:
            conn.exchange = None
            conn.resume_reading()
            if self.request_complete and self.server is not None:
                self.server.pool.release(conn)
            else:
                conn.close()

    def response_complete(self) -> None:
        """The upstream's response is fully relayed: give the connection back, move the client on."""
        self.release_upstream()
        self.response_done = True
        if not self.request_complete:
            self.keep_alive = False
        self.client.exchange_done(self)

    def start_tunnel(self, rest: bytes) -> None:
        """After 101 Switching Protocols: bytes flow raw both ways until either side closes."""
        conn = self.upstream
        assert conn is not None
        conn.tunnel = True
        conn.broken = True
        self.response_done = True
        self.client.start_tunnel(self, conn)
        if rest:
            self.client.write(rest)

    # -- answers and failures ---------------------------------------------------------------------
    def answer(self, reply: Reply) -> None:
        if reply.stream is not None:
            self._answer_streamed(reply)
            return
        self.response_started = self.response_done = True
        self.status = reply.status
        if not self.request_complete:
            self.keep_alive = False  # we will not read the rest of the body
        self.client.write(encode_reply(reply, self.keep_alive, self.head.method == "HEAD"))
        self.client.exchange_done(self)

    def _answer_streamed(self, reply: Reply) -> None:
        """A reply whose body comes later (the dashboard's event stream): the head goes now, chunked (an
        HTTP/1.0 client reads until we close), then `reply.stream` is handed the writer that ends it."""
        self.response_started = True
        self.status = reply.status
        if not self.request_complete:
            self.keep_alive = False
        head_only = self.head.method == "HEAD"
        headers = [
            (k, v) for k, v in reply.headers if k.lower() not in ("content-length", "connection", "transfer-encoding")
        ]
        if head_only:
            headers.append(("Content-Length", "0"))
        elif self.head.version == "1.1":
            self.chunked_out = True
            headers.append(("Transfer-Encoding", "chunked"))
        else:
            self.keep_alive = False
        if not self.keep_alive:
            headers.append(("Connection", "close"))
        self.client.write(encode_head(status_line(reply.status), headers))
        stream = ReplyStream(self)
        if head_only:
            stream.end()
        else:
            reply.stream(stream)  # type: ignore[misc]  # answer() checked it is set

    def fail(self, status: int, detail: str) -> None:
        """Upstream trouble: answer `status` if nothing was sent yet, else cut the client off."""
        if self.finished:
            return
        log.warning("%s %s -> %s: %s", self.head.method, self.original_target, status, detail)
        self.detail = detail
        self._drop_upstream()
        if self.response_started:
            self.status = self.status or status
            self.client.abort()
            return
        self.reply = error_reply(status)
        self.answer(self.reply)

    def upstream_failed(self, detail: str) -> None:
        self.fail(502, detail)

    def upstream_lost(self, conn: UpstreamConnection, exc: Exception | None) -> None:
        """The upstream closed mid-exchange; a reused idle connection that died unseen gets one retry."""
        if self.upstream is not conn:
            return
        self.upstream = None
        if (
            not conn.received
            and not self._retried
            and self.sent_head
            and self.request_complete
            and self.head.method in REPLAYABLE_METHODS
            and not self.chunked_request
            and self.server is not None
            and not self.finished
        ):
            self._retried = True
            self.pending = [self.sent_head]
            self._connect_task = asyncio.get_running_loop().create_task(self._dial())
            return
        why = f"{exc}" if exc else "connection closed"
        self.fail(502, f"upstream {self.server.address if self.server else '?'}: {why}")

    def _drop_upstream(self) -> None:
        self._stop_continue_timer()
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        if self._connect_task is not None:
            self._connect_task.cancel()
            self._connect_task = None
        conn = self.upstream
        self.upstream = None
        if conn is not None:
            conn.exchange = None
            conn.close()

    def abandon(self) -> None:
        """The client went away: release everything, reuse nothing."""
        self.finished = True
        if self.response_started and not self.response_done:
            self.status = self.status or 499
        elif not self.response_started:
            self.status = 499
        self._drop_upstream()
        if self.stage is not None:
            self.stage.cancel()
            self.stage = None

    def run_end_callbacks(self) -> None:
        """The `req.at_end` callbacks, once; called by the client connection when the exchange is over."""
        callbacks, self.head.end_callbacks = self.head.end_callbacks, None
        for callback in callbacks or ():
            try:
                callback(self)
            except Exception:
                log.exception("%s %s: end-of-exchange callback failed", self.head.method, self.original_target)


class ReplyStream:
    """Writes the body of a streamed Reply (see `Reply.stream`) and ends its exchange."""

    __slots__ = ("exchange",)

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    @property
    def open(self) -> bool:
        """False once ended, or once the client left."""
        exchange = self.exchange
        return not (exchange.finished or exchange.response_done)

    @property
    def backlog(self) -> int:
        """Bytes written but not yet taken by the client's socket."""
        transport = self.exchange.client.transport
        return transport.get_write_buffer_size() if transport is not None else 0

    def write(self, data: bytes) -> bool:
        """Send `data` now; False (nothing sent) when the stream is over."""
        exchange = self.exchange
        if exchange.finished or exchange.response_done or not data:
            return not (exchange.finished or exchange.response_done)
        exchange.bytes_out += len(data)
        exchange.client.write(encode_chunk(data) if exchange.chunked_out else data)
        return True

    def end(self) -> None:
        """The body is complete: the exchange is over (the connection goes on, or closes if it must)."""
        exchange = self.exchange
        if exchange.finished or exchange.response_done:
            return
        if exchange.chunked_out:
            exchange.client.write(LAST_CHUNK)
        exchange.response_done = True
        exchange.client.exchange_done(exchange)


def _expects_continue(head: RequestHead) -> bool:
    headers = head.headers
    return "expect" in headers.keys and (headers.get("expect") or "").lower() == "100-continue"
