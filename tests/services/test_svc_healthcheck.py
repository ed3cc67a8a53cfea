"""Active and passive health checks over time (Traefik pkg/healthcheck/healthcheck_test.go), through a gateway
and ControlledUpstreams whose health endpoint the tests flip. Intervals are tens of milliseconds."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from svc_helpers import routes, servers, until

from proxy import Gateway
from proxy.config.errors import ConfigError
from proxy.services.healthcheck import CheckSpec, check_target, path_problem

FAST = {"interval": "40ms", "timeout": "500ms"}


@pytest.mark.parametrize(
    ("server", "spec", "url", "host"),
    [
        pytest.param(
            "http://backend1:80",
            CheckSpec(path="/test"),
            "http://backend1:80/test",
            "backend1:80",
            id="no-port-override",
        ),
        pytest.param(
            "http://backend2:80",
            CheckSpec(path="/test", port=8080),
            "http://backend2:8080/test",
            "backend2:8080",
            id="port-override",
        ),
        pytest.param(
            "http://backend1",
            CheckSpec(path="/health"),
            "http://backend1/health",
            "backend1",
            id="no-port-override-no-port-in-url",
        ),
        pytest.param(
            "http://backend2",
            CheckSpec(path="/health", port=8080),
            "http://backend2:8080/health",
            "backend2:8080",
            id="port-override-no-port-in-url",
        ),
        pytest.param(
            "https://backend1:80",
            CheckSpec(scheme="http", path="/test"),
            "http://backend1:80/test",
            "backend1:80",
            id="scheme-override",
        ),
        pytest.param(
            "http://backend1:80",
            CheckSpec(path="/health?powpow=do&do=powpow"),
            "http://backend1:80/health?powpow=do&do=powpow",
            "backend1:80",
            id="path-with-params",
        ),
        pytest.param(
            "http://backend1:80",
            CheckSpec(path="/", hostname="myhost"),
            "http://backend1:80/",
            "myhost",
            id="override-hostname",
        ),
        pytest.param(
            "http://backend1:80/base/",
            CheckSpec(path="health"),
            "http://backend1:80/base/health",
            "backend1:80",
            id="relative-path-resolved-against-the-url",
        ),
        pytest.param(
            "http://backend1:80/base",
            CheckSpec(path=""),
            "http://backend1:80/base",
            "backend1:80",
            id="no-path-the-server-url",
        ),
    ],
)
def test_check_target(server: str, spec: CheckSpec, url: str, host: str) -> None:
    """healthcheck_test.go TestServiceHealthChecker_newRequest (URL and Host; no network)."""
    assert check_target(server, spec) == (url, host)


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        pytest.param("http://backend2/health?powpow=do", True, id="absolute-url"),
        pytest.param(":", True, id="invalid-path"),
        pytest.param("/health", False, id="relative"),
    ],
)
def test_path_problem(path: str, bad: bool) -> None:
    assert (path_problem(path) is not None) == bad


async def statuses(gw: Gateway, count: int = 4) -> list[str]:
    async with httpx.AsyncClient(base_url=gw.url) as client:
        return [
            (r.text if r.status_code == 200 else str(r.status_code))
            for r in [await client.get("/") for _ in range(count)]
        ]


@pytest.mark.parametrize(
    ("check", "health_status", "up"),
    [
        pytest.param({}, 200, True, id="healthy-server-staying-healthy"),
        pytest.param({"status": 201}, 201, True, id="healthy-with-custom-status"),
        pytest.param({}, 204, True, id="healthy-204"),
        pytest.param({"followRedirects": False}, 308, True, id="healthy-308-not-followed"),
        pytest.param({}, 500, False, id="becoming-sick"),
        pytest.param({"status": 200}, 201, False, id="sick-with-custom-status"),
        pytest.param({}, 404, False, id="sick-404"),
    ],
)
async def test_status_decides(upstreams, gateway, check, health_status: int, up: bool) -> None:
    """healthcheck_test.go TestServiceHealthChecker_Launch: the check's status puts the server in or out."""
    a, b = await upstreams("a", "b")
    gw = await gateway(
        routes(
            {"svc": {"loadBalancer": {"servers": servers(a, b), "healthCheck": {"path": "/health", **FAST, **check}}}}
        )
    )
    a.health_status = health_status
    b.health_status = 201 if check.get("status") == 201 else 200
    await until(lambda: len(a.health_checks) >= 2)
    names = await statuses(gw)
    assert names == (["a", "b", "a", "b"] if up else ["b"] * 4)


async def test_down_then_up_and_all_down_is_503(upstreams, gateway, caplog) -> None:
    """wrr_test.go TestBalancerDownThenUp / TestBalancerNoServiceUp, with the transitions logged."""
    caplog.set_level(logging.INFO, "proxy.healthcheck")
    a, b = await upstreams("a", "b")
    gw = await gateway(
        routes({"svc": {"loadBalancer": {"servers": servers(a, b), "healthCheck": {"path": "/health", **FAST}}}})
    )
    service = gw.last_build.services["svc"]
    assert await statuses(gw, 2) == ["a", "b"]
    a.health_status = b.health_status = 503
    await until(lambda: len(service.down) == 2)
    async with httpx.AsyncClient() as client:
        response = await client.get(gw.url)
    assert (response.status_code, response.text) == (503, "no available server\n")
    assert response.headers["x-content-type-options"] == "nosniff"
    explained = gw.explain()
    assert "no available server" in explained and f"{a.url} is down" in explained
    assert "received error status code: 503" in explained
    b.health_status = 200
    await until(lambda: b.url not in service.down)
    assert await statuses(gw, 3) == ["b"] * 3
    messages = [r.getMessage() for r in caplog.records]
    assert any(
        f"health check of {a.url}" in m and "failed" in m and r.levelno == logging.WARNING
        for m, r in zip(messages, caplog.records, strict=True)
    )
    assert any(
        f"server {b.url} of service svc is up again" in m and r.levelno == logging.INFO
        for m, r in zip(messages, caplog.records, strict=True)
    )


async def test_request_as_configured(upstreams, gateway) -> None:
    """method, hostname, headers, path with query, as the check sends them (Go's client headers)."""
    (a,) = await upstreams("a", health_path="/hc")
    await gateway(
        routes(
            {
                "svc": {
                    "loadBalancer": {
                        "servers": servers(a),
                        "healthCheck": {
                            "path": "/hc?deep=1",
                            "method": "HEAD",
                            "hostname": "health.internal",
                            "headers": {"X-Probe": "yes"},
                            **FAST,
                        },
                    }
                }
            }
        )
    )
    await until(lambda: len(a.health_checks) >= 1)
    seen = a.health_checks[0]
    assert (seen.method, seen.path_qs) == ("HEAD", "/hc?deep=1")
    assert seen.header("Host") == "health.internal"
    assert seen.header("X-Probe") == "yes"
    assert seen.header("User-Agent") == "Go-http-client/1.1"
    assert seen.header("Accept-Encoding") is None  # Go asks for gzip on every method but HEAD


async def test_port_override(upstreams, gateway) -> None:
    """`port` sends the check elsewhere: here to a server whose health is bad, so the first goes down."""
    a, probe = await upstreams("a", "probe")
    probe.health_status = 500
    gw = await gateway(
        routes(
            {
                "svc": {
                    "loadBalancer": {
                        "servers": servers(a),
                        "healthCheck": {"path": "/health", "port": int(probe.url.rsplit(":", 1)[1]), **FAST},
                    }
                }
            }
        )
    )
    await until(lambda: len(probe.health_checks) >= 1 and bool(gw.last_build.services["svc"].down))
    assert not a.health_checks


@pytest.mark.parametrize(
    ("follow", "up", "target_called"),
    [
        pytest.param(True, False, True, id="followed-to-a-failing-target"),
        pytest.param(
            False, True, False, id="not-followed"
        ),  # TestServiceHealthChecker_checkHealthHTTP_NotFollowingRedirects
    ],
)
async def test_redirects(upstreams, gateway, follow: bool, up: bool, target_called: bool) -> None:
    (a,) = await upstreams("a")
    a.health_redirect = "/elsewhere"
    a.health_status = 500  # what the redirect target answers
    gw = await gateway(
        routes(
            {
                "svc": {
                    "loadBalancer": {
                        "servers": servers(a),
                        "healthCheck": {"path": "/health", "followRedirects": follow, **FAST},
                    }
                }
            }
        )
    )
    await until(lambda: len(a.health_checks) >= (2 if follow else 1))
    await asyncio.sleep(0.05)
    assert (a.url not in gw.last_build.services["svc"].down) == up
    assert any(c.path_qs == "/elsewhere" for c in a.health_checks) == target_called


async def test_timeout_takes_the_server_down(upstreams, gateway) -> None:
    (a,) = await upstreams("a")
    a.health_delay = 0.5
    gw = await gateway(
        routes(
            {
                "svc": {
                    "loadBalancer": {
                        "servers": servers(a),
                        "healthCheck": {"path": "/health", "interval": "30ms", "timeout": "50ms"},
                    }
                }
            }
        )
    )
    service = gw.last_build.services["svc"]
    await until(lambda: bool(service.down))
    assert "no answer within 0.05s" in service.down[a.url]


async def test_unhealthy_interval(upstreams, gateway) -> None:
    """healthcheck_test.go TestDifferentIntervals: unhealthy servers are checked at their own pace."""
    good, bad = await upstreams("good", "bad")
    bad.health_status = 503
    await gateway(
        routes(
            {
                "svc": {
                    "loadBalancer": {
                        "servers": servers(good, bad),
                        "healthCheck": {
                            "path": "/health",
                            "interval": "300ms",
                            "unhealthyInterval": "30ms",
                            "timeout": "200ms",
                        },
                    }
                }
            }
        )
    )
    await asyncio.sleep(0.9)
    assert len(good.health_checks) >= 2
    assert len(bad.health_checks) > len(good.health_checks) + 3  # Traefik's test: more checks of the bad one


async def test_checks_follow_the_config(upstreams, gateway) -> None:
    """A reload replaces the checks; stopping the gateway cancels them."""
    (a,) = await upstreams("a")
    config = routes({"svc": {"loadBalancer": {"servers": servers(a), "healthCheck": {"path": "/health", **FAST}}}})
    gw = await gateway(config)
    await until(lambda: len(a.health_checks) >= 2)
    gw.reload(routes({"svc": {"loadBalancer": {"servers": servers(a)}}}))
    await asyncio.sleep(0.06)
    seen = len(a.health_checks)
    await asyncio.sleep(0.15)
    assert len(a.health_checks) == seen  # no checks without healthCheck
    gw.reload(config)
    await until(lambda: len(a.health_checks) >= seen + 2)
    await gw.stop()
    await asyncio.sleep(0.06)
    stopped = len(a.health_checks)
    await asyncio.sleep(0.15)
    assert len(a.health_checks) == stopped


async def test_checks_start_one_interval_after_the_config(upstreams, gateway) -> None:
    """Every server is up until its first check, one interval in (Traefik's ticker)."""
    (a,) = await upstreams("a")
    a.health_status = 500
    gw = await gateway(
        routes(
            {"svc": {"loadBalancer": {"servers": servers(a), "healthCheck": {"path": "/health", "interval": "300ms"}}}}
        )
    )
    assert await statuses(gw, 1) == ["a"]
    assert not a.health_checks


async def test_grpc_mode_is_refused_clearly(upstreams) -> None:
    (a,) = await upstreams("a")
    with pytest.raises(ConfigError, match="healthCheck.mode 'grpc' is not supported"):
        Gateway(
            routes({"svc": {"loadBalancer": {"servers": servers(a), "healthCheck": {"path": "/", "mode": "grpc"}}}}),
            strict=True,
        )


@pytest.mark.parametrize(
    ("check", "warning"),
    [
        pytest.param({"interval": "-1s"}, "healthCheck.interval -1s is not positive", id="negative-interval"),
        pytest.param({"timeout": "0s"}, "healthCheck.timeout 0s is not positive", id="zero-timeout"),
        pytest.param({"unhealthyInterval": "-2s"}, "healthCheck.unhealthyInterval -2s", id="negative-unhealthy"),
        pytest.param({"path": "http://other/health"}, "must be a relative URL", id="absolute-path"),
    ],
)
async def test_out_of_range_values_warn(upstreams, check, warning: str) -> None:
    """healthcheck_test.go TestNewServiceHealthChecker_durations: defaults used, and we say so."""
    (a,) = await upstreams("a")
    gw = Gateway(routes({"svc": {"loadBalancer": {"servers": servers(a), "healthCheck": {"path": "/", **check}}}}))
    assert any(warning in problem for problem in gw.problems), gw.problems


# -- passive ----------------------------------------------------------------------------------------


async def test_passive_health_check(upstreams, gateway) -> None:
    """maxFailedAttempts 5xx answers within failureWindow take the server out for failureWindow."""
    a, b = await upstreams("a", "b")
    a.status = 500
    gw = await gateway(
        routes(
            {
                "svc": {
                    "loadBalancer": {
                        "servers": servers(a, b),
                        "passiveHealthCheck": {"maxFailedAttempts": 2, "failureWindow": "1s"},
                    }
                }
            }
        )
    )
    service = gw.last_build.services["svc"]
    assert await statuses(gw, 4) == ["500", "b", "500", "b"]  # a fails twice: out
    assert a.url in service.down
    assert await statuses(gw, 3) == ["b", "b", "b"]
    a.status = 200
    await until(lambda: not service.down, timeout=4)
    assert sorted(await statuses(gw, 2)) == ["a", "b"]


async def test_passive_counts_unreachable_servers(upstreams, gateway) -> None:
    from proxy.testing.upstreams import bound_socket

    (b,) = await upstreams("b")
    closed = bound_socket()  # bound, never listening: connections are refused
    dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    try:
        gw = await gateway(
            routes(
                {
                    "svc": {
                        "loadBalancer": {
                            "servers": [{"url": dead}, {"url": b.url}],
                            "passiveHealthCheck": {"failureWindow": "5s"},
                        }
                    }
                }
            )
        )
        assert await statuses(gw, 4) == ["502", "b", "b", "b"]
        assert dead in gw.last_build.services["svc"].down
    finally:
        closed.close()
