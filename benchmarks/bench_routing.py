"""Time RouteTable.match for 10 vs 10,000 routers.

Run: python benchmarks/bench_routing.py   (from the project root; not collected by pytest)

Configurations: host-distinct routers (Host(`svcN.example.com`)), path-prefix-distinct routers
(PathPrefix(`/svcN`)), and, for honesty, the worst case where no router is indexable
(HeaderRegexp(`X-Svc`, `^N$`)), which degrades to a linear scan like Traefik's own muxer.
Each lookup hits a router near the end of Traefik's order (the worst position for a scan).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from proxy.message import HeaderList, RequestHead  # noqa: E402
from proxy.routing import Route, RouteTable  # noqa: E402
from proxy.rules import compile_rule, default_priority  # noqa: E402

SIZES = (10, 10_000)


def host_config(n: int) -> tuple[list[str], Callable[[int], RequestHead]]:
    rules = [f"Host(`svc{i}.example.com`)" for i in range(n)]
    return rules, lambda i: RequestHead("GET", "/x", None, HeaderList(), host=f"svc{i}.example.com")


def prefix_config(n: int) -> tuple[list[str], Callable[[int], RequestHead]]:
    rules = [f"PathPrefix(`/svc{i}`)" for i in range(n)]
    return rules, lambda i: RequestHead("GET", f"/svc{i}/x", None, HeaderList(), host="example.com")


def unindexed_config(n: int) -> tuple[list[str], Callable[[int], RequestHead]]:
    rules = [f"HeaderRegexp(`X-Svc`, `^{i}$`)" for i in range(n)]
    return rules, lambda i: RequestHead("GET", "/x", None, HeaderList([("X-Svc", str(i))]), host="example.com")


def time_lookups(rules: list[str], make_request: Callable[[int], RequestHead], budget: float) -> float:
    table = RouteTable(Route(f"r{i}", default_priority(rule), compile_rule(rule), i) for i, rule in enumerate(rules))
    # Requests for the routers Traefik tries last (lowest priority = shortest rules).
    targets = [route.target for route in table.routes[-5:]]
    requests = [make_request(target) for target in targets]
    for req in requests:
        assert table.match(req) is not None
    lookups, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < budget:
        for req in requests:
            table.match(req)
        lookups += len(requests)
    return elapsed / lookups * 1e9


def main() -> None:
    configs = [
        ("host-distinct", host_config),
        ("prefix-distinct", prefix_config),
        ("unindexed (worst case)", unindexed_config),
    ]
    print(f"{'configuration':<24}{'10 routers':>14}{'10,000 routers':>18}{'ratio':>9}")
    for label, build in configs:
        small, large = (time_lookups(*build(n), budget=0.3 if n == 10 else 1.0) for n in SIZES)
        print(f"{label:<24}{small:>11.0f} ns{large:>15.0f} ns{large / small:>8.1f}x")


if __name__ == "__main__":
    main()
