"""loadBalancer strategies (Traefik pkg/server/service/loadbalancer/{wrr,p2c,hrw,leasttime}/*_test.go) through
a gateway and ControlledUpstreams."""

from __future__ import annotations

import asyncio
import math

import httpx
import pytest
from svc_helpers import routes, servers, until

from proxy import Gateway
from proxy.config.errors import ConfigError
from proxy.services.strategies import fnv1a64


async def names(gw: Gateway, count: int, path: str = "/") -> list[str]:
    async with httpx.AsyncClient(base_url=gw.url) as client:
        return [
            (r.text if r.status_code == 200 else str(r.status_code))
            for r in [await client.get(path) for _ in range(count)]
        ]


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        pytest.param([3, 1], {"a": 3, "b": 1}, id="weights-3-1"),  # wrr_test.go TestBalancer
        pytest.param([0, 1], {"b": 4}, id="one-server-zero-weight"),  # TestBalancerOneServerZeroWeight
    ],
)
async def test_wrr(upstreams, gateway, weights: list[int], expected: dict[str, int]) -> None:
    a, b = await upstreams("a", "b")
    gw = await gateway(
        routes(
            {
                "svc": {
                    "loadBalancer": {
                        "servers": [{"url": a.url, "weight": weights[0]}, {"url": b.url, "weight": weights[1]}]
                    }
                }
            }
        )
    )
    got = await names(gw, 4)
    assert {name: got.count(name) for name in set(got)} == expected


async def test_all_weights_zero_is_503(upstreams, gateway) -> None:
    """wrr_test.go TestBalancerAllServersZeroWeight."""
    (a,) = await upstreams("a")
    gw = await gateway(routes({"svc": {"loadBalancer": {"servers": [{"url": a.url, "weight": 0}]}}}))
    assert await names(gw, 1) == ["503"]


def test_fnv1a64_vectors() -> None:
    assert fnv1a64(b"") == 0xCBF29CE484222325
    assert fnv1a64(b"a") == 0xAF63DC4C8601EC8C
    assert fnv1a64(b"foobar") == 0x85944171F73967E8


def expected_hrw(ip: str, urls: list[str], weights: list[int]) -> str:
    """The rendezvous choice written out from hrw.go's getNodeScore, independently of the proxy's code."""

    def score(url: str, weight: int) -> float:
        h = 0xCBF29CE484222325
        for byte in (ip + url).encode():
            h = ((h ^ byte) * 0x100000001B3) % 2**64
        return weight / -math.log(h / 2**64)

    return max(zip(urls, weights, strict=True), key=lambda pair: score(*pair))[0]


async def test_hrw_sticks_by_client_ip_and_moves_when_down(upstreams, gateway) -> None:
    """hrw_test.go TestBalancer/TestBalancerOneServerDown: one client IP, one server; down -> the next best."""
    ups = await upstreams("a", "b", "c")
    gw = await gateway(
        routes(
            {
                "svc": {
                    "loadBalancer": {
                        "strategy": "hrw",
                        "servers": [{"url": u.url, "weight": w} for u, w in zip(ups, (1, 2, 3), strict=True)],
                        "healthCheck": {"path": "/health", "interval": "40ms"},
                    }
                }
            }
        )
    )
    urls = [u.url for u in ups]
    best = expected_hrw("127.0.0.1", urls, [1, 2, 3])
    chosen = next(u for u in ups if u.url == best)
    assert await names(gw, 5) == [chosen.name] * 5
    chosen.health_status = 500
    await until(lambda: best in gw.last_build.services["svc"].down)
    rest = [(u, w) for u, w in zip(ups, (1, 2, 3), strict=True) if u is not chosen]
    second = expected_hrw("127.0.0.1", [u.url for u, _ in rest], [w for _, w in rest])
    assert await names(gw, 3) == [next(u.name for u, _ in rest if u.url == second)] * 3
    chosen.health_status = 200
    await until(lambda: not gw.last_build.services["svc"].down)
    assert await names(gw, 2) == [chosen.name] * 2


async def test_hrw_ignores_sticky_with_a_warning(upstreams) -> None:
    (a,) = await upstreams("a")
    gw = Gateway(
        routes({"svc": {"loadBalancer": {"strategy": "hrw", "servers": servers(a), "sticky": {"cookie": {}}}}})
    )
    assert any("sticky is ignored with strategy 'hrw'" in p for p in gw.problems)


async def test_p2c_prefers_the_server_with_fewer_requests_in_flight(upstreams, gateway) -> None:
    """p2c_test.go TestP2C "chooses lower of two": a slow server keeps its request in flight, the rest go to
    the other (round robin would send it half of them)."""
    slow, fast = await upstreams("slow", "fast")
    slow.delay = 0.8
    gw = await gateway(routes({"svc": {"loadBalancer": {"strategy": "p2c", "servers": servers(slow, fast)}}}))
    async with httpx.AsyncClient(base_url=gw.url, timeout=5) as client:
        tasks = []
        for _ in range(10):
            tasks.append(asyncio.ensure_future(client.get("/")))
            await asyncio.sleep(0.05)
        answers = [r.text for r in await asyncio.gather(*tasks)]
    assert answers.count("slow") <= 2, answers  # round robin: 5
    assert gw.last_build.services["svc"].inflight == {"slow": 0, "fast": 0} or set(
        gw.last_build.services["svc"].inflight.values()
    ) == {0}


async def test_p2c_weights_are_ignored_with_a_warning(upstreams) -> None:
    a, b = await upstreams("a", "b")
    gw = Gateway(
        routes({"svc": {"loadBalancer": {"strategy": "p2c", "servers": [{"url": a.url, "weight": 0}, {"url": b.url}]}}})
    )
    assert any("weight is ignored by strategy 'p2c'" in p for p in gw.problems)
    assert len(gw.last_build.services["svc"].names) == 2  # even a zero weight keeps the server (as Traefik)


async def test_leasttime_sends_to_the_faster_server(upstreams, gateway) -> None:
    """leasttime_test.go TestFastServerGetsMoreTraffic: once both are timed, the fast one takes the load."""
    slow, fast = await upstreams("slow", "fast")
    slow.delay = 0.15
    gw = await gateway(routes({"svc": {"loadBalancer": {"strategy": "leasttime", "servers": servers(slow, fast)}}}))
    got = await names(gw, 10)
    assert got.count("slow") <= 1, got
    balancer = gw.last_build.services["svc"]
    assert balancer.average(slow.url) >= 150
    assert set(balancer.inflight.values()) == {0}


@pytest.mark.parametrize(
    ("servers_", "times", "expected"),
    [
        pytest.param(
            [("s1", 1), ("s2", 1), ("s3", 1)], [5.0, 5.0, 5.0], {"s1": 30, "s2": 30, "s3": 30}, id="same-score"
        ),  # leasttime_test.go TestMultipleServersWithSameScore
        pytest.param(
            [("weighted", 3), ("normal", 1)], [15.0, 5.0], {"weighted": 60, "normal": 20}, id="weighted-tie-breaking"
        ),  # TestWRRTieBreakingWeightedDistribution
        pytest.param([("slow", 1), ("fast", 1)], [20.0, 5.0], {"fast": 80}, id="lowest-score"),
    ],
)
def test_leasttime_scores(servers_, times, expected) -> None:
    from proxy.message import HeaderList, RequestHead
    from proxy.services.strategies import LeastTime

    balancer: LeastTime[str] = LeastTime("svc")
    for name, weight in servers_:
        balancer.add(name, name, weight)
    balancer.finish()
    for (name, _), ms in zip(servers_, times, strict=True):
        balancer.times[name].extend([ms] * 100)
    req = RequestHead("GET", "/", None, HeaderList())
    picks = [balancer._next(req)[0] for _ in range(sum(expected.values()))]
    for name, count in expected.items():
        assert abs(picks.count(name) - count) <= 1, picks


@pytest.mark.parametrize("strategy", ["p2c", "leasttime"])
async def test_sticky_with_other_strategies(upstreams, gateway, strategy: str) -> None:
    """p2c_test.go / leasttime_test.go TestSticky."""
    a, b = await upstreams("a", "b")
    gw = await gateway(
        routes(
            {
                "svc": {
                    "loadBalancer": {
                        "strategy": strategy,
                        "servers": servers(a, b),
                        "sticky": {"cookie": {"name": "s"}},
                    }
                }
            }
        )
    )
    async with httpx.AsyncClient(base_url=gw.url) as client:
        first = await client.get("/")
        assert first.headers["set-cookie"].startswith("s=")
        assert {(await client.get("/")).text for _ in range(5)} == {first.text}


async def test_unknown_strategy_is_an_error(upstreams) -> None:
    (a,) = await upstreams("a")
    with pytest.raises(ConfigError, match="unsupported load-balancer strategy 'random'"):
        Gateway(routes({"svc": {"loadBalancer": {"strategy": "random", "servers": servers(a)}}}), strict=True)


def test_a_plain_load_balancer_pays_nothing() -> None:
    """One server, no sticky, no health check: the lone server is returned without a strategy, and the
    route has no service response hook (so the as-is response head shortcut stays)."""
    gw = Gateway(routes({"svc": {"loadBalancer": {"servers": [{"url": "http://127.0.0.1:1"}]}}}))
    plan = gw.routers["r@file"]
    service = plan.service
    assert service._only is service.servers[0]
    assert plan.response_hooks == ()
    sticky = Gateway(
        routes({"svc": {"loadBalancer": {"servers": [{"url": "http://127.0.0.1:1"}], "sticky": {"cookie": {}}}}})
    )
    assert sticky.routers["r@file"].service._only is None
    assert len(sticky.routers["r@file"].response_hooks) == 1
