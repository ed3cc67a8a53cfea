"""prefixRewrite through a live gateway (ours, issue #14): real sockets, a real aiohttp upstream that knows
nothing of its prefix, real clients. Both ways of turning it on (the gateway-wide option and the middleware),
what it leaves alone, how it refuses a misplaced or misspelt configuration, and the CLI flag."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from aiohttp import web

from proxy import BackgroundGateway
from proxy.config.errors import ConfigError
from proxy.testing.upstreams import ServedApp, serve_app_in_thread

ROOT = Path(__file__).resolve().parents[2]


async def _login(request: web.Request) -> web.Response:
    raise web.HTTPFound("/login")


async def _absolute(request: web.Request) -> web.Response:
    raise web.HTTPFound(f"http://{request.headers['Host']}/login")  # the Host it was told, its own notion


async def _page(request: web.Request) -> web.Response:
    response = web.Response(text="hi", headers={"Link": "</style.css>; rel=preload", "Refresh": "5; url=/next"})
    response.set_cookie("sid", "1", path="/")
    return response


async def _echo(request: web.Request) -> web.Response:
    return web.json_response({"path": request.path, "prefix": request.headers.getall("X-Forwarded-Prefix", [])})


@pytest.fixture(scope="module")
def app() -> Iterator[ServedApp]:
    application = web.Application()
    application.router.add_get("/app", _login)
    application.router.add_get("/absolute", _absolute)
    application.router.add_get("/login", _page)
    application.router.add_get("/", _echo)
    application.router.add_get("/plain/app", _login)
    with serve_app_in_thread(application) as served:
        yield served


def routes(app: ServedApp, *, rewrite: dict[str, Any] | None = None, after: bool = False) -> dict[str, Any]:
    middlewares: dict[str, Any] = {"strip": {"stripPrefix": {"prefixes": ["/api/v1"]}}}
    chain = ["strip"]
    if rewrite is not None:
        middlewares["rewrite"] = {"prefixRewrite": rewrite}
        chain = ["strip", "rewrite"] if after else ["rewrite", "strip"]
    return {
        "http": {
            "routers": {
                "api": {"rule": "PathPrefix(`/api/v1`)", "service": "app", "middlewares": chain},
                "plain": {"rule": "PathPrefix(`/plain`)", "service": "app"},
            },
            "middlewares": middlewares,
            "services": {"app": {"loadBalancer": {"servers": [{"url": app.url}]}}},
        }
    }


def get(gateway: BackgroundGateway, path: str, **headers: str) -> requests.Response:
    return requests.get(gateway.url + path, headers=headers, allow_redirects=False, timeout=5)


def test_gateway_wide_option_rewrites_stripping_routers_only(app: ServedApp) -> None:
    with BackgroundGateway(routes(app), rewrite_prefix=True) as gateway:
        assert get(gateway, "/api/v1/app").headers["Location"] == "/api/v1/login"
        host = gateway.url.removeprefix("http://")
        assert get(gateway, "/api/v1/absolute").headers["Location"] == f"http://{host}/api/v1/login"
        page = get(gateway, "/api/v1/login")
        assert page.headers["Set-Cookie"] == "sid=1; Path=/api/v1"
        assert page.headers["Link"] == "</api/v1/style.css>; rel=preload"
        assert page.headers["Refresh"] == "5; url=/api/v1/next"
        assert gateway.exchanges[-1].rewrites == (
            "Link: </style.css>; rel=preload -> </api/v1/style.css>; rel=preload",
            "Refresh: 5; url=/next -> 5; url=/api/v1/next",
            "Set-Cookie: sid=1; Path=/ -> sid=1; Path=/api/v1",
        )
        assert "prefixRewrite: Set-Cookie: sid=1; Path=/ -> sid=1; Path=/api/v1" in gateway.explain()
        # A router that strips nothing is left as it was: no rewriter, the as-is response path.
        assert get(gateway, "/plain/app").headers["Location"] == "/login"
        assert gateway.routers["plain@file"].middleware_names == ()
        assert gateway.routers["plain@file"].relays_as_is
        assert gateway.routers["api@file"].middleware_names == ("rewrite-prefix@stripproxy", "strip")


def test_without_the_option_answers_are_relayed_as_the_app_wrote_them(app: ServedApp) -> None:
    with BackgroundGateway(routes(app)) as gateway:
        assert get(gateway, "/api/v1/app").headers["Location"] == "/login"
        assert get(gateway, "/api/v1/login").headers["Set-Cookie"] == "sid=1; Path=/"
        assert gateway.exchanges[-1].rewrites == ()
        assert gateway.routers["api@file"].middleware_names == ("strip",)


def test_middleware_per_router_with_its_switches(app: ServedApp) -> None:
    with BackgroundGateway(routes(app, rewrite={"cookies": False})) as gateway:
        assert get(gateway, "/api/v1/app").headers["Location"] == "/api/v1/login"
        assert get(gateway, "/api/v1/login").headers["Set-Cookie"] == "sid=1; Path=/"
    with BackgroundGateway(routes(app, rewrite={"headers": "false"})) as gateway:
        assert get(gateway, "/api/v1/app").headers["Location"] == "/login"
        assert get(gateway, "/api/v1/login").headers["Set-Cookie"] == "sid=1; Path=/api/v1"


def test_slash_redirect_sends_the_prefix_itself_to_its_directory(app: ServedApp) -> None:
    with BackgroundGateway(routes(app, rewrite={"slashRedirect": True})) as gateway:
        moved = get(gateway, "/api/v1?page=2")
        assert (moved.status_code, moved.headers["Location"]) == (301, "/api/v1/?page=2")
        assert moved.text == '<a href="/api/v1/?page=2">Moved Permanently</a>.\n\n'  # Go's http.Redirect body
        served = get(gateway, "/api/v1/")
        assert served.json() == {"path": "/", "prefix": ["/api/v1"]}
    with BackgroundGateway(routes(app, rewrite={})) as gateway:  # off by default: /api/v1 is served as /
        assert get(gateway, "/api/v1").json() == {"path": "/", "prefix": ["/api/v1"]}


def regex_strip(app: ServedApp, regex: str, replacement: str, rewrite: dict[str, Any] | None = None) -> dict:
    """The api router strips with replacePathRegex instead (`rewrite`: a prefixRewrite before it)."""
    config = routes(app, rewrite=rewrite)
    config["http"]["middlewares"]["strip"] = {"replacePathRegex": {"regex": regex, "replacement": replacement}}
    return config


@pytest.mark.parametrize(
    ("regex", "replacement"),
    [
        pytest.param("^/api/v1/(.*)", "/$1", id="slash-kept"),
        pytest.param("^/api/v1(.*)$", "${1}", id="group-only"),
    ],
)
def test_a_replace_path_regex_that_only_strips_is_put_back(app: ServedApp, regex: str, replacement: str) -> None:
    with BackgroundGateway(regex_strip(app, regex, replacement), rewrite_prefix=True) as gateway:
        assert gateway.routers["api@file"].middleware_names == ("rewrite-prefix@stripproxy", "strip")
        assert get(gateway, "/api/v1/app").headers["Location"] == "/api/v1/login"
        assert get(gateway, "/api/v1/login").headers["Set-Cookie"] == "sid=1; Path=/api/v1"
        # Upstream it is Traefik's replacePathRegex still: X-Replaced-Path, no X-Forwarded-Prefix.
        assert get(gateway, "/api/v1/").json() == {"path": "/", "prefix": []}
        assert not [str(p) for p in gateway.gateway.last_build.problems]
    rewrite = {"slashRedirect": True}
    with BackgroundGateway(regex_strip(app, regex, replacement, rewrite)) as gateway:
        moved = get(gateway, "/api/v1")
        assert (moved.status_code, moved.headers["Location"]) == (301, "/api/v1/")
        assert get(gateway, "/api/v1/app").headers["Location"] == "/api/v1/login"


def test_a_replace_path_regex_that_does_more_is_not_undone(app: ServedApp) -> None:
    config = regex_strip(app, "^/api/v1/(.*)", "/plain/$1", rewrite={})
    with BackgroundGateway(config, rewrite_prefix=True) as gateway:
        assert get(gateway, "/api/v1/app").headers["Location"] == "/login"  # /plain/app answers /login
        problems = [str(p) for p in gateway.gateway.last_build.problems]
        assert any("replacePathRegex on this router are not undone" in p for p in problems), problems
        assert any("no stripPrefix or stripPrefixRegex after it" in p for p in problems), problems


def test_a_prefix_the_client_sent_is_not_taken_for_the_stripped_one(app: ServedApp) -> None:
    with BackgroundGateway(routes(app), rewrite_prefix=True) as gateway:
        answer = get(gateway, "/api/v1/app", **{"X-Forwarded-Prefix": "/evil"})
        assert answer.headers["Location"] == "/api/v1/login"


def test_rewriter_after_the_strip_disables_the_router_with_the_reason(app: ServedApp) -> None:
    with BackgroundGateway(routes(app, rewrite={}, after=True)) as gateway:
        assert "api@file" not in gateway.routers
        problems = [str(p) for p in gateway.gateway.last_build.problems]
        assert any("api@file" in p and "prefixRewrite must come before the stripPrefix" in p for p in problems)
        assert get(gateway, "/api/v1/app").status_code == 404


def test_rewriter_without_a_strip_warns_that_it_does_nothing(app: ServedApp) -> None:
    config = routes(app, rewrite={})
    config["http"]["routers"]["api"]["middlewares"] = ["rewrite"]
    with BackgroundGateway(config) as gateway:
        problems = [str(p) for p in gateway.gateway.last_build.problems]
        assert any("no stripPrefix or stripPrefixRegex after it" in p for p in problems), problems


@pytest.mark.parametrize(
    ("middleware", "expected"),
    [
        pytest.param({"prefixRewrite": {"slashRedirct": True}}, "slashRedirect", id="misspelt-option"),
        pytest.param({"prefixRewite": {}}, "prefixRewrite", id="misspelt-type"),
        pytest.param({"prefixRewrite": {"html": "maybe"}}, "html", id="not-a-boolean"),
    ],
)
def test_misspellings_are_refused_with_the_key_path(app: ServedApp, middleware: dict[str, Any], expected: str) -> None:
    config = routes(app)
    config["http"]["middlewares"]["rewrite"] = middleware
    with pytest.raises(ConfigError) as refused:
        BackgroundGateway(config).start()
    message = str(refused.value)
    assert "http.middlewares.rewrite" in message and expected in message, message


def test_the_key_on_a_router_says_where_it_belongs(app: ServedApp) -> None:
    config = routes(app)
    config["http"]["routers"]["api"]["prefixRewrite"] = {}
    with pytest.raises(ConfigError) as refused:
        BackgroundGateway(config).start()
    message = str(refused.value)
    assert "http.routers.api.prefixRewrite: unknown key (prefixRewrite is a middleware type:" in message, message


def test_the_sticky_cookie_of_the_gateway_keeps_its_configured_path(app: ServedApp) -> None:
    """A sticky service's cookie is Traefik's own (its `path` as configured, `/` by default), not the app's:
    only the app's cookie gets the prefix."""
    config = routes(app, rewrite={})
    config["http"]["services"]["app"]["loadBalancer"]["sticky"] = {"cookie": {"name": "lb"}}
    with BackgroundGateway(config) as gateway:
        cookies = requests.get(f"{gateway.url}/api/v1/login", allow_redirects=False, timeout=10).headers
        values = [v.strip() for v in cookies["Set-Cookie"].split(",")]
        assert "sid=1; Path=/api/v1" in values, values
        sticky = [v for v in values if v.startswith("lb=")]
        assert len(sticky) == 1 and sticky[0].endswith("Path=/"), values


def test_gateway_option_value_is_checked() -> None:
    with pytest.raises(ValueError, match="rewrite_prefix: expected True, 'headers' or 'html'"):
        BackgroundGateway({"http": {}}, rewrite_prefix="cookies").start()


def test_cli_flag(app: ServedApp, tmp_path: Path) -> None:
    port = _free_port()
    (tmp_path / "static.toml").write_text(
        f'[entryPoints.web]\naddress = "127.0.0.1:{port}"\n[providers.file]\nfilename = "routes.toml"\n'
    )
    (tmp_path / "routes.toml").write_text(
        '[http.routers.api]\nrule = "PathPrefix(`/api/v1`)"\nservice = "app"\nmiddlewares = ["strip"]\n'
        '[http.middlewares.strip.stripPrefix]\nprefixes = ["/api/v1"]\n'
        f'[[http.services.app.loadBalancer.servers]]\nurl = "{app.url}"\n'
    )
    command = [sys.executable, "-m", "proxy", "--config", str(tmp_path / "static.toml"), "--rewrite-prefix"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/api/v1/app", allow_redirects=False, timeout=2)
                break
            except requests.ConnectionError:
                assert process.poll() is None and time.monotonic() < deadline, process.stderr.read().decode()
                time.sleep(0.05)
        assert answer.headers["Location"] == "/api/v1/login"
    finally:
        process.terminate()
        process.wait(10)
        process.stderr.close()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
