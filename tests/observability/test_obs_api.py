"""api (insecure, dashboard, basePath) on the `traefik` entry point: Traefik's JSON shapes (pkg/api's
handler_*_test.go and testdata/*.json), statuses, errors, pagination and filters."""

from __future__ import annotations

import json

import httpx
import pytest
from obs_helpers import routes_with

API = "[api]\ninsecure = true\n"


async def get(gateway, path: str, entry_point: str = "traefik") -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(gateway.urls[entry_point] + path)


async def test_router_shapes_enabled_and_disabled(live_gateway):
    gateway = await live_gateway(API)
    enabled = (await get(gateway, "/api/http/routers/app@file")).json()
    assert enabled == {
        "entryPoints": ["web"],
        "service": "app@file",
        "rule": "PathPrefix(`/app`)",
        "status": "enabled",
        "using": ["web"],
        "name": "app@file",
        "provider": "file",
        "priorityStr": "0",
    }
    disabled = (await get(gateway, "/api/http/routers/broken@file")).json()
    assert disabled == {
        "entryPoints": ["web"],
        "service": "missing@file",
        "rule": "PathPrefix(`/broken`)",
        "error": ["the service 'missing' does not exist"],
        "status": "disabled",
        "name": "broken@file",
        "provider": "file",
        "priorityStr": "0",
    }
    missing = await get(gateway, "/api/http/routers/nope@file")
    assert missing.status_code == 404 and missing.json() == {"message": "router not found: nope@file"}


async def test_lists_filters_and_pagination(live_gateway):
    gateway = await live_gateway(API)
    routers = await get(gateway, "/api/http/routers")
    assert routers.headers["content-type"] == "application/json" and routers.headers["x-next-page"] == "1"
    names = [r["name"] for r in routers.json()]
    assert names == sorted(names) and {"app@file", "broken@file", "api@internal", "dashboard@internal"} <= set(names)
    assert [r["name"] for r in (await get(gateway, "/api/http/routers?status=disabled")).json()] == ["broken@file"]
    assert [r["name"] for r in (await get(gateway, "/api/http/routers?search=app")).json()] == ["app@file"]
    first = await get(gateway, "/api/http/routers?per_page=1")
    assert len(first.json()) == 1 and first.headers["x-next-page"] == "2"
    last = await get(gateway, f"/api/http/routers?per_page=1&page={len(names)}")
    assert last.headers["x-next-page"] == "1"
    beyond = await get(gateway, f"/api/http/routers?per_page=1&page={len(names) + 1}")
    assert beyond.status_code == 400
    assert json.loads(beyond.text) == {"message": f"invalid request: page: {len(names) + 1}, per_page: 1"}


async def test_services_middlewares_overview_entrypoints(live_gateway, app_server):
    routes = routes_with('[http.middlewares.strip.stripPrefix]\nprefixes = ["/app"]\n')
    routes = routes.replace('service = "app"\n', 'service = "app"\nmiddlewares = ["strip"]\n', 1)
    gateway = await live_gateway(API, routes=routes)
    service = (await get(gateway, "/api/http/services/app@file")).json()
    assert service["status"] == "enabled" and service["type"] == "loadbalancer"
    assert service["usedBy"] == ["app@file"] and service["serverStatus"] == {app_server.url: "UP"}
    assert service["loadBalancer"]["passHostHeader"] is True
    middleware = (await get(gateway, "/api/http/middlewares/strip@file")).json()
    assert middleware == {
        "stripPrefix": {"prefixes": ["/app"]},
        "status": "enabled",
        "usedBy": ["app@file"],
        "name": "strip@file",
        "provider": "file",
        "type": "stripprefix",
    }
    overview = (await get(gateway, "/api/overview")).json()
    assert overview["http"]["routers"] == {"total": 4, "warnings": 0, "errors": 1}  # ours, api, dashboard
    assert overview["features"] == {"tracing": "", "metrics": "", "accessLog": False}
    assert overview["providers"] == ["File"]
    eps = (await get(gateway, "/api/entrypoints")).json()
    assert [ep["name"] for ep in eps] == ["traefik", "web"]
    web = (await get(gateway, "/api/entrypoints/web")).json()
    assert web["name"] == "web" and web["transport"]["respondingTimeouts"]["idleTimeout"] == "180s"
    raw = (await get(gateway, "/api/rawdata")).json()
    assert set(raw) == {"routers", "services", "middlewares"} and raw["routers"]["broken@file"]["status"] == "disabled"
    version = (await get(gateway, "/api/version")).json()
    assert set(version) >= {"Version", "Codename", "startDate"}


async def test_base_path_and_methods(live_gateway):
    gateway = await live_gateway('[api]\ninsecure = true\nbasePath = "/prefix"\n')
    # The api router stays PathPrefix(`/api`) in Traefik; the handler answers under basePath only.
    assert (await get(gateway, "/api/overview")).status_code == 404
    async with httpx.AsyncClient() as client:
        response = await client.post(gateway.urls["traefik"] + "/api/overview")
    assert response.status_code == 404  # /api/... is not under /prefix
    routes = routes_with(
        '[http.routers.api]\nrule = "PathPrefix(`/prefix`)"\nservice = "api@internal"\nentryPoints = ["web"]\n'
    )
    gateway = await live_gateway('[api]\nbasePath = "/prefix"\n', routes=routes)
    assert (await get(gateway, "/prefix/api/overview", "web")).status_code == 200
    async with httpx.AsyncClient() as client:
        assert (await client.post(gateway.urls["web"] + "/prefix/api/overview")).status_code == 405


async def test_dashboard_page_and_redirect(live_gateway):
    gateway = await live_gateway(API)
    async with httpx.AsyncClient() as client:
        root = await client.get(gateway.urls["traefik"] + "/")
        page = await client.get(gateway.urls["traefik"] + "/dashboard/")
    assert root.status_code == 301 and root.headers["location"].endswith("/dashboard/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/api/http/routers" in page.text and "<script src" not in page.text and "https://" not in page.text


@pytest.mark.parametrize(
    ("static", "service", "status", "body"),
    [
        pytest.param("", "noop@internal", 418, b"", id="noop"),  # internalhandler.go: 418, nothing written
        pytest.param("[ping]\nmanualRouting = true\n", "ping@internal", 200, b"OK", id="ping"),
        pytest.param("[api]\n", "api@internal", 404, b"404 page not found\n", id="api-outside-api-paths"),
    ],
)
async def test_routers_naming_internal_services(live_gateway, static, service, status, body):
    routes = routes_with(
        f'[http.routers.internal]\nrule = "PathPrefix(`/in`)"\nservice = "{service}"\n'
        'entryPoints = ["web"]\nmiddlewares = ["tag"]\n'
        '[http.middlewares.tag.headers.customResponseHeaders]\nX-Tag = "seen"\n'
    )
    gateway = await live_gateway(static, routes=routes)
    response = await get(gateway, "/in", "web")
    assert (response.status_code, response.content) == (status, body)
    assert response.headers["x-tag"] == "seen"  # the router's middlewares ran, the answer passed back
    assert "router internal@file" not in " ".join(gateway.problems)


async def test_a_router_naming_a_disabled_internal_service_is_disabled(live_gateway):
    routes = routes_with(
        '[http.routers.dash]\nrule = "PathPrefix(`/d`)"\nservice = "dashboard@internal"\nentryPoints = ["web"]\n'
    )
    gateway = await live_gateway("", routes=routes)
    assert "router dash@file: dashboard is not enabled" in gateway.problems
    assert (await get(gateway, "/d", "web")).status_code == 404
