"""The response side of a plan with body filters: one chain of stages per response, innermost first.

Built when the upstream's response head arrives (only for plans with `response_stages`): runs of plain
`on_response` hooks and body-filter middlewares in Traefik's order, ending at the ClientSink, which hands
what comes out to the Exchange for framing. A filter middleware is asked for its filter only when the head
reaches it, so a response it lets pass costs one indirection per body piece.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from proxy.message import HeaderList, RequestHead
from proxy.middlewares.base import Middleware
from proxy.middlewares.body import BodyFilter, ResponseSink

if TYPE_CHECKING:
    from proxy.forwarder.bodyexchange import FilteringExchange
    from proxy.routing.plan import ResponseStage


WRITABLE_POLL = 0.002  # seconds between looks at a paused client, for filters that push from a task


class ClientSink:
    """The forwarder's end: frames what the filters let through (see Exchange.filtered_*)."""

    __slots__ = ("exchange", "chain", "started", "done", "filters")

    def __init__(self, exchange: FilteringExchange) -> None:
        self.exchange = exchange
        self.chain: ResponseSink = self
        self.started = False  # a head went to the client
        self.done = False  # the response's end went to the client
        self.filters: list[BodyFilter] = []  # those created for this response, closed if it ends early

    def head(self, status: int, headers: HeaderList) -> None:
        if not self.started and not self.done:
            self.started = True
            self.exchange.filtered_head(status, headers)

    def body(self, data: bytes) -> None:
        if data and self.started and not self.done:
            self.exchange.filtered_body(data)

    def end(self, trailers: list[tuple[bytes, bytes]]) -> None:
        if self.started and not self.done:
            self.done = True
            self.exchange.filtered_end(trailers)

    def flush(self) -> None:
        self.exchange.flush_to_client()

    async def wait_writable(self) -> None:
        client = self.exchange.client
        while client.write_paused and not self.exchange.finished:
            await asyncio.sleep(WRITABLE_POLL)

    def close(self) -> None:
        """The exchange ended early: every filter frees what it holds, once."""
        self.done = True
        filters, self.filters = self.filters, []
        for body_filter in filters:
            body_filter.close()


class Hooks:
    """A run of plain response hooks between filters."""

    __slots__ = ("down", "req", "middlewares")

    def __init__(self, down: ResponseSink, req: RequestHead, middlewares: tuple[Middleware, ...]) -> None:
        self.down = down
        self.req = req
        self.middlewares = middlewares

    def head(self, status: int, headers: HeaderList) -> None:
        for middleware in self.middlewares:
            middleware.on_response(self.req, status, headers)
        self.down.head(status, headers)

    def body(self, data: bytes) -> None:
        self.down.body(data)

    def end(self, trailers: list[tuple[bytes, bytes]]) -> None:
        self.down.end(trailers)

    def flush(self) -> None:
        self.down.flush()

    async def wait_writable(self) -> None:
        await self.down.wait_writable()


class Link:
    """One filter middleware's place: asks it for a filter when the head arrives."""

    __slots__ = ("down", "req", "middleware", "sink", "target")

    def __init__(self, down: ResponseSink, req: RequestHead, middleware: Middleware, sink: ClientSink) -> None:
        self.down = down
        self.req = req
        self.middleware = middleware
        self.sink = sink
        self.target: ResponseSink | BodyFilter = down  # its filter once it has one

    def head(self, status: int, headers: HeaderList) -> None:
        middleware = self.middleware
        if middleware.has_response_hook:
            middleware.on_response(self.req, status, headers)
        body_filter = middleware.response_filter(self.req, status, headers)
        if body_filter is not None:
            body_filter.down = self.down
            self.sink.filters.append(body_filter)
            self.target = body_filter
        self.target.head(status, headers)

    def body(self, data: bytes) -> None:
        self.target.body(data)

    def end(self, trailers: list[tuple[bytes, bytes]]) -> None:
        self.target.end(trailers)

    def flush(self) -> None:
        self.down.flush()

    async def wait_writable(self) -> None:
        await self.down.wait_writable()


def response_chain(exchange: FilteringExchange, stages: tuple[ResponseStage, ...]) -> ClientSink:
    sink = ClientSink(exchange)
    down: ResponseSink = sink
    req = exchange.head
    for stage in reversed(stages):  # built outermost first: each stage needs its `down`
        down = Hooks(down, req, stage) if isinstance(stage, tuple) else Link(down, req, stage, sink)
    sink.chain = down
    return sink


def stages_before(stages: tuple[ResponseStage, ...], earlier: tuple[Middleware, ...]) -> tuple[ResponseStage, ...]:
    """The part of a plan's response side that belongs to `earlier` middlewares (an answer given by the
    middleware after them passes back through those only)."""
    keep = set(map(id, earlier))
    out: list[ResponseStage] = []
    for stage in stages:
        if isinstance(stage, tuple):
            members = tuple(m for m in stage if id(m) in keep)
            if members:
                out.append(members)
        elif id(stage) in keep:
            out.append(stage)
    return tuple(out)
