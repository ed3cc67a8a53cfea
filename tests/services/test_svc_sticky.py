"""Sticky cookies (Traefik pkg/server/service/loadbalancer/sticky_test.go, wrr/wrr_test.go TestSticky*,
pkg/server/cookie/cookie_test.go), through a gateway with real cookie jars (httpx)."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from svc_helpers import routes, servers, until

from proxy.message import HeaderList, RequestHead
from proxy.services.sticky import Sticky, cookie_name, fnv_value, sha256_value


def sha16(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@pytest.mark.parametrize(
    ("configured", "service", "expected"),
    [
        pytest.param("", "/my/BACKEND-v1.0~rc1", "_5f7bc", id="with-backend-name-without-cookie-name"),
        pytest.param("/my/BACKEND-v1.0~rc1", "", "_my_BACKEND-v1.0~rc1", id="without-backend-name-with-cookie-name"),
        pytest.param("cookie", "backend", "cookie", id="with-backend-name-with-cookie-name"),
        pytest.param("!#$%&'()*+-./:<=>?@[]^_`{|}~", "", "!#$%&'__*+-._________^_`_|_~", id="sanitized-characters"),
        pytest.param("", "backend", "_76eb3", id="generated"),
    ],
)
def test_cookie_name(configured: str, service: str, expected: str) -> None:
    """cookie_test.go TestGetName, Test_sanitizeName, TestGenerateName."""
    assert cookie_name(configured, service) == expected


def _request(*cookies: str) -> RequestHead:
    return RequestHead("GET", "/", None, HeaderList([("Cookie", c) for c in cookies]))


@pytest.mark.parametrize(
    ("children", "cookie", "want", "rewrite"),
    [
        pytest.param(["first"], None, None, False, id="no-previous-cookie"),
        pytest.param(["first"], f"test={sha16('foo')}", None, False, id="wrong-previous-cookie"),
        pytest.param(["first", "second"], f"test={sha16('first')}", "first", False, id="sha256-previous-cookie"),
        pytest.param(["first", "second"], "test=first", "first", True, id="raw-previous-cookie"),
        pytest.param(["first", "second"], f"test={fnv_value('first')}", "first", True, id="fnv-previous-cookie"),
        pytest.param(
            ["first", "second"], f"test={fnv_value(fnv_value('first'))}", "first", True, id="double-fnv-previous-cookie"
        ),
        pytest.param(
            ["first", "second"], f'other=1; test="{sha16("second")}"', "second", False, id="quoted-among-others"
        ),
    ],
)
def test_sticky_lookup(children: list[str], cookie: str | None, want: str | None, rewrite: bool) -> None:
    """sticky_test.go TestSticky_StickyHandler."""
    sticky: Sticky[str] = Sticky("test")
    for child in children:
        sticky.add(child, child.upper())
    found = sticky.lookup(_request(cookie) if cookie else _request())
    if want is None:
        assert found is None
    else:
        assert found == (want, want.upper(), rewrite)


def test_fnv_is_go_fnv64_not_1a() -> None:
    # FNV-1 64 test vectors: "" -> offset basis, "a" -> 0xaf63bd4c8601b7be.
    assert fnv_value("") == "cbf29ce484222325"
    assert fnv_value("a") == "af63bd4c8601b7be"
    assert sha256_value("first") == sha16("first")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param(
            {
                "secure": True,
                "http_only": True,
                "same_site": "none",
                "max_age": 42,
                "path": "/foo",
                "domain": "foo.com",
            },
            "test={v}; Path=/foo; Domain=foo.com; Max-Age=42; HttpOnly; Secure; SameSite=None",
            id="all-attributes",
        ),  # sticky_test.go TestSticky_WriteStickyCookie
        pytest.param({}, "test={v}; Path=/", id="defaults"),
        pytest.param({"path": ""}, "test={v}", id="empty-path"),
        pytest.param({"max_age": -1}, "test={v}; Path=/; Max-Age=0", id="negative-max-age"),
        pytest.param({"same_site": "LAX"}, "test={v}; Path=/; SameSite=Lax", id="samesite-case-insensitive"),
        pytest.param({"same_site": "STRICT"}, "test={v}; Path=/; SameSite=Strict", id="samesite-strict"),
        pytest.param({"same_site": "invalid"}, "test={v}; Path=/", id="samesite-invalid-default"),
        pytest.param({"domain": ".example.com"}, "test={v}; Path=/; Domain=example.com", id="leading-dot-dropped"),
        pytest.param({"domain": "bad_domain"}, "test={v}; Path=/", id="invalid-domain-dropped-as-go"),
        pytest.param({"domain": "127.0.0.1"}, "test={v}; Path=/; Domain=127.0.0.1", id="ipv4-domain"),
    ],
)
def test_set_cookie_as_go_writes_it(options: dict[str, object], expected: str) -> None:
    sticky: Sticky[str] = Sticky("test", **options)
    assert sticky.set_cookie_value("first") == expected.format(v=sha16("first"))


async def test_sticky_cookie_through_the_gateway(upstreams, gateway) -> None:
    """wrr_test.go TestSticky: the first answer sets the cookie; the jar keeps the client on that server."""
    a, b = await upstreams("a", "b")
    gw = await gateway(
        routes(
            {
                "svc": {
                    "loadBalancer": {
                        "servers": servers(a, b),
                        "sticky": {"cookie": {"name": "test", "httpOnly": True, "sameSite": "strict", "maxAge": 60}},
                    }
                }
            }
        )
    )
    async with httpx.AsyncClient(base_url=gw.url) as client:
        first = await client.get("/")
        assert first.status_code == 200, gw.explain()
        server = a if first.text == "a" else b
        assert first.headers.get_list("set-cookie") == [
            f"test={sha16(server.url)}; Path=/; Max-Age=60; HttpOnly; SameSite=Strict"
        ]
        later = [await client.get("/") for _ in range(6)]
    assert {r.text for r in later} == {server.name}
    assert all("set-cookie" not in r.headers for r in later)  # a valid cookie is not written again
    async with httpx.AsyncClient(base_url=gw.url) as fresh:  # no cookie kept: round robin
        names = []
        for _ in range(4):
            names.append((await fresh.get("/")).text)
            fresh.cookies.clear()
    assert sorted(names) == ["a", "a", "b", "b"]


async def test_default_cookie_name_is_derived_from_the_qualified_service(upstreams, gateway) -> None:
    (a,) = await upstreams("a")
    gw = await gateway(routes({"svc": {"loadBalancer": {"servers": servers(a), "sticky": {"cookie": {}}}}}))
    async with httpx.AsyncClient() as client:
        response = await client.get(gw.url)
    name = "_" + hashlib.sha1(b"_TRAEFIK_BACKEND_svc@file").hexdigest()[:5]
    assert response.headers["set-cookie"] == f"{name}={sha16(a.url)}; Path=/"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("raw", id="raw-url"),
        pytest.param("fnv", id="fnv"),
        pytest.param("unknown", id="unknown"),
    ],
)
async def test_cookie_values_that_are_rewritten(upstreams, gateway, value: str) -> None:
    """A legacy value still selects its server and is rewritten; an unknown one gets a new pick."""
    a, b = await upstreams("a", "b")
    gw = await gateway(
        routes({"svc": {"loadBalancer": {"servers": servers(a, b), "sticky": {"cookie": {"name": "s"}}}}})
    )
    cookie = {"raw": b.url, "fnv": fnv_value(b.url), "unknown": "0123456789abcdef"}[value]
    async with httpx.AsyncClient() as client:
        response = await client.get(gw.url, headers={"Cookie": f"s={cookie}"})
    if value == "unknown":
        picked = a if response.text == "a" else b
        assert response.headers["set-cookie"] == f"s={sha16(picked.url)}; Path=/"
    else:
        assert response.text == "b"
        assert response.headers["set-cookie"] == f"s={sha16(b.url)}; Path=/"


async def test_cookie_naming_a_down_server_falls_back(upstreams, gateway) -> None:
    """wrr_test.go TestSticky_Fallback, with a real health check taking the server out."""
    a, b = await upstreams("a", "b")
    gw = await gateway(
        routes(
            {
                "svc": {
                    "loadBalancer": {
                        "servers": servers(a, b),
                        "sticky": {"cookie": {"name": "s"}},
                        "healthCheck": {"path": "/health", "interval": "50ms", "timeout": "1s"},
                    }
                }
            }
        )
    )
    async with httpx.AsyncClient(base_url=gw.url) as client:
        first = (await client.get("/")).text
        stuck, other = (a, b) if first == "a" else (b, a)
        assert (await client.get("/")).text == stuck.name
        stuck.health_status = 503
        await until(lambda: stuck.url in gw.last_build.services["svc"].down)
        moved = await client.get("/")
        assert moved.text == other.name
        assert moved.headers["set-cookie"] == f"s={sha16(other.url)}; Path=/"
        assert (await client.get("/")).text == other.name  # the jar now holds the new cookie
        stuck.health_status = 200
        await until(lambda: not gw.last_build.services["svc"].down)
        assert (await client.get("/")).text == other.name  # it stays where the cookie says


async def test_sticky_on_two_levels(upstreams, gateway) -> None:
    """Docs, "Stickiness on multiple levels": a weighted service and its load balancers each set a cookie."""
    a1, a2, b1 = await upstreams("a1", "a2", "b1")
    gw = await gateway(
        routes(
            {
                "svc": {
                    "weighted": {
                        "services": [{"name": "lb-a"}, {"name": "lb-b"}],
                        "sticky": {"cookie": {"name": "lvl1"}},
                    }
                },
                "lb-a": {"loadBalancer": {"servers": servers(a1, a2), "sticky": {"cookie": {"name": "lvl2"}}}},
                "lb-b": {"loadBalancer": {"servers": servers(b1), "sticky": {"cookie": {"name": "lvl2b"}}}},
            }
        )
    )
    async with httpx.AsyncClient(base_url=gw.url) as client:
        first = await client.get("/")
        cookies = first.headers.get_list("set-cookie")
        assert cookies[0].startswith("lvl1=")  # the parent's first, as Traefik writes them
        assert len(cookies) == 2
        again = [await client.get("/") for _ in range(5)]
    assert {r.text for r in again} == {first.text}
    assert all("set-cookie" not in r.headers for r in again)


async def test_sticky_cookie_comes_before_the_upstreams_own(gateway) -> None:
    from aiohttp import web

    from proxy.testing.upstreams import serve_aiohttp

    async def handler(request: web.BaseRequest) -> web.Response:
        response = web.Response(text="ok")
        response.headers.add("Set-Cookie", "app=1")
        return response

    async with serve_aiohttp(handler) as served:
        gw = await gateway(
            routes({"svc": {"loadBalancer": {"servers": [{"url": served.url}], "sticky": {"cookie": {"name": "s"}}}}})
        )
        async with httpx.AsyncClient() as client:
            response = await client.get(gw.url)
    assert response.headers.get_list("set-cookie") == [f"s={sha16(served.url)}; Path=/", "app=1"]
