"""The route table of one entry point: Traefik's router order, looked up through host and path indexes.

Traefik (pkg/muxer/http/mux.go) sorts routes by priority, highest first, and serves the first whose rule
matches; equal priorities are ordered by provider precedence only, and otherwise left to an unstable sort
over map iteration, i.e. unspecified. With a single provider we make that tie deterministic: equal
priorities keep the order the routes were given in (a stable sort).

`match` returns exactly what that linear scan returns, but only evaluates candidate routes: each route is
filed under its host keys (when its rule requires a Host), else under its literal path prefixes (Path /
PathPrefix), else in the unconstrained list; a lookup merges the buckets it hits, in table order.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING

from proxy.message import RequestHead
from proxy.rules import CompiledRule, MatchRequest
from proxy.rules.matchers import request_host_keys

if TYPE_CHECKING:  # plan.py imports the middlewares and services: this table stays below them
    from proxy.routing.plan import RoutePlan

_SMALL_MERGE = 64  # below this many candidates a sort beats a lazy heap merge
_LINEAR_LIMIT = 4  # up to this many routes, trying each in order beats the index lookups


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    priority: int
    rule: CompiledRule
    target: RoutePlan


class RouteTable:
    """Immutable after construction; safe to share between connections."""

    __slots__ = (
        "_routes",
        "_predicates",
        "_linear",
        "_by_host",
        "_wildcards",
        "_by_prefix",
        "_prefix_lengths",
        "_unconstrained",
    )

    def __init__(self, routes: Iterable[Route]) -> None:
        ordered = tuple(sorted(routes, key=lambda route: -route.priority))
        by_host: dict[str, list[int]] = {}
        by_prefix: dict[str, list[int]] = {}
        unconstrained: list[int] = []
        for rank, route in enumerate(ordered):
            hosts, prefixes = route.rule.hosts, route.rule.path_prefixes
            if hosts is not None:
                for key in hosts:
                    by_host.setdefault(key, []).append(rank)
            elif prefixes is not None:
                for prefix in prefixes:
                    by_prefix.setdefault(prefix, []).append(rank)
            else:
                unconstrained.append(rank)
        self._routes = ordered
        self._predicates = tuple(route.rule.predicate for route in ordered)  # called directly: no frame between
        # A few routes are tried in order faster than the indexes below narrow them down (same answer).
        self._linear = tuple(zip(self._predicates, ordered, strict=True)) if len(ordered) <= _LINEAR_LIMIT else None
        self._by_host = {key: tuple(ranks) for key, ranks in by_host.items()}
        self._wildcards = any(key.startswith("*") for key in by_host)
        self._by_prefix = {prefix: tuple(ranks) for prefix, ranks in by_prefix.items()}
        self._prefix_lengths = tuple(sorted({len(prefix) for prefix in by_prefix}))
        self._unconstrained = tuple(unconstrained)

    @property
    def routes(self) -> tuple[Route, ...]:
        """All routes in the order Traefik tries them."""
        return self._routes

    def __len__(self) -> int:
        return len(self._routes)

    def match(self, req: RequestHead) -> Route | None:
        """The first route, in Traefik's order, whose rule matches `req`; None means 404."""
        view = MatchRequest(req)
        if self._linear is not None:
            for predicate, route in self._linear:
                if predicate(view):
                    return route
            return None
        predicates = self._predicates
        for rank in self._candidates(view):
            if predicates[rank](view):
                return self._routes[rank]
        return None

    def _candidates(self, view: MatchRequest) -> Iterable[int]:
        """Ranks of the routes that may match, ascending, without duplicates."""
        buckets = self._buckets(view)
        if len(buckets) == 1:
            return buckets[0]
        if not buckets:
            return ()
        if sum(len(bucket) for bucket in buckets) <= _SMALL_MERGE:
            return sorted(set(chain.from_iterable(buckets)))
        return _unique(heapq.merge(*buckets))

    def _buckets(self, view: MatchRequest) -> list[tuple[int, ...]]:
        buckets: list[tuple[int, ...]] = []
        by_host = self._by_host
        if by_host:
            host = view.host
            if self._wildcards or host.endswith("."):
                for key in request_host_keys(host, self._wildcards):
                    if hit := by_host.get(key):
                        buckets.append(hit)
            elif hit := by_host.get(host):
                buckets.append(hit)
        path = view.path
        if self._prefix_lengths and path is not None:
            by_prefix, size = self._by_prefix, len(path)
            for length in self._prefix_lengths:
                if length > size:
                    break
                if hit := by_prefix.get(path[:length]):
                    buckets.append(hit)
        if self._unconstrained:
            buckets.append(self._unconstrained)
        return buckets


def _unique(ranks: Iterable[int]) -> Iterable[int]:
    last = -1
    for rank in ranks:
        if rank != last:
            last = rank
            yield rank
