"""basicAuth and digestAuth keep secrets: the real CLI at debug level with an access log, a wrong and a right
password for each, then no password, no Authorization value and no hash in any log or access-log line; and
every comparison of a secret is a constant-time one (checked in the code: hmac.compare_digest, bcrypt's
checkpw, passlib's verify, which compares with passlib.utils.consteq).
"""

from __future__ import annotations

import ast
import base64
import hashlib
import inspect
import json
from pathlib import Path

import bcrypt
import httpx
import pytest
from aiohttp import web

from proxy.middlewares import basicauth, digestauth

PASSWORD = "S3cr3t-Pa55-xyzzy"
WRONG = "Wr0ng-Pa55-plugh"
REALM = "traefik"
BCRYPT_HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
HA1 = hashlib.md5(f"alice:{REALM}:{PASSWORD}".encode()).hexdigest()


def secrets() -> list[str]:
    out = [PASSWORD, WRONG, BCRYPT_HASH, HA1]
    for password in (PASSWORD, WRONG):
        out.append(base64.b64encode(f"alice:{password}".encode()).decode())
    return out


@pytest.fixture
def gateway(tmp_path: Path, stripproxy_process, serve_app_sync):
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/{tail:.*}", ok)
    served = serve_app_sync(app)
    routes = {
        "http": {
            "routers": {
                "basic": {"rule": "PathPrefix(`/basic`)", "service": "svc", "middlewares": ["basic"]},
                "digest": {"rule": "PathPrefix(`/digest`)", "service": "svc", "middlewares": ["digest"]},
            },
            "middlewares": {
                "basic": {"basicAuth": {"users": [f"alice:{BCRYPT_HASH}"]}},
                "digest": {"digestAuth": {"users": [f"alice:{REALM}:{HA1}"]}},
            },
            "services": {"svc": {"loadBalancer": {"servers": [{"url": "http://127.0.0.1:9"}]}}},
        }
    }
    (tmp_path / "routes.json.yaml").write_text(json.dumps(routes))
    access_log = tmp_path / "access.log"
    (tmp_path / "traefik.toml").write_text(
        '[entryPoints.web]\naddress = "127.0.0.1:0"\n[log]\nlevel = "DEBUG"\n'
        f'[accessLog]\nfilePath = "{access_log}"\nformat = "json"\n'
        '[providers.file]\nfilename = "routes.json.yaml"\n'
    )
    process = stripproxy_process(tmp_path / "traefik.toml", services={"svc": served.url})
    return process, access_log


def test_no_secret_in_any_log_line(gateway) -> None:
    process, access_log = gateway
    with httpx.Client() as client:
        statuses = [
            client.get(process.url + "/basic", auth=("alice", WRONG)).status_code,
            client.get(process.url + "/basic", auth=("alice", PASSWORD)).status_code,
            client.get(process.url + "/digest", auth=httpx.DigestAuth("alice", WRONG)).status_code,
            client.get(process.url + "/digest", auth=httpx.DigestAuth("alice", PASSWORD)).status_code,
        ]
    assert statuses == [401, 200, 401, 200]
    process.stop()  # flush the access log, end the output
    text = process.log + "\n" + access_log.read_text()
    assert len(access_log.read_text().splitlines()) >= 4  # the lines were written: the check reads them
    assert "DBG" in process.log or "DEBUG" in process.log  # debug lines were on
    for secret in secrets():
        assert secret not in text, secret
    assert "Authorization" not in access_log.read_text()
    assert 'response="' not in text and "Digest username" not in text


def _compares(module: object) -> list[str]:
    """Every `==` / `!=` in the module whose operands name a secret."""
    tree = ast.parse(inspect.getsource(module))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops):
            names = {n.id.lower() for n in ast.walk(node) if isinstance(n, ast.Name)}
            names |= {n.attr.lower() for n in ast.walk(node) if isinstance(n, ast.Attribute)}
            if names & {"password", "secret", "expected", "response", "ha1", "digest", "hashed"}:
                found.append(ast.unparse(node))
    return found


@pytest.mark.parametrize("module", [pytest.param(basicauth, id="basicAuth"), pytest.param(digestauth, id="digestAuth")])
def test_secrets_are_compared_in_constant_time(module: object) -> None:
    assert _compares(module) == []
    source = inspect.getsource(module)
    if module is digestauth:
        assert "hmac.compare_digest(expected" in source
    else:
        assert "bcrypt.checkpw(" in source and ".verify(password" in source
        from passlib.handlers.md5_crypt import apr_md5_crypt

        # passlib's verify compares the computed checksum with consteq (its constant-time compare)
        verify = inspect.getsource(
            type(apr_md5_crypt).verify if hasattr(type(apr_md5_crypt), "verify") else apr_md5_crypt.verify
        )
        assert "consteq" in verify or "_calc_checksum" in verify
