"""Services of services: weighted and highestRandomWeight with health propagation, failover, mirroring
(Traefik wrr_test.go TestBalancerPropagate, hrw_test.go, failover/failover_test.go, mirror/mirror_test.go)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from svc_helpers import routes, servers, until

from proxy import Gateway
from proxy.config.errors import ConfigError
from proxy.testing.upstreams import bound_socket

CHECK = {"path": "/health", "interval": "40ms", "timeout": "500ms"}


async def names(gw: Gateway, count: int) -> list[str]:
    async with httpx.AsyncClient(base_url=gw.url) as client:
        return [
            (r.text if r.status_code == 200 else f"{r.status_code} {r.text.strip()}")
            for r in [await client.get("/") for _ in range(count)]
        ]


def lb(*ups, check: bool = True) -> dict:
    return {"loadBalancer": {"servers": servers(*ups), **({"healthCheck": CHECK} if check else {})}}


async def test_weighted_propagation(upstreams, gateway) -> None:
    """wrr_test.go TestBalancerPropagate: a child with no healthy server leaves the parent's rotation."""
    a, b = await upstreams("a", "b")
    gw = await gateway(
        routes(
            {
                "svc": {"weighted": {"services": [{"name": "one"}, {"name": "two"}], "healthCheck": {}}},
                "one": lb(a),
                "two": lb(b),
            }
        )
    )
    assert sorted(await names(gw, 4)) == ["a", "a", "b", "b"]
    a.health_status = 500
    await until(lambda: "one" in gw.last_build.services["svc"].down)
    assert await names(gw, 3) == ["b"] * 3
    b.health_status = 500
    await until(lambda: "two" in gw.last_build.services["svc"].down)
    assert await names(gw, 1) == ["503 no available server"]
    assert "svc: one is down" in gw.explain()
    a.health_status = 200
    await until(lambda: "one" not in gw.last_build.services["svc"].down)
    assert await names(gw, 2) == ["a", "a"]


async def test_weighted_without_health_check_does_not_follow_children(upstreams, gateway) -> None:
    """Without healthCheck on the parent, a down child is still picked (and answers 503 itself)."""
    a, b = await upstreams("a", "b")
    gw = await gateway(
        routes({"svc": {"weighted": {"services": [{"name": "one"}, {"name": "two"}]}}, "one": lb(a), "two": lb(b)})
    )
    a.health_status = 500
    await until(lambda: bool(gw.last_build.services["one"].down))
    assert sorted(await names(gw, 4)) == ["503 no available server"] * 2 + ["b"] * 2


@pytest.mark.parametrize(
    ("services", "message"),
    [
        pytest.param(
            {"svc": {"weighted": {"services": [{"name": "one"}], "healthCheck": {}}}, "one": "nocheck"},
            "cannot register one as updater for svc@file: healthCheck not enabled in config for this WRR service",
            id="weighted-child-without-health-check",
        ),
        pytest.param(
            {"svc": {"highestRandomWeight": {"services": [{"name": "one"}], "healthCheck": {}}}, "one": "nocheck"},
            "cannot register one as updater for svc@file: healthCheck not enabled in config for this WRR service",
            id="hrw-child-without-health-check",
        ),
        pytest.param(
            {"svc": {"failover": {"service": "one", "fallback": "two"}}, "one": "nocheck", "two": "check"},
            "cannot register one as updater for svc@file: healthCheck not enabled",
            id="failover-main",
        ),
        pytest.param(
            {
                "svc": {"failover": {"service": "one", "fallback": "two", "healthCheck": {}}},
                "one": "check",
                "two": "nocheck",
            },
            "cannot register two as updater for svc@file",
            id="failover-fallback-with-health-check",
        ),
        pytest.param(
            {
                "svc": {"failover": {"service": "one", "fallback": "two", "errors": {"status": ["500-504"]}}},
                "one": "check",
                "two": "check",
            },
            "failover.errors is not supported",
            id="failover-errors-refused",
        ),
        pytest.param(
            {
                "svc": {"mirroring": {"service": "one", "mirrors": [{"name": "two", "percent": 101}]}},
                "one": "check",
                "two": "check",
            },
            "percent must be between 0 and 100",
            id="mirror-invalid-percent",
        ),  # TestInvalidPercent
    ],
)
async def test_build_errors(upstreams, services, message: str) -> None:
    (a,) = await upstreams("a")
    built = {
        name: (value if isinstance(value, dict) else lb(a, check=value == "check")) for name, value in services.items()
    }
    with pytest.raises(ConfigError, match=message):
        Gateway(routes(built), strict=True)


async def test_highest_random_weight_service(upstreams, gateway) -> None:
    """hrw_test.go: children chosen by the client's IP; a child that goes down hands over."""
    a, b = await upstreams("a", "b")
    gw = await gateway(
        routes(
            {
                "svc": {"highestRandomWeight": {"services": [{"name": "one"}, {"name": "two"}], "healthCheck": {}}},
                "one": lb(a),
                "two": lb(b),
            }
        )
    )
    first = await names(gw, 4)
    assert len(set(first)) == 1
    chosen = a if first[0] == "a" else b
    chosen.health_status = 500
    await until(lambda: bool(gw.last_build.services["svc"].down))
    assert set(await names(gw, 3)) == {"b" if chosen is a else "a"}


async def test_failover(upstreams, gateway) -> None:
    """failover_test.go TestFailover / TestFailoverDownThenUp / TestFailoverPropagate."""
    main, spare = await upstreams("main", "spare")
    gw = await gateway(
        routes(
            {
                "svc": {"failover": {"service": "one", "fallback": "two", "healthCheck": {}}},
                "one": lb(main),
                "two": lb(spare),
            }
        )
    )
    assert await names(gw, 2) == ["main", "main"]
    main.health_status = 500
    await until(lambda: not gw.last_build.services["svc"].main_up)
    assert await names(gw, 2) == ["spare", "spare"]
    spare.health_status = 500
    await until(lambda: not gw.last_build.services["svc"].fallback_up)
    assert await names(gw, 1) == ["503 Service Unavailable"]
    main.health_status = 200
    await until(lambda: gw.last_build.services["svc"].main_up)
    assert await names(gw, 1) == ["main"]


async def test_failover_inside_weighted_propagates(upstreams, gateway) -> None:
    """A failover with both sides down leaves a weighted parent's rotation."""
    main, spare, other = await upstreams("main", "spare", "other")
    gw = await gateway(
        routes(
            {
                "svc": {"weighted": {"services": [{"name": "fo"}, {"name": "three"}], "healthCheck": {}}},
                "fo": {"failover": {"service": "one", "fallback": "two", "healthCheck": {}}},
                "one": lb(main),
                "two": lb(spare),
                "three": lb(other),
            }
        )
    )
    main.health_status = spare.health_status = 500
    await until(lambda: "fo" in gw.last_build.services["svc"].down)
    assert await names(gw, 3) == ["other"] * 3


async def test_mirroring_on_100(upstreams, gateway) -> None:
    """mirror_test.go TestMirroringOn100: every request is copied; the main answer is the main service's."""
    main, copy = await upstreams("main", "copy")
    gw = await gateway(
        routes(
            {
                "svc": {"mirroring": {"service": "one", "mirrors": [{"name": "two", "percent": 100}]}},
                "one": lb(main, check=False),
                "two": lb(copy, check=False),
            }
        ),
        strict=False,
    )
    async with httpx.AsyncClient(base_url=gw.url) as client:
        for index in range(5):
            response = await client.get(f"/item/{index}?q=1", headers={"X-Test": "yes"})
            assert response.text == "main"
    await until(lambda: len(copy.received) == 5)
    assert [r.path_qs for r in copy.received] == [f"/item/{i}?q=1" for i in range(5)]
    assert copy.received[0].header("X-Test") == "yes"
    assert copy.received[0].header("X-Forwarded-For") == "127.0.0.1"
    assert copy.received[0].header("Host") == gw.url.removeprefix("http://")  # passHostHeader


async def test_mirroring_on_10(upstreams, gateway) -> None:
    """mirror_test.go TestMirroringOn10: 10 percent of 20 requests is 2 copies."""
    main, copy = await upstreams("main", "copy")
    gw = await gateway(
        routes(
            {
                "svc": {"mirroring": {"service": "one", "mirrors": [{"name": "two", "percent": 10}]}},
                "one": lb(main, check=False),
                "two": lb(copy, check=False),
            }
        ),
        strict=False,
    )
    await names(gw, 20)
    await until(lambda: len(copy.received) == 2)
    await asyncio.sleep(0.05)
    assert len(copy.received) == 2


async def test_mirrors_never_slow_or_break_the_answer(upstreams, gateway) -> None:
    """A mirror that never answers, and one that refuses connections: the main answers as fast as alone."""
    main, slow = await upstreams("main", "slow")
    slow.delay = 1.0
    closed = bound_socket()
    try:
        gw = await gateway(
            routes(
                {
                    "svc": {
                        "mirroring": {
                            "service": "one",
                            "mirrors": [{"name": "slow", "percent": 100}, {"name": "dead", "percent": 100}],
                        }
                    },
                    "one": lb(main, check=False),
                    "slow": lb(slow, check=False),
                    "dead": {"loadBalancer": {"servers": [{"url": f"http://127.0.0.1:{closed.getsockname()[1]}"}]}},
                }
            ),
            strict=False,
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await names(gw, 5) == ["main"] * 5
        assert loop.time() - started < 0.9  # five answers, while each copy takes 1 s
        await until(lambda: len(slow.received) == 5)  # copies are on their way, in the background
    finally:
        closed.close()


@pytest.mark.parametrize(
    ("options", "sent", "mirrored"),
    [
        pytest.param({}, [b"payload"], [b"payload"], id="mirrorBody (default): the copy has the body"),
        pytest.param(
            {"maxBodySize": 7}, [b"payload", b"payload!"], [b"payload"], id="a body over maxBodySize is not mirrored"
        ),
        pytest.param({"mirrorBody": False}, [b"payload"], [b""], id="mirrorBody false: a copy without the body"),
    ],
)
async def test_request_bodies_and_mirrors(upstreams, gateway, options, sent, mirrored) -> None:
    """Traefik's mirroring: the body goes to the mirrors as the main service got it, unless it is over
    maxBodySize (then the request is not mirrored) or mirrorBody is false (then the copy has none)."""
    main, copy = await upstreams("main", "copy")
    gw = await gateway(
        routes(
            {
                "svc": {"mirroring": {"service": "one", "mirrors": [{"name": "two", "percent": 100}], **options}},
                "one": lb(main, check=False),
                "two": lb(copy, check=False),
            }
        )
    )
    async with httpx.AsyncClient(base_url=gw.url) as client:
        for body in sent:
            assert (await client.post("/", content=body)).text == "main"

        async def chunks():
            yield b"chunk-"
            yield b"ed"

        if not options:  # a chunked body is mirrored as sent
            assert (await client.post("/", content=chunks())).text == "main"
            mirrored = [*mirrored, b"chunk-ed"]
    await until(lambda: len(copy.received) == len(mirrored))
    await asyncio.sleep(0.05)
    assert [r.body for r in copy.received] == mirrored
    assert [r.body for r in main.received] == [*sent, *([b"chunk-ed"] if not options else [])]


async def test_mirroring_health_follows_the_main_service(upstreams, gateway) -> None:
    main, copy, other = await upstreams("main", "copy", "other")
    gw = await gateway(
        routes(
            {
                "svc": {"weighted": {"services": [{"name": "m"}, {"name": "three"}], "healthCheck": {}}},
                "m": {"mirroring": {"service": "one", "mirrors": [{"name": "two", "percent": 0}], "healthCheck": {}}},
                "one": lb(main),
                "two": lb(copy, check=False),
                "three": lb(other),
            }
        ),
        strict=False,
    )
    main.health_status = 500
    await until(lambda: "m" in gw.last_build.services["svc"].down)
    assert await names(gw, 2) == ["other"] * 2
