"""Which exchanges a feature (access log, metrics) reports: Traefik's `observability` switches.

An entry point's `observability.accessLogs` / `metrics` is the default of its routers; a router's own
`observability` overrides it. Routers to Traefik's internal services are left out unless the feature's
`addInternals` is set. Decided once per config into two sets, so an exchange costs two set lookups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from proxy.config.dynamic import RouterConfig
    from proxy.config.static import StaticConfig


@dataclass(frozen=True, slots=True)
class Scope:
    off_routers: frozenset[str] = frozenset()  # never reported
    on_routers: frozenset[str] = frozenset()  # reported even on an entry point that is off
    off_entry_points: frozenset[str] = frozenset()

    @property
    def everything(self) -> bool:
        """Nothing is left out: the observer need not ask."""
        return not (self.off_routers or self.off_entry_points)

    def reports(self, entry_point: str, router: str | None) -> bool:
        if router in self.off_routers:
            return False
        return entry_point not in self.off_entry_points or router in self.on_routers


class Scoped:
    """Base of an observer that reports only its Scope's exchanges (the access log, the metrics): the gateway
    sets `scope` for each config; `_everything` lets the observer skip the lookup when nothing is left out."""

    _scope: Scope = Scope()
    _everything: bool = True

    @property
    def scope(self) -> Scope:
        return self._scope

    @scope.setter
    def scope(self, scope: Scope) -> None:
        self._scope = scope
        self._everything = scope.everything


def build_scope(
    kind: str, static: StaticConfig, routers: Iterable[tuple[str, RouterConfig]], add_internals: bool
) -> Scope:
    """`kind`: "access_logs" or "metrics"; `routers`: (qualified name, router config) of every router."""
    off, on = set(), set()
    for name, router in routers:
        internal = router.service.endswith("@internal")
        own = getattr(router.observability, kind) if router.observability is not None else None
        if (internal and not add_internals) or own is False:
            off.add(name)
        elif own is True:
            on.add(name)
    off_eps = frozenset(name for name, ep in static.entry_points.items() if not getattr(ep.observability, kind))
    return Scope(frozenset(off), frozenset(on), off_eps)
