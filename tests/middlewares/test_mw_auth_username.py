"""basicAuth and digestAuth name the user for the access log (ClientUsername), refused or not, as
basic_auth.go and digest_auth.go set logData.Core[ClientUsername]: checked with the access log capture
and a common-format log file of a live gateway."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from aiohttp import web

from proxy.testing.upstreams import serve_aiohttp

BASIC_USERS = ["test:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M="]  # test:test
DIGEST_USERS = [f"test:traefik:{hashlib.md5(b'test:traefik:test').hexdigest()}"]


@pytest.fixture
async def upstream():
    app = web.Application()
    app.router.add_get("/{tail:.*}", lambda request: web.Response(text="ok"))
    async with serve_aiohttp(app) as served:
        yield served


@pytest.mark.parametrize(
    ("middleware", "auth", "status", "user"),
    [
        pytest.param({"basicAuth": {"users": BASIC_USERS}}, ("test", "test"), 200, "test", id="basic-ok"),
        pytest.param({"basicAuth": {"users": BASIC_USERS}}, ("test", "nope"), 401, "test", id="basic-refused"),
        pytest.param({"basicAuth": {"users": BASIC_USERS}}, ("eve", "x"), 401, "eve", id="basic-unknown-user"),
        pytest.param({"basicAuth": {"users": BASIC_USERS}}, None, 401, "-", id="basic-no-credentials"),
        pytest.param({"digestAuth": {"users": DIGEST_USERS}}, ("test", "test"), 200, "test", id="digest-ok"),
        pytest.param({"digestAuth": {"users": DIGEST_USERS}}, ("test", "nope"), 401, "test", id="digest-refused"),
        pytest.param({"digestAuth": {"users": DIGEST_USERS}}, None, 401, "-", id="digest-no-credentials"),
    ],
)
async def test_the_user_is_the_access_logs_client_username(
    upstream, logged_gateway, tmp_path, middleware, auth, status, user
) -> None:
    (tmp_path / "routes.toml").write_text(
        '[http.routers.r]\nrule = "PathPrefix(`/`)"\nservice = "s"\nmiddlewares = ["auth"]\n'
        f'[[http.services.s.loadBalancer.servers]]\nurl = "{upstream.url}"\n' + _middleware_toml(middleware)
    )
    gateway, records, log_file = await logged_gateway("routes.toml")
    client_auth = None
    if auth is not None:
        client_auth = httpx.BasicAuth(*auth) if "basicAuth" in middleware else httpx.DigestAuth(*auth)
    async with httpx.AsyncClient(auth=client_auth) as client:
        assert (await client.get(gateway.url + "/x")).status_code == status
    logged = await records.wait_for_async(1)
    assert logged[-1]["ClientUsername"] == user  # digest: the challenge's exchange first, then the answer
    line = log_file.read_text().splitlines()[-1]
    assert line.startswith(f"127.0.0.1 - {user} ["), line


def _middleware_toml(middleware: dict) -> str:
    ((kind, options),) = middleware.items()
    users = ", ".join(f'"{u}"' for u in options["users"])
    return f"[http.middlewares.auth.{kind}]\nusers = [{users}]\n"
