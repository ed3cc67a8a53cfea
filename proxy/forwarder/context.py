"""What the hot path knows of the configuration: prepared, immutable routing data per entry point."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from proxy.forwarder.client import ClientConnection
    from proxy.forwarder.forwarded import ForwardedHeaders
    from proxy.routing.table import RouteTable
    from proxy.server.normalize import PathOptions


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
    recorders: list[Callable[[ExchangeRecord], None]] = field(default_factory=list)
    connections: set[ClientConnection] = field(default_factory=set)  # open client connections

    def sweep_interval(self) -> float:
        """How often deadlines are checked: a quarter of the shortest timeout, within 50 ms..1 s."""
        timeouts = [t for t in (self.read_timeout, self.write_timeout, self.idle_timeout) if t > 0]
        return min(max(min(timeouts, default=1.0) / 4, 0.05), 1.0)
