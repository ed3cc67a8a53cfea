"""The synchronous forms: BackgroundGateway (own loop in a thread), apps served from a thread, the CLI in a
subprocess; used from plain (non-async) tests with requests."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import requests
from aiohttp import web

from proxy import BackgroundGateway
from proxy.config.errors import ConfigError
from proxy.testing import GatewayProcess, serve_app_in_thread

ROUTES = """
[http.routers.app]
  rule = "PathPrefix(`/svc`)"
  service = "app"
  middlewares = ["strip"]
[http.middlewares.strip.stripPrefix]
  prefixes = ["/svc"]
[http.services.app.loadBalancer]
  [[http.services.app.loadBalancer.servers]]
    url = "http://127.0.0.1:1"
"""


async def echo(request: web.Request) -> web.Response:
    return web.json_response({"path": request.path_qs, "thread": threading.current_thread().name})


def aiohttp_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/{tail:.*}", echo)
    return app


def test_background_gateway_in_a_with_block() -> None:
    with (
        serve_app_in_thread(aiohttp_app()) as served,
        BackgroundGateway(ROUTES, services={"app": served.url}) as gateway,
    ):
        body = requests.get(gateway.url + "/svc/a?b=c", timeout=5).json()
        assert body == {"path": "/a?b=c", "thread": "stripproxy-upstream"}
        # read through the gateway's loop: the exchange the client just finished is already there
        assert [(e.original_target, e.upstream_target) for e in gateway.exchanges] == [("/svc/a?b=c", "/a?b=c")]
        assert list(gateway.routers) == ["app@file"] and gateway.services == {"app": [served.url]}
        gateway.reload(ROUTES.replace("/svc", "/v2"))
        assert requests.get(gateway.url + "/v2/x", timeout=5).json()["path"] == "/x"
        assert requests.get(gateway.url + "/svc/x", timeout=5).status_code == 404
        assert "no router matched" in gateway.explain()
        assert len(gateway.failures()) == 1
        gateway.clear()
        assert gateway.exchanges == []
    with pytest.raises(RuntimeError, match="not running"):
        _ = gateway.url


def test_a_config_error_surfaces_in_the_calling_thread() -> None:
    before = threading.active_count()
    with pytest.raises(ConfigError, match="no such service"):
        BackgroundGateway(ROUTES, services={"nope": "http://127.0.0.1:2"}).start()
    assert threading.active_count() == before  # its loop thread was shut down


def test_the_cli_process_with_a_dynamic_file(tmp_path: Path) -> None:
    (tmp_path / "routes.toml").write_text(ROUTES)
    with (
        serve_app_in_thread(aiohttp_app()) as served,
        GatewayProcess(tmp_path / "routes.toml", services={"app": served.url}) as gateway,
    ):
        assert list(gateway.urls) == ["http"]
        assert requests.get(gateway.url + "/svc/p", timeout=5).json()["path"] == "/p"
        assert requests.get(gateway.url + "/nothing", timeout=5).status_code == 404
    assert (tmp_path / "routes.toml").read_text() == ROUTES  # the original is untouched


def test_the_cli_process_reports_a_config_it_cannot_start_with(tmp_path: Path) -> None:
    (tmp_path / "routes.toml").write_text(ROUTES.replace("PathPrefix(`/svc`)", "PathPrefix(`/svc`"))
    with pytest.raises(RuntimeError, match="stripproxy did not start") as failure:
        GatewayProcess(tmp_path / "routes.toml").start()
    assert "routes.toml: http.routers.app: rule" in str(failure.value)  # the file and key the problem is in


def test_the_cli_process_with_a_templated_dynamic_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_PREFIX", "/svc")
    (tmp_path / "routes.toml").write_text(
        ROUTES.replace('prefixes = ["/svc"]', 'prefixes = ["{{ env "APP_PREFIX" | default "/x" }}"]')
    )
    with (
        serve_app_in_thread(aiohttp_app()) as served,
        GatewayProcess(tmp_path / "routes.toml", services={"app": served.url}) as gateway,
    ):
        assert requests.get(gateway.url + "/svc/p", timeout=5).json()["path"] == "/p"
