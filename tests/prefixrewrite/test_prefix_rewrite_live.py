"""stripproxy's prefixRewrite (issue #14, not Traefik) end to end: a real aiohttp upstream that answers as if it
lived at `/`, behind `/api/v1` with stripPrefix, a live gateway and real clients (aiohttp, httpx)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp import web

from proxy.forwarder.plan import RoutePlan
from proxy.middlewares.prefixrewrite import GATEWAY_NAME
from proxy.prefixrewrite.headers import REWRITTEN
from proxy.testing import serve_aiohttp


async def app_handler(request: web.Request) -> web.StreamResponse:
    """An app that knows nothing of a prefix: `/go?to=X` redirects to X; `/cookie` sets cookies."""
    if request.path == "/go":
        return web.Response(status=302, headers={"Location": request.query["to"]})
    if request.path == "/cookie":
        response = web.Response(text="ok")
        for value in request.query.getall("c"):
            response.headers.add("Set-Cookie", value)
        return response
    if request.path == "/headers":
        response = web.Response(text="ok")
        for item in request.query.getall("h"):
            name, _, value = item.partition(":")
            response.headers.add(name, value)
        return response
    return web.Response(text=f"path={request.path} prefix={request.headers.get('X-Forwarded-Prefix')}")


@pytest.fixture
async def app_url() -> AsyncIterator[str]:
    async with serve_aiohttp(app_handler) as served:
        yield served.url


def config(app_url: str, middlewares: dict[str, Any], names: list[str] | None = None) -> dict[str, Any]:
    return {
        "http": {
            "routers": {
                "api": {
                    "rule": "PathPrefix(`/api/v1`)",
                    "service": "app",
                    "middlewares": list(middlewares) if names is None else names,
                },
                "plain": {"rule": "PathPrefix(`/go`)", "service": "app"},
            },
            "middlewares": middlewares,
            "services": {"app": {"loadBalancer": {"servers": [{"url": app_url}]}}},
        }
    }


STRIP = {"strip": {"stripPrefix": {"prefixes": ["/api/v1"]}}}


async def raw_get(url: str, params: list[tuple[str, str]] | None = None) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as session:
        async with session.get(url, params=params, allow_redirects=False) as response:
            await response.read()
            return response


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        pytest.param("/login", "/api/v1/login", id="absolute path gets the prefix"),
        pytest.param("/", "/api/v1/", id="the app's root"),
        pytest.param("/login?next=/x#f", "/api/v1/login?next=/x#f", id="query and fragment kept"),
        pytest.param("/api/v1/login", "/api/v1/login", id="already prefixed: untouched"),
        pytest.param("/api/v1", "/api/v1", id="the bare prefix: untouched"),
        pytest.param("/api/v10", "/api/v1/api/v10", id="a longer segment is not the prefix"),
        pytest.param("login", "login", id="relative: the browser resolves it under the prefix"),
        pytest.param("../x", "../x", id="dot-relative: untouched, as nginx proxy_redirect"),
        pytest.param("?page=2", "?page=2", id="query only"),
        pytest.param("https://other.example/x", "https://other.example/x", id="another origin"),
        pytest.param("//other.example/x", "//other.example/x", id="scheme-relative other origin"),
        pytest.param("mailto:a@b.c", "mailto:a@b.c", id="another scheme"),
    ],
)
async def test_location(stripproxy: Any, app_url: str, location: str, expected: str) -> None:
    gateway = await stripproxy(config(app_url, {**STRIP, "back": {"prefixRewrite": {}}}))
    response = await raw_get(f"{gateway.url}/api/v1/go", [("to", location)])
    assert response.status == 302
    assert response.headers["Location"] == expected
    record = gateway.exchanges[-1]
    assert record.rewrites == (() if expected == location else (("Location", location, expected),))


async def test_upstream_and_public_origins(stripproxy: Any, app_url: str) -> None:
    """An absolute URL on the upstream's origin gets the public origin and the prefix; one on the public
    origin (what an app writes from the Host it was sent) gets the prefix."""
    gateway = await stripproxy(config(app_url, {**STRIP, "back": {"prefixRewrite": {}}}))
    public = gateway.url
    response = await raw_get(f"{public}/api/v1/go", [("to", f"{app_url}/login?x=1")])
    assert response.headers["Location"] == f"{public}/api/v1/login?x=1"
    response = await raw_get(f"{public}/api/v1/go", [("to", f"{public}/items/")])
    assert response.headers["Location"] == f"{public}/api/v1/items/"
    response = await raw_get(f"{public}/api/v1/go", [("to", f"{public}/api/v1/items/")])
    assert response.headers["Location"] == f"{public}/api/v1/items/"


@pytest.mark.parametrize(
    ("cookie", "expected"),
    [
        pytest.param("sid=1; Path=/", "sid=1; Path=/api/v1", id="root path becomes the prefix"),
        pytest.param("sid=1; Path=/x; HttpOnly", "sid=1; Path=/api/v1/x; HttpOnly", id="path gets the prefix"),
        pytest.param("sid=1; path=/api/v1/x", "sid=1; path=/api/v1/x", id="already prefixed"),
        pytest.param("sid=1; Path=/; Domain=127.0.0.1", "sid=1; Path=/api/v1", id="upstream domain dropped"),
        pytest.param(
            "sid=1; Path=/; Domain=other.example", "sid=1; Path=/api/v1; Domain=other.example", id="other domain kept"
        ),
        pytest.param("sid=1", "sid=1", id="no path on /api/v1/cookie: the default-path is already /api/v1"),
    ],
)
async def test_set_cookie(stripproxy: Any, app_url: str, cookie: str, expected: str) -> None:
    gateway = await stripproxy(config(app_url, {**STRIP, "back": {"prefixRewrite": {}}}))
    response = await raw_get(f"{gateway.url}/api/v1/cookie", [("c", cookie)])
    assert response.headers.getall("Set-Cookie") == [expected]


async def test_cookie_without_path_on_the_bare_prefix(stripproxy: Any, app_url: str) -> None:
    """RFC 6265 5.1.4: on `/api/v1` the browser would scope a Path-less cookie to `/api`: Path=/api/v1 is added."""

    gateway = await stripproxy(config(app_url, {**STRIP, "back": {"prefixRewrite": {}}}))
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gateway.url}/api/v1", allow_redirects=False) as response:
            assert response.status == 200
    # the bare prefix reaches the app as `/`; its answer has no cookie: check the cookie rule on /headers instead
    response = await raw_get(f"{gateway.url}/api/v1/headers", [("h", "Refresh:0; url=/next")])
    assert response.headers["Refresh"] == "0; url=/api/v1/next"


async def test_refresh_link_content_location(stripproxy: Any, app_url: str) -> None:
    gateway = await stripproxy(config(app_url, {**STRIP, "back": {"prefixRewrite": {}}}))
    response = await raw_get(
        f"{gateway.url}/api/v1/headers",
        [
            ("h", "Refresh:5; URL='/x'"),
            ("h", "Link:</a.css>; rel=preload, <https://cdn.example/b.js>; rel=preload, <c>; rel=next"),
            ("h", "Content-Location:/items/1"),
        ],
    )
    assert response.headers["Refresh"] == "5; URL='/api/v1/x'"
    assert (
        response.headers["Link"]
        == "</api/v1/a.css>; rel=preload, <https://cdn.example/b.js>; rel=preload, <c>; rel=next"
    )
    assert response.headers["Content-Location"] == "/api/v1/items/1"
    names = [name for name, _, _ in gateway.exchanges[-1].rewrites]
    assert names == ["Refresh", "Link", "Content-Location"]


async def test_options_headers_and_cookies_off(stripproxy: Any, app_url: str) -> None:
    gateway = await stripproxy(config(app_url, {**STRIP, "back": {"prefixRewrite": {"headers": False}}}))
    response = await raw_get(f"{gateway.url}/api/v1/go", [("to", "/login")])
    assert response.headers["Location"] == "/login"
    response = await raw_get(f"{gateway.url}/api/v1/cookie", [("c", "a=1; Path=/")])
    assert response.headers["Set-Cookie"] == "a=1; Path=/api/v1"
    gateway = await stripproxy(config(app_url, {**STRIP, "back": {"prefixRewrite": {"cookies": False}}}))
    response = await raw_get(f"{gateway.url}/api/v1/cookie", [("c", "a=1; Path=/")])
    assert response.headers["Set-Cookie"] == "a=1; Path=/"


async def test_slash_redirect(stripproxy: Any, app_url: str) -> None:
    """nginx answers a prefix location's bare form with a 301 to the slashed one; so does slashRedirect."""
    gateway = await stripproxy(config(app_url, {**STRIP, "back": {"prefixRewrite": {"slashRedirect": True}}}))
    response = await raw_get(f"{gateway.url}/api/v1?a=1")
    assert response.status == 301
    assert response.headers["Location"] == "/api/v1/?a=1"
    async with httpx.AsyncClient(follow_redirects=True) as client:
        followed = await client.get(f"{gateway.url}/api/v1")
    assert followed.text == "path=/ prefix=/api/v1"
    assert str(followed.url).endswith("/api/v1/")
    # off by default: the bare prefix is forwarded as `/`
    gateway = await stripproxy(config(app_url, {**STRIP, "back": {"prefixRewrite": {}}}))
    response = await raw_get(f"{gateway.url}/api/v1")
    assert response.status == 200


@pytest.mark.parametrize(
    ("middlewares", "path"),
    [
        pytest.param({"s": {"stripPrefixRegex": {"regex": ["/api/v[0-9]+"]}}}, "/api/v1", id="stripPrefixRegex"),
        pytest.param(
            {"s": {"replacePathRegex": {"regex": "^/api/v1/(.*)", "replacement": "/$1"}}},
            "/api/v1",
            id="replacePathRegex that is a plain strip",
        ),
        pytest.param(
            {"a": {"stripPrefix": {"prefixes": ["/api"]}}, "b": {"stripPrefix": {"prefixes": ["/v1"]}}},
            "/api/v1",
            id="two strips, in order",
        ),
    ],
)
async def test_strips_it_inverts(stripproxy: Any, app_url: str, middlewares: dict[str, Any], path: str) -> None:
    gateway = await stripproxy(config(app_url, {**middlewares, "back": {"prefixRewrite": {}}}))
    response = await raw_get(f"{gateway.url}{path}/go", [("to", "/login")])
    assert response.headers["Location"] == "/api/v1/login"


async def test_stripprefixregex_uses_this_requests_match(stripproxy: Any, app_url: str) -> None:
    middlewares = {"s": {"stripPrefixRegex": {"regex": ["/api/v[0-9]+"]}}, "back": {"prefixRewrite": {}}}
    cfg = config(app_url, middlewares)
    cfg["http"]["routers"]["api"]["rule"] = "PathPrefix(`/api`)"
    gateway = await stripproxy(cfg)
    response = await raw_get(f"{gateway.url}/api/v7/go", [("to", "/login")])
    assert response.headers["Location"] == "/api/v7/login"


@pytest.mark.parametrize(
    "middlewares",
    [
        pytest.param({"s": {"replacePath": {"path": "/app"}}}, id="replacePath"),
        pytest.param({"s": {"replacePathRegex": {"regex": "^/api/(.*)/v1", "replacement": "/$1"}}}, id="regex"),
        pytest.param(
            {"s": {"stripPrefix": {"prefixes": ["/api/v1"]}}, "p": {"addPrefix": {"prefix": "/v2"}}}, id="addPrefix"
        ),
    ],
)
async def test_not_invertible_is_reported(stripproxy: Any, app_url: str, middlewares: dict[str, Any]) -> None:
    gateway = await stripproxy(config(app_url, {**middlewares, "back": {"prefixRewrite": {}}}), strict=False)
    problems = [str(p) for p in gateway.last_build.problems]
    assert any("prefixRewrite: not applied to this router" in p and "cannot be inverted" in p for p in problems), (
        problems
    )
    response = await raw_get(f"{gateway.url}/api/v1/go", [("to", "/login")])
    assert response.headers.get("Location", "/login").endswith("/login")
    assert gateway.exchanges[-1].rewrites == ()


async def test_gateway_wide_option(stripproxy: Any, app_url: str) -> None:
    """`rewrite_prefix=True`: every route that strips gets the rewriter; a route that strips nothing keeps the
    plain plan (no response hook at all)."""
    gateway = await stripproxy(config(app_url, STRIP), rewrite_prefix=True)
    response = await raw_get(f"{gateway.url}/api/v1/go", [("to", "/login")])
    assert response.headers["Location"] == "/api/v1/login"
    assert gateway.exchanges[-1].middlewares == ("strip", GATEWAY_NAME)
    plain: RoutePlan = gateway.routers["plain@file"]
    assert plain.relays_as_is and not plain.response_hooks and plain.middlewares == ()
    response = await raw_get(f"{gateway.url}/go", [("to", "/login")])
    assert response.headers["Location"] == "/login"
    # off by default
    gateway = await stripproxy(config(app_url, STRIP))
    response = await raw_get(f"{gateway.url}/api/v1/go", [("to", "/login")])
    assert response.headers["Location"] == "/login"
    assert gateway.routers["api@file"].relays_as_is


async def test_gateway_wide_html_is_refused(stripproxy: Any, app_url: str) -> None:
    with pytest.raises(ValueError, match="rewrite_prefix='html': html: not available yet"):
        await stripproxy(config(app_url, STRIP), rewrite_prefix="html")


async def test_the_gateways_own_sticky_cookie_is_left_as_configured(stripproxy: Any, app_url: str) -> None:
    """A sticky service's cookie is Traefik's (its path as configured), not the app's: only the app's moves."""
    cfg = config(app_url, {**STRIP, "back": {"prefixRewrite": {}}})
    cfg["http"]["services"]["app"]["loadBalancer"]["sticky"] = {"cookie": {"name": "lb"}}
    gateway = await stripproxy(cfg)
    response = await raw_get(f"{gateway.url}/api/v1/cookie", [("c", "app=1; Path=/")])
    cookies = response.headers.getall("Set-Cookie")
    assert [c for c in cookies if c.startswith("app=")] == ["app=1; Path=/api/v1"]
    sticky = [c for c in cookies if c.startswith("lb=")]
    assert len(sticky) == 1 and "Path=/api/v1" not in sticky[0] and "Path=/" in sticky[0], cookies


async def test_a_response_without_those_headers_is_relayed_as_is(stripproxy: Any, app_url: str) -> None:
    """The rewriter only acts on Location, Content-Location, Refresh, Link and Set-Cookie: a plan with it
    still relays other response heads as the upstream wrote them (what keeps its cost near zero)."""
    gateway = await stripproxy(config(app_url, STRIP), rewrite_prefix=True)
    plan: RoutePlan = gateway.routers["api@file"]
    assert not plan.relays_as_is and plan.relays_unless == REWRITTEN
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gateway.url}/api/v1/x") as response:
            assert await response.text() == "path=/x prefix=/api/v1"
    response = await raw_get(f"{gateway.url}/api/v1/go", [("to", "/login")])
    assert response.headers["Location"] == "/api/v1/login"
