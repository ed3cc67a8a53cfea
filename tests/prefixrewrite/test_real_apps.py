"""Real apps behind `/api/v1` with stripPrefix (issue #14): FastAPI under uvicorn, Flask and Django under
waitress, real clients (httpx, requests) following redirects end to end through the gateway.

First with NOTHING configured in the app: without prefixRewrite its redirects and cookies miss the prefix
(checked, so the tests prove the rewriter is what makes them work); with it, the flows work. Then the same
apps told their prefix (FastAPI's root_path; SCRIPT_NAME from X-Forwarded-Prefix through werkzeug's ProxyFix):
the rewriter changes nothing (no double prefix), as the exchange record's `rewrites` shows.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import requests
from prefix_apps import django_wsgi_app, fastapi_app, flask_app

from proxy.testing import serve_asgi


def routes(app_url: str, rewrite: bool) -> dict[str, Any]:
    """The Traefik file: `/api/v1` stripped to the app; `prefixRewrite` (ours) only when `rewrite`."""
    middlewares: dict[str, Any] = {"strip": {"stripPrefix": {"prefixes": ["/api/v1"]}}}
    if rewrite:
        middlewares["back"] = {"prefixRewrite": {}}
    return {
        "http": {
            "routers": {"app": {"rule": "PathPrefix(`/api/v1`)", "service": "app", "middlewares": list(middlewares)}},
            "middlewares": middlewares,
            "services": {"app": {"loadBalancer": {"servers": [{"url": app_url}]}}},
        }
    }


# -- FastAPI ----------------------------------------------------------------------------------------------
async def test_fastapi_unaware_app_broken_without_the_rewriter(stripproxy: Any) -> None:
    async with serve_asgi(fastapi_app()) as served:
        gateway = await stripproxy(routes(served.url, rewrite=False))
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{gateway.url}/api/v1/")
            assert response.headers["location"] == "/login"  # off the prefix: the gateway has no route there
            assert (await client.get(f"{gateway.url}/api/v1/", follow_redirects=True)).status_code == 404


@pytest.mark.parametrize("use_gateway_option", [False, True], ids=["middleware", "rewrite_prefix=True"])
async def test_fastapi_unaware_app(stripproxy: Any, use_gateway_option: bool) -> None:
    async with serve_asgi(fastapi_app()) as served:
        if use_gateway_option:
            gateway = await stripproxy(routes(served.url, rewrite=False), rewrite_prefix=True)
        else:
            gateway = await stripproxy(routes(served.url, rewrite=True))
        public = gateway.url
        async with httpx.AsyncClient(follow_redirects=True) as client:
            # redirect_slashes: 307 to http://<public host>/items/ (the app saw the public Host)
            response = await client.get(f"{public}/api/v1/items")
            assert response.status_code == 200 and response.json() == {"items": [1, 2]}
            assert [str(r.headers["location"]) for r in response.history] == [f"{public}/api/v1/items/"]
            # RedirectResponse("/login"), then a cookie with Path=/
            response = await client.get(f"{public}/api/v1/")
            assert response.json() == {"page": "login", "root_path": ""}
            assert str(response.url) == f"{public}/api/v1/login"
            assert [c.path for c in client.cookies.jar] == ["/api/v1"]
            # url_for without root_path: an absolute URL on the public origin, missing the prefix
            response = await client.get(f"{public}/api/v1/home")
            assert str(response.url) == f"{public}/api/v1/login"
        rewrites = [(name.lower(), *rest) for record in gateway.exchanges for name, *rest in record.rewrites]
        assert ("location", f"{public}/items/", f"{public}/api/v1/items/") in rewrites
        assert ("location", "/login", "/api/v1/login") in rewrites
        assert ("set-cookie", "seen=1; Path=/; SameSite=lax", "seen=1; Path=/api/v1; SameSite=lax") in rewrites


async def test_fastapi_with_root_path_is_left_alone(stripproxy: Any) -> None:
    async with serve_asgi(fastapi_app(), root_path="/api/v1") as served:
        gateway = await stripproxy(routes(served.url, rewrite=True))
        public = gateway.url
        async with httpx.AsyncClient(follow_redirects=True) as client:
            response = await client.get(f"{public}/api/v1/items")
            assert response.json() == {"items": [1, 2]}
            assert [r.headers["location"] for r in response.history] == [f"{public}/api/v1/items/"]
            response = await client.get(f"{public}/api/v1/home")
            assert str(response.url) == f"{public}/api/v1/login"
            assert response.json() == {"page": "login", "root_path": "/api/v1"}
            assert [c.path for c in client.cookies.jar] == ["/api/v1"]
        assert all(record.rewrites == () for record in gateway.exchanges), [r.rewrites for r in gateway.exchanges]
        assert len(gateway.exchanges) == 4


# -- Flask --------------------------------------------------------------------------------------------------
def flask_login_flow(base: str) -> requests.Session:
    """Index -> login form; POST the form -> redirect to the profile with a session cookie -> hello."""
    session = requests.Session()
    response = session.get(f"{base}/api/v1/", timeout=10)
    assert response.status_code == 200, response.url
    assert response.url == f"{base}/api/v1/login"
    response = session.post(f"{base}/api/v1/login", data={"user": "ann"}, timeout=10)
    assert response.status_code == 200, (response.url, response.history)
    assert response.url == f"{base}/api/v1/profile"
    assert response.text == "hello ann"
    assert [c.path for c in session.cookies] == ["/api/v1"]
    return session


def test_flask_unaware_app_broken_without_the_rewriter(stripproxy_sync: Any, serve_wsgi: Any) -> None:
    gateway = stripproxy_sync(routes(serve_wsgi(flask_app()), rewrite=False))
    response = requests.post(f"{gateway.url}/api/v1/login", data={"user": "ann"}, allow_redirects=False, timeout=10)
    assert response.headers["Location"] == "/profile"
    assert "Path=/;" in response.headers["Set-Cookie"] or response.headers["Set-Cookie"].endswith("Path=/")
    assert requests.get(f"{gateway.url}/api/v1/", timeout=10).status_code == 404  # followed to /login


def test_flask_unaware_app(stripproxy_sync: Any, serve_wsgi: Any) -> None:
    gateway = stripproxy_sync(routes(serve_wsgi(flask_app()), rewrite=True))
    flask_login_flow(gateway.url)
    changed = {(name, before.split(";")[0][:8], after) for r in gateway.exchanges for name, before, after in r.rewrites}
    assert ("Location", "/login", "/api/v1/login") in changed


def test_flask_told_its_prefix_is_left_alone(stripproxy_sync: Any, serve_wsgi: Any) -> None:
    gateway = stripproxy_sync(routes(serve_wsgi(flask_app(knows_prefix=True)), rewrite=True))
    session = flask_login_flow(gateway.url)
    response = session.get(f"{gateway.url}/api/v1/login", timeout=10)
    assert 'action="/api/v1/login"' in response.text  # url_for knows the prefix (SCRIPT_NAME)
    assert all(record.rewrites == () for record in gateway.exchanges), [r.rewrites for r in gateway.exchanges]


# -- Django ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def django_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    pytest.importorskip("django")
    return django_wsgi_app(str(tmp_path_factory.mktemp("django") / "db.sqlite3"))


def django_admin_login(base: str) -> requests.Session:
    """The admin redirects to its login page; log in (CSRF token from the form and cookie) and land on it."""
    session = requests.Session()
    response = session.get(f"{base}/api/v1/admin/", timeout=20)
    assert response.status_code == 200, (response.url, [r.headers.get("Location") for r in response.history])
    assert response.url.startswith(f"{base}/api/v1/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.text)
    assert token is not None
    response = session.post(
        response.url,
        data={"csrfmiddlewaretoken": token.group(1), "username": "admin", "password": "pw-for-tests"},
        headers={"Referer": response.url},
        timeout=20,
    )
    assert response.status_code == 200, (response.url, response.text[:300])
    assert response.url == f"{base}/api/v1/admin/"
    assert "Site administration" in response.text
    assert sorted(c.path for c in session.cookies) == ["/api/v1", "/api/v1"]  # csrftoken, sessionid
    return session


def test_django_unaware_app_broken_without_the_rewriter(stripproxy_sync: Any, serve_wsgi: Any, django_app: Any) -> None:
    gateway = stripproxy_sync(routes(serve_wsgi(django_app), rewrite=False))
    response = requests.get(f"{gateway.url}/api/v1/admin/", allow_redirects=False, timeout=20)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/login/?next=/admin/"


def test_django_unaware_app(stripproxy_sync: Any, serve_wsgi: Any, django_app: Any) -> None:
    gateway = stripproxy_sync(routes(serve_wsgi(django_app), rewrite=True))
    django_admin_login(gateway.url)
    rewrites = [r for record in gateway.exchanges for r in record.rewrites]
    assert ("Location", "/admin/login/?next=/admin/", "/api/v1/admin/login/?next=/admin/") in rewrites


def test_django_told_its_prefix_is_left_alone(stripproxy_sync: Any, serve_wsgi: Any, django_app: Any) -> None:
    from django.test import override_settings
    from werkzeug.middleware.proxy_fix import ProxyFix

    # SCRIPT_NAME from X-Forwarded-Prefix; the cookies scoped to it, as a Django deployed under a prefix sets them
    with override_settings(SESSION_COOKIE_PATH="/api/v1", CSRF_COOKIE_PATH="/api/v1"):
        gateway = stripproxy_sync(routes(serve_wsgi(ProxyFix(django_app, x_prefix=1)), rewrite=True))
        first = requests.get(f"{gateway.url}/api/v1/admin/", allow_redirects=False, timeout=20)
        assert first.headers["Location"] == "/api/v1/admin/login/?next=/api/v1/admin/"
        django_admin_login(gateway.url)
    assert all(record.rewrites == () for record in gateway.exchanges), [r.rewrites for r in gateway.exchanges]
