"""A production dynamic file in a fixture: `middlewares=` replaces what a test cannot have (an SSO
forwardAuth, an office-only allow list) with a pass-through or another config, and says so."""

from __future__ import annotations

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
            "middlewares override 'ssso': no such middleware (known: secured, sso, strip)",
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
