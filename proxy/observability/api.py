"""Traefik's API (pkg/api): the runtime view of the configuration as JSON, for `api@internal`.

Routes, shapes, statuses (enabled / warning / disabled), each object's `error` list, `using` / `usedBy`,
pagination (`page`, `per_page`, the X-Next-Page header), `search`, `status`, `serviceName`,
`middlewareName` filters and `sortBy` / `direction` as in Traefik's handlers. The view is computed from
the gateway's last build when a request asks for it (never on the proxy's path) and cached per build.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from proxy.message import Reply, RequestHead

if TYPE_CHECKING:
    from proxy.observability.dashboard import Dashboard
    from proxy.observability.hub import Observability

VERSION = "0.1.0"
CODENAME = "stripproxy"
JSON = [("Content-Type", "application/json")]
NEXT_PAGE = "X-Next-Page"
DEFAULT_PER_PAGE = 100


def omit_empty(value: Any) -> Any:
    """Go's `omitempty`, recursively: drop None, "", empty lists and maps (numbers and booleans stay)."""
    if isinstance(value, dict):
        cleaned = {k: omit_empty(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v is not None and v != "" and v != [] and v != {}}
    if isinstance(value, list):
        return [omit_empty(v) for v in value]
    return value


def dump(model: Any) -> dict[str, Any]:
    return omit_empty(model.model_dump(mode="json", by_alias=True, exclude_none=True))


def _qualify(reference: str) -> str:
    return reference if "@" in reference else f"{reference}@file"


def _row(config: Any, own_errors: list[str], users: list[str] | None) -> dict[str, Any]:
    """A service's or middleware's entry: its config (none for an internal service), its errors (disabled
    when there are any) and the routers using it."""
    info = dump(config) if config is not None else {}
    if own_errors:
        info["error"] = own_errors
    info["status"] = "disabled" if own_errors else "enabled"
    if users:
        info["usedBy"] = sorted(users)
    return info


@dataclass
class RuntimeView:
    routers: dict[str, dict[str, Any]]
    services: dict[str, dict[str, Any]]
    middlewares: dict[str, dict[str, Any]]


def runtime_view(hub: Observability) -> RuntimeView:
    """Traefik's runtime.Configuration of the gateway's last build: routers, services, middlewares."""
    gateway = hub.gateway
    build = gateway.last_build
    dynamic = gateway.dynamic
    problems = build.problems if build is not None else []
    errors: dict[tuple[str, str], list[str]] = {}
    for problem in problems:
        errors.setdefault((problem.kind, problem.name), []).append(problem.message)
    using: dict[str, list[str]] = {}
    for ep_name, table in build.tables.items() if build is not None else ():
        for route in table.routes:
            using.setdefault(route.name, []).append(ep_name)
    enabled = build.routers if build is not None else {}

    router_configs = [(f"{n}@file", r) for n, r in (dynamic.http.routers.items() if dynamic else ())]
    router_configs += [(f"{n}@internal", r) for n, r in hub.parts.routers.items()]
    routers: dict[str, dict[str, Any]] = {}
    service_users: dict[str, list[str]] = {}
    middleware_users: dict[str, list[str]] = {}
    for name, config in router_configs:
        info = dump(config)
        provider = name.partition("@")[2]
        if config.service:  # Traefik qualifies a router's service with the router's provider
            info["service"] = config.service if "@" in config.service else f"{config.service}@{provider}"
        info.pop("priority", None)
        if config.priority:
            info["priority"] = config.priority
        own_errors = errors.get(("router", name), [])
        status = "disabled" if name not in enabled else ("warning" if own_errors else "enabled")
        if own_errors:
            info["error"] = own_errors
        info["status"] = status
        if name in using:
            info["using"] = sorted(using[name])
        routers[name] = info
        if config.service:
            service = config.service if "@" in config.service else f"{config.service}@{provider}"
            service_users.setdefault(service, []).append(name)
        for middleware in config.middlewares:
            reference = middleware if "@" in middleware else f"{middleware}@{provider}"
            middleware_users.setdefault(reference, []).append(name)

    services: dict[str, dict[str, Any]] = {}
    for local, config in dynamic.http.services.items() if dynamic else ():
        name = f"{local}@file"
        own_errors = errors.get(("service", name), [])
        info = _row(config, own_errors, service_users.get(name))
        if config.load_balancer is not None and not own_errors:
            override = gateway.service_overrides.get(local)
            urls = [override] if override else [server.url for server in config.load_balancer.servers]
            info["serverStatus"] = {url: "UP" for url in urls}
        services[name] = info
    for name in hub.parts.services:
        services[name] = _row(None, [], service_users.get(name))

    middlewares: dict[str, dict[str, Any]] = {}
    middleware_configs = [(f"{n}@file", m) for n, m in (dynamic.http.middlewares.items() if dynamic else ())]
    middleware_configs += [(f"{n}@internal", m) for n, m in hub.parts.middlewares.items()]
    for name, config in middleware_configs:
        middlewares[name] = _row(config, errors.get(("middleware", name), []), middleware_users.get(name))
    return RuntimeView(routers, services, middlewares)


def _type_of(info: dict[str, Any], candidates: tuple[str, ...]) -> str:
    return next((key.lower() for key in info if key in candidates), "")


SERVICE_TYPES = ("loadBalancer", "weighted", "mirroring", "failover", "highestRandomWeight")
REPRESENTATION_KEYS = ("status", "usedBy", "using", "error", "serverStatus")


def _representation(name: str, info: dict[str, Any], kind: str) -> dict[str, Any]:
    result = {**info, "name": name, "provider": name.partition("@")[2]}
    if kind == "router":
        result["priorityStr"] = str(info.get("priority", 0))
    elif kind == "service":
        if kind_name := _type_of(info, SERVICE_TYPES):
            result["type"] = kind_name
    else:
        kind_name = next((key.lower() for key in info if key not in REPRESENTATION_KEYS), "")
        if kind_name:
            result["type"] = kind_name
    return result


class Api:
    """`api@internal`: GET-only routes under `api.basePath`."""

    def __init__(self, hub: Observability) -> None:
        self.hub = hub
        base = hub.static.api.base_path if hub.static.api is not None else "/"
        self.base = base.rstrip("/")
        self.started = time.time()
        self._view: tuple[object, RuntimeView] | None = None
        self.dashboard: Dashboard | None = None  # set when api.dashboard is on
        self.routes: list[tuple[str, Callable[..., Reply]]] = [
            ("/api/rawdata", self.rawdata),
            ("/api/overview", self.overview),
            ("/api/version", self.version),
            ("/api/entrypoints", self.entry_points),
            ("/api/http/routers", self.listing("routers", "router")),
            ("/api/http/services", self.listing("services", "service")),
            ("/api/http/middlewares", self.listing("middlewares", "middleware")),
        ]

    def view(self) -> RuntimeView:
        build = self.hub.gateway.last_build
        if self._view is None or self._view[0] is not build:
            self._view = (build, runtime_view(self.hub))
        return self._view[1]

    def __call__(self, req: RequestHead) -> Any:
        path = req.path
        if self.dashboard is not None:  # Traefik's dashboard.Append: basePath redirects, basePath/dashboard/...
            answer = self._dashboard(req)
            if answer is not None:
                return answer
        if self.base:
            if not path.startswith(self.base + "/"):
                return _not_found()
            path = path[len(self.base) :]
        query = parse_qs(req.query or "", keep_blank_values=True)
        params = {key: values[0] for key, values in query.items()}
        for prefix in ("/api/tcp/", "/api/udp/"):
            if path.startswith(prefix):
                if req.method != "GET":
                    return Reply(405)
                return _json([]) if path.count("/") == 3 else _error("not found", 404)
        for route, handler in self.routes:
            if path == route:
                return handler(params) if req.method == "GET" else Reply(405)
            if path.startswith(route + "/") and route in (
                "/api/entrypoints",
                "/api/http/routers",
                "/api/http/services",
                "/api/http/middlewares",
            ):
                ident = path[len(route) + 1 :]
                if "/" in ident or not ident:
                    return _not_found()
                if req.method != "GET":
                    return Reply(405)
                return handler(params, unquote(ident))
        return _not_found()

    def _dashboard(self, req: RequestHead) -> Any:
        assert self.dashboard is not None
        base = self.hub.static.api.base_path if self.hub.static.api is not None else "/"
        dashboard = self.base + "/dashboard/"
        if req.path == base and req.method == "GET":
            prefix = req.headers.get("x-forwarded-prefix") or ""
            parts = urlsplit(prefix)
            if parts.scheme or parts.netloc:
                prefix = ""  # an absolute URL is refused, as Traefik does
            return Reply(302, [("Location", prefix.rstrip("/") + dashboard)])
        if req.path.startswith(dashboard):
            return self.dashboard.answer(req, req.path[len(dashboard) - 1 :])
        return None

    # -- handlers -------------------------------------------------------------------------------------
    def rawdata(self, params: dict[str, str]) -> Reply:
        view = self.view()
        return _json(
            {
                key: value
                for key, value in (
                    ("routers", view.routers),
                    ("middlewares", view.middlewares),
                    ("services", view.services),
                )
                if value
            }
        )

    def overview(self, params: dict[str, str]) -> Reply:
        view = self.view()

        def section(items: dict[str, dict[str, Any]]) -> dict[str, int]:
            statuses = [item.get("status") for item in items.values()]
            return {"total": len(items), "warnings": statuses.count("warning"), "errors": statuses.count("disabled")}

        static = self.hub.static
        empty = {"total": 0, "warnings": 0, "errors": 0}
        providers = [name for name, value in (("File", static.providers.file),) if value is not None]
        result: dict[str, Any] = {
            "http": {
                "routers": section(view.routers),
                "services": section(view.services),
                "middlewares": section(view.middlewares),
            },
            "tcp": {"routers": empty, "services": empty, "middlewares": empty},
            "udp": {"routers": empty, "services": empty},
            "features": {
                "tracing": "",
                "metrics": "Prometheus" if self.hub.metrics is not None else "",
                "accessLog": static.access_log is not None,
            },
        }
        if providers:
            result["providers"] = providers
        return _json(result)

    def version(self, params: dict[str, str]) -> Reply:
        api = self.hub.static.api
        result: dict[str, Any] = {
            "Version": VERSION,
            "Codename": CODENAME,
            "startDate": datetime.fromtimestamp(self.started, UTC).astimezone().isoformat(),
        }
        if api is not None and api.disable_dashboard_ad:
            result["disableDashboardAd"] = True
        if api is not None and api.dashboard_name:
            result["dashboardName"] = api.dashboard_name
        return _json(result)

    def entry_points(self, params: dict[str, str], ident: str | None = None) -> Reply:
        eps = {name: {**dump(ep), "name": name} for name, ep in self.hub.static.entry_points.items()}
        if ident is not None:
            if ident not in eps:
                return _error(f"entry point not found: {ident}", 404)
            return _json(eps[ident])
        return _page([eps[name] for name in sorted(eps)], params)

    def listing(self, attribute: str, kind: str) -> Callable[..., Reply]:
        def handler(params: dict[str, str], ident: str | None = None) -> Reply:
            items: dict[str, dict[str, Any]] = getattr(self.view(), attribute)
            if ident is not None:
                if ident not in items:
                    return _error(f"{kind} not found: {ident}", 404)
                return _json(_representation(ident, items[ident], kind))
            results = [
                _representation(name, info, kind) for name, info in items.items() if _keep(name, info, kind, params)
            ]
            _sort(results, params, kind)
            return _page(results, params)

        return handler


def _keep(name: str, info: dict[str, Any], kind: str, params: dict[str, str]) -> bool:
    """Traefik's searchCriterion: status, search (in the name, and a router's rule), serviceName and
    middlewareName (routers only)."""
    status, search = params.get("status", ""), params.get("search", "").lower()
    if status and info.get("status", "").lower() != status.lower():
        return False
    haystack = [name, info.get("rule", "")] if kind == "router" else [name]
    if search and not any(search in value.lower() for value in haystack):
        return False
    if kind == "router":
        wanted = params.get("serviceName", "")
        service = info.get("service", "")
        if wanted and (wanted != service if "@" in service else wanted.partition("@")[0] != service):
            return False
        middleware = params.get("middlewareName", "")
        if middleware and middleware not in info.get("middlewares", []):
            return False
    return True


def _sort(results: list[dict[str, Any]], params: dict[str, str], kind: str) -> None:
    by = params.get("sortBy", "name")
    keys: dict[str, Callable[[dict[str, Any]], Any]] = {
        "name": lambda r: r["name"],
        "provider": lambda r: r["provider"],
        "status": lambda r: r.get("status", ""),
        "priority": lambda r: r.get("priority", 0),
        "rule": lambda r: r.get("rule", ""),
        "service": lambda r: r.get("service", ""),
        "entryPoints": lambda r: len(r.get("entryPoints", [])),
        "type": lambda r: r.get("type", ""),
    }
    key = keys.get(by, keys["name"])
    results.sort(key=lambda r: (key(r), r["name"]), reverse=params.get("direction", "asc") == "desc")


def _page(results: list[Any], params: dict[str, str]) -> Reply:
    """Traefik's pagination: `per_page` (100), `page` (1); X-Next-Page is the next page, or 1 on the last."""
    try:
        per_page = _positive(params, "per_page", DEFAULT_PER_PAGE)
        page = _positive(params, "page", 1)
    except ValueError as exc:
        return _error(str(exc), 400)
    start = (page - 1) * per_page
    if start != 0 and start >= len(results):
        return _error(f"invalid request: page: {page}, per_page: {per_page}", 400)
    next_page = page + 1 if page * per_page < len(results) else 1
    reply = _json(results[start : start + per_page])
    reply.headers.append((NEXT_PAGE, str(next_page)))
    return reply


def _positive(params: dict[str, str], key: str, default: int) -> int:
    raw = params.get(key, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"invalid request: {key}: {value}")
    return value


def _json(value: Any) -> Reply:
    body = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    body = body.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")  # as Go's encoder
    return Reply(200, list(JSON), (body + "\n").encode())


def _error(message: str, status: int) -> Reply:
    """Traefik's writeError: http.Error with a JSON body (so Content-Type is text/plain)."""
    body = json.dumps({"message": message}) + "\n"
    return Reply(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")], body.encode()
    )


def _not_found() -> Reply:
    return Reply(
        404,
        [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")],
        b"404 page not found\n",
    )
