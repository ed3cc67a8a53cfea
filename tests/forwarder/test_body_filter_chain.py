"""The response side of plans with body filters: Traefik's order (innermost first, hooks and filters
interleaved), what answers pass back through, and that plans without filters stay on the plain path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from proxy import Gateway
from proxy.forwarder.filters import response_chain, stages_before
from proxy.message import HeaderList, RequestHead
from proxy.middlewares.base import Middleware
from proxy.middlewares.body import BodyFilter
from proxy.middlewares.chain import Chain
from proxy.routing.plan import RoutePlan

ROOT = Path(__file__).resolve().parents[2]


class Hook(Middleware):
    has_request_hook = False
    has_response_hook = True

    def __init__(self, name: str) -> None:
        self.name = name

    def on_response(self, req: RequestHead, status: int, headers: HeaderList) -> None:
        headers.add("X-Seen", self.name)


class Upper(Middleware):
    """A filter that upper-cases the body and says so in a header."""

    has_request_hook = False
    filters_response = True

    def __init__(self, name: str) -> None:
        self.name = name

    def response_filter(self, req: RequestHead, status: int, headers: HeaderList) -> BodyFilter | None:
        name = self.name

        class Filter(BodyFilter):
            def head(self, status: int, headers: HeaderList) -> None:
                headers.add("X-Seen", name)
                headers.remove("Content-Length")
                self.down.head(status, headers)

            def body(self, data: bytes) -> None:
                self.down.body(data.upper())

        return Filter()


class Recorder:
    """Where the chain ends: what the client would get (the Exchange's filtered_* calls)."""

    def __init__(self) -> None:
        self.head = RequestHead("GET", "/", None, HeaderList())
        self.got: list[Any] = []

    def filtered_head(self, status: int, headers: HeaderList) -> None:
        self.got.append((status, headers.get_all("x-seen")))

    def filtered_body(self, data: bytes) -> None:
        self.got.append(data)

    def filtered_end(self, trailers: list[tuple[bytes, bytes]]) -> None:
        self.got.append("end")

    def flush_to_client(self) -> None: ...


def plan_of(*middlewares: Middleware) -> RoutePlan:
    return RoutePlan.build("r@file", [(f"m{i}", m) for i, m in enumerate(middlewares)], None, "s")


def run(plan: RoutePlan, stages: Any = None) -> list[Any]:
    recorder = Recorder()
    sink = response_chain(recorder, plan.response_stages if stages is None else stages)
    sink.chain.head(200, HeaderList([("Content-Length", "2")]))
    sink.chain.body(b"ok")
    sink.chain.end([])
    return recorder.got


@pytest.mark.parametrize(
    ("middlewares", "seen", "body"),
    [
        pytest.param(["h1", "f1"], ["f1", "h1"], b"OK", id="filter nearest the service first"),
        pytest.param(["f1", "h1", "h2"], ["h2", "h1", "f1"], b"OK", id="hooks before an outer filter"),
        pytest.param(["h1", "f1", "h2", "f2", "h3"], ["h3", "f2", "h2", "f1", "h1"], b"OK", id="interleaved"),
    ],
)
def test_traefik_order(middlewares: list[str], seen: list[str], body: bytes) -> None:
    built = [Upper(n) if n.startswith("f") else Hook(n) for n in middlewares]
    assert run(plan_of(*built)) == [(200, seen), body, "end"]


def test_chain_members_take_their_own_places() -> None:
    plan = plan_of(Hook("h1"), Chain([Upper("f1"), Hook("h2")]), Hook("h3"))
    assert run(plan) == [(200, ["h3", "h2", "f1", "h1"]), b"OK", "end"]


def test_an_answer_passes_back_through_the_earlier_ones_only() -> None:
    plan = plan_of(Hook("h1"), Upper("f1"), Hook("h2"), Upper("f2"))
    earlier = stages_before(plan.response_stages, plan.middlewares[:2])  # m2 answered by itself
    assert run(plan, earlier) == [(200, ["f1", "h1"]), b"OK", "end"]


def test_plans_without_body_middlewares_stay_plain() -> None:
    plan = plan_of(Hook("h1"))
    assert not plan.sees_bodies and not plan.response_stages and not plan.relays_as_is
    assert plan_of().relays_as_is and not plan_of().sees_bodies
    assert plan_of(Upper("f")).sees_bodies and not plan_of(Upper("f")).relays_as_is


def test_the_guides_routes_do_not_see_bodies() -> None:
    gateway = Gateway(ROOT / "config" / "routes.toml", free_ports=True)
    plans = list(gateway.routers.values())
    assert plans and all(not plan.sees_bodies and plan.relays_as_is for plan in plans)


def test_the_service_hook_is_innermost_on_every_path() -> None:
    """Sticky cookies and the like: the service's own hook sees the response before any middleware."""
    plan = plan_of(Hook("h1"), Upper("f1")).with_service_hook(Hook("svc"))
    assert run(plan) == [(200, ["svc", "f1", "h1"]), b"OK", "end"]
    plain = plan_of().with_service_hook(Hook("svc"))
    assert not plain.relays_as_is and plain.response_hooks[0].name == "svc"
