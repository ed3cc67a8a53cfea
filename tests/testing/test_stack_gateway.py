"""proxy.Gateway built from every kind of config source; overrides, strictness, reload and the record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from proxy import Gateway
from proxy.config.errors import ConfigError
from proxy.config.loader import load_dynamic
from proxy.config.static import EntryPointConfig, StaticConfig
from proxy.testing import ServedApp, serve_aiohttp

ROOT = Path(__file__).resolve().parents[2]
ROUTES_TOML = """
[http.routers.app]
  rule = "PathPrefix(`/api`)"
  service = "app"
  middlewares = ["strip"]
[http.middlewares.strip.stripPrefix]
  prefixes = ["/api"]
[http.services.app.loadBalancer]
  [[http.services.app.loadBalancer.servers]]
    url = "http://127.0.0.1:1"
"""
ROUTES_YAML = """
http:
  routers:
    app: {rule: "PathPrefix(`/api`)", service: app, middlewares: [strip]}
  middlewares:
    strip: {stripPrefix: {prefixes: [/api]}}
  services:
    app: {loadBalancer: {servers: [{url: "http://127.0.0.1:1"}]}}
"""
ROUTES_DICT: dict[str, Any] = {
    "http": {
        "routers": {"app": {"rule": "PathPrefix(`/api`)", "service": "app", "middlewares": ["strip"]}},
        "middlewares": {"strip": {"stripPrefix": {"prefixes": ["/api"]}}},
        "services": {"app": {"loadBalancer": {"servers": [{"url": "http://127.0.0.1:1"}]}}},
    }
}


async def echo(request: web.BaseRequest) -> web.Response:
    return web.json_response({"path": request.raw_path, "prefix": request.headers.get("X-Forwarded-Prefix")})


@pytest.fixture
async def upstream() -> Any:
    async with serve_aiohttp(echo) as served:
        yield served


async def get(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as client, client.get(url) as response:
        body = await response.json() if response.content_type == "application/json" else await response.text()
        return response.status, body


def _source(kind: str, tmp_path: Path) -> Any:
    if kind == "file":
        (tmp_path / "routes.yaml").write_text(ROUTES_YAML)
        return tmp_path / "routes.yaml"
    if kind == "str-path":
        (tmp_path / "routes.toml").write_text(ROUTES_TOML)
        return str(tmp_path / "routes.toml")
    if kind == "object":
        (tmp_path / "routes.toml").write_text(ROUTES_TOML)
        return load_dynamic([tmp_path / "routes.toml"])[0]
    return {"toml": ROUTES_TOML, "yaml": ROUTES_YAML, "dict": ROUTES_DICT}[kind]


@pytest.mark.parametrize("kind", ["toml", "yaml", "dict", "file", "str-path", "object"])
async def test_every_config_source_serves_the_routes(kind: str, tmp_path: Path, upstream: ServedApp) -> None:
    async with Gateway(_source(kind, tmp_path), services={"app": upstream.url}) as gateway:
        assert list(gateway.routers) == ["app@file"]
        assert gateway.services == {"app": [upstream.url]}
        status, body = await get(gateway.url + "/api/x?q=1")
    assert (status, body) == (200, {"path": "/x?q=1", "prefix": "/api"})


async def test_static_file_keeps_its_address_unless_free_ports() -> None:
    kept = Gateway(ROOT / "config" / "traefik.toml")
    assert kept.entry_point_servers["http"].address == ":9999"  # not started: nothing is bound
    async with Gateway(ROOT / "config" / "traefik.toml", free_ports=True) as gateway:
        assert gateway.url.startswith("http://127.0.0.1:") and not gateway.url.endswith(":9999")
        assert gateway.services == {"app": ["http://127.0.0.1:8000"]}  # the file provider's routes.toml


async def test_dynamic_config_alone_gets_the_entry_points_its_routers_name(upstream: ServedApp) -> None:
    routes = {
        "http": {
            "routers": {
                "a": {"rule": "Path(`/a`)", "service": "app", "entryPoints": ["web"]},
                "b": {"rule": "Path(`/b`)", "service": "app", "entryPoints": ["admin"]},
            },
            "services": {"app": {"loadBalancer": {"servers": [{"url": upstream.url}]}}},
        }
    }
    async with Gateway(routes) as gateway:
        assert sorted(gateway.urls) == ["admin", "web"]
        with pytest.raises(ValueError, match="use gateway.urls"):
            _ = gateway.url
        assert (await get(gateway.urls["web"] + "/a"))[0] == 200
        assert (await get(gateway.urls["web"] + "/b"))[0] == 404
        assert "only serves entry points ['admin']" in gateway.explain()


async def test_entry_points_option_sets_addresses() -> None:
    async with Gateway(ROUTES_DICT, entry_points={"http": "127.0.0.1:0", "extra": "127.0.0.1:0"}) as gateway:
        assert sorted(gateway.urls) == ["extra", "http"]


def test_a_service_override_typo_is_an_error() -> None:
    with pytest.raises(
        ConfigError, match=r"services override 'ap': no such service \(did you mean 'app'\?\) \(known: app\)"
    ):
        Gateway(ROUTES_DICT, services={"ap": "http://127.0.0.1:2"})


def test_strict_refuses_a_broken_router_and_lenient_disables_it() -> None:
    broken = {
        "http": {
            **ROUTES_DICT["http"],
            "routers": {**ROUTES_DICT["http"]["routers"], "bad": {"rule": "Path(`/x`", "service": "app"}},
        }
    }
    with pytest.raises(ConfigError, match="router bad@file"):
        Gateway(broken, strict=True)
    lenient = Gateway(broken)
    assert list(lenient.routers) == ["app@file"]
    assert any(problem.startswith("router bad@file") for problem in lenient.problems)


async def test_reload_swaps_routes_and_strict_reload_keeps_the_old_ones(upstream: ServedApp) -> None:
    async with Gateway(ROUTES_DICT, services={"app": upstream.url}, strict=True) as gateway:
        moved = ROUTES_TOML.replace("/api", "/v2")
        gateway.reload(moved)
        assert (await get(gateway.url + "/v2/x"))[1] == {"path": "/x", "prefix": "/v2"}
        assert (await get(gateway.url + "/api/x"))[0] == 404
        with pytest.raises(ConfigError, match="rule"):
            gateway.reload(moved.replace("PathPrefix(`/v2`)", "PathPrefix(`/v2`"))
        assert (await get(gateway.url + "/v2/x"))[0] == 200


async def test_reload_without_argument_rereads_the_file(tmp_path: Path, upstream: ServedApp) -> None:
    routes = tmp_path / "routes.toml"
    routes.write_text(ROUTES_TOML)
    async with Gateway(routes, services={"app": upstream.url}) as gateway:
        routes.write_text(ROUTES_TOML.replace("/api", "/new"))
        gateway.reload()
        assert (await get(gateway.url + "/new/y"))[1] == {"path": "/y", "prefix": "/new"}


async def test_the_exchange_record(upstream: ServedApp) -> None:
    async with Gateway(ROUTES_DICT, services={"app": upstream.url}) as gateway:
        await get(gateway.url + "/api/x?q=1")
        await get(gateway.url + "/nothing")
        routed, missed = gateway.exchanges
    assert (routed.method, routed.original_target, routed.router, routed.middlewares) == (
        "GET",
        "/api/x?q=1",
        "app@file",
        ("strip",),
    )
    assert (routed.upstream, routed.upstream_target, routed.status) == (upstream.url, "/x?q=1", 200)
    assert ("X-Forwarded-Prefix", "/api") in routed.upstream_headers
    assert 0 < routed.duration < 5
    assert (missed.router, missed.status, missed.upstream, missed.detail) == (None, 404, None, "no router matched")


async def test_the_cli_engine_form_records_nothing() -> None:
    static = StaticConfig(entry_points={"http": EntryPointConfig(address="127.0.0.1:0")})
    gateway = Gateway(static)
    assert gateway.observers == [] and gateway.dynamic is None
    async with gateway:
        assert (await get(gateway.url + "/"))[0] == 404
    assert list(gateway.exchanges) == []
