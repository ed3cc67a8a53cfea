"""What the static config's observability sections make of a gateway: the access log and metrics
observers, ping's `terminating` switch, the API, and the internal services and routers for the builder."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from proxy.config.static import StaticConfig
from proxy.forwarder.wire import status_text
from proxy.message import Reply, RequestHead
from proxy.observability.dashboard import Dashboard
from proxy.observability.internal import InternalParts, InternalService, internal_middlewares, internal_routers, noop
from proxy.observability.scope import build_scope

if TYPE_CHECKING:
    from proxy.config.dynamic import DynamicConfig
    from proxy.forwarder.exchange import Exchange
    from proxy.observability.accesslog import AccessLog
    from proxy.observability.api import Api
    from proxy.observability.live import LiveView
    from proxy.observability.metrics import Metrics
    from proxy.routing.builder import BuildResult
    from proxy.server.gateway import Gateway

log = logging.getLogger("proxy.server")


class Ping:
    """`ping@internal`: 200 OK, or `terminatingStatusCode` once `terminating` is set (the gateway drains)."""

    def __init__(self, terminating_status_code: int) -> None:
        self.terminating_status_code = terminating_status_code
        self.terminating = False

    def __call__(self, req: RequestHead) -> Reply:
        status = self.terminating_status_code if self.terminating else 200
        return Reply(status, [("Content-Type", "text/plain; charset=utf-8")], status_text(status).encode())


class Observability:
    def __init__(self, static: StaticConfig, gateway: Gateway) -> None:
        self.static = static
        self.gateway = gateway
        self.warnings: list[str] = []
        self.access_log: AccessLog | None = None
        self.metrics: Metrics | None = None
        self.ping: Ping | None = None
        self.api: Api | None = None
        self.live: LiveView | None = None  # the dashboard's recent requests: only with api.dashboard
        self.parts = InternalParts(internal_routers(static), internal_middlewares(static), {})
        services = self.parts.services
        services["noop@internal"] = InternalService("noop@internal", noop)
        if static.access_log is not None:
            from proxy.observability.accesslog import AccessLog

            self.access_log = AccessLog(static.access_log)
            self.access_log.trusting = frozenset(
                name
                for name, ep in static.entry_points.items()
                if ep.forwarded_headers.insecure or ep.forwarded_headers.trusted_ips
            )
            self.warnings += self.access_log.warnings
        metrics = static.metrics
        # metrics.datadog/statsD/influxDB2/otlp: warned about with the static configuration (config/unimplemented.py)
        if metrics is not None and metrics.prometheus is not None:
            from proxy.observability.metrics import SHARE_ENV, Metrics

            try:
                self.metrics = Metrics(metrics.prometheus, os.environ.get(SHARE_ENV))
            except ImportError:
                self.warnings.append(
                    "metrics.prometheus: needs prometheus-client (pip install 'stripproxy[metrics]'); "
                    "no metrics are kept and routers to prometheus@internal are disabled"
                )
            else:
                services["prometheus@internal"] = InternalService("prometheus@internal", self._scrape)
        if static.ping is not None:
            self.ping = Ping(static.ping.terminating_status_code)
            services["ping@internal"] = InternalService("ping@internal", self.ping)
        if static.api is not None:
            from proxy.observability.api import Api

            self.api = Api(self)
            services["api@internal"] = InternalService("api@internal", self.api)
            if static.api.dashboard:
                from proxy.observability.live import LiveView

                self.live = LiveView(gateway)
                dashboard = Dashboard(self.api.base, self.live)
                self.api.dashboard = dashboard  # api@internal serves the dashboard too, as Traefik's does
                services["dashboard@internal"] = InternalService("dashboard@internal", dashboard)
            if static.api.debug:
                self.warnings.append(
                    "api.debug: Go's /debug/vars and pprof handlers have no stripproxy "
                    "counterpart; /debug/* answers 404"
                )
        self._check_entry_points()

    def _check_entry_points(self) -> None:
        """A ping or prometheus router on an entry point that does not exist: say so (Traefik disables it)."""
        for name, router in self.parts.routers.items():
            for ep in router.entry_points:
                if ep not in self.static.entry_points:
                    self.warnings.append(f"{name}@internal: entry point {ep!r} does not exist")

    def _scrape(self, req: RequestHead) -> Reply:
        assert self.metrics is not None
        body, content_type = self.metrics.exposition()
        return Reply(200, [("Content-Type", content_type)], body)

    @property
    def terminating(self) -> bool:
        return self.ping is not None and self.ping.terminating

    @terminating.setter
    def terminating(self, value: bool) -> None:
        if self.ping is not None:
            self.ping.terminating = value

    def observers(self) -> list[Callable[[Exchange], None]]:
        # Their bound __call__, not the objects: the loop calls a bound method as a Python call, an object
        # through its type's call slot (a C-level detour that cost ~400 instructions an exchange each).
        return [o.__call__ for o in (self.access_log, self.metrics) if o is not None]

    def applied(self, dynamic: DynamicConfig, result: BuildResult) -> None:
        """A new configuration is installed: which routers each feature reports, the metrics' bookkeeping."""
        routers = [(f"{n}@file", r) for n, r in dynamic.http.routers.items()]
        routers += [(f"{n}@internal", r) for n, r in self.parts.routers.items()]
        if self.access_log is not None:
            assert self.static.access_log is not None
            self.access_log.scope = build_scope(
                "access_logs", self.static, routers, self.static.access_log.add_internals
            )
        if self.metrics is not None:
            assert self.static.metrics is not None
            self.metrics.scope = build_scope("metrics", self.static, routers, self.static.metrics.add_internals)
            self.metrics.config_applied({name for name, _ in routers}, set(dynamic.http.services))
