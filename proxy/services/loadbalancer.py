"""Traefik's `loadBalancer` and `weighted` services: pick the upstream server for one request.

Every service is a Picker: `pick(req)` returns the server for that request (a sticky cookie or the client's
address may decide) or raises NoServerAvailable (answered 503). A balancer keeps the health of its
children: a child marked down leaves the rotation until marked up again, and when the balancer as a whole
goes down or comes back it tells the parents that registered for it (`healthCheck` on the parent), as
Traefik's StatusSetter / StatusUpdater pair does.

The round robin is smooth weighted round robin: over any window of sum(weights) picks each child is chosen
exactly `weight` times, interleaved (Traefik uses an earliest-deadline-first scheduler with the same property).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import urlsplit

from proxy.message import Reply, RequestHead
from proxy.services.sticky import Sticky
from proxy.services.transport import ConnectionPool

T = TypeVar("T")

NO_SERVER = "no available server\n"  # Go's http.Error(rw, errNoAvailableServer.Error(), 503)


class NoServerAvailable(Exception):
    """No healthy server (all down, all weights zero): answered with 503 and Traefik's body for it."""

    def __init__(self, service: str, body: str = NO_SERVER) -> None:
        super().__init__(service)
        self.service = service
        self.body = body

    def reply(self) -> Reply:
        return Reply(
            503,
            [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")],
            self.body.encode(),
        )


@dataclass(frozen=True, slots=True)
class UpstreamServer:
    """One upstream as the forwarder needs it, prepared once per config."""

    url: str
    pool: ConnectionPool
    host_header: str  # host[:port] from the URL, sent when passHostHeader is false
    base_path: str  # URL path, prefixed to the request path only with preservePath
    pass_host_header: bool
    response_header_timeout: float
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


def add_end_hook(req: RequestHead, callback: Callable[[Any], None]) -> None:
    """Run `callback(outcome)` once the exchange of `req` is over (the forwarder's `req.at_end`)."""
    at_end = getattr(req, "at_end", None)
    if at_end is not None:
        at_end(callback)


class Picker(Protocol):
    """A built service: what the forwarder asks for a server, and what parents watch for health."""

    name: str
    writes_cookies: bool  # some level of it may set a sticky cookie on the response

    def pick(self, req: RequestHead) -> UpstreamServer: ...

    def register_status_updater(self, fn: Callable[[bool], None]) -> None:
        """Call `fn(up)` whenever the service as a whole goes down or comes back; ValueError when this
        service does not track health (Traefik's RegisterStatusUpdater error)."""

    def health(self) -> list[str]:
        """What is down and why, one line each, for explanations (empty: nothing known to be down)."""


class SmoothWeightedRoundRobin:
    """nginx-style smooth WRR over items with integer weights; zero weights are never picked."""

    __slots__ = ("_items", "_weights", "_current", "_total")

    def __init__(self, items: Sequence[object], weights: Sequence[int]) -> None:
        kept = [(item, w) for item, w in zip(items, weights, strict=True) if w > 0]
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


class Balancer(Generic[T]):
    """Named children with weights and health, the status propagation, and the sticky cookie if any.

    Subclasses choose among the healthy children in `_next`; `kind` is the word Traefik's errors use.
    """

    kind = "WRR"
    keeps_zero_weights = False  # p2c ignores weights altogether
    single_fast = True  # with one healthy child and no cookie, `pick` may skip the strategy

    def __init__(self, name: str, *, wants_health_check: bool = False, sticky: Sticky[T] | None = None) -> None:
        self.name = name
        self.wants_health_check = wants_health_check
        self.sticky = sticky
        self.writes_cookies = sticky is not None
        self.names: list[str] = []
        self.items: list[T] = []
        self.weights: list[int] = []
        self.down: dict[str, str] = {}  # child name -> why it is down
        self._updaters: list[Callable[[bool], None]] = []
        self._only: T | None = None
        self.passive: Any = None  # a PassiveHealthCheck watching every exchange, set by the builder

    def add(self, name: str, item: T, weight: int) -> None:
        if weight <= 0 and not self.keeps_zero_weights:
            return  # Traefik: a non-positive weight is meaningless, the child is not added
        self.names.append(name)
        self.items.append(item)
        self.weights.append(weight)
        if self.sticky is not None:
            self.sticky.add(name, item)

    def finish(self) -> None:
        """Called once every child is added."""
        self._changed()

    def _changed(self) -> None:
        self._rebuild()
        healthy = [item for name, item in zip(self.names, self.items, strict=True) if name not in self.down]
        self._only = (
            healthy[0]
            if (len(healthy) == 1 and self.single_fast and self.sticky is None and self.passive is None)
            else None
        )

    @property
    def up(self) -> bool:
        return any(name not in self.down for name in self.names)

    def healthy(self) -> list[tuple[str, T, int]]:
        down = self.down
        return [(n, i, w) for n, i, w in zip(self.names, self.items, self.weights, strict=True) if n not in down]

    def set_status(self, child: str, up: bool, why: str = "") -> None:
        """A child is now up or down; parents hear of it when this balancer's own state changes."""
        if child not in self.names:
            return
        was_up = self.up
        if up:
            if self.down.pop(child, None) is None:
                return
        else:
            changed = child not in self.down
            self.down[child] = why or "down"
            if not changed:
                return
        self._changed()
        now_up = self.up
        if now_up != was_up:
            for fn in self._updaters:
                fn(now_up)

    def register_status_updater(self, fn: Callable[[bool], None]) -> None:
        if not self.wants_health_check:
            raise ValueError(f"healthCheck not enabled in config for this {self.kind} service")
        self._updaters.append(fn)

    def health(self) -> list[str]:
        return [f"{self.name}: {name} is down ({why})" for name, why in self.down.items()]

    # -- choosing -----------------------------------------------------------------------------------
    def _rebuild(self) -> None:
        """The healthy set changed: prepare `_next` (subclasses keep what they need)."""

    def _next(self, req: RequestHead) -> tuple[str, T]:
        raise NotImplementedError

    def choose(self, req: RequestHead) -> T:
        """The child for `req`: the sticky cookie's if it names a healthy child, else the strategy's."""
        sticky = self.sticky
        if sticky is not None:
            found = sticky.lookup(req)
            if found is not None and found[0] not in self.down:
                if found[2]:  # a legacy value: rewritten in today's form
                    sticky.write(req, found[0])
                self._picked(req, found[0], True)
                return found[1]
        name, item = self._next(req)
        if sticky is not None:
            sticky.write(req, name)
        self._picked(req, name, False)
        return item

    def _picked(self, req: RequestHead, name: str, by_cookie: bool) -> None:
        """What a strategy keeps of its choice (p2c and leasttime count requests in flight)."""


class WeightedRoundRobin(Balancer[T]):
    """Smooth weighted round robin over the healthy children."""

    _wrr: SmoothWeightedRoundRobin
    _wrr_names: list[str]

    def _rebuild(self) -> None:
        healthy = self.healthy()
        self._wrr_names = [n for n, _, _ in healthy]
        self._wrr = SmoothWeightedRoundRobin(list(range(len(healthy))), [w for _, _, w in healthy])
        self._healthy_items = [i for _, i, _ in healthy]

    def _next(self, req: RequestHead) -> tuple[str, T]:
        if not len(self._wrr):
            raise NoServerAvailable(self.name)
        index: int = self._wrr.next()  # type: ignore[assignment]  # its items are the indexes 0..n-1
        return self._wrr_names[index], self._healthy_items[index]


class ServerPicking(Balancer[UpstreamServer]):
    """A balancer of servers (a `loadBalancer` service, whatever its strategy): `pick` gives the server.
    Mixed in before the strategy's class (LoadBalancer, P2CLoadBalancer...), so the MRO is theirs."""

    def _add_servers(self, servers: Sequence[UpstreamServer], weights: Sequence[int]) -> None:
        self.servers = tuple(servers)
        for server, weight in zip(servers, weights, strict=True):
            self.add(server.url, server, weight)
        self.finish()

    def pick(self, req: RequestHead) -> UpstreamServer:
        only = self._only
        if only is not None:
            return only
        server = self.choose(req)
        passive = self.passive
        if passive is not None:
            add_end_hook(req, partial(passive.outcome, server.url))
        return server


class LoadBalancer(ServerPicking, WeightedRoundRobin[UpstreamServer]):
    """A `loadBalancer` service with the default `wrr` strategy: its servers by URL."""

    def __init__(
        self,
        name: str,
        servers: Sequence[UpstreamServer],
        weights: Sequence[int],
        *,
        wants_health_check: bool = False,
        sticky: Sticky[UpstreamServer] | None = None,
    ) -> None:
        WeightedRoundRobin.__init__(self, name, wants_health_check=wants_health_check, sticky=sticky)
        self._add_servers(servers, weights)


class ServicePicking(Balancer["Picker"]):
    """A balancer of child services: `pick` asks the chosen child (mixed in as ServerPicking is)."""

    children: tuple[Picker, ...]

    def _add_children(self, children: Sequence[tuple[str, Picker, int]]) -> None:
        self.children = tuple(child for _, child, _ in children)
        for child_name, child, weight in children:
            self.add(child_name, child, weight)
        self.finish()
        self.writes_cookies = self.sticky is not None or any(child.writes_cookies for child in self.children)

    def pick(self, req: RequestHead) -> UpstreamServer:
        return self.choose(req).pick(req)

    def health(self) -> list[str]:
        lines = Balancer.health(self)
        for child in self.children:
            lines += child.health()
        return lines


class WeightedBalancer(ServicePicking, WeightedRoundRobin["Picker"]):
    """A `weighted` service: child services (load balancers or other services) by weight."""

    def __init__(
        self,
        name: str,
        children: Sequence[tuple[str, Picker, int]],
        *,
        wants_health_check: bool = False,
        sticky: Sticky[Picker] | None = None,
    ) -> None:
        WeightedRoundRobin.__init__(self, name, wants_health_check=wants_health_check, sticky=sticky)
        self._add_children(children)
