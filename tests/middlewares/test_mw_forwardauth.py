"""forwardAuth, from traefik/traefik pkg/middlewares/auth/forward_test.go: the header tables
(TestForwardAuth_writeHeader, TestForwardAuth_oldWriteHeader) on the pure function, and the server tests
(TestForwardAuthFail, ...Success, ...Redirect, ...RemoveHopByHopHeaders, ...FailResponseHeaders,
...PreserveLocationHeader, ...PreserveRequestMethod, ...MaxResponseBodySize, ...AuthSigninURL,
...ForwardError, ...ClientClosedRequest) through a live gateway, a real aiohttp auth server and real clients.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp import web

from proxy.config.dynamic_middlewares import MiddlewareConfig
from proxy.message import HeaderList, RequestHead
from proxy.middlewares.factory import build_middleware
from proxy.middlewares.forwardauth import ForwardAuth
from proxy.middlewares.forwardauth_headers import auth_request_headers, canonical_key, wire_headers
from proxy.middlewares.redirectregex import go_redirect


def build(options: dict) -> ForwardAuth:
    config = MiddlewareConfig.model_validate({"forwardAuth": {"address": "http://127.0.0.1:1/auth", **options}})
    middleware = build_middleware("forwardAuth", config.options(), lambda _: None, "auth@file")
    assert isinstance(middleware, ForwardAuth)
    return middleware


# -- the headers sent to the auth server ----------------------------------------------------------------
HOP = {
    "Connection": "Connection",
    "Keep-Alive": "KeepAlive",
    "Proxy-Authenticate": "ProxyAuthenticate",
    "Proxy-Authorization": "ProxyAuthorization",
    "Te": "Te",
    "Trailers": "Trailers",
    "Transfer-Encoding": "TransferEncoding",
    "Upgrade": "Upgrade",
    "X-CustomHeader": "CustomHeader",
}
XF = {
    "X-Forwarded-Proto": "http",
    "X-Forwarded-Host": "foo.bar",
    "X-Forwarded-Uri": "/path?q=1",
    "X-Forwarded-Method": "GET",
}
XF_PORT = {**XF, "X-Forwarded-Port": "80"}
CT = {"X-CustomHeader": "CustomHeader", "Content-Type": "multipart/form-data; boundary=---123456"}

# (headers, authRequestHeaders, empty host, expected headers, exact: no other header allowed)
WRITE_HEADER = [  # TestForwardAuth_writeHeader (trustForwardHeader true / false)
    pytest.param(
        True,
        {"Accept": "application/json", "X-Forwarded-Host": "fii.bir"},
        [],
        False,
        {"Accept": "application/json", "X-Forwarded-Host": "fii.bir"},
        False,
        id="trust forward header",
    ),
    pytest.param(
        False,
        {"Accept": "application/json", "X-Forwarded-Host": "fii.bir"},
        [],
        False,
        {"Accept": "application/json", "X-Forwarded-Host": "foo.bar"},
        False,
        id="not trust forward header",
    ),
    pytest.param(
        True,
        {"Accept": "application/json", "X-Forwarded-Host": "fii.bir"},
        [],
        True,
        {"Accept": "application/json", "X-Forwarded-Host": "fii.bir"},
        False,
        id="trust forward header with empty Host",
    ),
    pytest.param(
        False,
        {"Accept": "application/json", "X-Forwarded-Host": "fii.bir"},
        [],
        True,
        {"Accept": "application/json", "X-Forwarded-Host": ""},
        False,
        id="not trust forward header with empty Host",
    ),
    pytest.param(
        True,
        {"Accept": "application/json", "X-Forwarded-Host": "fii.bir", "X-Forwarded-Uri": "/forward?q=1"},
        [],
        False,
        {"Accept": "application/json", "X-Forwarded-Host": "fii.bir", "X-Forwarded-Uri": "/forward?q=1"},
        False,
        id="trust forward header with forwarded URI",
    ),
    pytest.param(
        False,
        {"Accept": "application/json", "X-Forwarded-Host": "fii.bir", "X-Forwarded-Uri": "/forward?q=1"},
        [],
        False,
        {"Accept": "application/json", "X-Forwarded-Host": "foo.bar", "X-Forwarded-Uri": "/path?q=1"},
        False,
        id="not trust forward header with forward requested URI",
    ),
    pytest.param(
        True,
        {"X-Forwarded-Method": "OPTIONS"},
        [],
        False,
        {"X-Forwarded-Method": "OPTIONS"},
        False,
        id="trust forward header with forwarded request Method",
    ),
    pytest.param(
        False,
        {"X-Forwarded-Method": "OPTIONS"},
        [],
        False,
        {"X-Forwarded-Method": "GET"},
        False,
        id="not trust forward header with forward request Method",
    ),
    pytest.param(
        False,
        HOP,
        [],
        False,
        {
            "X-CustomHeader": "CustomHeader",
            **XF_PORT,
            "Proxy-Authenticate": "ProxyAuthenticate",
            "Proxy-Authorization": "ProxyAuthorization",
            "User-Agent": "",
        },
        True,
        id="remove hop-by-hop headers",
    ),
    pytest.param(
        False,
        CT,
        ["X-CustomHeader"],
        False,
        {"x-customHeader": "CustomHeader", **XF_PORT},
        True,
        id="filter forward request headers",
    ),
    pytest.param(
        False,
        CT,
        ["X-CustomHeader", "X-Non-Exists-Header"],
        False,
        {"X-CustomHeader": "CustomHeader", **XF_PORT},
        True,
        id="filter forward request headers doesn't add new headers",
    ),
    pytest.param(
        False,
        {"X-CustomHeader": "CustomHeader", "Accept": "application/json"},
        ["X-CustomHeader", "Accept", "User-Agent"],
        False,
        {"X-CustomHeader": "CustomHeader", "Accept": "application/json", **XF_PORT, "User-Agent": ""},
        True,
        id="set empty User-Agent header if header is allowed but missing",
    ),
    pytest.param(
        False,
        {"X-CustomHeader": "CustomHeader", "Accept": "application/json"},
        ["X-CustomHeader", "Accept"],
        False,
        {"X-CustomHeader": "CustomHeader", "Accept": "application/json", **XF_PORT},
        True,
        id="ignore User-Agent header if header is not allowed and missing",
    ),
    pytest.param(
        False,
        {"X-CustomHeader": "CustomHeader", "Accept": "application/json"},
        [],
        False,
        {"X-CustomHeader": "CustomHeader", "Accept": "application/json", **XF_PORT, "User-Agent": ""},
        True,
        id="set empty User-Agent header if header is missing",
    ),
    pytest.param(
        True,
        {"X-CustomHeader": "CustomHeader", "X-Forwarded-Uri": "/path?q=2"},
        ["X-CustomHeader"],
        False,
        {"X-CustomHeader": "CustomHeader", **XF_PORT, "X-Forwarded-Uri": "/path?q=2"},
        True,
        id="authRequestHeaders and XForwarded are kept if trusted",
    ),
    pytest.param(
        False,
        {"X-CustomHeader": "CustomHeader", "X_forwarded_for": "127.0.0.1", "X-Forwarded-Proto": "xxx"},
        [],
        False,
        {"X-CustomHeader": "CustomHeader", **XF_PORT},
        False,
        id="X-Forwarded and X_forwarded headers are removed when not trusted",
    ),
    pytest.param(
        False,
        {"X-CustomHeader": "CustomHeader", "X-Forwarded-Proto": "https"},
        [],
        False,
        XF_PORT,
        False,
        id="X-Forwarded-Proto is not used to calculate X-Forwarded-Port if trustForwardHeader=false",
    ),
]

OLD_WRITE_HEADER = [  # TestForwardAuth_oldWriteHeader (trustForwardHeader not set)
    pytest.param(
        None,
        {"Accept": "application/json", "X-Forwarded-Host": "fii.bir"},
        [],
        False,
        {"Accept": "application/json", "X-Forwarded-Host": "foo.bar"},
        False,
        id="legacy: not trust",
    ),
    pytest.param(
        None,
        {"Accept": "application/json", "X-Forwarded-Host": "fii.bir"},
        [],
        True,
        {"Accept": "application/json", "X-Forwarded-Host": ""},
        False,
        id="legacy: empty Host",
    ),
    pytest.param(
        None,
        {"Accept": "application/json", "X-Forwarded-Host": "fii.bir", "X-Forwarded-Uri": "/forward?q=1"},
        [],
        False,
        {"Accept": "application/json", "X-Forwarded-Host": "foo.bar", "X-Forwarded-Uri": "/path?q=1"},
        False,
        id="legacy: forward requested URI",
    ),
    pytest.param(
        None,
        {"X-Forwarded-Method": "OPTIONS"},
        [],
        False,
        {"X-Forwarded-Method": "GET"},
        False,
        id="legacy: forward request Method",
    ),
    pytest.param(
        None,
        HOP,
        [],
        False,
        {
            "X-CustomHeader": "CustomHeader",
            **XF,
            "Proxy-Authenticate": "ProxyAuthenticate",
            "Proxy-Authorization": "ProxyAuthorization",
        },
        True,
        id="legacy: remove hop-by-hop headers",
    ),
    pytest.param(
        None,
        CT,
        ["X-CustomHeader"],
        False,
        {"x-customHeader": "CustomHeader", **XF},
        True,
        id="legacy: filter forward request headers",
    ),
    pytest.param(
        None,
        CT,
        ["X-CustomHeader", "X-Non-Exists-Header"],
        False,
        {"X-CustomHeader": "CustomHeader", **XF},
        True,
        id="legacy: filter forward request headers doesn't add new headers",
    ),
    pytest.param(
        None,
        {"X-CustomHeader": "CustomHeader", "X-Forwarded-Prefix": "foo.bar"},
        [],
        False,
        {"X-CustomHeader": "CustomHeader", **XF, "X-Forwarded-Prefix": "foo.bar"},
        True,
        id="X-Forwarded-Prefix is kept for non-breaking behavior",
    ),
]


@pytest.mark.parametrize(
    ("trust", "headers", "allowed", "empty_host", "expected", "exact"), WRITE_HEADER + OLD_WRITE_HEADER
)
def test_auth_request_headers(
    trust: bool | None,
    headers: dict[str, str],
    allowed: list[str],
    empty_host: bool,
    expected: dict[str, str],
    exact: bool,
) -> None:
    middleware = build({"authRequestHeaders": allowed, **({} if trust is None else {"trustForwardHeader": trust})})
    req = RequestHead(
        "GET", "/path", "q=1", HeaderList([("Host", "foo.bar"), *headers.items()]), host="" if empty_host else "foo.bar"
    )
    sent = auth_request_headers(req, middleware.trust, middleware.allowed)
    got = {canonical_key(name): value for name, value in reversed(sent)}
    for name, value in expected.items():
        assert got.pop(canonical_key(name)) == value, name
    if exact:
        assert got == {}


@pytest.mark.parametrize(
    ("headers", "wire_agent"),
    [
        pytest.param([("User-Agent", "curl/8")], "curl/8", id="the client's agent"),
        pytest.param([("User-Agent", "")], None, id="empty: no agent at all"),
        pytest.param([], "Go-http-client/1.1", id="none: Go's own"),
    ],
)
def test_wire_user_agent(headers: list[tuple[str, str]], wire_agent: str | None) -> None:
    wire = dict(wire_headers([*headers, ("Content-Length", "3"), ("Host", "x")]))
    assert wire.get("User-Agent") == wire_agent
    assert "Content-Length" not in wire and "Host" not in wire


@pytest.mark.parametrize(
    ("options", "error"),
    [
        pytest.param({"address": "ftp://x"}, "is not an http:// or https:// URL", id="bad address"),
        pytest.param({"forwardBody": True}, "not supported yet", id="forwardBody refused"),
        pytest.param({"authResponseHeadersRegex": "(?<=a)b"}, "error compiling regular expression", id="bad regex"),
        pytest.param(
            {"tls": {"cert": "/nonexistent.pem"}}, "both TLS cert and key must be defined", id="cert without key"
        ),
        pytest.param({"address": "https://127.0.0.1:1", "tls": {"ca": "not a pem"}}, "tls", id="bad ca"),
    ],
)
def test_build_errors(options: dict, error: str) -> None:
    with pytest.raises(ValueError, match=error.replace("(", r"\(")):
        build(options)


@pytest.mark.parametrize(
    ("path", "url", "method", "location", "body"),
    [
        pytest.param(
            "/a/b",
            "https://auth.example.com/login",
            "GET",
            "https://auth.example.com/login",
            b'<a href="https://auth.example.com/login">Found</a>.\n\n',
            id="absolute",
        ),
        pytest.param(
            "/a/b",
            "login?x=1",
            "GET",
            "/a/login?x=1",
            b'<a href="/a/login?x=1">Found</a>.\n\n',
            id="relative to the request path",
        ),
        pytest.param(
            "/a/b", "/l/../login/", "POST", "/login/", b"", id="cleaned, trailing slash kept, no body for POST"
        ),
    ],
)
def test_go_redirect(path: str, url: str, method: str, location: str, body: bytes) -> None:
    reply = go_redirect(RequestHead(method, path, None, HeaderList([])), url, 302)
    assert reply.status == 302 and dict(reply.headers)["Location"] == location and reply.body == body


# -- through a live gateway -----------------------------------------------------------------------------
@dataclass
class Seen:
    method: str
    target: str
    headers: list[tuple[str, str]]
    peer: Any

    def get(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass
class Server:
    url: str
    seen: list[Seen] = field(default_factory=list)


Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


@pytest.fixture
async def serve():
    """serve(handler, ssl_context=None) -> Server: a low-level aiohttp server on 127.0.0.1 recording requests."""
    runners: list[web.BaseRunner] = []

    async def start(handler: Handler, ssl_context: ssl.SSLContext | None = None) -> Server:
        server = Server("")

        async def handle(request: web.BaseRequest) -> web.StreamResponse:
            server.seen.append(
                Seen(
                    request.method,
                    request.raw_path,
                    [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers],
                    request.transport.get_extra_info("peername") if request.transport else None,
                )
            )
            return await handler(request)

        runner = web.ServerRunner(web.Server(handle), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]
        server.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"
        return server

    yield start
    for runner in reversed(runners):
        await runner.cleanup()


async def backend(request: web.BaseRequest) -> web.StreamResponse:
    response = web.Response(text="traefik\n")
    response.headers.add("Set-Cookie", "authCookie=Backend")
    response.headers.add("Set-Cookie", "backendCookie=Backend")
    response.headers["Other-Header"] = "BackendHeaderValue"
    return response


def config(auth_url: str, upstream: str, options: dict | None = None, prefix: str = "") -> dict:
    middlewares: dict = {"auth": {"forwardAuth": {"address": auth_url, **(options or {})}}}
    chain = ["auth"]
    if prefix:
        middlewares["strip"] = {"stripPrefix": {"prefixes": [prefix]}}
        chain = ["strip", "auth"]
    return {
        "http": {
            "routers": {"r": {"rule": "PathPrefix(`/`)", "service": "svc", "middlewares": chain}},
            "middlewares": middlewares,
            "services": {"svc": {"loadBalancer": {"servers": [{"url": upstream}]}}},
        }
    }


async def start(
    serve, stripproxy, auth: Handler, options: dict | None = None, prefix: str = "", upstream_handler: Handler = backend
) -> tuple[Any, Server, Server]:
    auth_server = await serve(auth)
    upstream = await serve(upstream_handler)
    gateway = await stripproxy(config(auth_server.url + "/auth", upstream.url, options, prefix))
    return gateway, auth_server, upstream


def go_error(status: int, text: str, headers: dict[str, str] | None = None) -> web.Response:
    """Go's http.Error, as Traefik's test auth servers answer."""
    response = web.Response(status=status, text=text + "\n", headers=headers)
    response.headers["Content-Type"] = "text/plain; charset=utf-8"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


async def test_fail(serve, stripproxy) -> None:
    """TestForwardAuthFail: the refusal's status, headers and body reach the client; nothing goes upstream."""

    async def auth(request: web.BaseRequest) -> web.StreamResponse:
        return go_error(403, "Forbidden", {"Proxy-Authenticate": "test"})

    gateway, _, upstream = await start(serve, stripproxy, auth)
    async with httpx.AsyncClient() as client:
        response = await client.get(gateway.url + "/")
    assert response.status_code == 403
    assert response.headers["Proxy-Authenticate"] == "test"
    assert response.text == "Forbidden\n"
    assert upstream.seen == []


async def test_success(serve, stripproxy) -> None:
    """TestForwardAuthSuccess: listed and regex-matched headers replace the client's; cookies merged."""

    async def auth(request: web.BaseRequest) -> web.StreamResponse:
        response = web.Response(text="Success\n")
        response.headers["X-Auth-User"] = "user@example.com"
        response.headers["X-Auth-Secret"] = "secret"
        response.headers.add("X-Auth-Group", "group1")
        response.headers.add("X-Auth-Group", "group2")
        response.headers.add("Foo-Bar", "auth-value")
        response.headers.add("Set-Cookie", "authCookie=Auth")
        response.headers.add("Set-Cookie", "authCookieNotAdded=Auth")
        return response

    gateway, _, upstream = await start(
        serve,
        stripproxy,
        auth,
        {
            "authResponseHeaders": ["X-Auth-User", "X-Auth-Group"],
            "authResponseHeadersRegex": "^Foo-",
            "addAuthCookiesToResponse": ["authCookie"],
        },
    )
    async with httpx.AsyncClient() as client:
        response = await client.get(
            gateway.url + "/",
            headers={"X-Auth-Group": "admin_group", "Foo-Bar": "client-value", "Foo-Baz": "client-value"},
        )
    assert response.status_code == 200, gateway.explain()
    assert response.headers.get_list("Set-Cookie") == ["backendCookie=Backend", "authCookie=Auth"]
    assert response.headers["Other-Header"] == "BackendHeaderValue"
    assert response.text == "traefik\n"
    seen = upstream.seen[-1]
    assert seen.get("X-Auth-User") == "user@example.com"
    assert seen.get("X-Auth-Secret") is None
    assert [v for k, v in seen.headers if k.lower() == "x-auth-group"] == ["group1", "group2"]
    assert seen.get("Foo-Bar") == "auth-value" and seen.get("Foo-Baz") is None


async def test_redirect_and_hop_by_hop_headers(stripproxy, serve) -> None:
    """TestForwardAuthRedirect + TestForwardAuthRemoveHopByHopHeaders: the auth server's 302 and its
    Location reach the client, its hop-by-hop headers do not."""

    async def raw_auth(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        body = b'<a href="http://example.com/redirect-test">Found</a>.\n\n'
        writer.write(
            b"HTTP/1.1 302 Found\r\nLocation: http://example.com/redirect-test\r\nKeep-Alive: test\r\n"
            b"Te: test\r\nTrailers: test\r\nUpgrade: test\r\nContent-Type: text/html; charset=utf-8\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        writer.close()

    raw = await asyncio.start_server(raw_auth, "127.0.0.1", 0)
    port = raw.sockets[0].getsockname()[1]
    upstream = await serve(backend)
    try:
        gateway = await stripproxy(config(f"http://127.0.0.1:{port}/auth", upstream.url))
        async with httpx.AsyncClient() as client:
            response = await client.get(gateway.url + "/")
    finally:
        raw.close()
    assert response.status_code == 302
    assert response.headers["Location"] == "http://example.com/redirect-test"
    for header in ("Keep-Alive", "Te", "Trailers", "Upgrade", "Transfer-Encoding"):
        assert header not in response.headers
    assert response.text


async def test_fail_response_headers(serve, stripproxy) -> None:
    """TestForwardAuthFailResponseHeaders: a refusal's cookie and headers are passed as they are."""

    async def auth(request: web.BaseRequest) -> web.StreamResponse:
        response = go_error(403, "Forbidden", {"X-Foo": "bar"})
        response.headers.add("Set-Cookie", "example=testing; Path=/")
        return response

    gateway, _, _ = await start(serve, stripproxy, auth)
    async with httpx.AsyncClient() as client:
        response = await client.get(gateway.url + "/")
    assert response.status_code == 403
    assert response.headers["Content-Length"] == "10"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["X-Foo"] == "bar"
    assert response.headers["Set-Cookie"] == "example=testing; Path=/"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.text == "Forbidden\n"


@pytest.mark.parametrize(
    ("options", "location"),
    [
        pytest.param({"preserveLocationHeader": True}, "/index.html", id="TestForwardAuthPreserveLocationHeader"),
        pytest.param({}, "{auth}/index.html", id="otherwise made absolute against the auth address"),
    ],
)
async def test_location(serve, stripproxy, options: dict, location: str) -> None:
    async def auth(request: web.BaseRequest) -> web.StreamResponse:
        return go_error(401, "Unauthorized", {"Location": "/index.html"})

    gateway, auth_server, _ = await start(serve, stripproxy, auth, options)
    async with httpx.AsyncClient() as client:
        response = await client.get(gateway.url + "/")
    assert response.status_code == 401
    assert response.headers["Location"] == location.format(auth=auth_server.url)


@pytest.mark.parametrize(
    ("preserve", "method", "auth_method"),
    [
        pytest.param(True, "POST", "POST", id="preserve request method"),
        pytest.param(False, "POST", "GET", id="do not preserve request method"),
    ],
)
async def test_preserve_request_method(serve, stripproxy, preserve: bool, method: str, auth_method: str) -> None:
    async def auth(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response()

    gateway, auth_server, upstream = await start(serve, stripproxy, auth, {"preserveRequestMethod": preserve})
    async with httpx.AsyncClient() as client:
        response = await client.request(method, gateway.url + "/", content=b"payload")
    assert response.status_code == 200
    assert auth_server.seen[-1].method == auth_method
    assert upstream.seen[-1].method == method


@pytest.mark.parametrize(
    ("limit", "status", "body", "expected_status", "expected_body"),
    [
        pytest.param(-1, 403, "Forbidden", 403, "Forbidden", id="auth failure, unlimited response body"),
        pytest.param(1, 403, "Forbidden", 401, "", id="auth failure, response body exceeds the limit"),
        pytest.param(100, 200, "ok", 200, "traefik\n", id="auth success within limit"),
        pytest.param(1, 200, "large auth response", 401, "", id="auth success body exceeds limit"),
    ],
)
async def test_max_response_body_size(
    serve, stripproxy, limit: int, status: int, body: str, expected_status: int, expected_body: str
) -> None:
    async def auth(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response(status=status, text=body)

    gateway, _, _ = await start(serve, stripproxy, auth, {"maxResponseBodySize": limit})
    async with httpx.AsyncClient() as client:
        response = await client.get(gateway.url + "/")
    assert (response.status_code, response.text) == (expected_status, expected_body)


@pytest.mark.parametrize(
    ("signin", "auth_status", "status", "location", "reaches_upstream"),
    [
        pytest.param(
            "https://auth.example.com/login",
            401,
            302,
            "https://auth.example.com/login",
            False,
            id="redirects to signin URL on 401",
        ),
        pytest.param("", 401, 401, None, False, id="no redirect on 401 without signin URL"),
        pytest.param(
            "https://auth.example.com/login",
            403,
            403,
            None,
            False,
            id="no redirect on other error statuses with signin URL",
        ),
        pytest.param(
            "https://auth.example.com/login", 200, 200, None, True, id="no redirect on OK status with signin URL"
        ),
    ],
)
async def test_auth_signin_url(
    serve, stripproxy, signin: str, auth_status: int, status: int, location: str | None, reaches_upstream: bool
) -> None:
    async def auth(request: web.BaseRequest) -> web.StreamResponse:
        return go_error(auth_status, "status")

    gateway, _, upstream = await start(serve, stripproxy, auth, {"authSigninURL": signin} if signin else {})
    async with httpx.AsyncClient() as client:
        response = await client.get(gateway.url + "/")
    assert response.status_code == status
    assert response.headers.get("Location") == location
    assert bool(upstream.seen) == reaches_upstream


async def test_auth_server_unreachable_is_500(serve, stripproxy) -> None:
    """TestForwardAuthForwardError: 500 with an empty body."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    upstream = await serve(backend)
    gateway = await stripproxy(config(f"http://127.0.0.1:{closed_port}/auth", upstream.url))
    async with httpx.AsyncClient() as client:
        response = await client.get(gateway.url + "/")
    assert (response.status_code, response.content) == (500, b"")
    assert upstream.seen == []


async def test_forwarded_headers_the_auth_server_sees(serve, stripproxy) -> None:
    """What Traefik sends by default (trustForwardHeader unset): its own X-Forwarded-For / -Proto / -Method /
    -Host / -Uri (the path after the stripPrefix before it), the entry point's other X- headers, the
    client's headers; GET with no body."""

    async def auth(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response()

    gateway, auth_server, upstream = await start(serve, stripproxy, auth, prefix="/api")
    host = gateway.url.removeprefix("http://")
    async with httpx.AsyncClient() as client:
        response = await client.post(
            gateway.url + "/api/items?id=1", content=b"x", headers={"X-Forwarded-For": "6.6.6.6", "X-Custom": "c"}
        )
    assert response.status_code == 200
    seen = auth_server.seen[-1]
    assert (seen.method, seen.target) == ("GET", "/auth")
    assert seen.get("X-Forwarded-For") == "127.0.0.1"
    assert seen.get("X-Forwarded-Proto") == "http"
    assert seen.get("X-Forwarded-Method") == "POST"
    assert seen.get("X-Forwarded-Host") == host
    assert seen.get("X-Forwarded-Uri") == "/items?id=1"
    assert seen.get("X-Forwarded-Port") == host.rsplit(":", 1)[1]
    assert seen.get("X-Forwarded-Prefix") == "/api"
    assert seen.get("X-Real-Ip") == "127.0.0.1"
    assert seen.get("X-Custom") == "c"
    assert seen.get("Host") == auth_server.url.removeprefix("http://")
    assert seen.get("Content-Length") is None
    assert upstream.seen[-1].target == "/items?id=1"


@pytest.mark.parametrize(
    ("options", "agent", "encoding"),
    [
        pytest.param({}, "Go-http-client/1.1", "gzip", id="legacy: Go's agent, and gzip asked for"),
        pytest.param({"trustForwardHeader": False}, None, "gzip", id="trustForwardHeader set: no agent at all"),
    ],
)
async def test_bare_client_request(serve, stripproxy, options: dict, agent: str | None, encoding: str) -> None:
    """A client sending no User-Agent and no Accept-Encoding, on a raw socket."""

    async def auth(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response()

    gateway, auth_server, _ = await start(serve, stripproxy, auth, options)
    host, port = gateway.url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    assert (await reader.read()).startswith(b"HTTP/1.1 200")
    writer.close()
    seen = auth_server.seen[-1]
    assert seen.get("User-Agent") == agent
    assert seen.get("Accept-Encoding") == encoding


async def test_gzip_refusal_is_decompressed_when_the_proxy_asked_for_it(serve, stripproxy) -> None:
    """Go's transport asked for gzip itself, so it decompresses and drops Content-Encoding."""

    async def auth(request: web.BaseRequest) -> web.StreamResponse:
        if request.headers.get("Accept-Encoding") == "gzip":
            return web.Response(status=403, body=gzip.compress(b"denied"), headers={"Content-Encoding": "gzip"})
        return web.Response(status=403, text="plain")

    gateway, _, _ = await start(serve, stripproxy, auth)
    host, port = gateway.url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403") and b"content-encoding" not in head.lower()
    assert body == b"denied"


async def test_auth_headers_cannot_smuggle_hop_by_hop_or_forwarded_headers(serve, stripproxy) -> None:
    """Our guard: even a regex matching everything does not let the auth server set the request's
    framing, hop-by-hop or proxy-managed X-Forwarded-* headers."""

    async def auth(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response(
            headers={
                "X-Forwarded-For": "6.6.6.6",
                "X-Forwarded-Host": "evil",
                "Te": "trailers",
                "Keep-Alive": "1",
                "X-Forwarded-User": "alice",
                "X-Auth": "ok",
            }
        )

    gateway, _, upstream = await start(
        serve, stripproxy, auth, {"authResponseHeadersRegex": ".*", "authResponseHeaders": ["X-Forwarded-For"]}
    )
    async with httpx.AsyncClient() as client:
        response = await client.get(gateway.url + "/")
    assert response.status_code == 200
    seen = upstream.seen[-1]
    assert seen.get("X-Forwarded-For") == "127.0.0.1"  # only the proxy's own
    # `.*` also strips every request header (as in Traefik), the entry point's X-Forwarded-Host among them.
    assert seen.get("X-Forwarded-Host") is None
    assert seen.get("Keep-Alive") is None and seen.get("Te") is None
    assert seen.get("X-Forwarded-User") == "alice" and seen.get("X-Auth") == "ok"


async def test_connections_to_the_auth_server_are_pooled_and_closed_on_stop(serve, stripproxy) -> None:
    async def auth(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response()

    gateway, auth_server, _ = await start(serve, stripproxy, auth)
    async with httpx.AsyncClient() as client:
        for _ in range(10):
            assert (await client.get(gateway.url + "/")).status_code == 200
    assert len({seen.peer for seen in auth_server.seen}) == 1
    middleware = gateway.routers["r@file"].middlewares[0]
    assert middleware._session is not None
    await gateway.stop()
    assert middleware._session is None


async def test_reload_closes_the_old_session(serve, stripproxy) -> None:
    async def auth(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response()

    auth_server = await serve(auth)
    upstream = await serve(backend)
    routes = config(auth_server.url, upstream.url)
    gateway = await stripproxy(routes)
    async with httpx.AsyncClient() as client:
        assert (await client.get(gateway.url + "/")).status_code == 200
        old = gateway.routers["r@file"].middlewares[0]
        gateway.reload(routes)
        assert (await client.get(gateway.url + "/")).status_code == 200
    for _ in range(50):
        if old._session is None:
            break
        await asyncio.sleep(0.01)
    assert old._session is None


async def test_client_that_leaves_cancels_the_auth_call(serve, stripproxy) -> None:
    """TestForwardAuthClientClosedRequest: the auth call is abandoned, nothing reaches the upstream."""
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def auth(request: web.BaseRequest) -> web.StreamResponse:
        started.set()
        for _ in range(200):  # aiohttp does not cancel handlers: watch the connection instead
            if request.transport is None or request.transport.is_closing():
                cancelled.set()
                break
            await asyncio.sleep(0.05)
        return web.Response()

    gateway, _, upstream = await start(serve, stripproxy, auth)
    host, port = gateway.url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    await asyncio.wait_for(started.wait(), 5)
    sock = writer.get_extra_info("socket")
    import struct

    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()
    await asyncio.wait_for(cancelled.wait(), 5)
    assert upstream.seen == []


async def test_in_a_chain(serve, stripproxy) -> None:
    async def auth(request: web.BaseRequest) -> web.StreamResponse:
        if request.headers.get("Authorization") != "Bearer ok":
            return go_error(401, "Unauthorized")
        return web.Response(headers={"X-User": "bob"})

    auth_server = await serve(auth)
    upstream = await serve(backend)
    routes = {
        "http": {
            "routers": {"r": {"rule": "PathPrefix(`/`)", "service": "svc", "middlewares": ["both"]}},
            "middlewares": {
                "both": {"chain": {"middlewares": ["strip", "auth"]}},
                "strip": {"stripPrefix": {"prefixes": ["/api"]}},
                "auth": {"forwardAuth": {"address": auth_server.url, "authResponseHeaders": ["X-User"]}},
            },
            "services": {"svc": {"loadBalancer": {"servers": [{"url": upstream.url}]}}},
        }
    }
    gateway = await stripproxy(routes)
    async with httpx.AsyncClient() as client:
        refused = await client.get(gateway.url + "/api/x")
        allowed = await client.get(gateway.url + "/api/x", headers={"Authorization": "Bearer ok"})
    assert refused.status_code == 401 and allowed.status_code == 200
    assert upstream.seen[-1].target == "/x" and upstream.seen[-1].get("X-User") == "bob"
    assert auth_server.seen[-1].get("X-Forwarded-Uri") == "/x"


@pytest.mark.parametrize(
    ("sent", "common_user", "json_user"),
    [
        pytest.param({"X-User": "alice"}, "alice", "alice", id="headerField-value-is-the-user"),
        pytest.param({}, "-", "-", id="header-absent-no-user"),
        # Traefik stores the empty value; its CLF writer prints "-" for an empty field, JSON keeps "".
        pytest.param({"X-User": ""}, "-", "", id="empty-value"),
    ],
)
async def test_header_field_is_the_access_logs_client_username(
    serve, logged_gateway, tmp_path, sent: dict[str, str], common_user: str, json_user: str
) -> None:
    """forward.go: with headerField, the auth server's value of that header is the access log's ClientUsername
    (RequestHead.client_username), in the common line and in the JSON record."""

    async def auth(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response(headers=sent)

    auth_server = await serve(auth)
    upstream = await serve(backend)
    options = {"address": auth_server.url, "headerField": "X-User"}
    (tmp_path / "routes.yaml").write_text(json.dumps(config(auth_server.url, upstream.url, options)))
    gateway, records, log_file = await logged_gateway("routes.yaml")
    async with httpx.AsyncClient() as client:
        assert (await client.get(gateway.url + "/x")).status_code == 200
    (record,) = await records.wait_for_async(1)
    assert record["ClientUsername"] == json_user
    (line,) = log_file.read_text().splitlines()
    assert line.startswith(f"127.0.0.1 - {common_user} ["), line


# -- TLS to the auth server -----------------------------------------------------------------------------
@pytest.fixture
def tls_material(tmp_path):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_context)
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    return server_context, ca_path, ca.cert_pem.bytes().decode()


@pytest.mark.parametrize(
    ("tls", "status"),
    [
        pytest.param({"ca": "{ca_path}"}, 200, id="ca as a file"),
        pytest.param({"ca": "{ca_pem}"}, 200, id="ca as PEM text"),
        pytest.param(None, 500, id="unknown CA: the handshake fails, 500"),
        pytest.param({"insecureSkipVerify": True}, 200, id="insecureSkipVerify"),
    ],
)
async def test_https_auth_server(serve, stripproxy, tls_material, tls: dict | None, status: int) -> None:
    server_context, ca_path, ca_pem = tls_material

    async def auth(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response()

    auth_server = await serve(auth, ssl_context=server_context)
    upstream = await serve(backend)
    options: dict = {}
    if tls is not None:
        options["tls"] = {
            k: v.format(ca_path=ca_path, ca_pem=ca_pem) if isinstance(v, str) else v for k, v in tls.items()
        }
    gateway = await stripproxy(config(auth_server.url, upstream.url, options))
    async with aiohttp.ClientSession() as client:
        async with client.get(gateway.url + "/") as response:
            assert response.status == status
