"""TLS on entry points over real sockets: which routers a TLS or plain connection gets, certificates by SNI,
the default certificate, tls.options (versions, client certificates, sniStrict, ALPN), reloads.

Cases follow Traefik's pkg/server/router/tcp/router_test.go (TestRuntimeConfiguration / HTTPS vs HTTP on
one entry point), pkg/tls/certificate_store_test.go (TestGetBestCertificate: exact, wildcard, default),
pkg/tls/tlsmanager_test.go (TestManager_Get, TestClientAuth, sniStrict) and integration/https_test.go.
"""

from __future__ import annotations

import json
import ssl

import httpx
import pytest

from tests.tls.conftest import client_context, handshake


def _routes(echo_url: str, routers: dict, tls: dict | None = None, entry_points: list[str] | None = None) -> dict:
    eps = entry_points or ["websecure"]
    config: dict = {
        "http": {
            "routers": {name: {"service": "echo", "entryPoints": eps, **router} for name, router in routers.items()},
            "services": {"echo": {"loadBalancer": {"servers": [{"url": echo_url}]}}},
        }
    }
    if tls is not None:
        config["tls"] = tls
    return config


def _body(response: bytes) -> dict:
    return json.loads(response.partition(b"\r\n\r\n")[2])


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


# A refused handshake: the server's alert (ssl.SSLError), or a reset when asyncio aborts the connection
# before the alert leaves; with TLS 1.3 a refused client certificate shows on the first read, as no answer.
REFUSED = (ssl.SSLError, ConnectionError)


async def _refused(url: str, server_name: str | None, ctx: ssl.SSLContext) -> None:
    with pytest.raises(REFUSED):
        served = await handshake(url, server_name, ctx)
        assert not served.response, served.response
        raise ConnectionError("closed without an answer")


async def test_tls_and_plain_routers_share_an_entry_point(stripproxy, echo, issue, ca_file):
    # Traefik's TCP router: a ClientHello goes to the HTTPS handler (routers with tls), anything else to
    # the HTTP handler (routers without); the same rule on both answers by connection kind.
    pair = issue("a.test")
    config = _routes(
        echo.url,
        {
            "secure": {"rule": "PathPrefix(`/`)", "tls": {}, "middlewares": ["tag-tls"]},
            "plain": {"rule": "PathPrefix(`/`)"},
        },
        tls={"certificates": [{"certFile": pair.cert, "keyFile": pair.key}]},
    )
    config["http"]["middlewares"] = {"tag-tls": {"headers": {"customRequestHeaders": {"X-Via": "tls"}}}}
    gateway = await stripproxy(config)
    secure = await handshake(gateway.url, "a.test", client_context(ca_file))
    assert _status(secure.response) == 200
    headers = _body(secure.response)["headers"]
    assert headers["X-Via"] == "tls"
    assert headers["X-Forwarded-Proto"] == "https"
    assert headers["X-Forwarded-Port"] == "443"
    assert gateway.exchanges[-1].router == "secure@file"
    plain_url = gateway.url.replace("https://", "http://")
    async with httpx.AsyncClient() as client:
        response = await client.get(plain_url + "/")
    assert response.status_code == 200
    assert "X-Via" not in response.json()["headers"]
    assert response.json()["headers"]["X-Forwarded-Proto"] == "http"
    assert gateway.exchanges[-1].router == "plain@file"


async def test_a_tls_router_is_never_served_over_plain_http(stripproxy, echo):
    gateway = await stripproxy(_routes(echo.url, {"secure": {"rule": "PathPrefix(`/`)", "tls": {}}}))
    assert gateway.url.startswith("https://")  # every router of the entry point is TLS
    async with httpx.AsyncClient() as client:
        response = await client.get(gateway.url.replace("https://", "http://") + "/")
    assert response.status_code == 404
    served = await handshake(gateway.url, None, client_context(verify=False))
    assert _status(served.response) == 200


async def test_a_plain_router_is_not_served_on_a_tls_connection(stripproxy, echo):
    gateway = await stripproxy(
        _routes(echo.url, {"secure": {"rule": "Path(`/secure`)", "tls": {}}, "plain": {"rule": "Path(`/plain`)"}})
    )
    request = b"GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    served = await handshake(gateway.url, None, client_context(verify=False), request)
    assert _status(served.response) == 404


@pytest.mark.parametrize(
    ("server_name", "expected"),
    [
        pytest.param("a.test", ["a.test"], id="exact name"),
        pytest.param("x.b.test", ["*.b.test"], id="wildcard one label"),
        pytest.param("A.TEST", ["a.test"], id="case-insensitive"),
        pytest.param("y.x.b.test", None, id="wildcard is one label only: default"),
        pytest.param("other.test", None, id="no match: default"),
    ],
)
async def test_certificate_chosen_by_sni(stripproxy, echo, issue, ca_file, server_name, expected):
    exact, wildcard = issue("a.test"), issue("*.b.test")
    gateway = await stripproxy(
        _routes(
            echo.url,
            {"secure": {"rule": "PathPrefix(`/`)", "tls": {}}},
            tls={
                "certificates": [
                    {"certFile": exact.cert, "keyFile": exact.key},
                    {"certFile": wildcard.cert_pem, "keyFile": wildcard.key_pem},
                ]
            },
        )
    )  # inline PEM too
    served = await handshake(gateway.url, server_name, client_context(verify=False))
    if expected is None:
        assert served.common_name == "TRAEFIK DEFAULT CERT"
        assert served.names[0].endswith(".traefik.default")
    else:
        assert served.names == expected
    assert _status(served.response) == 200


async def test_default_certificate_of_the_store(stripproxy, echo, issue, ca_file):
    default = issue("fallback.test")
    gateway = await stripproxy(
        _routes(
            echo.url,
            {"secure": {"rule": "PathPrefix(`/`)", "tls": {}}},
            tls={"stores": {"default": {"defaultCertificate": {"certFile": default.cert, "keyFile": default.key}}}},
        )
    )
    served = await handshake(gateway.url, "anything.test", client_context(verify=False))
    assert served.names == ["fallback.test"]


async def test_sni_strict_refuses_unknown_names(stripproxy, echo, issue):
    pair = issue("a.test")
    gateway = await stripproxy(
        _routes(
            echo.url,
            {"secure": {"rule": "PathPrefix(`/`)", "tls": {}}},
            tls={
                "certificates": [{"certFile": pair.cert, "keyFile": pair.key}],
                "options": {"default": {"sniStrict": True}},
            },
        )
    )
    assert (await handshake(gateway.url, "a.test", client_context(verify=False))).names == ["a.test"]
    await _refused(gateway.url, "other.test", client_context(verify=False))


async def test_min_version_refuses_older_clients(stripproxy, echo, issue, ca_file):
    pair = issue("a.test")
    gateway = await stripproxy(
        _routes(
            echo.url,
            {"secure": {"rule": "PathPrefix(`/`)", "tls": {}}},
            tls={
                "certificates": [{"certFile": pair.cert, "keyFile": pair.key}],
                "options": {"default": {"minVersion": "VersionTLS13"}},
            },
        )
    )
    old = client_context(ca_file)
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    await _refused(gateway.url, "a.test", old)
    served = await handshake(gateway.url, "a.test", client_context(ca_file))
    assert served.version == "TLSv1.3"


async def test_max_version_and_cipher_suites(stripproxy, echo, issue, ca_file):
    pair = issue("a.test")
    gateway = await stripproxy(
        _routes(
            echo.url,
            {"secure": {"rule": "PathPrefix(`/`)", "tls": {}}},
            tls={
                "certificates": [{"certFile": pair.cert, "keyFile": pair.key}],
                "options": {
                    "default": {
                        "maxVersion": "VersionTLS12",
                        "cipherSuites": [
                            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                        ],
                    }
                },
            },
        )
    )
    port = int(gateway.url.rsplit(":", 1)[1])
    import asyncio

    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_context(ca_file), server_hostname="a.test")
    obj = writer.get_extra_info("ssl_object")
    assert obj.version() == "TLSv1.2"
    assert obj.cipher()[0] in ("ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384")
    writer.close()


async def test_options_follow_the_sni_of_the_router_host(stripproxy, echo, issue, ca_file):
    # tcp/manager.go: a router's Host(a) maps SNI a to its options; other names use `default`.
    pair = issue("a.test", "b.test")
    gateway = await stripproxy(
        _routes(
            echo.url,
            {
                "modern": {"rule": "Host(`a.test`)", "tls": {"options": "modern"}},
                "other": {"rule": "Host(`b.test`)", "tls": {}},
            },
            tls={
                "certificates": [{"certFile": pair.cert, "keyFile": pair.key}],
                "options": {"modern": {"minVersion": "VersionTLS13"}},
            },
        )
    )
    old = client_context(ca_file)
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    await _refused(gateway.url, "a.test", old)
    assert _status((await handshake(gateway.url, "b.test", old)).response) == 200


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"options": "missing"}, "unknown TLS options: missing", id="unknown options"),
        pytest.param({"options": "bad"}, "invalid CipherSuite: TLS_NOPE", id="broken options"),
    ],
)
async def test_router_with_broken_tls_options_is_disabled(stripproxy, echo, options, message):
    config = _routes(
        echo.url,
        {"secure": {"rule": "PathPrefix(`/`)", "tls": options}},
        tls={"options": {"bad": {"cipherSuites": ["TLS_NOPE"]}}},
    )
    gateway = await stripproxy(config, strict=False)
    assert any(message in problem and "secure@file" in problem for problem in gateway.problems), gateway.problems
    assert "secure@file" not in gateway.routers


async def test_client_certificates(stripproxy, echo, issue, ca, ca_file, tmp_path):
    # tlsmanager_test.go TestClientAuth: caFiles alone means RequireAndVerifyClientCert.
    import trustme

    pair = issue("a.test")
    gateway = await stripproxy(
        _routes(
            echo.url,
            {"secure": {"rule": "PathPrefix(`/`)", "tls": {}}},
            tls={
                "certificates": [{"certFile": pair.cert, "keyFile": pair.key}],
                "options": {"default": {"clientAuth": {"caFiles": [ca_file]}}},
            },
        )
    )
    anonymous = client_context(ca_file)
    await _refused(gateway.url, "a.test", anonymous)
    trusted = client_context(ca_file)
    ca.issue_cert("client@a.test").configure_cert(trusted)
    assert _status((await handshake(gateway.url, "a.test", trusted)).response) == 200
    stranger = client_context(ca_file)
    trustme.CA().issue_cert("client@a.test").configure_cert(stranger)
    await _refused(gateway.url, "a.test", stranger)


async def test_verify_client_cert_if_given(stripproxy, echo, issue, ca, ca_file):
    pair = issue("a.test")
    gateway = await stripproxy(
        _routes(
            echo.url,
            {"secure": {"rule": "PathPrefix(`/`)", "tls": {}}},
            tls={
                "certificates": [{"certFile": pair.cert, "keyFile": pair.key}],
                "options": {
                    "default": {"clientAuth": {"caFiles": [ca_file], "clientAuthType": "VerifyClientCertIfGiven"}}
                },
            },
        )
    )
    assert _status((await handshake(gateway.url, "a.test", client_context(ca_file))).response) == 200


@pytest.mark.parametrize(
    ("client_auth", "message"),
    [
        pytest.param({"clientAuthType": "RequireAndVerifyClientCert"}, "CAFiles is required", id="verify without CA"),
        pytest.param(
            {
                "clientAuthType": "Whatever",
                "caFiles": ["-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"],
            },
            "invalid certificate(s)",
            id="bad CA content",
        ),
        pytest.param({"clientAuthType": "RequireAnyClientCert"}, "not supported by stripproxy", id="unverified"),
    ],
)
async def test_client_auth_problems_disable_the_routers(stripproxy, echo, client_auth, message):
    config = _routes(
        echo.url,
        {"secure": {"rule": "PathPrefix(`/`)", "tls": {}}},
        tls={"options": {"default": {"clientAuth": client_auth}}},
    )
    gateway = await stripproxy(config, strict=False)
    assert any(message in problem for problem in gateway.problems), gateway.problems
    assert "secure@file" not in gateway.routers


async def test_alpn_offers_http1_only(stripproxy, echo, issue, ca_file):
    pair = issue("a.test")
    gateway = await stripproxy(
        _routes(
            echo.url,
            {"secure": {"rule": "PathPrefix(`/`)", "tls": {}}},
            tls={"certificates": [{"certFile": pair.cert, "keyFile": pair.key}]},
        )
    )
    ctx = client_context(ca_file)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    served = await handshake(gateway.url, "a.test", ctx)
    assert served.alpn == "http/1.1"  # h2 (Traefik's default list) is never advertised: not served
    assert _status(served.response) == 200


async def test_entry_point_tls_applies_to_its_routers(stripproxy, echo, issue, ca_file, tmp_path):
    pair = issue("a.test")
    static = tmp_path / "traefik.toml"
    routes = tmp_path / "routes.yaml"
    static.write_text(f"""
[entryPoints.websecure]
address = ":443"
[entryPoints.websecure.http.tls]
[providers.file]
filename = "{routes}"
""")
    routes.write_text(
        json.dumps(
            _routes(
                echo.url,
                {"app": {"rule": "PathPrefix(`/`)"}},
                tls={"certificates": [{"certFile": pair.cert, "keyFile": pair.key}]},
            )
        )
    )
    gateway = await stripproxy(str(static))
    assert gateway.url.startswith("https://")
    served = await handshake(gateway.url, "a.test", client_context(ca_file))
    assert _status(served.response) == 200
    async with httpx.AsyncClient() as client:
        response = await client.get(gateway.url.replace("https://", "http://") + "/")
    assert response.status_code == 404


async def test_certificates_reload_with_the_configuration(stripproxy, echo, issue):
    first, second = issue("a.test"), issue("a.test", "again.test")
    gateway = await stripproxy(
        _routes(
            echo.url,
            {"secure": {"rule": "PathPrefix(`/`)", "tls": {}}},
            tls={"certificates": [{"certFile": first.cert, "keyFile": first.key}]},
        )
    )
    assert (await handshake(gateway.url, "a.test", client_context(verify=False))).names == ["a.test"]
    gateway.reload(
        _routes(
            echo.url,
            {"secure": {"rule": "PathPrefix(`/`)", "tls": {}}},
            tls={"certificates": [{"certFile": second.cert, "keyFile": second.key}]},
        )
    )
    assert (await handshake(gateway.url, "a.test", client_context(verify=False))).names == ["a.test", "again.test"]


async def test_bad_certificate_is_reported(stripproxy, echo, issue, tmp_path):
    pair, other = issue("a.test"), issue("b.test")
    config = _routes(
        echo.url,
        {"secure": {"rule": "PathPrefix(`/`)", "tls": {}}},
        tls={
            "certificates": [
                {"certFile": pair.cert, "keyFile": other.key},
                {"certFile": str(tmp_path / "missing.pem"), "keyFile": pair.key},
            ]
        },
    )
    gateway = await stripproxy(config, strict=False)
    assert any("private key does not match" in p for p in gateway.problems), gateway.problems
    assert any("missing.pem" in p for p in gateway.problems), gateway.problems
    assert "secure@file" in gateway.routers  # served with the default certificate, as in Traefik


async def test_misdirected_request_when_host_has_other_tls_options(stripproxy, echo, issue, ca_file):
    # snicheck: the connection (SNI b.test: default options) carries a request for a.test, whose router has
    # the `modern` options: 421. Same SNI and Host: served. Traefik's TestSNICheck / integration https_test.
    pair = issue("a.test", "b.test")
    gateway = await stripproxy(
        _routes(
            echo.url,
            {
                "modern": {"rule": "Host(`a.test`)", "tls": {"options": "modern"}},
                "other": {"rule": "Host(`b.test`)", "tls": {}},
            },
            tls={
                "certificates": [{"certFile": pair.cert, "keyFile": pair.key}],
                "options": {"modern": {"minVersion": "VersionTLS12"}},
            },
        )
    )
    misdirected = b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
    served = await handshake(gateway.url, "b.test", client_context(ca_file), misdirected)
    assert _status(served.response) == 421
    assert served.response.endswith(b"Misdirected Request\n")
    assert _status((await handshake(gateway.url, "a.test", client_context(ca_file), misdirected)).response) == 200
    assert _status((await handshake(gateway.url, "b.test", client_context(ca_file))).response) == 200


def _handshake_in_pieces(port: int, server_name: str, ctx: ssl.SSLContext, cut: int) -> bytes:
    """A TLS client over a plain socket whose ClientHello leaves in two writes, `cut` bytes first."""
    import socket
    import time

    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=server_name)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = outgoing.read()
        sock.sendall(hello[:cut])
        time.sleep(0.1)
        sock.sendall(hello[cut:])
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                sock.sendall(outgoing.read())
                incoming.write(sock.recv(65536))
        sock.sendall(outgoing.read())
        tls.write(f"GET / HTTP/1.1\r\nHost: {server_name}\r\nConnection: close\r\n\r\n".encode())
        sock.sendall(outgoing.read())
        response = b""
        while True:
            try:
                chunk = tls.read(65536)
                if not chunk:  # the server's close_notify
                    break
                response += chunk
            except ssl.SSLWantReadError:
                data = sock.recv(65536)
                if not data:
                    break
                incoming.write(data)
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
        return response


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(1, id="first byte alone"),
        pytest.param(5, id="record header alone"),
        pytest.param(60, id="inside the hello"),
    ],
)
async def test_client_hello_in_pieces(stripproxy, echo, issue, ca_file, cut):
    # Traefik reads the whole ClientHello before choosing (clientHelloInfo): so do we, across reads.
    import asyncio

    exact = issue("a.test")
    gateway = await stripproxy(
        _routes(
            echo.url,
            {"secure": {"rule": "PathPrefix(`/`)", "tls": {}}},
            tls={"certificates": [{"certFile": exact.cert, "keyFile": exact.key}]},
        )
    )
    port = int(gateway.url.rsplit(":", 1)[1])
    response = await asyncio.to_thread(_handshake_in_pieces, port, "a.test", client_context(ca_file), cut)
    assert _status(response) == 200  # verified against a.test: the SNI was read whole


def test_sync_fixture_serves_tls_with_the_local_ca(stripproxy_sync, serve_app_sync):
    import requests
    from aiohttp import web

    app = web.Application()
    app.router.add_get("/", lambda request: web.Response(text=request.headers["X-Forwarded-Proto"]))
    served = serve_app_sync(app)
    gateway = stripproxy_sync(
        _routes(
            served.url,
            {"secure": {"rule": "PathPrefix(`/`)", "tls": {"certResolver": "le", "domains": [{"main": "127.0.0.1"}]}}},
        )
    )
    assert gateway.url.startswith("https://")
    assert requests.get(gateway.url + "/", verify=gateway.ca_file, timeout=5).text == "https"


async def test_explain_a_404_on_a_tls_connection_lists_the_tls_routers(stripproxy, echo):
    gateway = await stripproxy(
        _routes(echo.url, {"secure": {"rule": "Path(`/secure`)", "tls": {}}, "plain": {"rule": "Path(`/plain`)"}})
    )
    request = b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    await handshake(gateway.url, None, client_context(verify=False), request)
    text = gateway.explain()
    assert gateway.exchanges[-1].scheme == "https"
    assert "secure@file" in text and "did not match" in text, text


def test_cli_helpers_see_the_tls_routers(stripproxy_sync):
    from proxy.server.commands import explain, routes

    background = stripproxy_sync(
        _routes(
            "http://127.0.0.1:1",
            {"secure": {"rule": "Path(`/secure`)", "tls": {}}, "plain": {"rule": "Path(`/plain`)"}},
        )
    )
    gateway = background.gateway
    rows = {row["router"]: row for row in routes(gateway)}
    assert rows["secure@file"]["tls"] is True and "tls" not in rows["plain@file"]
    port = gateway.url.rsplit(":", 1)[1]
    assert "secure@file" in explain(gateway, "GET", f"https://127.0.0.1:{port}/secure", [], None, "127.0.0.1")
    assert "no router matched" in explain(gateway, "GET", f"http://127.0.0.1:{port}/secure", [], None, "127.0.0.1")


async def test_default_generated_cert_from_the_local_ca(stripproxy, echo):
    # tlsmanager.go getDefaultCertificate: resolver + domain make the default certificate; here the local CA.
    gateway = await stripproxy(
        _routes(
            echo.url,
            {"secure": {"rule": "PathPrefix(`/`)", "tls": {}}},
            tls={
                "stores": {
                    "default": {
                        "defaultGeneratedCert": {
                            "resolver": "le",
                            "domain": {"main": "default.test", "sans": ["other.test"]},
                        }
                    }
                }
            },
        )
    )
    served = await handshake(gateway.url, "unknown.test", client_context(verify=False))
    assert sorted(served.names) == ["default.test", "other.test"]
    assert _status((await handshake(gateway.url, "default.test", gateway.client_ssl_context())).response) == 200


@pytest.mark.parametrize(
    ("curves", "warning"),
    [
        pytest.param(["X25519"], None, id="one curve"),
        pytest.param(["CurveP384", "CurveP256"], "only CurveP384 is offered", id="several: the first, with a warning"),
    ],
)
async def test_curve_preferences(stripproxy, echo, issue, ca_file, curves, warning):
    pair = issue("a.test")
    gateway = await stripproxy(
        _routes(
            echo.url,
            {"secure": {"rule": "PathPrefix(`/`)", "tls": {}}},
            tls={
                "certificates": [{"certFile": pair.cert, "keyFile": pair.key}],
                "options": {"default": {"curvePreferences": curves}},
            },
        ),
        strict=False,
    )
    assert (warning is None) == (not any("curvePreferences" in p for p in gateway.problems)), gateway.problems
    if warning:
        assert any(warning in p for p in gateway.problems)
    assert _status((await handshake(gateway.url, "a.test", client_context(ca_file))).response) == 200


async def test_tls_sections_of_several_files_add_up(stripproxy, echo, issue, tmp_path):
    first, second = issue("a.test"), issue("b.test")
    folder = tmp_path / "dynamic"
    folder.mkdir()
    (folder / "1-routes.yaml").write_text(
        json.dumps(
            _routes(
                echo.url,
                {"secure": {"rule": "PathPrefix(`/`)", "tls": {}}},
                tls={"certificates": [{"certFile": first.cert, "keyFile": first.key}]},
            )
        )
    )
    (folder / "2-certs.yaml").write_text(
        json.dumps(
            {
                "tls": {
                    "certificates": [{"certFile": second.cert, "keyFile": second.key}],
                    "options": {"default": {"minVersion": "VersionTLS12"}},
                }
            }
        )
    )
    static = tmp_path / "traefik.toml"
    static.write_text(f'[entryPoints.websecure]\naddress = ":443"\n[providers.file]\ndirectory = "{folder}"\n')
    gateway = await stripproxy(str(static))
    assert (await handshake(gateway.url, "a.test", client_context(verify=False))).names == ["a.test"]
    assert (await handshake(gateway.url, "b.test", client_context(verify=False))).names == ["b.test"]
