"""Middlewares that see response bodies: the one contract between them and the forwarder.

A middleware with `filters_response = True` has `response_filter(req, status, headers)`, called when the
response head reaches it (after the hooks of the middlewares nearer the service, as in Traefik where the
innermost ResponseWriter sees the response first). It returns None to let this response pass untouched, or
a `BodyFilter` for this one response.

A BodyFilter receives the response as three kinds of events (`head`, `body`, `end`) and pushes what it lets
through to `down`: the next stage toward the client (the middlewares before it, then the forwarder, which
frames the result: a body whose length changed goes out chunked). The default methods pass everything on
unchanged, so a filter overrides only what it changes. It may hold the head (push it later, from `body` or
`end`), change or replace head and body, or answer with a response of its own (`down.head` / `down.body` /
`down.end` with what it wants the client to get). Memory is the filter's to bound: hold at most what its
config allows. A filter that pushes from a task (not from inside one of its own calls) calls
`down.flush()` after, so the bytes leave now, and `await down.wait_writable()` between large pieces.
`close()` is called when the exchange ends before `end` (the client left, the upstream failed): free what
the filter holds (temp files, tasks).
"""

from __future__ import annotations

from typing import Protocol

from proxy.message import HeaderList


class ResponseSink(Protocol):
    """Where a filter pushes the response it lets through."""

    def head(self, status: int, headers: HeaderList) -> None: ...

    def body(self, data: bytes) -> None: ...

    def end(self, trailers: list[tuple[bytes, bytes]]) -> None: ...

    def flush(self) -> None: ...

    async def wait_writable(self) -> None:
        """Returns once the client takes more bytes (its socket buffer drained); for filters that push a
        large held body from a task."""


class BodyFilter:
    """One response's pass through a body-seeing middleware; `down` is set by the forwarder before `head`."""

    __slots__ = ("down",)

    def __init__(self) -> None:
        self.down: ResponseSink = None  # type: ignore[assignment]  # set by the forwarder before head()

    def head(self, status: int, headers: HeaderList) -> None:
        self.down.head(status, headers)

    def body(self, data: bytes) -> None:
        self.down.body(data)

    def end(self, trailers: list[tuple[bytes, bytes]]) -> None:
        self.down.end(trailers)

    def close(self) -> None:
        return None
