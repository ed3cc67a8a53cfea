"""Traefik's `loadBalancer` and `weighted` services: pick the upstream server for one request.

Both use smooth weighted round robin: over any window of sum(weights) picks each server is chosen exactly
`weight` times, interleaved (Traefik uses an earliest-deadline-first scheduler with the same property).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence
from urllib.parse import urlsplit

from proxy.services.transport import ConnectionPool


class NoServerAvailable(Exception):
    """A service with no server (all weights zero, or none configured): answered with 503."""


@dataclass(frozen=True, slots=True)
class UpstreamServer:
    """One upstream as the forwarder needs it, prepared once per config."""

    url: str
    pool: ConnectionPool
    host_header: str  # host[:port] from the URL, sent when passHostHeader is false
    base_path: str  # URL path, prefixed to the request path only with preservePath
    pass_host_header: bool
    response_header_timeout: float
    flush_interval: float
    service: str

    @property
    def address(self) -> str:
        return f"{self.pool.host}:{self.pool.port}"


def parse_server_url(url: str) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, host_header, path) of a server URL; ValueError when it is not usable."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"server url {url!r}: scheme must be http or https")
    if not parts.hostname:
        raise ValueError(f"server url {url!r}: no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ValueError(f"server url {url!r}: {exc}") from None
    host_header = parts.netloc.rpartition("@")[2]
    return parts.scheme, parts.hostname, port, host_header, parts.path.rstrip("/")


class Picker(Protocol):
    def pick(self) -> UpstreamServer: ...


class SmoothWeightedRoundRobin:
    """nginx-style smooth WRR over items with integer weights; zero weights are never picked."""

    __slots__ = ("_items", "_weights", "_current", "_total")

    def __init__(self, items: Sequence[object], weights: Sequence[int]) -> None:
        kept = [(item, w) for item, w in zip(items, weights) if w > 0]
        self._items = [item for item, _ in kept]
        self._weights = [w for _, w in kept]
        self._current = [0] * len(kept)
        self._total = sum(self._weights)

    def __len__(self) -> int:
        return len(self._items)

    def next_index(self) -> int:
        current, weights = self._current, self._weights
        best = 0
        for i, w in enumerate(weights):
            current[i] += w
            if current[i] > current[best]:
                best = i
        current[best] -= self._total
        return best

    def next(self) -> object:
        if len(self._items) == 1:
            return self._items[0]
        return self._items[self.next_index()]


class LoadBalancer:
    """A `loadBalancer` service: its servers in weighted round robin."""

    def __init__(self, name: str, servers: Sequence[UpstreamServer], weights: Sequence[int]) -> None:
        self.name = name
        self.servers = tuple(servers)
        self._wrr = SmoothWeightedRoundRobin(servers, weights)
        # One server with a weight (the usual service): picked without the round robin.
        self._only: UpstreamServer | None = self._wrr.next() if len(self._wrr) == 1 else None  # type: ignore[assignment]

    def pick(self) -> UpstreamServer:
        if self._only is not None:
            return self._only
        if not len(self._wrr):
            raise NoServerAvailable(self.name)
        return self._wrr.next()  # type: ignore[return-value]


class WeightedService:
    """A `weighted` service: child services (load balancers or other weighted services) by weight."""

    def __init__(self, name: str, children: Sequence[Picker], weights: Sequence[int]) -> None:
        self.name = name
        self.children = tuple(children)
        self._wrr = SmoothWeightedRoundRobin(children, weights)

    def pick(self) -> UpstreamServer:
        if not len(self._wrr):
            raise NoServerAvailable(self.name)
        child: Picker = self._wrr.next()  # type: ignore[assignment]
        return child.pick()
