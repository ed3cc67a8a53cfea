"""Real apps behind `/api/v1` with stripPrefix (issue #14): FastAPI on uvicorn, Flask and Django on
werkzeug's WSGI server, each knowing nothing of its prefix, and then each told its prefix the usual way
(FastAPI's root_path, werkzeug's ProxyFix reading X-Forwarded-Prefix). A real client follows redirects end
to end through the gateway. Unaware: with prefixRewrite every redirect and cookie lands under the prefix.
Aware: the rewriter leaves the app's already correct URLs alone (no double prefix)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse

from proxy import BackgroundGateway
from proxy.testing.upstreams import serve_app_in_thread

HERE = Path(__file__).resolve().parent
PREFIX = "/api/v1"


def routes(url: str) -> dict[str, Any]:
    return {
        "http": {
            "routers": {"app": {"rule": f"PathPrefix(`{PREFIX}`)", "service": "app", "middlewares": ["strip"]}},
            "middlewares": {"strip": {"stripPrefix": {"prefixes": [PREFIX]}}},
            "services": {"app": {"loadBalancer": {"servers": [{"url": url}]}}},
        }
    }


def client() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # loopback only, whatever the environment's proxies say
    return session


# -- FastAPI ---------------------------------------------------------------------------------------------


def fastapi_app() -> FastAPI:
    app = FastAPI()  # redirect_slashes is on by default

    @app.get("/items/")
    def items() -> list[int]:
        return [1, 2]

    @app.get("/go")
    def go() -> RedirectResponse:
        return RedirectResponse("/login")  # the path as the app sees itself

    @app.get("/go-named")
    def go_named(request: Request) -> RedirectResponse:
        return RedirectResponse(str(request.url_for("login")))

    @app.get("/login")
    def login() -> dict[str, str]:
        return {"page": "login"}

    return app


@pytest.mark.parametrize("root_path", ["", PREFIX], ids=["unaware", "root-path"])
def test_fastapi(root_path: str) -> None:
    with serve_app_in_thread(fastapi_app(), root_path=root_path) as served:  # uvicorn's --root-path
        with BackgroundGateway(routes(served.url), rewrite_prefix=True) as gateway, client() as http:
            slash = http.get(gateway.url + f"{PREFIX}/items", timeout=5)
            assert (slash.url, slash.json()) == (gateway.url + f"{PREFIX}/items/", [1, 2])
            for path in ("/go", "/go-named"):
                landed = http.get(gateway.url + PREFIX + path, timeout=5)
                assert (landed.url, landed.json()) == (gateway.url + f"{PREFIX}/login", {"page": "login"}), path
            named = http.get(gateway.url + f"{PREFIX}/go-named", allow_redirects=False, timeout=5)
            if root_path:  # the app wrote its public URL itself: nothing for the rewriter to do
                assert named.headers["location"] == gateway.url + f"{PREFIX}/login"
                assert gateway.exchanges[-1].rewrites == ()
            else:
                assert gateway.exchanges[-1].rewrites  # it did the work
    # Without the rewriter the unaware app sends the client out of the prefix (Traefik's behaviour).
    if not root_path:
        with serve_app_in_thread(fastapi_app()) as served:
            with BackgroundGateway(routes(served.url)) as gateway, client() as http:
                lost = http.get(gateway.url + f"{PREFIX}/go", allow_redirects=False, timeout=5)
                assert lost.headers["location"] == "/login"


# -- Flask -------------------------------------------------------------------------------------------------


def flask_app(aware: bool) -> Any:
    from flask import Flask, redirect, session, url_for

    app = Flask("unaware" if not aware else "aware")
    app.secret_key = "stripproxy-test-only"
    if aware:
        app.config["APPLICATION_ROOT"] = PREFIX  # its session cookie's Path

    @app.get("/")
    def index() -> Any:
        if "user" not in session:
            return redirect(url_for("login"))
        return {"user": session["user"], "home": url_for("index")}

    @app.get("/login")
    def login() -> Any:
        session["user"] = "ada"
        return redirect(url_for("index"))

    if aware:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_prefix=1)
    return app


class WSGIServer:
    """werkzeug's WSGI server for `app` on a loopback port, in a thread."""

    def __init__(self, app: Any) -> None:
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WSGIServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.mark.parametrize("aware", [False, True], ids=["unaware", "proxyfix"])
def test_flask(aware: bool) -> None:
    with WSGIServer(flask_app(aware)) as app, BackgroundGateway(routes(app.url), rewrite_prefix=True) as gateway:
        with client() as http:
            first = http.get(gateway.url + f"{PREFIX}/", allow_redirects=False, timeout=5)
            assert first.headers["location"] == f"{PREFIX}/login"
            home = http.get(gateway.url + f"{PREFIX}/", timeout=5)  # -> login (sets the session) -> back home
            assert [r.headers["location"] for r in home.history] == [f"{PREFIX}/login", f"{PREFIX}/"]
            assert home.json() == {"user": "ada", "home": f"{PREFIX}/" if aware else "/"}
            cookie = next(c for c in http.cookies if c.name == "session")
            assert cookie.path == PREFIX  # the session lives under the prefix, either way
            if aware:  # ProxyFix made every URL right: the rewriter changed nothing
                assert all(record.rewrites == () for record in gateway.exchanges)


# -- Django ------------------------------------------------------------------------------------------------


@pytest.fixture(params=[False, True], ids=["unaware", "proxyfix"])
def django_site(request: pytest.FixtureRequest) -> Iterator[tuple[str, bool]]:
    pytest.importorskip("django")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [sys.executable, str(HERE / "django_site.py"), str(port), *(["aware"] if request.param else [])]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "serving"
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the Django site did not listen"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", request.param
    finally:
        process.terminate()
        process.wait(10)
        process.stdout.close()


def test_django_admin_login(django_site: tuple[str, bool]) -> None:
    url, aware = django_site
    with BackgroundGateway(routes(url), rewrite_prefix="html") as gateway, client() as http:
        page = http.get(gateway.url + f"{PREFIX}/admin/", timeout=5)
        expected_next = f"{PREFIX}/admin/" if aware else "/admin/"  # a query the rewriter does not touch
        assert [r.headers["location"] for r in page.history] == [f"{PREFIX}/admin/login/?next={expected_next}"]
        assert page.status_code == 200 and page.url == gateway.url + f"{PREFIX}/admin/login/?next={expected_next}"
        # html mode: the login form posts back under the prefix, the stylesheets load from it.
        assert f'action="{PREFIX}/admin/login/?next={expected_next}"' in page.text
        assert f'href="{PREFIX}/static/admin/css/base.css"' in page.text
        assert f'href="{PREFIX}{PREFIX}' not in page.text and f'"{PREFIX}{PREFIX}' not in page.text
        csrf = next(c for c in http.cookies if c.name == "csrftoken")
        assert csrf.path == PREFIX
