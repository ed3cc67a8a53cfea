"""passTLSClientCert end to end: a trustme client certificate over mTLS reaches the upstream as Traefik's
X-Forwarded-Tls-Client-Cert[-Info] headers (pass_tls_client_cert_test.go TestPassTLSClientCert_PEM/certInfo)."""

from __future__ import annotations

import base64
import json
import re
import ssl
from urllib.parse import unquote_plus

from tests.tls.conftest import client_context, handshake


async def test_pass_tls_client_cert_end_to_end(stripproxy, echo, issue, ca, ca_file):
    server = issue("a.test")
    config = {
        "http": {
            "routers": {
                "app": {
                    "rule": "PathPrefix(`/`)",
                    "service": "echo",
                    "entryPoints": ["websecure"],
                    "tls": {},
                    "middlewares": ["certs"],
                }
            },
            "middlewares": {
                "certs": {
                    "passTLSClientCert": {
                        "pem": True,
                        "info": {
                            "notBefore": True,
                            "sans": True,
                            "subject": {"organization": True, "organizationalUnit": True, "commonName": True},
                        },
                    }
                }
            },
            "services": {"echo": {"loadBalancer": {"servers": [{"url": echo.url}]}}},
        },
        "tls": {
            "certificates": [{"certFile": server.cert, "keyFile": server.key}],
            "options": {"default": {"clientAuth": {"caFiles": [ca_file], "clientAuthType": "VerifyClientCertIfGiven"}}},
        },
    }
    gateway = await stripproxy(config)
    ctx = client_context(ca_file)
    leaf = ca.issue_cert(
        "client.test", common_name="client", organization_name="Cheese", organization_unit_name="Section"
    )
    leaf.configure_cert(ctx)
    served = await handshake(
        gateway.url,
        "a.test",
        ctx,
        b"GET / HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-Tls-Client-Cert: forged\r\nConnection: close\r\n\r\n",
    )
    headers = json.loads(served.response.partition(b"\r\n\r\n")[2])["headers"]
    der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())
    assert headers["X-Forwarded-Tls-Client-Cert"] == base64.b64encode(der).decode()
    info = unquote_plus(headers["X-Forwarded-Tls-Client-Cert-Info"])
    assert re.fullmatch(r'Subject="O=Cheese,OU=Section,CN=client";NB="\d+";SAN="client.test"', info), info
    # Without a client certificate: nothing is set, and what the client sent was dropped (untrusted).
    served = await handshake(
        gateway.url,
        "a.test",
        client_context(ca_file),
        b"GET / HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-Tls-Client-Cert: forged\r\nConnection: close\r\n\r\n",
    )
    headers = json.loads(served.response.partition(b"\r\n\r\n")[2])["headers"]
    assert "X-Forwarded-Tls-Client-Cert" not in headers
    assert "X-Forwarded-Tls-Client-Cert-Info" not in headers
