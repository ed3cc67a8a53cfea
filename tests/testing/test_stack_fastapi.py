"""FastAPI's "Behind a Proxy" guide behind our gateway, with a real FastAPI app served by real uvicorn, and
the ForwardedPrefixMiddleware that lets an app learn its prefix from a trusted proxy."""

from __future__ import annotations

import socket
import warnings
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import FastAPIDeprecationWarning

from proxy.asgi import ForwardedPrefixMiddleware, forwarded_prefix, parse_trusted, with_prefix

ROUTES = Path(__file__).resolve().parents[2] / "config" / "routes.toml"
TWO_STRIPS = """
[http.routers.app]
  rule = "PathPrefix(`/outer/inner`)"
  service = "app"
  middlewares = ["outer", "inner"]
[http.middlewares.outer.stripPrefix]
  prefixes = ["/outer"]
[http.middlewares.inner.stripPrefix]
  prefixes = ["/inner"]
[http.services.app.loadBalancer]
  [[http.services.app.loadBalancer.servers]]
    url = "http://127.0.0.1:1"
"""


def guide_app(**options: Any) -> FastAPI:
    app = FastAPI(**options)

    @app.get("/app")
    def read_main(request: Request) -> dict[str, Any]:
        return {"message": "Hello World", "root_path": request.scope.get("root_path")}

    return app


def portable_app(trusted: Any) -> FastAPI:
    app = guide_app()
    app.add_middleware(ForwardedPrefixMiddleware, trusted=trusted)
    return app


async def test_fastapi_root_path_setting(serve_app: Any, stripproxy: Any) -> None:
    """The guide's first form: FastAPI(root_path=...) (deprecated by FastAPI in favour of the server option)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FastAPIDeprecationWarning)
        app = guide_app(root_path="/api/v1")
    served = await serve_app(app)
    gateway = await stripproxy(ROUTES, services={"app": served.url})
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        assert (await client.get("/api/v1/app")).json() == {"message": "Hello World", "root_path": "/api/v1"}
        docs = await client.get("/api/v1/docs")
        assert docs.status_code == 200 and "url: '/api/v1/openapi.json'" in docs.text
        assert (await client.get("/api/v1/openapi.json")).json()["servers"] == [{"url": "/api/v1"}]
    assert [e.upstream_target for e in gateway.exchanges] == ["/app", "/docs", "/openapi.json"]


async def test_root_path_from_nested_strips_adds_up(serve_app: Any, stripproxy: Any) -> None:
    served = await serve_app(portable_app(["127.0.0.1"]))
    gateway = await stripproxy(TWO_STRIPS, services={"app": served.url})
    async with httpx.AsyncClient() as client:
        response = await client.get(gateway.url + "/outer/inner/app")
    assert response.json()["root_path"] == "/outer/inner"


async def test_a_trusted_address_may_set_the_prefix_itself(serve_app: Any) -> None:
    served = await serve_app(portable_app(["127.0.0.0/8"]))
    async with httpx.AsyncClient() as client:
        response = await client.get(served.url + "/app", headers={"X-Forwarded-Prefix": "/mounted"})
    assert response.json()["root_path"] == "/mounted"


def _can_bind(address: str) -> bool:
    try:
        with socket.socket() as sock:
            sock.bind((address, 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _can_bind("127.0.0.2"), reason="needs the whole 127/8 loopback (Linux)")
async def test_a_forged_prefix_from_an_untrusted_address_is_ignored(serve_app: Any, stripproxy: Any) -> None:
    # uvicorn's proxy headers would put the end client (127.0.0.2) in `client`: the middleware must see the peer.
    served = await serve_app(portable_app(["127.0.0.1"]), proxy_headers=False)
    gateway = await stripproxy(ROUTES, services={"app": served.url})
    forged = {"X-Forwarded-Prefix": "/evil"}
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")  # a client that is not the proxy
    async with httpx.AsyncClient(transport=transport) as outsider:
        direct = await outsider.get(served.url + "/app", headers=forged)
        via_proxy = await outsider.get(gateway.url + "/api/v1/app")
    assert direct.json()["root_path"] == ""
    assert via_proxy.json()["root_path"] == "/api/v1"


@pytest.mark.skipif(not _can_bind("127.0.0.2"), reason="needs the whole 127/8 loopback (Linux)")
async def test_uvicorn_proxy_headers_hide_the_proxy_address(serve_app: Any, stripproxy: Any) -> None:
    """Why the README says --no-proxy-headers: uvicorn trusts the gateway (127.0.0.1) and reports the end
    client (127.0.0.2) as `client`, so the middleware no longer sees a trusted proxy."""
    served = await serve_app(portable_app(["127.0.0.1"]))  # uvicorn's default: proxy headers on
    gateway = await stripproxy(ROUTES, services={"app": served.url})
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(transport=transport) as outsider:
        assert (await outsider.get(gateway.url + "/api/v1/app")).json()["root_path"] == ""


# -- the middleware's own rules (table tests on plain ASGI scopes) --------------------------------------
@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param(["/api/v1"], "/api/v1", id="one prefix"),
        pytest.param(["/api/v1/"], "/api/v1", id="trailing slash dropped"),
        pytest.param(["/api", "/v1"], "/api/v1", id="two strips add up in order"),
        pytest.param(["/api, /v1"], "/api/v1", id="comma-folded values"),
        pytest.param(["/"], "", id="root prefix is no prefix"),
        pytest.param(["api"], None, id="relative refused"),
        pytest.param(["//evil.example"], None, id="scheme-relative refused"),
        pytest.param(["/a/../b"], None, id="dot segment refused"),
        pytest.param(["/a\\b"], None, id="backslash refused"),
        pytest.param(["/a\x01"], None, id="control character refused"),
        pytest.param(["/ok", "bad"], None, id="one bad value spoils all"),
    ],
)
def test_forwarded_prefix(values: list[str], expected: str | None) -> None:
    assert forwarded_prefix(values) == expected


@pytest.mark.parametrize(
    ("trusted", "client", "expected"),
    [
        pytest.param(["127.0.0.1"], ("127.0.0.1", 5), True, id="listed address"),
        pytest.param(["127.0.0.1"], ("127.0.0.2", 5), False, id="other address"),
        pytest.param("10.0.0.0/8, ::1", ("10.9.8.7", 5), True, id="network in a comma list"),
        pytest.param(["::1"], ("::1", 5), True, id="ipv6"),
        pytest.param("*", ("203.0.113.9", 5), True, id="everyone"),
        pytest.param(["127.0.0.1"], None, False, id="no client address"),
        pytest.param(["127.0.0.1"], ("/tmp/app.sock", 0), False, id="not an IP"),
    ],
)
def test_trusted_addresses(trusted: Any, client: Any, expected: bool) -> None:
    assert ForwardedPrefixMiddleware(guide_app(), trusted=trusted).is_trusted(client) is expected


def test_a_bad_trusted_address_is_refused_with_its_value() -> None:
    with pytest.raises(ValueError, match="trusted address 'localhost'"):
        parse_trusted(["localhost"])


def test_with_prefix_keeps_the_asgi_path_invariant() -> None:
    """ASGI: path includes root_path; a server's own --root-path stays inside the proxy's prefix."""
    scope = {"type": "http", "path": "/srv/app", "raw_path": b"/srv/app", "root_path": "/srv"}
    mounted = with_prefix(scope, "/api v1")
    assert (mounted["root_path"], mounted["path"], mounted["raw_path"]) == (
        "/api v1/srv",
        "/api v1/srv/app",
        b"/api%20v1/srv/app",
    )
    assert scope["root_path"] == "/srv"  # the server's scope is not changed in place


async def test_serve_app_serves_websockets_by_default(serve_app: Any, stripproxy: Any) -> None:
    app = FastAPI()

    @app.websocket("/ws")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(f"path {websocket.url.path}")
        await websocket.send_text(await websocket.receive_text())
        await websocket.close()

    served = await serve_app(app)
    gateway = await stripproxy(str(ROUTES), services={"app": served.url})
    async with aiohttp.ClientSession() as client, client.ws_connect(gateway.url + "/api/v1/ws") as ws:
        assert (await ws.receive_str()) == "path /ws"  # stripped on the way, as for any request
        await ws.send_str("hello")
        assert (await ws.receive_str()) == "hello"
