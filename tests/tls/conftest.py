"""Shared pieces of the TLS tests: a trustme CA, certificates written to a scratch folder, an echo upstream,
and a raw TLS client that reports what the handshake gave."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from aiohttp import web


@dataclass
class Issued:
    cert: str  # path of the chain PEM
    key: str  # path of the key PEM
    cert_pem: str
    key_pem: str


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def issue(ca: trustme.CA, tmp_path: Path):
    count = 0

    def make(*names: str, authority: trustme.CA | None = None) -> Issued:
        nonlocal count
        count += 1
        leaf = (authority or ca).issue_cert(*names)
        cert, key = tmp_path / f"cert{count}.pem", tmp_path / f"key{count}.pem"
        leaf.private_key_pem.write_to_path(str(key))
        cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        return Issued(str(cert), str(key), cert.read_text(), key.read_text())

    return make


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "trustme-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


async def _echo(request: web.Request) -> web.Response:
    return web.json_response({"path": request.path_qs, "headers": dict(request.headers)})


@pytest.fixture
async def echo(serve_app):
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _echo)
    return await serve_app(app)


@dataclass
class Handshake:
    common_name: str
    names: list[str]
    alpn: str | None
    version: str | None
    response: bytes


def client_context(ca_file: str | None = None, *, verify: bool = True) -> ssl.SSLContext:
    if not verify:
        return ssl._create_unverified_context()  # noqa: S323 - reading the default certificate
    return ssl.create_default_context(cafile=ca_file)


async def handshake(
    url: str, server_name: str | None, ctx: ssl.SSLContext, request: bytes | None = None, host: str = "x"
) -> Handshake:
    """Connect to `url`'s port with `server_name` as SNI, send `request` (a GET / by default), read it all."""
    port = int(url.rsplit(":", 1)[1])
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname=server_name or None), 10
    )
    try:
        obj = writer.get_extra_info("ssl_object")
        der = obj.getpeercert(binary_form=True)
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        cert = x509.load_der_x509_certificate(der)
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        try:
            names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            san = [str(v) for v in names.get_values_for_type(x509.DNSName)]
        except x509.ExtensionNotFound:
            san = []
        writer.write(request or f"GET / HTTP/1.1\r\nHost: {server_name or host}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), 10)
        return Handshake(str(cns[0].value) if cns else "", san, obj.selected_alpn_protocol(), obj.version(), response)
    finally:
        writer.close()
