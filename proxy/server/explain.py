"""Why an exchange went wrong, in words: for 404s which routers were considered and how each fared,
for 5xx answers of the proxy itself which router and service were used and what the upstream did."""

from __future__ import annotations

from urllib.parse import urlsplit

from proxy.config.dynamic import DynamicConfig
from proxy.forwarder.context import ExchangeRecord
from proxy.message import HeaderList, RequestHead
from proxy.routing.builder import BuildResult
from proxy.routing.table import RouteTable
from proxy.rules import MatchRequest
from proxy.services.loadbalancer import Picker

REPLAY_MATCHED = "matches when replayed (of the headers only Host is recorded)"


def is_failure(record: ExchangeRecord) -> bool:
    """A 404 no router took, or an error the proxy answered itself (502, 503, 504, 400...)."""
    return (record.status == 404 and record.router is None) or (record.status >= 400 and bool(record.detail))


def explain(
    record: ExchangeRecord, table: RouteTable | None, build: BuildResult | None, dynamic: DynamicConfig | None
) -> str:
    """A few lines saying what happened to `record` and, for failures, why."""
    title = (
        f"{record.method} {record.original_target} (Host {record.host!r}) on entry point "
        f"{record.entry_point!r} -> {record.status}"
    )
    if record.router is None and record.status == 404:
        lines = _no_router(record, table, build, dynamic)
    elif record.router is not None:
        lines = _routed(record, build)
    else:
        lines = [record.detail] if record.detail else []
    return "\n".join([title, *("  " + line for line in lines)])


def _no_router(
    record: ExchangeRecord, table: RouteTable | None, build: BuildResult | None, dynamic: DynamicConfig | None
) -> list[str]:
    lines = ["no router matched"]
    if table is None or not len(table):
        lines.append(f"entry point {record.entry_point!r} has no enabled router")
    else:
        view = MatchRequest(_request_head(record))
        lines.append(f"routed with host {view.host!r}, path {view.path!r}")
        for route in table.routes:  # every router, in Traefik's order (slow path, failures only)
            verdict = REPLAY_MATCHED if route.rule.match_view(view) else "did not match"
            lines.append(f"router {route.name} (priority {route.priority}): rule `{route.rule.text}` {verdict}")
    for problem in build.problems if build else ():
        if problem.kind == "router" and problem.level == "error":
            lines.append(f"disabled {problem}")
    for name, router in dynamic.http.routers.items() if dynamic else ():
        if router.entry_points and record.entry_point not in router.entry_points:
            lines.append(f"router {name}@file only serves entry points {router.entry_points}")
    return lines


def _routed(record: ExchangeRecord, build: BuildResult | None) -> list[str]:
    plan = build.routers.get(record.router) if build and record.router else None
    lines = [
        f"router {record.router}"
        + (f" -> middlewares {list(record.middlewares)}" if record.middlewares else "")
        + (f" -> service {plan.service_name!r}" if plan else "")
    ]
    if record.overrides:
        lines.append(f"with test overrides: {'; '.join(record.overrides)}")
    if record.upstream:
        lines.append(f"sent {record.upstream_target} to {record.upstream}")
    for change in record.rewrites:
        lines.append(f"prefixRewrite: {change}")
    if record.detail:
        lines.append(f"proxy answered {record.status}: {record.detail}")
    if plan is not None and build is not None and (record.status >= 500 or record.detail):
        lines += service_health(plan.service, build)
    elif record.status >= 400 and not record.upstream:
        lines.append(f"a middleware answered {record.status} itself")
    return lines


def service_health(service: Picker, build: BuildResult) -> list[str]:
    """The health of `service` and the services below it: what is down and why, the last active checks."""
    from proxy.routing.services import walk
    from proxy.services.healthcheck import ActiveHealthCheck

    tree = list(walk(service))
    lines = list(dict.fromkeys(service.health()))
    for work in build.background:
        if isinstance(work, ActiveHealthCheck) and any(work.balancer is picker for picker in tree):
            lines += work.describe()
    return [f"health: {line}" for line in lines]


def _request_head(record: ExchangeRecord) -> RequestHead:
    """The routed request, rebuilt from the record (headers other than Host are not kept)."""
    target = record.original_target
    if not target.startswith("/"):
        parts = urlsplit(target)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    path, question, query = target.partition("?")
    return RequestHead(
        method=record.method,
        path=path,
        query=query if question else None,
        headers=HeaderList([("Host", record.host)]),
        host=record.host,
        client_ip=record.client_ip,
        entry_point=record.entry_point,
    )
