"""A production dynamic file in a fixture: `middlewares=` replaces what a test cannot have (an SSO
forwardAuth, an office-only allow list) with a pass-through or another config, and says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from proxy import Gateway
from proxy.config.errors import ConfigError
from proxy.testing import serve_aiohttp

PRODUCTION = """
[http.routers.app]
  rule = "PathPrefix(`/api`)"
  service = "app"
  middlewares = ["secured"]
[http.middlewares.secured.chain]
  middlewares = ["sso", "strip"]
[http.middlewares.sso.forwardAuth]
  address = "https://sso.internal.example/verify"
[http.middlewares.strip.stripPrefix]
  prefixes = ["/api"]
[http.services.app.loadBalancer]
  [[http.services.app.loadBalancer.servers]]
    url = "http://10.0.0.1:8080"
"""


async def whoami(request: web.BaseRequest) -> web.Response:
    return web.json_response({"path": request.path, "user": request.headers.get("X-User")})


async def get_json(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as client, client.get(url) as response:
        return response.status, await response.json()


async def test_a_middleware_made_a_pass_through(stripproxy: Any) -> None:
    async with serve_aiohttp(whoami) as app:
        gateway = await stripproxy(PRODUCTION, services={"app": app.url}, middlewares={"sso": None})
        assert await get_json(gateway.url + "/api/me") == (200, {"path": "/me", "user": None})
        record = gateway.exchanges[-1]
        assert record.overrides == ("middleware sso: pass-through", f"service app -> {app.url}")
        assert "with test overrides: middleware sso: pass-through" in gateway.explain()


async def test_a_middleware_replaced_by_another_config(stripproxy: Any) -> None:
    replacement = {"headers": {"customRequestHeaders": {"X-User": "alice"}}}
    async with serve_aiohttp(whoami) as app:
        gateway = await stripproxy(PRODUCTION, services={"app": app.url}, middlewares={"sso@file": replacement})
        assert await get_json(gateway.url + "/api/me") == (200, {"path": "/me", "user": "alice"})
        assert gateway.exchanges[-1].overrides[0] == "middleware sso: replaced"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            {"ssso": None},
            "middlewares override 'ssso': no such middleware (did you mean 'sso'?) (known: secured, sso, strip)",
            id="a misspelt name",
        ),
        pytest.param(
            {"sso": {"headers": {"customRequestHeader": {}}}}, "middlewares override 'sso'", id="a bad replacement"
        ),
    ],
)
def test_bad_overrides_are_refused_with_the_reason(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match="middlewares override") as caught:
        Gateway(PRODUCTION, services={"app": "http://127.0.0.1:1"}, middlewares=overrides, strict=True)
    assert message in str(caught.value)


# -- a production file as it is: SSO forwardAuth, ACME certResolver, errors middleware -------------------
PRODUCTION_FILES = Path(__file__).resolve().parents[2] / "config" / "production"


async def _sso(request: web.BaseRequest) -> web.Response:
    return web.Response(headers={"X-User": "alice"}) if request.path == "/verify" else web.Response(status=404)


async def _app(request: web.BaseRequest) -> web.Response:
    if request.path == "/boom":
        return web.Response(status=502, text="upstream trouble")
    return web.json_response({"path": request.path, "user": request.headers.get("X-User")})


async def _pages(request: web.BaseRequest) -> web.Response:
    return web.Response(text=f"error page {request.path}")


async def _get(gateway: Any, path: str) -> tuple[int, str]:
    url = gateway.urls["websecure"] + path
    async with (
        aiohttp.ClientSession() as client,
        client.get(
            url,
            headers={"Host": "app.example.com"},
            server_hostname="app.example.com",
            ssl=gateway.client_ssl_context(),
        ) as response,
    ):
        return response.status, await response.text()


async def test_a_production_file_with_sso_acme_and_error_pages_in_a_fixture(stripproxy: Any) -> None:
    """forwardAuth's address and the errors middleware's service go to test servers, the ACME resolver's
    certificate comes from the fixtures' CA, the entry points are rebound: each said in the record."""
    async with serve_aiohttp(_sso) as sso, serve_aiohttp(_app) as app, serve_aiohttp(_pages) as pages:
        gateway = await stripproxy(
            str(PRODUCTION_FILES / "traefik.toml"),
            services={"app": app.url, "error-pages": pages.url},
            middlewares={"sso": {"address": sso.url + "/verify"}},
        )
        status, body = await _get(gateway, "/me")
        assert (status, json.loads(body)) == (200, {"path": "/me", "user": "alice"})
        record = gateway.exchanges[-1]
        assert record.overrides == (
            f"middleware sso: forwardAuth.address -> '{sso.url}/verify'",
            f"service error-pages -> {pages.url}",
            f"service app -> {app.url}",
            "certResolver le: certificate from the local CA",
            f"entry point websecure: ':443' rebound to port {gateway.entry_point_servers['websecure'].port}",
        )
        assert "with test overrides: middleware sso: forwardAuth.address" in gateway.explain()
        assert await _get(gateway, "/boom") == (502, "error page /502.html")
        assert all(not url.endswith((":80", ":443")) for url in gateway.urls.values())  # rebound


async def test_the_production_file_without_overrides_fails_on_the_sso(stripproxy: Any) -> None:
    """What the overrides are for: as written, the SSO cannot be reached and every request is refused."""
    async with serve_aiohttp(_app) as app:
        gateway = await stripproxy(
            str(PRODUCTION_FILES / "traefik.toml"), services={"app": app.url, "error-pages": app.url}
        )
        status, _ = await _get(gateway, "/me")
        assert status >= 500
        assert gateway.exchanges[-1].overrides[-2] == "certResolver le: certificate from the local CA"


def test_a_patch_for_a_middleware_is_validated_with_the_middlewares_options() -> None:
    with pytest.raises(ConfigError) as caught:
        Gateway(
            str(PRODUCTION_FILES / "traefik.toml"),
            services={"app": "http://127.0.0.1:1", "error-pages": "http://127.0.0.1:1"},
            middlewares={"sso": {"adress": "http://127.0.0.1:2/verify"}},
        )
    assert "middlewares override 'sso': http.middlewares.sso.forwardAuth.adress: unknown key" in str(caught.value)
    assert "(did you mean 'address'?)" in str(caught.value)


def test_a_misspelt_service_override_gets_a_suggestion() -> None:
    with pytest.raises(ConfigError) as caught:
        Gateway(PRODUCTION, services={"apq": "http://127.0.0.1:1"})
    assert "services override 'apq': no such service (did you mean 'app'?) (known: app)" in str(caught.value)
