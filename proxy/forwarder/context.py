"""What the hot path knows of the configuration: prepared, immutable routing data per entry point."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from proxy.forwarder.client import ClientConnection
    from proxy.forwarder.exchange import Exchange
    from proxy.forwarder.forwarded import ForwardedHeaders
    from proxy.normalize import PathOptions
    from proxy.routing.table import RouteTable


@dataclass(frozen=True, slots=True)
class ExchangeRecord:
    """One finished exchange, as tests and the access log see it."""

    entry_point: str
    client_ip: str
    method: str
    original_target: str
    router: str | None
    middlewares: tuple[str, ...]
    upstream: str | None  # server URL the request went to
    upstream_target: str | None  # path?query sent upstream
    upstream_headers: tuple[tuple[str, str], ...]
    status: int
    duration: float  # seconds
    bytes_out: int
    host: str = ""  # the Host the request was routed with
    detail: str = ""  # why the proxy answered by itself (no router, upstream refused, timeout...)
    attempts: int = 0  # times the request was sent upstream (more than 1: the retry middleware retried)
    overrides: tuple[str, ...] = ()  # the test overrides the router's plan had (services=, middlewares=)
    scheme: str = "http"  # "https": a TLS connection (served by the entry point's TLS routers)
    rewrites: tuple[str, ...] = ()  # what prefixRewrite changed in the answer, as `Name: before -> after`

    @classmethod
    def of(cls, exchange: Exchange) -> ExchangeRecord:
        plan, server, head = exchange.plan, exchange.server, exchange.head
        forwarded = server is not None and exchange.reply is None
        return cls(
            entry_point=head.entry_point,
            client_ip=head.client_ip,
            method=head.method,
            original_target=exchange.original_target,
            router=plan.router if plan else None,
            middlewares=plan.middleware_names if plan else (),
            upstream=server.url if forwarded else None,  # type: ignore[union-attr]  # forwarded: server is set
            upstream_target=head.target if forwarded else None,
            upstream_headers=tuple(head.headers.items) if server else (),
            status=exchange.status,
            duration=max(0.0, exchange.ended - exchange.started),
            bytes_out=exchange.bytes_out,
            host=head.host,
            detail=exchange.detail,
            attempts=exchange.attempts,
            overrides=plan.overrides if plan else (),
            scheme=head.scheme,
            rewrites=tuple(head.rewrites) if head.rewrites else (),
        )


@dataclass(slots=True)
class EntryPointRuntime:
    """One entry point's live state; `table` is swapped whole on reload, never mutated."""

    name: str
    table: RouteTable
    forwarded: ForwardedHeaders
    path_options: PathOptions
    read_timeout: float = 60.0
    write_timeout: float = 0.0
    idle_timeout: float = 180.0
    max_header_bytes: int = 1 << 20  # Traefik's http.maxHeaderBytes: a longer head gets 431
    port: int = 0
    scheme: str = "http"
    # Called with each finished Exchange (see ExchangeRecord.of for what it tells); shared by the gateway's
    # entry points. Empty: nothing is done per exchange.
    observers: list[Callable[[Exchange], None]] = field(default_factory=list)
    connections: set[ClientConnection] = field(default_factory=set)  # open client connections
    # A TLS ClientHello as a plain connection's first bytes (the entry point has no TLS routers): given the
    # connection and those bytes (see EntryPointServer.tls_on_plain); True when it took the connection.
    # None, or False: answered 400 as unparseable.
    tls_hello: Callable[[ClientConnection, bytes], bool] | None = None

    def sweep_interval(self) -> float:
        """How often deadlines are checked: a quarter of the shortest timeout, within 50 ms..1 s."""
        timeouts = [t for t in (self.read_timeout, self.write_timeout, self.idle_timeout) if t > 0]
        return min(max(min(timeouts, default=1.0) / 4, 0.05), 1.0)
