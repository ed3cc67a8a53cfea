"""proxy.wsgi.ForwardedPrefixMiddleware: Flask and Django apps, served by a real WSGI server (werkzeug's) on
loopback behind a real gateway stripping /api/v1 (config/routes.toml), learn their prefix per request; an
untrusted peer's headers are ignored; and the same cases through werkzeug's ProxyFix side by side."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask, redirect, request, session, url_for
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.serving import make_server

from proxy.wsgi import ForwardedPrefixMiddleware, forwarded_host, script_name

HERE = Path(__file__).resolve().parent
ROUTES = HERE.parents[1] / "config" / "routes.toml"
PROXYFIX_ALL = {"x_for": 1, "x_proto": 1, "x_host": 1, "x_port": 1, "x_prefix": 1}


@pytest.fixture
def serve_wsgi() -> Iterator[Any]:
    """Factory: serve_wsgi(app) -> base URL of werkzeug's threaded WSGI server on 127.0.0.1."""
    servers = []

    def serve(app: Any) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def flask_app() -> Flask:
    app = Flask(__name__)
    app.secret_key = "a-test-only-secret"

    @app.get("/")
    def index() -> dict[str, Any]:
        return {
            "login": url_for("login"),
            "absolute": url_for("login", _external=True),
            "script_root": request.script_root,
            "remote_addr": request.remote_addr,
        }

    @app.get("/login")
    def login() -> Any:
        session["user"] = "ada"
        return redirect(url_for("whoami"))

    @app.get("/whoami")
    def whoami() -> dict[str, Any]:
        return {"user": session.get("user")}

    return app


def wrapped(kind: str, app: Any) -> Any:
    if kind == "ours":
        return ForwardedPrefixMiddleware(app)
    if kind == "proxyfix":
        return ProxyFix(app, **PROXYFIX_ALL)
    return ForwardedPrefixMiddleware(app, trusted=["192.0.2.1"])  # "untrusting": the gateway is not trusted


@pytest.fixture(scope="module")
def django_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    log = (tmp_path_factory.mktemp("django") / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, str(HERE / "wsgi_django_server.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        cwd=HERE.parents[1],
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line, "the Django server process died (see its log)"
        yield {name: f"http://127.0.0.1:{port}" for name, port in json.loads(line).items()}
    finally:
        process.kill()  # our own child, by its handle
        process.communicate(timeout=10)  # reaps it and closes its pipes
        log.close()


@pytest.fixture(params=["flask", "django"])
def served(request: pytest.FixtureRequest, serve_wsgi: Any) -> Any:
    """served(kind) -> upstream URL of the app (Flask in this process, Django in its own) wrapped as `kind`."""
    if request.param == "flask":
        return lambda kind: serve_wsgi(wrapped(kind, flask_app().wsgi_app))
    servers = request.getfixturevalue("django_servers")
    return lambda kind: servers[kind]


@pytest.mark.parametrize("kind", ["ours", "proxyfix"])
def test_urls_redirects_and_session_under_the_stripped_prefix(served: Any, kind: str, stripproxy_sync: Any) -> None:
    gateway = stripproxy_sync(ROUTES, services={"app": served(kind)})
    client_address = "127.0.0.2" if _can_bind("127.0.0.2") else "127.0.0.1"
    with requests.Session() as client:
        client.mount("http://", _SourceAdapter(client_address))
        index = client.get(gateway.url + "/api/v1/").json()
        login = client.get(gateway.url + "/api/v1/login", allow_redirects=False)
        who = client.get(gateway.url + login.headers["Location"]) if login.is_redirect else None
    assert index["login"] == "/api/v1/login"
    assert index["absolute"] == gateway.url + "/api/v1/login"
    assert index["remote_addr"] == client_address  # from X-Forwarded-For: the client, not the gateway
    assert login.status_code == 302 and login.headers["Location"] == "/api/v1/whoami"
    cookie = next(iter(login.cookies))
    # Neither framework derives the cookie Path from SCRIPT_NAME (Flask reads APPLICATION_ROOT, Django
    # SESSION_COOKIE_PATH, both "/"): the cookie still covers /api/v1 and the session round-trips.
    assert cookie.path == "/"
    assert who is not None and who.json() == {"user": "ada"}


def test_an_untrusted_peer_gets_no_prefix(served: Any, stripproxy_sync: Any) -> None:
    gateway = stripproxy_sync(ROUTES, services={"app": served("untrusting")})
    index = requests.get(gateway.url + "/api/v1/").json()
    login = requests.get(gateway.url + "/api/v1/login", allow_redirects=False)
    assert index["login"] == "/login" and index["absolute"].endswith("/login")
    assert login.headers["Location"] == "/whoami"


def _can_bind(address: str) -> bool:
    try:
        with socket.socket() as sock:
            sock.bind((address, 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _can_bind("127.0.0.2"), reason="needs the whole 127/8 loopback (Linux)")
def test_forged_headers_from_another_address_ours_ignores_proxyfix_applies(serve_wsgi: Any) -> None:
    """ProxyFix trusts by count, whoever sends: it must only ever be reachable through the proxy."""
    forged = {"X-Forwarded-Prefix": "/evil", "X-Forwarded-Host": "evil.example", "X-Forwarded-For": "203.0.113.6"}
    ours, proxyfix = (serve_wsgi(wrapped(kind, flask_app().wsgi_app)) for kind in ("ours", "proxyfix"))
    with requests.Session() as outsider:
        outsider.mount("http://", _SourceAdapter("127.0.0.2"))
        by_ours = outsider.get(ours + "/", headers=forged).json()
        by_proxyfix = outsider.get(proxyfix + "/", headers=forged).json()
    assert by_ours == {"login": "/login", "absolute": ours + "/login", "script_root": "", "remote_addr": "127.0.0.2"}
    assert by_proxyfix["absolute"] == "http://evil.example/evil/login" and by_proxyfix["remote_addr"] == "203.0.113.6"


class _SourceAdapter(requests.adapters.HTTPAdapter):
    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


# -- ours and ProxyFix side by side, on the environ an echo app sees (a trusted loopback peer) ------------
KEYS = ("SCRIPT_NAME", "PATH_INFO", "REMOTE_ADDR", "wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT")


def echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({key: environ.get(key) for key in KEYS}).encode()]


P, X, H, F, PORT_H = (
    "X-Forwarded-Prefix",
    "X-Forwarded-Proto",
    "X-Forwarded-Host",
    "X-Forwarded-For",
    "X-Forwarded-Port",
)
SIDE_BY_SIDE = [
    # (headers, path, what ours gives, what ProxyFix(x_*=1) gives); "=" means the same as ours. "PORT" = the
    # server's own port.
    pytest.param({P: "/api/v1"}, "/app", {"SCRIPT_NAME": "/api/v1", "PATH_INFO": "/app"}, "=", id="agree: prefix"),
    pytest.param(
        {P: "/api/v1"},
        "/api/v1/app",
        {"SCRIPT_NAME": "/api/v1", "PATH_INFO": "/app"},
        {"SCRIPT_NAME": "/api/v1", "PATH_INFO": "/api/v1/app"},
        id="differ: unstripped path keeps the prefix twice in ProxyFix",
    ),
    pytest.param({P: "/a, /b"}, "/x", {"SCRIPT_NAME": "/a/b"}, {"SCRIPT_NAME": "/b"}, id="differ: two strips add up"),
    pytest.param({P: "api"}, "/x", {"SCRIPT_NAME": ""}, {"SCRIPT_NAME": "api"}, id="differ: relative prefix"),
    pytest.param({P: "/a/../b"}, "/x", {"SCRIPT_NAME": ""}, {"SCRIPT_NAME": "/a/../b"}, id="differ: dot segment"),
    pytest.param(
        {P: "/%2e%2e/admin"}, "/x", {"SCRIPT_NAME": ""}, {"SCRIPT_NAME": "/%2e%2e/admin"}, id="differ: encoded dots"
    ),
    pytest.param(
        {P: "/x%0d%0aSet-Cookie:%20a=b"},
        "/x",
        {"SCRIPT_NAME": ""},
        {"SCRIPT_NAME": "/x%0d%0aSet-Cookie:%20a=b"},
        id="differ: encoded CR LF",
    ),
    pytest.param(
        {H: "example.org:8443"},
        "/",
        {"HTTP_HOST": "example.org:8443", "SERVER_NAME": "example.org", "SERVER_PORT": "8443"},
        "=",
        id="agree: host with port",
    ),
    pytest.param(
        {H: "example.org", X: "https"},
        "/",
        {"HTTP_HOST": "example.org", "SERVER_NAME": "example.org", "SERVER_PORT": "443", "wsgi.url_scheme": "https"},
        {"HTTP_HOST": "example.org", "SERVER_NAME": "example.org", "SERVER_PORT": "PORT", "wsgi.url_scheme": "https"},
        id="differ: host without port gets the scheme's port",
    ),
    pytest.param(
        {H: "example.org", X: "https", PORT_H: "443"},
        "/",
        {"HTTP_HOST": "example.org", "SERVER_PORT": "443"},
        {"HTTP_HOST": "example.org:443", "SERVER_PORT": "443"},
        id="differ: default port left out of HTTP_HOST",
    ),
    pytest.param(
        {H: "[2001:db8::1]:8080"},
        "/",
        {"HTTP_HOST": "[2001:db8::1]:8080", "SERVER_NAME": "[2001:db8::1]", "SERVER_PORT": "8080"},
        "=",
        id="agree: ipv6 host",
    ),
    pytest.param(
        {H: "evil.example/path?x"},
        "/",
        {"SERVER_NAME": "127.0.0.1"},
        {"SERVER_NAME": "evil.example/path?x"},
        id="differ: host with a path",
    ),
    pytest.param(
        {H: "example.org:abc"},
        "/",
        {"SERVER_NAME": "127.0.0.1", "SERVER_PORT": "PORT"},
        {"SERVER_NAME": "example.org", "SERVER_PORT": "abc"},
        id="differ: host with a bad port",
    ),
    pytest.param(
        {X: "javascript"},
        "/",
        {"wsgi.url_scheme": "http"},
        {"wsgi.url_scheme": "javascript"},
        id="differ: scheme not http(s)",
    ),
    pytest.param(
        {PORT_H: "99999"}, "/", {"SERVER_PORT": "PORT"}, {"SERVER_PORT": "99999"}, id="differ: port out of range"
    ),
    pytest.param(
        {F: "198.51.100.1, 203.0.113.7"},
        "/",
        {"REMOTE_ADDR": "203.0.113.7"},
        "=",
        id="agree: forged left entry skipped",
    ),
    pytest.param(
        {F: "203.0.113.7, 127.0.0.1"},
        "/",
        {"REMOTE_ADDR": "203.0.113.7"},
        {"REMOTE_ADDR": "127.0.0.1"},
        id="differ: trusted hops walked back by address, not by count",
    ),
    pytest.param(
        {F: "not-an-ip"},
        "/",
        {"REMOTE_ADDR": "127.0.0.1"},
        {"REMOTE_ADDR": "not-an-ip"},
        id="differ: garbage X-Forwarded-For",
    ),
]


@pytest.mark.parametrize(("headers", "path", "ours", "proxyfix"), SIDE_BY_SIDE)
def test_side_by_side_with_proxyfix(
    serve_wsgi: Any, headers: dict[str, str], path: str, ours: dict[str, str], proxyfix: Any
) -> None:
    by_ours, by_proxyfix = (
        serve_wsgi(app) for app in (ForwardedPrefixMiddleware(echo), ProxyFix(echo, **PROXYFIX_ALL))
    )
    port = by_ours.rsplit(":", 1)[1]
    seen_ours = requests.get(by_ours + path, headers=headers).json()
    seen_proxyfix = requests.get(by_proxyfix + path, headers=headers).json()
    proxyfix_port = by_proxyfix.rsplit(":", 1)[1]
    expected_proxyfix = ours if proxyfix == "=" else proxyfix
    assert {key: seen_ours[key] for key in ours} == {k: (port if v == "PORT" else v) for k, v in ours.items()}
    assert {key: seen_proxyfix[key] for key in expected_proxyfix} == {
        k: (proxyfix_port if v == "PORT" else v) for k, v in expected_proxyfix.items()
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("/api/v1", "/api/v1", id="plain"),
        pytest.param("/api%20v1", "/api v1", id="percent-decoded as WSGI paths are"),
        pytest.param("/a%2fb", "/a/b", id="encoded slash decoded"),
        pytest.param("/a%252e%252e", None, id="double-encoded dots refused"),
        pytest.param("/a%00", None, id="encoded NUL refused"),
        pytest.param("/a\r\nX: y", None, id="raw CR LF refused"),
        pytest.param("", None, id="empty"),
        pytest.param("/", None, id="root is no prefix"),
    ],
)
def test_script_name(value: str, expected: str | None) -> None:
    assert script_name(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("Example.ORG", ("example.org", None), id="lower-cased"),
        pytest.param("127.0.0.1:8080", ("127.0.0.1", "8080"), id="ipv4 and port"),
        pytest.param("[::1]", ("[::1]", None), id="ipv6"),
        pytest.param("[::1", None, id="unclosed bracket"),
        pytest.param("[nope]:80", None, id="bracketed non-address"),
        pytest.param("a b", None, id="space"),
        pytest.param("a..b", None, id="empty label"),
        pytest.param("host:0", None, id="port zero"),
        pytest.param("host:", None, id="empty port"),
        pytest.param("h\r\nx", None, id="CR LF"),
        pytest.param("x" * 400, None, id="too long"),
    ],
)
def test_forwarded_host(value: str, expected: Any) -> None:
    assert forwarded_host(value) == expected


def test_originals_are_kept_and_a_bad_trusted_value_is_refused() -> None:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(environ)
        return []

    environ = {"REMOTE_ADDR": "::1", "PATH_INFO": "/x", "SCRIPT_NAME": "", "HTTP_X_FORWARDED_PREFIX": "/p"}
    ForwardedPrefixMiddleware(app)(environ, lambda *a: None)
    assert seen["SCRIPT_NAME"] == "/p" and seen["stripproxy.forwarded.orig"]["SCRIPT_NAME"] == ""
    with pytest.raises(ValueError, match="trusted address 'localhost'"):
        ForwardedPrefixMiddleware(app, trusted=["localhost"])
