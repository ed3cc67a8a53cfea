"""Health in the explanations: gateway.explain() for a 502/503, gateway.health(), and the test stack's
failure report for a test that got a 503 because every server was down."""

from __future__ import annotations

import httpx
import pytest
from svc_helpers import routes

from proxy.testing.upstreams import bound_socket

pytest_plugins = ["pytester"]


async def test_502_then_503_explained_with_the_health_of_the_servers(gateway) -> None:
    closed = [bound_socket(), bound_socket()]  # bound, never listening: refused
    urls = [f"http://127.0.0.1:{sock.getsockname()[1]}" for sock in closed]
    try:
        gw = await gateway(
            routes(
                {
                    "svc": {
                        "loadBalancer": {
                            "servers": [{"url": u} for u in urls],
                            "passiveHealthCheck": {"failureWindow": "5s"},
                        }
                    }
                }
            )
        )
        async with httpx.AsyncClient(base_url=gw.url) as client:
            assert (await client.get("/")).status_code == 502
            first = gw.explain()
            assert (await client.get("/")).status_code == 502
            assert (await client.get("/")).status_code == 503
        assert f"health: svc: {urls[0]} is down (passive health check: 1 failed attempt(s) within 5s)" in first
        last = gw.explain()
        assert "proxy answered 503: service 'svc': no available server" in last
        assert all(f"svc: {u} is down" in last for u in urls)
        assert len(gw.health()) == 2
    finally:
        for sock in closed:
            sock.close()


def test_the_failure_report_shows_the_health(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_inner="""
        import time
        import requests

        def test_all_down(stripproxy_sync):
            routes = {"http": {"routers": {"app": {"rule": "PathPrefix(`/`)", "service": "app"}},
                      "services": {"app": {"loadBalancer": {"servers": [{"url": "http://127.0.0.1:1"}],
                          "healthCheck": {"path": "/health", "interval": "20ms", "timeout": "200ms"}}}}}}
            gateway = stripproxy_sync(routes)
            time.sleep(0.3)
            assert requests.get(gateway.url, timeout=5).status_code == 200
    """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-o", "asyncio_mode=strict", "-o", "asyncio_default_fixture_loop_scope=function"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*stripproxy: requests the proxy could not route or forward*",
            "GET / (Host '127.0.0.1:*') on entry point 'http' -> 503",
            "  router app@file -> service 'app'",
            "  proxy answered 503: service 'app': no available server",
            "  health: app: http://127.0.0.1:1 is down (health check: HTTP request failed: *",
        ]
    )


def test_background_gateway_health(tmp_path) -> None:
    """The synchronous gateway runs the checks on its own loop and reports the health the same way."""
    import time

    from proxy import BackgroundGateway

    routes_ = {
        "http": {
            "routers": {"app": {"rule": "PathPrefix(`/`)", "service": "app"}},
            "services": {
                "app": {
                    "loadBalancer": {
                        "servers": [{"url": "http://127.0.0.1:1"}],
                        "healthCheck": {"path": "/health", "interval": "20ms", "timeout": "200ms"},
                    }
                }
            },
        }
    }
    with BackgroundGateway(routes_) as gateway:
        deadline = time.monotonic() + 3
        while not any("is down" in line for line in gateway.health()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert gateway.health()[0].startswith("health: app: http://127.0.0.1:1 is down (health check: ")
