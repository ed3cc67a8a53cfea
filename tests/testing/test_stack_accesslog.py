"""The fixture-level access log (proxy/testing/accesslog.py, fixture `stripproxy_access_log`): each request
as the record Traefik's JSON access log writes, the same record the gateway's own `accessLog` file holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from aiohttp import web

from proxy.config.errors import ConfigError
from proxy.testing import AccessLogCapture

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
# Fields that depend on the clock or the client's port: equal in shape, not in value, between two observers.
TIMED = {"Duration", "OriginDuration", "Overhead", "StartUTC", "StartLocal", "time", "ClientAddr", "ClientPort"}


async def hello(request: web.Request) -> web.Response:
    return web.Response(status=418 if request.path == "/teapot" else 200, text="hello world")


def app() -> web.Application:
    application = web.Application()
    application.router.add_route("*", "/{tail:.*}", hello)
    return application


def test_records_are_traefiks_json_fields(stripproxy_sync, serve_app_sync, stripproxy_access_log) -> None:
    served = serve_app_sync(app())
    gateway = stripproxy_sync(ROUTES, services={"app": served.url})
    log = stripproxy_access_log(gateway)
    assert requests.get(gateway.url + "/svc/teapot?x=1", headers={"User-Agent": "t"}, timeout=5).status_code == 418
    assert requests.get(gateway.url + "/nowhere", timeout=5).status_code == 404
    routed, unrouted = log.wait_for(2)
    assert {
        name: routed[name]
        for name in (
            "RequestMethod",
            "RequestPath",
            "RequestProtocol",
            "DownstreamStatus",
            "OriginStatus",
            "DownstreamContentSize",
            "RouterName",
            "ServiceName",
            "ServiceURL",
            "ClientHost",
            "RetryAttempts",
            "RequestCount",
            "level",
        )
    } == {
        "RequestMethod": "GET",
        "RequestPath": "/svc/teapot?x=1",  # the path as the client sent it, before stripPrefix
        "RequestProtocol": "HTTP/1.1",
        "DownstreamStatus": 418,
        "OriginStatus": 418,
        "DownstreamContentSize": 11,
        "RouterName": "app@file",
        "ServiceName": "app@file",
        "ServiceURL": served.url,
        "ClientHost": "127.0.0.1",
        "RetryAttempts": 0,
        "RequestCount": 1,
        "level": "info",
    }
    assert routed["Duration"] > 0 and routed["StartUTC"].endswith("Z")  # ns, RFC 3339 as Go writes them
    assert (unrouted["DownstreamStatus"], unrouted["RequestPath"]) == (404, "/nowhere")
    assert "RouterName" not in unrouted and "ServiceURL" not in unrouted  # Traefik leaves them out too


def test_same_records_as_the_gateways_json_file(tmp_path: Path, stripproxy_sync, serve_app_sync, stripproxy_access_log):
    served = serve_app_sync(app())
    (tmp_path / "routes.toml").write_text(ROUTES)
    file = tmp_path / "access.json"
    static = tmp_path / "traefik.toml"
    static.write_text(
        '[entryPoints.web]\naddress = "127.0.0.1:0"\n[providers.file]\nfilename = "routes.toml"\n'
        f'[accessLog]\nfilePath = "{file}"\nformat = "json"\n'
    )
    gateway = stripproxy_sync(static, services={"app": served.url})
    log = stripproxy_access_log(gateway)
    for path in ("/svc/a", "/svc/teapot", "/missing?q=1"):
        requests.post(gateway.url + path, data=b"12345", timeout=5)
    requests.post(gateway.url + "/svc/a", data=iter([b"12", b"345678"]), timeout=5)  # chunked: no Content-Length
    captured = log.wait_for(4)
    written = [json.loads(line) for line in file.read_text().splitlines()]
    assert len(written) == 4
    for ours, theirs in zip(captured, written, strict=True):
        assert ours.keys() == theirs.keys()
        assert {k: v for k, v in ours.items() if k not in TIMED} == {k: v for k, v in theirs.items() if k not in TIMED}
    assert [r["RequestContentSize"] for r in captured] == [5, 5, 5, 8]  # the bytes read, as Traefik counts


def test_fields_and_filters_as_traefik_spells_them(stripproxy_sync, serve_app_sync, stripproxy_access_log) -> None:
    served = serve_app_sync(app())
    gateway = stripproxy_sync(ROUTES, services={"app": served.url})
    log = stripproxy_access_log(
        gateway,
        fields={"defaultMode": "keep", "names": {"ClientHost": "drop"}, "headers": {"names": {"X-Token": "redact"}}},
        filters={"statusCodes": ["400-499"]},
    )
    requests.get(gateway.url + "/svc/ok", headers={"X-Token": "secret"}, timeout=5)
    requests.get(gateway.url + "/svc/teapot", headers={"X-Token": "secret"}, timeout=5)
    requests.get(gateway.url + "/svc/teapot", timeout=5)
    records = log.wait_for(2)
    assert [r["RequestPath"] for r in records] == ["/svc/teapot", "/svc/teapot"]  # the 200 is filtered out
    assert records[0]["request_X-Token"] == "REDACTED" and "request_X-Token" not in records[1]
    assert "ClientHost" not in records[0]
    assert records[1]["RequestCount"] == 3  # Traefik counts filtered requests too


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(
            {"fields": {"headerz": {}}},
            "accessLog.fields.headerz: unknown key (did you mean 'headers'?)",
            id="misspelt-key",
        ),
        pytest.param(
            {"filters": {"statusCodes": "400-499"}},
            "accessLog.filters.statusCodes: Input should be a valid list",
            id="wrong-type",
        ),
        pytest.param(
            {"filters": {"minDuration": "soon"}},
            "accessLog.filters.minDuration: invalid duration 'soon': time: invalid duration \"soon\"",
            id="bad-duration",
        ),
    ],
)
def test_bad_options_name_traefiks_keys(options: dict[str, Any], message: str) -> None:
    """As a file's accessLog section would say it: the key path and the problem, no model class name."""
    with pytest.raises(ConfigError) as info:
        AccessLogCapture(**options)
    assert str(info.value) == message


async def test_async_gateway_and_detach(stripproxy, serve_app) -> None:
    served = await serve_app(app())
    gateway = await stripproxy(ROUTES, services={"app": served.url})
    log = AccessLogCapture().attach(gateway)
    async with httpx.AsyncClient(timeout=5) as client:
        await client.get(gateway.url + "/svc/x")
        assert [r["RequestPath"] for r in await log.wait_for_async(1)] == ["/svc/x"]
        log.detach()
        await client.get(gateway.url + "/svc/y")
    assert len(log) == 1 and log not in gateway.observers
