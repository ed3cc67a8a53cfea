"""The Exchange of a plan whose middlewares see bodies: response filters (compress, errors, buffering,
contentType) and request bodies read whole before anything goes upstream (buffering).

`see_bodies(exchange)` is called by dispatch once the route is known, for such plans only: it turns the
Exchange into a FilteringExchange (response filters) or a BodyExchange (also a held request body): same
slots, so the object stays where it is, with methods that wrap today's. Every other plan keeps the plain
Exchange, whose hot path knows nothing of this (not one extra check).

Response side: when the upstream's head arrives, `filters.response_chain` builds the chain of hooks and
filters in Traefik's order; upstream body pieces and the end go through it; what comes out is framed here
(its own Content-Length, else chunked). A filter may finish after the upstream (an error page): the
upstream connection is released at once, the client side ends when the chain does.

Request side: the body goes into a HeldBody (memory, then a temporary file) instead of upstream; when it
is complete the request leaves with a Content-Length (a chunked request is re-framed), the spilled part
written at the upstream's pace. Over the limit: 413.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from proxy.forwarder.exchange import CONTINUE, Exchange, _expects_continue
from proxy.forwarder.filters import response_chain, stages_before
from proxy.forwarder.heldbody import HeldBody
from proxy.forwarder.hop import strip_hop_headers
from proxy.forwarder.upstream import UpstreamConnection
from proxy.forwarder.wire import encode_head, status_line
from proxy.message import HeaderList, Reply

if TYPE_CHECKING:
    from proxy.routing.plan import RoutePlan

PUMP_HIGH_WATER = 1024 * 1024  # a spilled request body is read from disk while less is queued upstream
REPLIED_AT = "body:replied-at"  # req.notes: the position of the middleware that answered by itself


def see_bodies(exchange: Exchange) -> None:
    plan = exchange.plan
    assert plan is not None  # dispatch calls it once the route is known
    exchange.__class__ = FilteringExchange if plan.hold_request is None else BodyExchange
    exchange.sink = None
    exchange.held_body = None


class FilteringExchange(Exchange):
    """Response filters only (compress, errors, contentType)."""

    __slots__ = ()
    plan: RoutePlan  # see_bodies makes one only once the route is known (Exchange's may be None)

    # -- response side: the chain of hooks and filters (plans with response_stages) ----------------------
    def relays_head_as_is(self, status: int, names: frozenset[str], lines: list[bytes]) -> bool:
        """A plan whose one filter declines this head by its Content-Type (RoutePlan.relays_declined), with
        none of the names its hooks act on: the head goes out as written, the exchange is a plain one."""
        plan = self.plan
        watched = plan.relays_declined
        if watched is None or not watched.isdisjoint(names) or self.__class__ is not FilteringExchange:
            return False
        if not (
            status >= 200
            and status != 204
            and status != 304
            and self.head.version == "1.1"
            and self.head.method != "HEAD"
            and self.client.upgrading is not self
        ):
            return False
        content_type = None
        if "content-type" in names:
            raw_names = lines[0::4]
            at = raw_names.index(b"Content-Type") if b"Content-Type" in raw_names else -1
            if at < 0:
                at = next(i for i, name in enumerate(raw_names) if name.lower() == b"content-type")
            content_type = lines[4 * at + 2].decode("latin-1")
        if plan.response_probe(status, content_type):  # type: ignore[misc]  # relays_declined is set with a probe
            return False
        self.__class__ = Exchange  # type: ignore[assignment]  # a plain one from now on: same slots
        return True

    def response_head(self, status: int, headers: HeaderList) -> bool:
        plan = self.plan
        if not plan.response_stages or status == 101:
            return super().response_head(status, headers)
        probe = plan.response_probe
        if probe is not None and not probe(
            status, headers.get("content-type")
        ):  # its one filter declines it: the plain path
            if self.__class__ is FilteringExchange:  # nothing held either: a plain Exchange from now on
                self.__class__ = Exchange  # type: ignore[assignment]  # a plain one from now on: same slots
            return Exchange.response_head(self, status, headers)
        self._head_arrived(status)
        if self.client.upgrading is self:  # a refused upgrade: neither connection can go on (see Exchange)
            self.keep_alive = False
            if self.upstream is not None:
                self.upstream.broken = True
        keys = headers.keys
        chunked_in = "transfer-encoding" in keys and "chunked" in (headers.get("transfer-encoding") or "").lower()
        no_body = self.head.method == "HEAD" or status in (204, 304)
        self.body_until_close = not (no_body or chunked_in or ("content-length" in keys and not chunked_in))
        strip_hop_headers(headers, keep_upgrade=False)
        sink = self.sink = response_chain(self, plan.response_stages)
        sink.chain.head(status, headers)
        if self.head.method == "HEAD":
            sink.chain.end([])
            return True
        return False

    def response_body(self, data: bytes) -> None:
        sink = self.sink
        if sink is None:
            super().response_body(data)
        elif sink.filters:
            sink.chain.body(data)
        elif data:  # no middleware filters this response: hooks and links pass bodies on untouched
            self.filtered_body(data)

    def response_body_end(self, trailers: list[tuple[bytes, bytes]]) -> None:
        sink = self.sink
        if sink is None:
            super().response_body_end(trailers)
        elif sink.filters:
            sink.chain.end(trailers)
        elif not sink.done:
            sink.done = True
            self.filtered_end(trailers)

    def response_complete(self) -> None:
        sink = self.sink
        if sink is None or sink.done:
            super().response_complete()
            return
        # A filter still works on the answer (an error page on its way): the upstream is done and goes back
        # to its pool now; filtered_end ends the exchange.
        self.release_upstream()

    # What the filters let through, framed for the client.
    def filtered_head(self, status: int, headers: HeaderList) -> None:
        """Framed by its own Content-Length (a filter that changes the body removes it), else chunked
        (HTTP/1.0: until close)."""
        if self._continue is not None:
            self._stop_continue_timer()
        self.status = status
        no_body = self.head.method == "HEAD" or status in (204, 304) or status < 200
        if not no_body and "content-length" not in headers.keys:
            if self.head.version == "1.1":
                self.chunked_out = True
                headers.remove("Transfer-Encoding")
                headers.add("Transfer-Encoding", "chunked")
            else:
                self.keep_alive = False
        if not self.keep_alive:
            headers.set("Connection", "close")
        elif self.head.version == "1.0":
            headers.set("Connection", "keep-alive")
        self.out.append(encode_head(status_line(status), headers.items))

    def filtered_body(self, data: bytes) -> None:
        if self.head.method == "HEAD" or self.status in (204, 304):
            return  # a filter's own answer (an error page) to a request that gets no body
        Exchange.response_body(self, data)  # framed as the plain path frames it

    def filtered_end(self, trailers: list[tuple[bytes, bytes]]) -> None:
        Exchange.response_body_end(self, trailers)
        if self.upstream is None and not self.finished and self.response_started:
            # The chain finished after the upstream did (response_complete has run): end the exchange.
            self.flush_to_client()
            self.response_done = True
            if not self.request_complete:
                self.keep_alive = False
            self.client.exchange_done(self)

    # -- answers the proxy or a middleware gives: they pass back through the hooks and filters -------------
    def answer(self, reply: Reply) -> None:
        """As in Traefik, where every answer is written through the middlewares' writers: a middleware's
        own answer passes through those before it; the proxy's (502, 503, 504, 413...) through all of
        them (so an errors middleware can replace a 502 from a server that is down)."""
        plan = self.plan
        stages = plan.response_stages
        if not stages or self.finished or reply.stream is not None:  # a stream is never held by a filter
            super().answer(reply)
            return
        at = self.head.notes.pop(REPLIED_AT, None)
        if at is not None:
            stages = stages_before(stages, plan.middlewares[: int(at)])
        elif self.held_body is not None and reply.status == 413:
            first = next(i for i, m in enumerate(plan.middlewares) if m.holds_request_body)
            stages = stages_before(stages, plan.middlewares[:first])
        if not stages:
            super().answer(reply)
            return
        self.response_started = True
        self.status = reply.status
        if not self.request_complete:
            self.keep_alive = False  # we will not read the rest of the body
        headers = HeaderList([(k, v) for k, v in reply.headers if k.lower() not in ("content-length", "connection")])
        no_body = reply.status in (204, 304) or reply.status < 200
        if not no_body:
            headers.add("Content-Length", str(len(reply.body)))
        sink = self.sink = response_chain(self, stages)
        sink.chain.head(reply.status, headers)
        if not no_body and self.head.method != "HEAD":
            sink.chain.body(reply.body)
        sink.chain.end([])  # filtered_end ends the exchange, now or when a filter is done
        self.flush_to_client()

    # -- failures ---------------------------------------------------------------------------------------
    def fail(self, status: int, detail: str) -> None:
        if self.finished:
            return
        sink = self.sink
        if sink is not None:
            self.sink = None
            sink.close()
            if not sink.started:  # the filters held the head: nothing reached the client yet
                self.response_started = False
                self.chunked_out = False
                self.out = []
        super().fail(status, detail)

    def abandon(self) -> None:
        if self.held_body is not None:
            self.held_body.close()
        if self.sink is not None:
            self.sink.close()
        super().abandon()


class BodyExchange(FilteringExchange):
    """Response filters and a request body held whole (buffering)."""

    __slots__ = ()

    def begin(self) -> None:
        if (
            self.stage is None
            and self.reply is None
            and self.server is not None
            and self.plan.hold_request is not None
            and (not self.request_complete or self.held_body is not None)
            and not self._held_complete()
        ):
            return  # the request body is read whole first: end_body goes on
        super().begin()

    def send_body(self, data: bytes) -> None:
        if self.reply is not None or self.finished:
            return
        if self.plan.hold_request is not None and not self.sent_head:
            held = self._held()
            if not held.add(data):
                self._body_too_large()
            return
        super().send_body(data)

    def end_body(self) -> None:
        held = self.held_body
        if held is not None and not self.request_complete and self.reply is None and not self.finished:
            self.request_complete = True
            if held.begun and self.stage is None:
                self.begin()  # the whole body is here: now it goes upstream
            return
        super().end_body()

    def _held(self) -> HeldBody:
        held = self.held_body
        if held is None:
            limit, memory = self.plan.hold_request  # type: ignore[misc]  # a BodyExchange's plan holds requests
            held = self.held_body = HeldBody(limit, memory)
        return held

    def _held_complete(self) -> bool:
        """True when the body is all here (or there is none) and the request can go upstream with a
        Content-Length; else it waits for the body (or was answered 413)."""
        if self.request_complete and self.held_body is None:
            return True  # no body at all
        held = self._held()
        if not held.begun:
            held.begun = True
            length = self.head.headers.get("content-length") if not self.chunked_request else None
            if held.limit and length is not None and length.strip().isdigit() and int(length) > held.limit:
                self._body_too_large()  # oxy refuses a declared length before reading any of it
                return False
        if not self.request_complete:
            if self._continue is None and _expects_continue(self.head):
                self._continue = True  # Go tells the client to go on once the handler reads the body
                self.client.write(CONTINUE)
            return False
        if self.sent_head:
            return True  # sent already (another attempt)
        headers = self.head.headers
        headers.remove("Transfer-Encoding")
        headers.set("Content-Length", str(held.size))
        self.chunked_request = False
        self.pending += held.pieces  # after the head, which begin() puts first
        if self.replay is not None:  # retry or mirroring sends it again from memory, if it fits
            fits = held.file is None and held.size <= self.replay_limit
            self.replay = list(held.pieces) if fits else None
        held.pieces = []
        if held.file is not None:
            asyncio.get_running_loop().create_task(self._pump_file(held))
        else:
            held.close()
        return True

    def _body_too_large(self) -> None:
        held = self.held_body
        if held is not None:
            held.close()
        self.reply = Reply(413, [], b"Request Entity Too Large")  # oxy's answer, no Content-Type
        self.detail = "request body over the buffering middleware's maxRequestBodyBytes"
        self.keep_alive = False  # the rest of the body is not read
        if held is None or held.begun:
            self.answer(self.reply)

    async def _pump_file(self, held: HeldBody) -> None:
        """The part of the body that spilled to disk, after what was in memory, at the upstream's pace."""
        try:
            for piece in held.file_pieces():
                conn = self.upstream
                while conn is None and not self.finished and self._connect_task is not None:
                    await asyncio.sleep(0.005)  # still dialling
                    conn = self.upstream
                if conn is None or self.finished or conn.transport is None:
                    return
                if self.pending:  # the head and the in-memory part are still held back by the parser
                    self.release_held()
                conn.write(piece)
                while (
                    conn.transport is not None
                    and not self.finished
                    and conn.transport.get_write_buffer_size() > PUMP_HIGH_WATER
                ):
                    await asyncio.sleep(0.002)  # the upstream reads slower than the disk: wait
        finally:
            held.close()

    def upstream_lost(self, conn: UpstreamConnection, exc: Exception | None) -> None:
        if self.held_body is not None:
            self._retried = True  # the stale-connection replay resends a head only: not for a held body
        super().upstream_lost(conn, exc)
