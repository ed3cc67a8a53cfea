"""https:// servers through serversTransports over real TLS (trustme): rootCAs, insecureSkipVerify, serverName,
client certificates, peerCertSANs, the static default transport, pooling, and 502 when a certificate does
not verify. Traefik: pkg/server/service/transport.go (createTLSConfig), integration/https_test.go
(TestWithRootCAsContentForHTTPSOnBackend, TestWithRootCAsFileForHTTPSOnBackend).
"""

from __future__ import annotations

import json
import ssl
from contextlib import asynccontextmanager

import httpx
import pytest
import trustme
from aiohttp import web


@asynccontextmanager
async def https_upstream(ca: trustme.CA, *names: str, client_ca: trustme.CA | None = None):
    """An aiohttp server on loopback over TLS with a certificate for `names`; it answers with the peer
    port it saw (to count connections) and the client certificate's subject when it asked for one."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(ctx)
    if client_ca is not None:
        client_ca.configure_trust(ctx)
        ctx.verify_mode = ssl.CERT_REQUIRED

    async def handler(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername")
        cert = request.transport.get_extra_info("peercert")
        return web.json_response({"peer_port": peer[1], "client": bool(cert)})

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        await runner.cleanup()


def _config(url: str, transport: dict | None) -> dict:
    balancer: dict = {"servers": [{"url": url}]}
    config: dict = {
        "http": {
            "routers": {"app": {"rule": "PathPrefix(`/`)", "service": "app"}},
            "services": {"app": {"loadBalancer": balancer}},
        }
    }
    if transport is not None:
        balancer["serversTransport"] = "tr"
        config["http"]["serversTransports"] = {"tr": transport}
    return config


@pytest.mark.parametrize(
    ("names", "transport", "status", "log_part"),
    [
        pytest.param(("127.0.0.1",), {"rootCAs": ["{ca}"]}, 200, None, id="rootCAs file"),
        pytest.param(("127.0.0.1",), {"rootCAs": ["{ca_pem}"]}, 200, None, id="rootCAs inline PEM"),
        pytest.param(("127.0.0.1",), None, 502, "did not verify", id="unknown CA: 502"),
        pytest.param(("127.0.0.1",), {"insecureSkipVerify": True}, 200, None, id="insecureSkipVerify"),
        pytest.param(
            ("backend.test",), {"rootCAs": ["{ca}"]}, 502, "did not verify for '127.0.0.1'", id="name mismatch: 502"
        ),
        pytest.param(
            ("backend.test",), {"rootCAs": ["{ca}"], "serverName": "backend.test"}, 200, None, id="serverName"
        ),
        pytest.param(
            ("127.0.0.1",),
            {"rootCAs": ["{ca}"], "peerCertSANs": [{"type": "DNSName", "value": "x.test"}]},
            502,
            "no matching SAN",
            id="peerCertSANs missing: 502",
        ),
        pytest.param(
            ("127.0.0.1", "x.test"),
            {"insecureSkipVerify": True, "rootCAs": ["{ca}"], "peerCertSANs": [{"type": "DNSName", "value": "x.test"}]},
            200,
            None,
            id="peerCertSANs with insecureSkipVerify: chain and SAN checked",
        ),
    ],
)
async def test_https_upstream_verification(stripproxy, ca, ca_file, names, transport, status, log_part, caplog):
    async with https_upstream(ca, *names) as port:
        if transport is not None:
            transport = json.loads(
                json.dumps(transport)
                .replace("{ca}", ca_file)
                .replace("{ca_pem}", json.dumps(ca.cert_pem.bytes().decode())[1:-1])
            )
        gateway = await stripproxy(_config(f"https://127.0.0.1:{port}", transport))
        async with httpx.AsyncClient() as client:
            response = await client.get(gateway.url + "/x")
    assert response.status_code == status, gateway.explain()
    if log_part is not None:
        assert log_part in gateway.exchanges[-1].detail
        assert log_part in caplog.text  # the 502's log line says why


async def test_client_certificate_to_the_upstream(stripproxy, ca, ca_file, issue):
    client_ca = trustme.CA()
    mine = issue("proxy.client", authority=client_ca)
    async with https_upstream(ca, "127.0.0.1", client_ca=client_ca) as port:
        url = f"https://127.0.0.1:{port}"
        with_cert = await stripproxy(
            _config(url, {"rootCAs": [ca_file], "certificates": [{"certFile": mine.cert, "keyFile": mine.key}]})
        )
        without = await stripproxy(_config(url, {"rootCAs": [ca_file]}))
        async with httpx.AsyncClient() as client:
            accepted = await client.get(with_cert.url + "/")
            refused = await client.get(without.url + "/")
    assert accepted.status_code == 200 and accepted.json()["client"] is True
    assert refused.status_code == 502


async def test_https_connections_are_pooled(stripproxy, ca, ca_file):
    async with https_upstream(ca, "127.0.0.1") as port:
        gateway = await stripproxy(_config(f"https://127.0.0.1:{port}", {"rootCAs": [ca_file]}))
        async with httpx.AsyncClient() as client:
            first = (await client.get(gateway.url + "/")).json()["peer_port"]
            second = (await client.get(gateway.url + "/")).json()["peer_port"]
    assert first == second  # one TLS connection, reused


async def test_static_servers_transport_is_the_default(stripproxy, ca, ca_file, tmp_path):
    async with https_upstream(ca, "127.0.0.1") as port:
        routes = tmp_path / "routes.yaml"
        routes.write_text(json.dumps(_config(f"https://127.0.0.1:{port}", None)))
        static = tmp_path / "traefik.toml"
        static.write_text(
            f'[entryPoints.web]\naddress = ":80"\n[serversTransport]\nrootCAs = ["{ca_file}"]\n'
            f'[providers.file]\nfilename = "{routes}"\n'
        )
        gateway = await stripproxy(str(static))
        async with httpx.AsyncClient() as client:
            response = await client.get(gateway.url + "/")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("transport", "message"),
    [
        pytest.param({"rootCAs": ["/nonexistent/ca.pem"]}, "neither a readable file nor PEM", id="missing CA file"),
        pytest.param({"minVersion": "VersionTLS99"}, "invalid TLS minimum version", id="bad version"),
        pytest.param({"cipherSuites": ["NOPE"]}, "invalid CipherSuite: NOPE", id="bad cipher"),
        pytest.param({"peerCertSANs": [{"type": "IP", "value": "1.2.3.4"}]}, "unknown type", id="bad SAN type"),
    ],
)
async def test_broken_transport_breaks_its_services(stripproxy, transport, message):
    gateway = await stripproxy(_config("https://127.0.0.1:1", transport), strict=False)
    assert any(message in problem for problem in gateway.problems), gateway.problems
    assert "app@file" not in gateway.routers
