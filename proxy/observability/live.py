"""The dashboard's live view: the recent requests, as they finish, and the explain view of each.

Kept only when `api.dashboard` is on (a gateway without it has no LiveView at all). Each entry point's
forwarded-headers stage is wrapped (`RecordingForwarded`): it notes the request's headers as the client sent
them, before anything changes them, and registers an end-of-exchange callback that puts the finished
exchange in a bounded ring and sends it to the open event streams. The explain view replays an entry with
those very headers through `proxy.server.trace` (the engine of `python -m proxy explain`) on a fresh build
of the current configuration, so that replaying touches no live middleware's state (rate limits, in-flight
counts, circuit breakers).

Requests refused before the forwarded-headers stage (a malformed head, a bad path: 400) are not listed.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from proxy.forwarder.forwarded import ForwardedHeaders
from proxy.message import Reply, RequestHead

if TYPE_CHECKING:
    from proxy.forwarder.exchange import Exchange, ReplyStream
    from proxy.server.gateway import Gateway
    from proxy.server.trace import Trace

log = logging.getLogger("proxy.observability")

RING = 500  # exchanges kept
BACKLOG = 100  # of them, sent to a stream when it opens
MAX_UNSENT = 1 << 20  # bytes a stream's client may leave unread before the stream is ended (it reconnects)
RETRY_MS = 2000  # how soon a browser reconnects a stream that ended
STREAM_HEADERS = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no")]
JSON = [("Content-Type", "application/json"), ("Cache-Control", "no-cache")]


@dataclass(frozen=True, slots=True)
class LiveEntry:
    id: int
    time: float  # time.time() at the end
    entry_point: str
    scheme: str
    client_ip: str
    method: str
    target: str  # the request-target as the client sent it
    host: str
    router: str | None
    service: str | None
    upstream_target: str | None  # what the upstream's request line said (None: not forwarded)
    server: str | None
    status: int
    duration: float  # seconds
    bytes_out: int
    detail: str
    headers: tuple[tuple[str, str], ...]  # the request's headers as received

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": round(self.time * 1000),
            "entryPoint": self.entry_point,
            "method": self.method,
            "target": self.target,
            "host": self.host,
            "router": self.router,
            "service": self.service,
            "upstream": self.upstream_target,
            "server": self.server,
            "status": self.status,
            "ms": round(self.duration * 1000, 2),
            "bytes": self.bytes_out,
            "detail": self.detail,
        }

    def event(self) -> bytes:
        return b"id: %d\ndata: %s\n\n" % (self.id, json.dumps(self.row(), separators=(",", ":")).encode())


class RecordingForwarded(ForwardedHeaders):
    """An entry point's forwarded-headers stage that also hands each request to the live view."""

    def __init__(self, inner: ForwardedHeaders, live: LiveView) -> None:
        self.__dict__.update(inner.__dict__)  # the same settings and caches: `apply` behaves as the inner one
        self.inner = inner
        self.live = live

    def apply(self, req: RequestHead, local_port: int = 0, *, plain: bool = False) -> None:
        req.at_end(partial(self.live.finished, tuple(req.headers.items)))
        ForwardedHeaders.apply(self, req, local_port, plain=plain)


class LiveView:
    def __init__(self, gateway: Gateway, size: int = RING) -> None:
        self.gateway = gateway
        self.ring: deque[LiveEntry] = deque(maxlen=size)
        self.last_id = 0
        self.streams: set[ReplyStream] = set()
        self.closed = False  # the gateway stops: no new stream

    # -- recording ------------------------------------------------------------------------------------
    def finished(self, headers: tuple[tuple[str, str], ...], exchange: Exchange) -> None:
        plan = exchange.plan
        if plan is not None and plan.service_name.endswith("@internal"):
            return  # the dashboard's own requests (and ping, metrics...): as the access log, left out
        head, server = exchange.head, exchange.server
        forwarded = server is not None and exchange.reply is None
        upstream = None
        if forwarded:
            assert server is not None
            upstream = (server.base_path or "") + (head.path or "/")
            if head.query is not None:
                upstream += "?" + head.query
        self.last_id += 1
        entry = LiveEntry(
            self.last_id,
            time.time(),
            head.entry_point,
            head.scheme,
            head.client_ip,
            head.method,
            exchange.original_target,
            head.host,
            plan.router if plan else None,
            plan.service_name if plan else None,
            upstream,
            server.url if forwarded else None,  # type: ignore[union-attr]  # forwarded: server is set
            exchange.status,
            # an at_end callback, not an observer: `ended` is still 0.0 where the entry point has none
            max(0.0, (exchange.ended or time.monotonic()) - exchange.started),
            exchange.bytes_out,
            exchange.detail,
            headers,
        )
        self.ring.append(entry)
        if self.streams:
            self._publish(entry.event())

    def _publish(self, data: bytes) -> None:
        for stream in list(self.streams):
            if not stream.open:
                self.streams.discard(stream)
            elif stream.backlog > MAX_UNSENT:  # a tab that stopped reading: it reconnects when it can
                self.streams.discard(stream)
                stream.end()
            else:
                stream.write(data)

    def wrap(self, forwarded: ForwardedHeaders) -> ForwardedHeaders:
        return RecordingForwarded(forwarded, self)

    # -- answers ----------------------------------------------------------------------------------------
    def recent(self, req: RequestHead) -> Reply:
        return Reply(200, list(JSON), json.dumps([entry.row() for entry in self.ring]).encode())

    def stream(self, req: RequestHead) -> Reply:
        """The event stream: the last exchanges (after `Last-Event-ID` when the browser reconnects), then each
        one as it finishes, until the client leaves or the gateway stops."""
        if self.closed:
            return Reply.text(503, "the gateway is stopping")
        last = req.headers.get("last-event-id") or ""
        after = int(last) if last.isdigit() else 0

        def start(stream: ReplyStream) -> None:
            if self.closed:
                stream.end()
                return
            self.streams.add(stream)
            req.at_end(lambda _outcome: self.streams.discard(stream))
            backlog = [entry for entry in self.ring if entry.id > after][-BACKLOG:]
            stream.write(b"retry: %d\n\n" % RETRY_MS + b"".join(entry.event() for entry in backlog))

        return Reply(200, list(STREAM_HEADERS), stream=start)

    def close_streams(self) -> None:
        """A graceful stop begins: end every open stream, so that no dashboard tab holds the drain up."""
        self.closed = True
        for stream in list(self.streams):
            stream.end()
        self.streams.clear()

    async def explain(self, req: RequestHead) -> Reply:
        params = parse_qs(req.query or "")
        ident = (params.get("id") or [""])[0]
        entry = next((e for e in self.ring if ident.isdigit() and e.id == int(ident)), None)
        if entry is None:
            return Reply(404, list(JSON), json.dumps({"message": f"no recent request {ident!r}"}).encode())
        try:
            result = await self.replay(entry)
        except Exception as exc:  # the config changed under it, an entry point is gone...
            log.exception("explaining request %s", entry.id)
            return Reply(500, list(JSON), json.dumps({"message": f"cannot explain: {exc}"}).encode())
        from proxy.server.commands import explain_text

        body = {
            "request": {**entry.row(), "headers": [list(h) for h in entry.headers]},
            "text": explain_text(result),
            "trace": trace_json(result),
        }
        return Reply(200, list(JSON), json.dumps(body).encode())

    async def replay(self, entry: LiveEntry) -> Trace:
        """`entry` through the explain engine, on a fresh build of the current configuration."""
        from proxy.routing.table import RouteTable
        from proxy.server.gateway import close_middlewares
        from proxy.server.trace import trace

        gateway = self.gateway
        server = gateway.entry_point_servers.get(entry.entry_point)
        if server is None or gateway.dynamic is None:
            raise ValueError(f"entry point {entry.entry_point!r} is not served")
        build = gateway.build(gateway.dynamic)
        try:
            tls = entry.scheme == "https" and server.tls_runtime is not None
            runtime = server.tls_runtime if tls else server.runtime
            assert runtime is not None
            table = (build.tls_tables if tls else build.tables).get(entry.entry_point, RouteTable([]))
            forwarded = runtime.forwarded
            inner = forwarded.inner if isinstance(forwarded, RecordingForwarded) else forwarded
            window = replace(runtime, table=table, forwarded=inner, observers=[], connections=set())
            target = entry.target
            url = target if not target.startswith("/") else f"{entry.scheme}://{entry.host or 'localhost'}{target}"
            return await trace(window, entry.method, url, list(entry.headers), entry.client_ip)
        finally:
            await close_middlewares(build.middlewares)


def trace_json(result: Trace) -> dict[str, Any]:
    def answer(reply: Reply | None) -> dict[str, Any] | None:
        if reply is None:
            return None
        return {
            "status": reply.status,
            "headers": [list(h) for h in reply.headers],
            "body": reply.body[:200].decode("utf-8", "replace"),
        }

    return {
        "entryPoint": result.entry_point,
        "routedPath": result.routed_path,
        "forwardedAdded": [list(h) for h in result.forwarded_added],
        "forwardedRemoved": [list(h) for h in result.forwarded_removed],
        "verdicts": [
            {"router": v.router, "priority": v.priority, "rule": v.rule, "matched": v.matched} for v in result.verdicts
        ],
        "router": result.router,
        "middlewares": list(result.middlewares),
        "steps": [
            {
                "middleware": s.middleware,
                "pathBefore": s.path_before,
                "pathAfter": s.path_after,
                "added": [list(h) for h in s.added],
                "removed": [list(h) for h in s.removed],
                "answer": answer(s.answer),
                "waited": s.waited,
            }
            for s in result.steps
        ],
        "service": result.service,
        "server": result.server,
        "upstreamHead": result.upstream_head,
        "answer": answer(result.answer),
        "detail": result.detail,
    }
