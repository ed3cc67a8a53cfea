"""The README's "Testing your app behind a proxy" examples, verbatim: each block between the `# ---`
markers is a README code block (test_stack_readme.py checks that they stay identical)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _in_repository_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """The examples name config/routes.toml and config/traefik.toml as a user would, from the project root."""
    monkeypatch.chdir(ROOT)


# --- example: pytest-aiohttp
import aiohttp
from aiohttp import web


async def whoami(request: web.Request) -> web.Response:
    return web.json_response({"path": request.path, "prefix": request.headers.get("X-Forwarded-Prefix")})


async def test_aiohttp_app_behind_the_proxy(aiohttp_server, stripproxy):
    app = web.Application()
    app.router.add_get("/app", whoami)
    server = await aiohttp_server(app)
    gateway = await stripproxy("config/routes.toml", services={"app": str(server.make_url(""))})

    async with aiohttp.ClientSession() as client:
        async with client.get(gateway.url + "/api/v1/app") as response:
            assert response.status == 200, gateway.explain()
            assert await response.json() == {"path": "/app", "prefix": "/api/v1"}

    exchange = gateway.exchanges[-1]
    assert exchange.router == "app-http@file"
    assert exchange.middlewares == ("api-stripprefix",)
    assert exchange.upstream_target == "/app"
# --- end


# --- example: synchronous
import requests
from fastapi import FastAPI, Request

api = FastAPI()


@api.get("/app")
def read_main(request: Request):
    return {"message": "Hello World", "root_path": request.scope.get("root_path")}


def test_sync_app_behind_the_proxy(serve_app_sync, stripproxy_sync):
    app = serve_app_sync(api, root_path="/api/v1")  # uvicorn --root-path /api/v1
    gateway = stripproxy_sync("config/traefik.toml", services={"app": app.url})

    response = requests.get(gateway.url + "/api/v1/app", timeout=5)
    assert response.json() == {"message": "Hello World", "root_path": "/api/v1"}
    assert gateway.exchanges[-1].upstream_target == "/app"
# --- end


# --- example: FastAPI docs
import httpx


async def test_fastapi_docs_behind_the_proxy(serve_app, stripproxy):
    app = await serve_app(api, root_path="/api/v1")
    gateway = await stripproxy("config/routes.toml", services={"app": app.url})

    async with httpx.AsyncClient(base_url=gateway.url) as client:
        assert (await client.get("/api/v1/app")).json()["root_path"] == "/api/v1"
        docs = await client.get("/api/v1/docs")
        assert "/api/v1/openapi.json" in docs.text
        openapi = await client.get("/api/v1/openapi.json")
        assert openapi.json()["servers"] == [{"url": "/api/v1"}]
# --- end


# --- example: prefix from the proxy
from proxy.asgi import ForwardedPrefixMiddleware

portable = FastAPI()
portable.add_middleware(ForwardedPrefixMiddleware, trusted=["127.0.0.1"])


@portable.get("/app")
def where_am_i(request: Request):
    return {"root_path": request.scope.get("root_path")}


async def test_same_app_at_root_and_under_a_prefix(serve_app, stripproxy):
    app = await serve_app(portable)  # no --root-path: the app learns it per request
    gateway = await stripproxy("config/routes.toml", services={"app": app.url})

    async with httpx.AsyncClient() as client:
        direct = await client.get(app.url + "/app")
        proxied = await client.get(gateway.url + "/api/v1/app")
        docs = await client.get(gateway.url + "/api/v1/docs")
    assert direct.json() == {"root_path": ""}
    assert proxied.json() == {"root_path": "/api/v1"}
    assert "/api/v1/openapi.json" in docs.text
# --- end


# --- example: WSGI prefix from the proxy
import threading

from flask import Flask, url_for
from werkzeug.serving import make_server

from proxy.wsgi import ForwardedPrefixMiddleware

flask_app = Flask(__name__)
flask_app.wsgi_app = ForwardedPrefixMiddleware(flask_app.wsgi_app)  # Django: wrap get_wsgi_application()


@flask_app.get("/app")
def flask_where_am_i():
    return {"url": url_for("flask_where_am_i"), "absolute": url_for("flask_where_am_i", _external=True)}


def test_flask_learns_its_prefix(stripproxy_sync):
    server = make_server("127.0.0.1", 0, flask_app, threaded=True)  # any WSGI server: gunicorn, waitress...
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        gateway = stripproxy_sync("config/routes.toml", services={"app": f"http://127.0.0.1:{server.server_port}"})
        answer = requests.get(gateway.url + "/api/v1/app", timeout=5).json()
    finally:
        server.shutdown()
        server.server_close()
    assert answer == {"url": "/api/v1/app", "absolute": gateway.url + "/api/v1/app"}
# --- end


# --- example: Gateway
from proxy import Gateway


async def test_gateway_as_a_context_manager(serve_app):
    app = await serve_app(api, root_path="/api/v1")
    async with Gateway("config/routes.toml", services={"app": app.url}) as gateway:
        async with httpx.AsyncClient() as client:
            response = await client.get(gateway.url + "/api/v1/app")
    assert response.json()["root_path"] == "/api/v1"
# --- end


# --- example: script
from proxy import BackgroundGateway


def fetch_through_proxy(app_url: str) -> dict:
    with BackgroundGateway("config/traefik.toml", free_ports=True, services={"app": app_url}) as gateway:
        return requests.get(gateway.url + "/api/v1/app", timeout=5).json()
# --- end


def test_fetch_through_proxy(serve_app_sync) -> None:
    app = serve_app_sync(api, root_path="/api/v1")
    assert fetch_through_proxy(app.url) == {"message": "Hello World", "root_path": "/api/v1"}


# --- example: the real CLI
def test_the_real_cli(serve_app_sync, stripproxy_process):
    app = serve_app_sync(api, root_path="/api/v1")
    gateway = stripproxy_process("config/traefik.toml", services={"app": app.url})

    response = requests.get(gateway.url + "/api/v1/app", timeout=5)
    assert response.json() == {"message": "Hello World", "root_path": "/api/v1"}
# --- end


# --- example: access log
def test_the_access_log_traefik_would_write(serve_app_sync, stripproxy_sync, stripproxy_access_log):
    app = serve_app_sync(api, root_path="/api/v1")
    gateway = stripproxy_sync("config/traefik.toml", services={"app": app.url})
    access_log = stripproxy_access_log(gateway)

    requests.get(gateway.url + "/api/v1/app?page=2", timeout=5)
    (record,) = access_log.wait_for(1)
    assert record["RequestPath"] == "/api/v1/app?page=2"
    assert record["RouterName"] == "app-http@file"
    assert (record["DownstreamStatus"], record["ServiceURL"]) == (200, app.url)
# --- end


# --- example: production files
async def sso_verify(request: web.Request) -> web.Response:
    return web.Response(headers={"X-User": "alice"})


async def me(request: web.Request) -> web.Response:
    return web.json_response({"user": request.headers.get("X-User")})


async def test_production_files(serve_app, stripproxy):
    sso, app = web.Application(), web.Application()
    sso.router.add_get("/verify", sso_verify)
    app.router.add_get("/me", me)
    sso_url, app_url = (await serve_app(sso)).url, (await serve_app(app)).url
    gateway = await stripproxy(
        "config/production/traefik.toml",  # HTTPS with an ACME certResolver, SSO forwardAuth, error pages
        services={"app": app_url, "error-pages": app_url},
        middlewares={"sso": {"address": sso_url + "/verify"}},
    )
    async with aiohttp.ClientSession() as client:
        async with client.get(
            gateway.urls["websecure"] + "/me",
            headers={"Host": "app.example.com"},
            server_hostname="app.example.com",
            ssl=gateway.client_ssl_context(),
        ) as response:
            assert await response.json() == {"user": "alice"}, gateway.explain()
    assert "middleware sso: forwardAuth.address -> " in gateway.explain()
# --- end
