"""What the gateway would do with one request, step by step, without a client or an upstream connection:
the engine behind `python -m proxy explain`.

It runs the live path itself: `forwarder.dispatch.dispatch` on a real Exchange, then the Exchange's own
upstream head encoding. To see inside, it hands dispatch the entry point's runtime with two windows in it:
a route table that notes the request as it is routed and every router's verdict, and a plan whose
middlewares note the head before and after each of them. Nothing else differs, so the answer cannot drift
from what the gateway does (tests/server/test_trace.py compares both on real requests).
"""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from proxy.forwarder.context import EntryPointRuntime
from proxy.forwarder.dispatch import dispatch
from proxy.forwarder.exchange import Exchange
from proxy.forwarder.shape import request_shape
from proxy.message import HeaderList, Reply, RequestHead
from proxy.middlewares.base import Middleware
from proxy.routing.plan import RoutePlan
from proxy.routing.table import Route, RouteTable
from proxy.rules import MatchRequest


@dataclass
class Verdict:
    router: str
    priority: int
    rule: str
    matched: bool


@dataclass
class Step:
    middleware: str  # its type, as the plan runs it (chains are run as their members)
    path_before: str
    path_after: str
    added: list[tuple[str, str]]
    removed: list[tuple[str, str]]
    answer: Reply | None = None
    waited: bool = False


@dataclass
class Trace:
    entry_point: str
    method: str
    target: str
    host: str
    routed_path: str = ""  # the path the rules saw (after the entry point's normalisation)
    # What the entry point's forwarded-headers stage did before routing (X-Forwarded-* kept or dropped).
    forwarded_added: list[tuple[str, str]] = field(default_factory=list)
    forwarded_removed: list[tuple[str, str]] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    router: str | None = None
    middlewares: tuple[str, ...] = ()  # the router's middleware names, as configured
    steps: list[Step] = field(default_factory=list)
    service: str | None = None
    server: str | None = None
    upstream_head: str | None = None  # exactly what the upstream would receive (without the body)
    answer: Reply | None = None  # what the gateway answers itself, when it does
    detail: str = ""


class _NotingTable:
    """The entry point's table, noting the routed request and every router's verdict (`match` unchanged)."""

    def __init__(
        self, table: RouteTable, trace: Trace, plans: dict[str, RoutePlan], sent: list[tuple[str, str]]
    ) -> None:
        self.table, self.trace, self.plans, self.sent = table, trace, plans, sent

    def match(self, req: RequestHead) -> Route | None:
        view = MatchRequest(req)
        self.trace.routed_path = req.path
        routed = list(req.headers.items)
        self.trace.forwarded_added = [h for h in routed if h not in self.sent]
        self.trace.forwarded_removed = [h for h in self.sent if h not in routed]
        self.trace.verdicts = [
            Verdict(route.name, route.priority, route.rule.text, bool(route.rule.match_view(view)))
            for route in self.table.routes
        ]
        route = self.table.match(req)
        if route is None:
            return None
        plan: RoutePlan = route.target  # type: ignore[assignment]
        watched = RoutePlan.build(
            plan.router,
            [(type(m).__name__, _Watched(m, self.trace)) for m in plan.middlewares],
            plan.service,
            plan.service_name,
            plan.overrides,
        )
        self.plans[plan.router] = plan
        return replace(route, target=replace(watched, middleware_names=plan.middleware_names, retry=plan.retry))


class _Watched(Middleware):
    """One middleware of the plan, run as it is, with the head noted before and after."""

    def __init__(self, inner: Middleware, trace: Trace) -> None:
        self.inner, self.trace = inner, trace
        for name in Middleware.__annotations__:  # every capability the plan reads, as the inner one has it
            setattr(self, name, getattr(inner, name))

    def on_request(self, req: RequestHead) -> Any:
        before = (req.path, list(req.headers.items))
        result = self.inner.on_request(req)
        if result is not None and not isinstance(result, Reply) and inspect.isawaitable(result):
            return self._after_wait(req, before, result)
        self._note(req, before, result, waited=False)
        return result

    async def _after_wait(self, req: RequestHead, before: tuple[str, list[tuple[str, str]]], awaitable: Any) -> Any:
        result = await awaitable
        self._note(req, before, result, waited=True)
        return result

    def _note(
        self, req: RequestHead, before: tuple[str, list[tuple[str, str]]], answer: Reply | None, waited: bool
    ) -> None:
        path, headers = before
        after = list(req.headers.items)
        self.trace.steps.append(
            Step(
                type(self.inner).__name__,
                path,
                req.path,
                [h for h in after if h not in headers],
                [h for h in headers if h not in after],
                answer,
                waited,
            )
        )

    def on_response(self, req: RequestHead, status: int, headers: HeaderList) -> None:
        self.inner.on_response(req, status, headers)

    def response_filter(self, req: RequestHead, status: int, headers: HeaderList) -> Any:
        return self.inner.response_filter(req, status, headers)

    def request_body_limits(self) -> tuple[int, int]:
        return self.inner.request_body_limits()

    def __getattr__(self, name: str) -> Any:  # response filters and the like: the inner middleware's own
        return getattr(self.inner, name)


def request_head(
    method: str, url: str, headers: list[tuple[str, str]], entry_point: str, scheme: str, client_ip: str
) -> RequestHead:
    """The head the client connection would build for `method url` with `headers` (Host from the URL
    unless given)."""
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    names = [name.lower() for name, _ in headers]
    items = list(headers) if "host" in names else [("Host", parts.netloc), *headers]
    host = next(value for name, value in items if name.lower() == "host")
    return RequestHead(method.upper(), target, None, HeaderList(items), host, client_ip, scheme, "1.1", entry_point)


async def trace(
    runtime: EntryPointRuntime,
    method: str,
    url: str,
    headers: list[tuple[str, str]] | None = None,
    client_ip: str = "127.0.0.1",
) -> Trace:
    """Run one request through `runtime` as the gateway would, and say what happened at each step."""
    head = request_head(method, url, list(headers or []), runtime.name, runtime.scheme, client_ip)
    result = Trace(runtime.name, head.method, head.path, head.host)
    plans: dict[str, RoutePlan] = {}
    window = replace(
        runtime,
        table=_NotingTable(
            runtime.table,
            result,
            plans,  # type: ignore[arg-type]
            list(head.headers.items),
        ),
    )
    names = [name.encode("latin-1") for name, _ in head.headers.items]
    lengths = head.headers.get("content-length")
    exchange = Exchange(
        None,
        head,
        True,
        bool(lengths and lengths.strip() not in ("", "0")),  # type: ignore[arg-type]
        False,
        head.path,
    )
    dispatch(exchange, window, request_shape(names))
    if exchange.stage is not None:  # a middleware waits (forwardAuth asks its server...): as the gateway would
        await exchange.stage
    if exchange.plan is not None:
        plan = plans.get(exchange.plan.router, exchange.plan)
        result.router, result.middlewares, result.service = plan.router, plan.middleware_names, plan.service_name
    result.detail = exchange.detail
    if exchange.reply is not None:
        result.answer = exchange.reply
    elif exchange.server is not None:
        result.server = exchange.server.url
        result.upstream_head = exchange._request_head_bytes().decode("latin-1")
    return result


def run_trace(
    runtime: EntryPointRuntime,
    method: str,
    url: str,
    headers: list[tuple[str, str]] | None = None,
    client_ip: str = "127.0.0.1",
) -> Trace:
    return asyncio.run(trace(runtime, method, url, headers, client_ip))
