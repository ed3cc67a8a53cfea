"""RouteTable: Traefik's router order (pkg/muxer/http/mux.go, mux_test.go Test_addRoutePriority), explain."""

from __future__ import annotations

import dataclasses

import pytest

from proxy.message import HeaderList, RequestHead
from proxy.routing import Route, RouteTable
from proxy.rules import compile_rule, effective_priority


def route(name: str, rule: str, priority: int = 0) -> Route:
    return Route(name, effective_priority(priority, rule), compile_rule(rule), f"target-{name}")


def request(path: str, host: str = "example.com", method: str = "GET") -> RequestHead:
    path, qmark, query = path.partition("?")
    return RequestHead(method, path, query if qmark else None, HeaderList(), host=host, client_ip="127.0.0.1")


@pytest.mark.parametrize(
    ("path", "routes", "want"),
    [
        pytest.param(
            "/my", [("h1", "PathPrefix(`/my`)", 10), ("h2", "PathPrefix(`/my`)", 20)], "h2", id="higher-priority-second"
        ),
        pytest.param(
            "/my", [("h1", "PathPrefix(`/my`)", 20), ("h2", "PathPrefix(`/my`)", 10)], "h1", id="higher-priority-first"
        ),
        pytest.param(
            "/mypath",
            [("h1", "PathPrefix(`/mypath`)", 10), ("h2", "PathPrefix(`/my`)", 20)],
            "h2",
            id="higher-priority-shorter-rule",
        ),
        pytest.param(
            "/mypath",
            [("h1", "PathPrefix(`/mypath`)", 0), ("h2", "PathPrefix(`/my`)", 0)],
            "h1",
            id="longest-rule-first",
        ),
        pytest.param(
            "/mypath",
            [("h1", "PathPrefix(`/my`)", 0), ("h2", "PathPrefix(`/mypath`)", 0)],
            "h2",
            id="longest-rule-second",
        ),
        pytest.param(
            "/mypath",
            [("h1", "PathPrefix(`/my`)", 0), ("h2", "PathPrefix(`/mypa`)", 0), ("h3", "PathPrefix(`/mypath`)", 0)],
            "h3",
            id="longest-rule-third",
        ),
        pytest.param(
            "/my", [("h1", "PathPrefix(`/my`)", 10), ("h2", "PathPrefix(`/my`)", 10)], "h1", id="tie-keeps-input-order"
        ),
        pytest.param(
            "/my",
            [("h2", "PathPrefix(`/my`)", 10), ("h1", "PathPrefix(`/my`)", 10)],
            "h2",
            id="tie-keeps-input-order-reversed",
        ),
        pytest.param(
            "/x", [("neg", "PathPrefix(`/`)", -5), ("low", "Path(`/y`)", 1)], "neg", id="negative-priority-still-served"
        ),
    ],
)
def test_priority_order(path: str, routes: list[tuple[str, str, int]], want: str) -> None:
    table = RouteTable(route(*spec) for spec in routes)
    found = table.match(request(path))
    assert found is not None and found.name == want


def test_docs_priority_example() -> None:
    # rules-and-priority.md: the longer HostRegexp rule wins unless priorities are set.
    by_length = RouteTable(
        [route("r1", "HostRegexp(`[a-z]+\\.traefik\\.com`)"), route("r2", "Host(`foobar.traefik.com`)")]
    )
    explicit = RouteTable(
        [route("r1", "HostRegexp(`[a-z]+\\.traefik\\.com`)", 1), route("r2", "Host(`foobar.traefik.com`)", 2)]
    )
    assert by_length.match(request("/", "foobar.traefik.com")).name == "r1"
    assert explicit.match(request("/", "foobar.traefik.com")).name == "r2"


def test_catch_all_fallback_and_no_match() -> None:
    table = RouteTable(
        [
            route("specific", "Host(`app.test`)"),
            route("api", "Host(`app.test`) && PathPrefix(`/api`)"),
            route("fallback", "PathPrefix(`/`)", 1),
        ]
    )
    assert table.match(request("/api/x", "app.test")).name == "api"
    assert table.match(request("/web", "app.test")).name == "specific"
    assert table.match(request("/x", "unknown.test")).name == "fallback"
    assert RouteTable([route("only", "Host(`app.test`)")]).match(request("/", "other.test")) is None


def test_wildcard_and_trailing_dot_hosts_are_found_through_the_index() -> None:
    table = RouteTable(
        [
            route("wild", "Host(`*.example.com`)"),
            route("dot", "Host(`dot.test.`)"),
            route("exact", "Host(`a.example.com`) && Path(`/only`)"),
        ]
    )
    assert table.match(request("/", "b.example.com")).name == "wild"
    assert table.match(request("/only", "a.example.com")).name == "exact"
    assert table.match(request("/", "a.example.com.")).name == "wild"
    assert table.match(request("/", "dot.test")).name == "dot"
    assert table.match(request("/", "DOT.test.:80")).name == "dot"
    assert table.match(request("/", "example.com")) is None


def test_table_is_immutable() -> None:
    table = RouteTable([route("a", "Host(`a.test`)")])
    with pytest.raises(AttributeError):
        table.extra = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        table.routes[0].priority = 5
    assert isinstance(table.routes, tuple) and len(table) == 1
