"""HTTP -> HTTPS as real Traefik files write it: entry point http.redirections.entryPoint, a websecure entry
point whose http.tls names a certResolver, served by the local development CA; trusted by httpx, requests
and curl (--cacert). Traefik's redirection router: pkg/provider/traefik/internal.go (redirection,
getRedirectPort) and its tests (TestHandler_Redirections); the redirect itself: redirectScheme.
"""

from __future__ import annotations

import json
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest
import requests

STATIC = """
[entryPoints.web]
address = ":80"
[entryPoints.web.http.redirections.entryPoint]
to = "{to}"
scheme = "https"
{permanent}
[entryPoints.websecure]
address = ":443"
[entryPoints.websecure.http.tls]
certResolver = "le"
[[entryPoints.websecure.http.tls.domains]]
main = "127.0.0.1"
[certificatesResolvers.le.acme]
email = "dev@example.com"
storage = "acme.json"
[certificatesResolvers.le.acme.httpChallenge]
entryPoint = "web"
[providers.file]
filename = "{routes}"
"""


def _files(
    tmp_path: Path, echo_url: str, to: str = "websecure", permanent: str = "", routers: dict | None = None
) -> Path:
    routes = tmp_path / "routes.yaml"  # JSON is YAML
    routes.write_text(
        json.dumps(
            {
                "http": {
                    "routers": routers
                    or {"app": {"rule": "PathPrefix(`/`)", "service": "app", "entryPoints": ["websecure"]}},
                    "services": {"app": {"loadBalancer": {"servers": [{"url": echo_url}]}}},
                }
            }
        )
    )
    static = tmp_path / "traefik.toml"
    static.write_text(STATIC.format(to=to, permanent=permanent, routes=routes))
    return static


@pytest.mark.parametrize(
    ("permanent", "method", "status"),
    [
        pytest.param("", "GET", 301, id="permanent by default: 301 for GET"),
        pytest.param("", "POST", 308, id="permanent: 308 for other methods"),
        pytest.param("permanent = false", "GET", 302, id="temporary: 302"),
        pytest.param("permanent = false", "PUT", 307, id="temporary: 307 for other methods"),
    ],
)
async def test_entry_point_redirection_to_https(stripproxy, echo, tmp_path, permanent, method, status):
    gateway = await stripproxy(str(_files(tmp_path, echo.url, permanent=permanent)))
    secure_port = gateway.urls["websecure"].rsplit(":", 1)[1]
    assert gateway.urls["websecure"].startswith("https://")
    async with httpx.AsyncClient() as client:
        response = await client.request(method, gateway.urls["web"] + "/some/path?q=1")
    assert response.status_code == status
    assert response.headers["Location"] == f"https://127.0.0.1:{secure_port}/some/path?q=1"
    assert gateway.exchanges[-1].router == "web-to-websecure@internal"


async def test_redirection_to_a_port_and_followed_end_to_end(stripproxy, echo, tmp_path):
    gateway = await stripproxy(str(_files(tmp_path, echo.url)))
    async with httpx.AsyncClient(
        verify=ssl.create_default_context(cafile=gateway.ca_file), follow_redirects=True
    ) as client:
        response = await client.get(gateway.urls["web"] + "/hello")
    assert response.status_code == 200
    assert response.json()["path"] == "/hello"
    assert response.json()["headers"]["X-Forwarded-Proto"] == "https"
    assert response.url.scheme == "https"


async def test_redirection_to_a_missing_entry_point_is_logged(stripproxy, echo, tmp_path, caplog):
    gateway = await stripproxy(str(_files(tmp_path, echo.url, to="nowhere")))
    assert "non-existing entry point: nowhere" in caplog.text
    async with httpx.AsyncClient() as client:
        assert (await client.get(gateway.urls["web"] + "/")).status_code == 404


async def test_redirection_to_a_port_number(stripproxy, echo, tmp_path):
    gateway = await stripproxy(str(_files(tmp_path, echo.url, to=":8443")))
    async with httpx.AsyncClient() as client:
        response = await client.get(gateway.urls["web"] + "/x")
    assert response.headers["Location"] == "https://127.0.0.1:8443/x"


async def test_cert_resolver_routers_are_disabled_without_the_local_ca(stripproxy, echo, tmp_path):
    gateway = await stripproxy(str(_files(tmp_path, echo.url)), local_ca=False, strict=False)
    assert "app@file" not in gateway.routers
    assert any("--no-local-ca" in problem for problem in gateway.problems), gateway.problems


async def test_router_with_its_own_cert_resolver_and_sni(stripproxy, echo, tmp_path):
    routers = {
        "app": {
            "rule": "Host(`app.test`)",
            "service": "app",
            "entryPoints": ["websecure"],
            "tls": {"certResolver": "le"},
        }
    }
    gateway = await stripproxy(str(_files(tmp_path, echo.url, routers=routers)))
    from tests.tls.conftest import handshake

    served = await handshake(gateway.urls["websecure"], "app.test", gateway.client_ssl_context())
    assert served.names == ["app.test"]
    assert b"200 OK" in served.response.split(b"\r\n", 1)[0]


def test_local_ca_trusted_by_requests_and_curl_through_the_cli(stripproxy_process, serve_app_sync, tmp_path):
    from aiohttp import web

    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"proto": request.headers.get("X-Forwarded-Proto")})

    app = web.Application()
    app.router.add_get("/{tail:.*}", hello)
    served = serve_app_sync(app)
    routers = {
        "app": {"rule": "PathPrefix(`/`)", "service": "app", "entryPoints": ["websecure"]},
        "named": {
            "rule": "Host(`app.test`)",
            "service": "app",
            "entryPoints": ["websecure"],
            "tls": {"certResolver": "le"},
        },
    }
    process = stripproxy_process(_files(tmp_path, served.url, routers=routers))
    assert "local development CA" in process.log and process.ca_file in process.log
    secure = process.urls["websecure"]
    assert secure.startswith("https://")
    assert requests.get(secure + "/", verify=process.ca_file, timeout=5).json() == {"proto": "https"}
    redirected = requests.get(process.urls["web"] + "/", verify=process.ca_file, timeout=5)
    assert redirected.history[0].status_code == 301 and redirected.json() == {"proto": "https"}
    port = secure.rsplit(":", 1)[1]
    curl = subprocess.run(
        [
            "curl",
            "-sS",
            "--cacert",
            process.ca_file,
            "--resolve",
            f"app.test:{port}:127.0.0.1",
            f"https://app.test:{port}/",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert curl.returncode == 0, curl.stderr
    assert json.loads(curl.stdout) == {"proto": "https"}
    refused = subprocess.run(["curl", "-sS", secure + "/"], capture_output=True, text=True, timeout=20)
    assert refused.returncode == 60  # not trusted without --cacert
    with httpx.Client(verify=ssl.create_default_context(cafile=process.ca_file)) as client:
        assert client.get(secure + "/").json() == {"proto": "https"}


def test_no_local_ca_flag_disables_cert_resolver_routers(stripproxy_process, tmp_path):
    static = _files(tmp_path, "http://127.0.0.1:1")
    process = stripproxy_process(static, strict=False, args=["--no-local-ca"])
    assert "app@file" in process.log and "--no-local-ca" in process.log
    assert "get certificates from the local development CA" not in process.log  # not announced: not used
    response = requests.get(process.urls["web"] + "/", allow_redirects=False, timeout=5)
    assert response.status_code == 301  # the redirection router needs no certificate
