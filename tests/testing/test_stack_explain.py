"""Failures explain themselves: 404s list the routers considered and why none matched, 502s name the
upstream that refused; a failing test's report gets a "stripproxy" section saying so."""

from __future__ import annotations

import socket
from typing import Any

import aiohttp
import pytest

from proxy import Gateway

pytest_plugins = ["pytester"]

ROUTES = {
    "http": {
        "routers": {
            "api": {"rule": "Host(`api.test`) && PathPrefix(`/api`)", "service": "app"},
            "web": {"rule": "PathPrefix(`/web`)", "service": "app", "priority": 5},
            "admin": {"rule": "PathPrefix(`/admin`)", "service": "app", "entryPoints": ["internal"]},
            "broken": {"rule": "Path(`/x`", "service": "app"},
        },
        "services": {"app": {"loadBalancer": {"servers": [{"url": "http://127.0.0.1:1"}]}}},
    }
}


def refused_url() -> str:
    """A loopback URL nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


async def status_of(url: str, **headers: str) -> int:
    async with aiohttp.ClientSession() as client, client.get(url, headers=headers) as response:
        return response.status


@pytest.fixture
async def gateway() -> Any:
    gateway = Gateway(ROUTES, services={"app": refused_url()}, entry_points={"http": "127.0.0.1:0"}, free_ports=True)
    async with gateway:
        yield gateway


async def test_a_404_lists_the_routers_considered_and_the_disabled_ones(gateway: Gateway) -> None:
    assert await status_of(gateway.urls["http"] + "/api/page", Host="other.test") == 404
    text = gateway.explain()
    assert "GET /api/page (Host 'other.test') on entry point 'http' -> 404" in text
    assert "routed with host 'other.test', path '/api/page'" in text
    assert "router api@file (priority 38): rule `Host(`api.test`) && PathPrefix(`/api`)` did not match" in text
    assert "router web@file (priority 5): rule `PathPrefix(`/web`)` did not match" in text
    assert "disabled router broken@file:" in text
    assert "router admin@file only serves entry points ['internal']" in text


async def test_a_502_names_the_router_service_and_refusing_upstream(gateway: Gateway) -> None:
    upstream = gateway.services["app"][0]
    assert await status_of(gateway.urls["http"] + "/api/v1", Host="api.test") == 502
    text = gateway.explain()
    assert "router api@file -> service 'app'" in text
    assert f"proxy answered 502: dial {upstream.removeprefix('http://')}" in text
    assert gateway.failures() == [text]


async def test_failures_are_logged_as_they_happen(gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    await status_of(gateway.urls["http"] + "/nowhere")
    assert any("no router matched" in record.getMessage() for record in caplog.records)


def test_a_failing_test_report_explains_the_proxy_failures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_inner="""
        import aiohttp
        import pytest
        import requests
        from aiohttp import web

        @pytest.mark.asyncio  # the inner run is in pytest-asyncio's strict mode: the async fixtures work there
        async def test_async_fixtures(serve_app, stripproxy):
            app = web.Application()
            app.router.add_get("/x", lambda request: web.Response(text="ok"))
            served = await serve_app(app)
            routes = {"http": {"routers": {"app": {"rule": "Path(`/x`)", "service": "app"}},
                      "services": {"app": {"loadBalancer": {"servers": [{"url": served.url}]}}}}}
            gateway = await stripproxy(routes)
            async with aiohttp.ClientSession() as client, client.get(gateway.url + "/x") as response:
                assert await response.text() == "ok"

        def test_wrong_prefix(stripproxy_sync):
            routes = {"http": {"routers": {"app": {"rule": "PathPrefix(`/api/v1`)", "service": "app"}},
                      "services": {"app": {"loadBalancer": {"servers": [{"url": "http://127.0.0.1:1"}]}}}}}
            gateway = stripproxy_sync(routes)
            assert requests.get(gateway.url + "/api/v2/app", timeout=5).status_code == 200
    """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-o", "asyncio_mode=strict", "-o", "asyncio_default_fixture_loop_scope=function"
    )
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*stripproxy: requests the proxy could not route or forward*",
            "GET /api/v2/app (Host '127.0.0.1:*') on entry point 'http' -> 404",
            "  no router matched",
            "  routed with host '127.0.0.1', path '/api/v2/app'",
            "  router app@file (priority 21): rule `PathPrefix(`/api/v1`)` did not match",
        ]
    )
