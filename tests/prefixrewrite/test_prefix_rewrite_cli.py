"""prefixRewrite through the real CLI (subprocesses): config errors name file, key path and problem (html
refused until wired, misspellings with did-you-mean, the key in a wrong place), `--rewrite-prefix` serving,
`explain` saying what the rewriter would do, and Gateway.explain(record) listing what it changed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from aiohttp import web

from proxy.testing import serve_aiohttp

SERVICE = """
[http.services.app.loadBalancer]
[[http.services.app.loadBalancer.servers]]
url = "http://127.0.0.1:9"
"""

ROUTER = """
[http.routers.api]
rule = "PathPrefix(`/api/v1`)"
service = "app"
middlewares = ["strip"{extra}]
[http.middlewares.strip.stripPrefix]
prefixes = ["/api/v1"]
"""


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxy", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        pytest.param(
            "[http.middlewares.back.prefixRewrite]\nhtml = true\n",
            "http.middlewares.back.prefixRewrite.html: not available yet",
            id="html refused until wired",
        ),
        pytest.param(
            "[http.middlewares.back.prefixRewite]\n",
            "http.middlewares.back.prefixRewite: unknown key (did you mean 'prefixRewrite'?)",
            id="misspelt type",
        ),
        pytest.param(
            "[http.middlewares.back.prefixRewrite]\nslashRedirct = true\n",
            "http.middlewares.back.prefixRewrite.slashRedirct: unknown key (did you mean 'slashRedirect'?)",
            id="misspelt option",
        ),
        pytest.param(
            "[http.routers.api.prefixRewrite]\n",
            "http.routers.api.prefixRewrite: unknown key (prefixRewrite is a middleware type: "
            "http.middlewares.<name>.prefixRewrite)",
            id="on a router instead of a middleware",
        ),
    ],
)
def test_config_errors(tmp_path: Path, section: str, expected: str) -> None:
    config = tmp_path / "routes.toml"
    config.write_text(ROUTER.format(extra="") + section + SERVICE)
    result = cli("check", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 1
    assert f"{config}: {expected}" in result.stdout + result.stderr


def test_html_mode_flag_refused(tmp_path: Path) -> None:
    config = tmp_path / "routes.toml"
    config.write_text(ROUTER.format(extra="") + SERVICE)
    result = cli("check", "--config", str(config), "--rewrite-prefix=html", cwd=tmp_path)
    assert result.returncode == 1
    assert "--rewrite-prefix=html: html: not available yet" in result.stderr


def test_explain_says_what_the_rewriter_would_do(tmp_path: Path) -> None:
    config = tmp_path / "routes.toml"
    config.write_text(ROUTER.format(extra="") + SERVICE)
    url = "http://127.0.0.1:9999/api/v1/x"
    result = cli("explain", url, "--config", str(config), "--rewrite-prefix", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "middlewares ['strip', 'prefixRewrite@gateway']" in result.stdout
    assert (
        "prefixRewrite: the response's Location, Content-Location, Refresh, Link and Set-Cookie get '/api/v1' back"
        in result.stdout
    )
    plain = cli("explain", url, "--config", str(config), cwd=tmp_path)
    assert "prefixRewrite" not in plain.stdout


async def redirect_to_login(request: web.Request) -> web.Response:
    return web.Response(status=302, headers={"Location": "/login", "Set-Cookie": "s=1; Path=/"})


async def test_cli_serves_with_rewrite_prefix(tmp_path: Path, stripproxy_process: Any) -> None:
    config = tmp_path / "routes.toml"
    config.write_text(ROUTER.format(extra="") + SERVICE)
    async with serve_aiohttp(redirect_to_login) as served:
        process = stripproxy_process(config, services={"app": served.url}, rewrite_prefix=True)
        import asyncio

        response = await asyncio.to_thread(requests.get, f"{process.url}/api/v1/", allow_redirects=False, timeout=10)
        assert response.headers["Location"] == "/api/v1/login"
        assert response.headers["Set-Cookie"] == "s=1; Path=/api/v1"


async def test_gateway_explain_lists_the_changes(stripproxy: Any) -> None:
    async with serve_aiohttp(redirect_to_login) as served:
        gateway = await stripproxy(
            {
                "http": {
                    "routers": {"api": {"rule": "PathPrefix(`/api/v1`)", "service": "app", "middlewares": ["s"]}},
                    "middlewares": {"s": {"stripPrefix": {"prefixes": ["/api/v1"]}}},
                    "services": {"app": {"loadBalancer": {"servers": [{"url": served.url}]}}},
                }
            },
            rewrite_prefix=True,
        )
        import aiohttp

        async with aiohttp.ClientSession() as session:
            async with session.get(f"{gateway.url}/api/v1/", allow_redirects=False) as response:
                assert response.status == 302
        text = gateway.explain()
        assert "prefixRewrite: Location: '/login' -> '/api/v1/login'" in text
        assert "prefixRewrite: Set-Cookie: 's=1; Path=/' -> 's=1; Path=/api/v1'" in text
