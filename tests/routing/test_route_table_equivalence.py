"""The indexed RouteTable returns exactly what a linear scan in Traefik's order returns (seeded random),
and the index hints of every rule are sound (a rule never matches a request its hints exclude).
"""

from __future__ import annotations

import random

import pytest

from proxy.message import HeaderList, RequestHead
from proxy.routing import Route, RouteTable
from proxy.rules import MatchRequest, compile_rule, effective_priority
from proxy.rules.matchers import request_host_keys

HOSTS = ["a.test", "b.test", "c.test", "x.a.test", "A.Test", "a.test.", "d.test:8080", "[::1]", "", "*"]
HOST_EXPRS = ["a.test", "b.test", "c.test", "*.a.test", "a.test.", "d.test", "::1", "*", "B.TEST"]
PATHS = ["/", "/api", "/api/v1", "/apiv2", "/css/main.css", "/a%2Fb", "/a/b", "/foo%20bar", "/x", "/bad%zz"]
PATH_ARGS = ["/", "/api", "/api/", "/css", "/a/b", "/a%2Fb", "/foo bar", "/x", "/zzz"]


def random_leaf(rng: random.Random) -> str:
    kind = rng.choice(
        [
            "Host",
            "Host",
            "Host",
            "PathPrefix",
            "PathPrefix",
            "Path",
            "Method",
            "Header",
            "Query",
            "HostRegexp",
            "PathRegexp",
            "ClientIP",
        ]
    )
    if kind == "Host":
        return f"Host(`{rng.choice(HOST_EXPRS)}`)"
    if kind in ("Path", "PathPrefix"):
        return f"{kind}(`{rng.choice(PATH_ARGS)}`)"
    return {
        "Method": f"Method(`{rng.choice(['GET', 'POST'])}`)",
        "Header": f"Header(`X-Env`, `{rng.choice(['prod', 'dev'])}`)",
        "Query": f"Query(`q`, `{rng.choice(['1', '2'])}`)",
        "HostRegexp": f"HostRegexp(`^{rng.choice(['a', 'b', '[a-z]+'])}\\.test$`)",
        "PathRegexp": f"PathRegexp(`^/{rng.choice(['api', 'css', 'a'])}`)",
        "ClientIP": f"ClientIP(`{rng.choice(['127.0.0.1', '10.0.0.0/8'])}`)",
    }[kind]


def random_rule(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth >= 2 or roll < 0.35:
        return random_leaf(rng)
    if roll < 0.45:
        return f"!{random_rule(rng, depth + 1)}" if rng.random() < 0.5 else f"!({random_rule(rng, depth + 1)})"
    operator = "&&" if roll < 0.8 else "||"
    return f"({random_rule(rng, depth + 1)} {operator} {random_rule(rng, depth + 1)})"


def random_request(rng: random.Random) -> RequestHead:
    headers = HeaderList([("X-Env", rng.choice(["prod", "dev"]))] if rng.random() < 0.5 else [])
    query = rng.choice([None, "q=1", "q=2", "q=1&q=2", ""])
    return RequestHead(
        rng.choice(["GET", "POST"]),
        rng.choice(PATHS),
        query,
        headers,
        host=rng.choice(HOSTS),
        client_ip=rng.choice(["127.0.0.1", "10.1.2.3", "::1"]),
    )


def linear_match(routes: list[Route], req: RequestHead) -> Route | None:
    for candidate in sorted(routes, key=lambda r: -r.priority):  # stable: ties keep input order
        if candidate.rule.match(req):
            return candidate
    return None


def build_routes(rng: random.Random, count: int) -> list[Route]:
    routes = []
    for index in range(count):
        text = random_rule(rng)
        priority = rng.choice([0, 0, 0, 1, 5, 5, 100, -1])  # 0 = default length priority; many ties
        routes.append(Route(f"r{index}", effective_priority(priority, text), compile_rule(text), index))
    return routes


@pytest.mark.parametrize("seed", range(6))
def test_table_equals_linear_scan(seed: int) -> None:
    rng = random.Random(seed)
    routes = build_routes(rng, 300)
    requests = [random_request(rng) for _ in range(400)]
    # The whole mix, and only the indexed routes (so that some requests match nothing).
    indexed = [r for r in routes if r.rule.hosts is not None or r.rule.path_prefixes is not None]
    for subset in (routes, indexed):
        table = RouteTable(subset)
        outcomes = set()
        for req in requests:
            want = linear_match(subset, req)
            assert table.match(req) is want, (req, want)
            outcomes.add(None if want is None else want.name)
    # With only indexed routes, many different routers win and some requests match none.
    assert None in outcomes and len(outcomes) > 5


@pytest.mark.parametrize("seed", range(3))
def test_index_hints_are_sound(seed: int) -> None:
    rng = random.Random(100 + seed)
    rules = [compile_rule(random_rule(rng)) for _ in range(300)]
    requests = [random_request(rng) for _ in range(150)]
    constrained = 0
    for rule in rules:
        constrained += rule.hosts is not None or rule.path_prefixes is not None
        for req in requests:
            if not rule.match(req):
                continue
            view = MatchRequest(req)
            if rule.hosts is not None:
                assert set(request_host_keys(view.host, wildcards=True)) & rule.hosts, (rule, req)
            if rule.path_prefixes is not None:
                assert view.path is not None and any(view.path.startswith(p) for p in rule.path_prefixes)
    assert constrained > 100


@pytest.mark.parametrize(
    ("rule", "hosts", "prefixes"),
    [
        pytest.param("Host(`A.test`)", {"a.test"}, None, id="host-lowercased"),
        pytest.param("Host(`a.test.`)", {"a.test.", "a.test"}, None, id="host-trailing-dot-both-keys"),
        pytest.param("Host(`*.a.test`)", {"*.a.test"}, None, id="wildcard-key"),
        pytest.param("Host(`*`)", None, None, id="catch-all-unconstrained"),
        pytest.param("Host(`a`) && PathPrefix(`/x`)", {"a"}, {"/x"}, id="and-both"),
        pytest.param("Host(`a`) || Host(`b`)", {"a", "b"}, None, id="or-union"),
        pytest.param("Host(`a`) || Path(`/x`)", None, None, id="or-half-constrained"),
        pytest.param("Path(`/x`) || PathPrefix(`/y`)", None, {"/x", "/y"}, id="or-paths"),
        pytest.param("!Host(`a`) && Path(`/x`)", None, {"/x"}, id="not-is-unconstrained"),
        pytest.param("!(Host(`a`) || Host(`b`))", None, None, id="negated-or"),
        pytest.param("HostRegexp(`^a$`) && Method(`GET`)", None, None, id="regexps-unconstrained"),
        pytest.param("PathPrefix(`/foo bar`)", None, {"/foo bar"}, id="prefix-literal"),
        pytest.param("(Host(`a`) && Host(`b`)) || Host(`c`)", {"a", "c"}, None, id="and-picks-one-side"),
    ],
)
def test_hint_values(rule: str, hosts: set[str] | None, prefixes: set[str] | None) -> None:
    compiled = compile_rule(rule)
    assert compiled.hosts == (None if hosts is None else frozenset(hosts))
    assert compiled.path_prefixes == (None if prefixes is None else frozenset(prefixes))


@pytest.mark.parametrize("seed", range(4))
def test_small_tables_equal_the_indexed_lookup(seed: int) -> None:
    """Up to four routes are tried in order (RouteTable._linear), not looked up through the indexes: the
    same table with its indexes forced gives the same route for every request."""
    rng = random.Random(200 + seed)
    for _ in range(60):
        routes = build_routes(rng, rng.randint(1, 4))
        linear, indexed = RouteTable(routes), RouteTable(routes)
        assert linear._linear is not None
        indexed._linear = None
        for req in (random_request(rng) for _ in range(20)):
            assert linear.match(req) is indexed.match(req) is linear_match(routes, req), req
