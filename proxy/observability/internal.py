"""Traefik's internal services (`api@internal`, `dashboard@internal`, `ping@internal`, `prometheus@internal`,
`noop@internal`) and the routers Traefik adds for them (pkg/provider/traefik/internal.go).

An internal service answers in-process: the builder puts it at the end of the router's plan as a
middleware whose request hook always returns a Reply, so the router's own middlewares (basicAuth,
stripPrefix...) run first and see the answer pass back, and the forwarder never picks a server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from proxy.config.dynamic import RouterConfig
from proxy.config.dynamic_middlewares import MiddlewareConfig
from proxy.message import Reply, RequestHead
from proxy.middlewares.base import Middleware
from proxy.services.loadbalancer import NoServerAvailable, UpstreamServer

if TYPE_CHECKING:
    from proxy.config.static import StaticConfig

log = logging.getLogger("proxy.observability")

MAX_INT = 2**63 - 1
INTERNAL_ENTRY_POINT = "traefik"


class InternalService(Middleware):
    """A service that answers itself. Also a Picker, for the plan's service slot, that never picks."""

    def __init__(self, name: str, handler: Callable[[RequestHead], Reply]) -> None:
        self.name = name
        self.handler = handler

    def on_request(self, req: RequestHead) -> Reply | None:
        try:
            return self.handler(req)
        except Exception:  # a bug here must answer 500, not break the client's connection
            log.exception("%s failed on %s %s", self.name, req.method, req.path)
            return Reply.text(500, "Internal Server Error")

    writes_cookies = False

    def pick(self, req: RequestHead | None = None) -> UpstreamServer:
        raise NoServerAvailable(self.name)

    def register_status_updater(self, fn: Callable[[bool], None]) -> None:
        raise ValueError(f"{self.name} does not track health")

    def health(self) -> list[str]:
        return []


@dataclass
class InternalParts:
    """What the builder resolves `@internal` references with (Traefik's internal provider)."""

    routers: dict[str, RouterConfig]  # by local name: qualified `<name>@internal`
    middlewares: dict[str, MiddlewareConfig]  # by local name
    services: dict[str, InternalService]  # by qualified name (`api@internal`)


def noop(req: RequestHead) -> Reply:
    """`noop@internal`: 418 with no body, as Traefik's noop handler (used behind redirect middlewares)."""
    return Reply(418)


def internal_routers(static: StaticConfig) -> dict[str, RouterConfig]:
    """The routers Traefik's internal provider adds, by name (qualified `<name>@internal`)."""
    routers: dict[str, RouterConfig] = {}
    api = static.api
    if api is not None and api.insecure:
        routers["api"] = RouterConfig(
            entry_points=[INTERNAL_ENTRY_POINT], service="api@internal", priority=MAX_INT - 1, rule="PathPrefix(`/api`)"
        )
        if api.dashboard:
            routers["dashboard"] = RouterConfig(
                entry_points=[INTERNAL_ENTRY_POINT],
                service="dashboard@internal",
                priority=MAX_INT - 2,
                rule="PathPrefix(`/`)",
                middlewares=["dashboard_redirect@internal", "dashboard_stripprefix@internal"],
            )
        if api.debug:
            routers["debug"] = RouterConfig(
                entry_points=[INTERNAL_ENTRY_POINT],
                service="api@internal",
                priority=MAX_INT - 1,
                rule="PathPrefix(`/debug`)",
            )
    ping = static.ping
    if ping is not None and not ping.manual_routing:
        routers["ping"] = RouterConfig(
            entry_points=[ping.entry_point], service="ping@internal", priority=MAX_INT, rule="PathPrefix(`/ping`)"
        )
    prometheus = static.metrics.prometheus if static.metrics is not None else None
    if prometheus is not None and not prometheus.manual_routing:
        routers["prometheus"] = RouterConfig(
            entry_points=[prometheus.entry_point],
            service="prometheus@internal",
            priority=MAX_INT,
            rule="PathPrefix(`/metrics`)",
        )
    return routers


def internal_middlewares(static: StaticConfig) -> dict[str, MiddlewareConfig]:
    """The middlewares of the dashboard router, by name (qualified `<name>@internal`)."""
    if static.api is None or not static.api.dashboard:
        return {}
    return {
        "dashboard_redirect": MiddlewareConfig.model_validate(
            {
                "redirectRegex": {
                    "regex": r"^(http:\/\/(\[[\w:.]+\]|[\w\._-]+)(:\d+)?)\/$",
                    "replacement": "${1}/dashboard/",
                    "permanent": True,
                }
            }
        ),
        "dashboard_stripprefix": MiddlewareConfig.model_validate(
            {"stripPrefix": {"prefixes": ["/dashboard/", "/dashboard"]}}
        ),
    }
