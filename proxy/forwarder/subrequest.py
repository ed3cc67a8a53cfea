"""A request a middleware sends on its own (the errors middleware's page), on a service's connection pool.

Not a second HTTP stack: the same UpstreamConnection (llhttp, pooled keep-alive) talks to a SubRequest,
which stands where an Exchange stands and hands the response on to a receiver as it arrives (head, body
pieces, end, or a failure status before any head). A reused idle connection that turns out dead before
answering is retried once on a fresh one, as the forwarder does.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from proxy.forwarder.hop import strip_hop_headers
from proxy.forwarder.upstream import UpstreamConnection
from proxy.message import HeaderList
from proxy.services.loadbalancer import UpstreamServer


class Receiver(Protocol):
    def sub_head(self, status: int, headers: HeaderList) -> None: ...

    def sub_body(self, data: bytes) -> None: ...

    def sub_end(self) -> None: ...

    def sub_failed(self, status: int, detail: str) -> None: ...


class _NoClient:
    """UpstreamConnection pauses its exchange's client when its own socket fills; nothing to pause here."""

    upgrading = None

    def pause_reading(self, reason: object) -> None: ...

    def resume_reading(self, reason: object) -> None: ...

    def write(self, data: bytes) -> None: ...


_NO_CLIENT = _NoClient()


class SubRequest:
    """One request and its streamed response; `start()` sends it, `cancel()` drops it."""

    __slots__ = (
        "server",
        "request",
        "receiver",
        "upstream",
        "body_until_close",
        "task",
        "done",
        "_retried",
        "_reused",
        "_timer",
    )

    client = _NO_CLIENT
    retry = None  # no retry middleware: UpstreamConnection asks

    def __init__(self, server: UpstreamServer, request: bytes, receiver: Receiver) -> None:
        self.server = server
        self.request = request
        self.receiver = receiver
        self.upstream: UpstreamConnection | None = None
        self.body_until_close = False
        self.task: asyncio.Task[None] | None = None
        self.done = False
        self._retried = False
        self._reused = False
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        conn = self.server.pool.take_idle()
        if conn is not None:
            self._reused = True
            self._attach(conn)
        else:
            self.task = asyncio.get_running_loop().create_task(self._dial())

    async def _dial(self) -> None:
        pool = self.server.pool
        try:
            conn = await pool.connect(lambda: UpstreamConnection(pool))
        except TimeoutError:
            self._fail(504, f"dial {self.server.address} timed out")
            return
        except OSError as exc:
            self._fail(502, f"dial {self.server.address}: {exc.strerror or exc}")
            return
        self.task = None
        if self.done:
            pool.release(conn)
            return
        self._reused = False
        self._attach(conn)

    def _attach(self, conn: UpstreamConnection) -> None:
        self.upstream = conn
        conn.begin(self)  # type: ignore[arg-type]  # has the Exchange methods the connection calls
        conn.write(self.request)
        timeout = self.server.response_header_timeout  # the service's transport, as for any request
        if timeout > 0 and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(
                timeout, self._fail, 504, f"no response head from {self.server.address} in time"
            )

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def cancel(self) -> None:
        self.done = True
        self._stop_timer()
        if self.task is not None:
            self.task.cancel()
            self.task = None
        conn, self.upstream = self.upstream, None
        if conn is not None:
            conn.exchange = None
            conn.close()

    def _fail(self, status: int, detail: str) -> None:
        if self.done:
            return
        self.done = True
        self.task = None
        self._stop_timer()
        conn, self.upstream = self.upstream, None
        if conn is not None:
            conn.exchange = None
            conn.close()
        self.receiver.sub_failed(status, detail)

    # -- what UpstreamConnection calls on its exchange ----------------------------------------------
    def relays_head_as_is(self, status: int, names: frozenset[str], lines: list[bytes]) -> bool:
        return False

    def interim_response(self, status: int, headers: HeaderList) -> None:
        return None

    def response_head(self, status: int, headers: HeaderList) -> bool:
        keys = headers.keys
        chunked = "transfer-encoding" in keys and "chunked" in (headers.get("transfer-encoding") or "").lower()
        no_body = status in (204, 304)
        self.body_until_close = not (no_body or chunked or "content-length" in keys)
        strip_hop_headers(headers, keep_upgrade=False)
        self._stop_timer()
        if not self.done:
            self.receiver.sub_head(status, headers)
        return False

    def response_body(self, data: bytes) -> None:
        if not self.done and data:
            self.receiver.sub_body(data)

    def response_body_end(self, trailers: list[tuple[bytes, bytes]]) -> None:
        return None

    def flush_to_client(self) -> None:
        return None

    def response_complete(self) -> None:
        conn, self.upstream = self.upstream, None
        if conn is not None:
            conn.exchange = None
            conn.resume_reading()
            self.server.pool.release(conn)
        if not self.done:
            self.done = True
            self.receiver.sub_end()

    def upstream_failed(self, detail: str) -> None:
        self._fail(502, detail)

    def upstream_lost(self, conn: UpstreamConnection, exc: Exception | None) -> None:
        if self.upstream is not conn:
            return
        self.upstream = None
        if self._reused and not conn.received and not self._retried and not self.done:
            self._retried = True  # a pooled connection the server had closed: once more on a fresh one
            self.task = asyncio.get_running_loop().create_task(self._dial())
            return
        if conn.received and not conn.in_head:
            if not self.done:  # the body was cut: end what was sent (nothing better is left to do)
                self.done = True
                self.receiver.sub_end()
            return
        self._fail(502, f"upstream {self.server.address}: {exc or 'connection closed'}")

    def start_tunnel(self, rest: bytes) -> None:
        self._fail(502, "the error page answered 101 Switching Protocols")
