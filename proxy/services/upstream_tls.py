"""TLS to https:// servers: a serversTransport's TLS settings -> a client SSLContext (Traefik
pkg/server/service/transport.go createTLSConfig, pkg/tls/certificate.go VerifyPeerCertificate).

As in Go: rootCAs replace the system's roots; insecureSkipVerify checks nothing, unless peer SANs
(peerCertSANs, or the deprecated peerCertURI) are asked for, which still verify the chain against the roots;
serverName is both the SNI and the name the certificate must have; certificates are client certificates.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from proxy.services.transport import TransportSettings


def client_context(settings: TransportSettings) -> ssl.SSLContext:
    from proxy.tls.certs import CertificateError, load_certificate, read_file_or_content
    from proxy.tls.options import CIPHER_SUITES, VERSIONS

    cadata = None
    if settings.root_cas:
        try:
            cadata = "\n".join(read_file_or_content(ca, "rootCAs").decode("latin-1") for ca in settings.root_cas)
        except CertificateError as exc:
            raise ValueError(str(exc)) from None
    try:
        ctx = ssl.create_default_context(cadata=cadata)
    except ssl.SSLError as exc:
        raise ValueError(f"rootCAs: invalid certificate(s): {exc.reason or exc}") from None
    if settings.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_REQUIRED if settings.peer_cert_sans else ssl.CERT_NONE
    for cert_file, key_file in settings.certificates:
        try:
            load_certificate(cert_file, key_file).load_into(ctx)
        except CertificateError as exc:
            raise ValueError(f"certificates: {exc}") from None
    for name, value in (("minimum", settings.min_version), ("maximum", settings.max_version)):
        if value:
            if value not in VERSIONS:
                raise ValueError(f"invalid TLS {name} version: {value}")
            setattr(ctx, f"{name}_version", VERSIONS[value])
    if (
        settings.min_version
        and settings.max_version
        and VERSIONS[settings.min_version] > VERSIONS[settings.max_version]
    ):
        raise ValueError(
            f"TLS minimum version {settings.min_version} is above the maximum version {settings.max_version}"
        )
    if settings.cipher_suites:
        names: list[str] = []
        for suite in settings.cipher_suites:
            if suite not in CIPHER_SUITES:
                raise ValueError(f"invalid CipherSuite: {suite}")
            openssl_name = CIPHER_SUITES[suite]
            if openssl_name:
                names.append(openssl_name)
        if names:
            ctx.set_ciphers(":".join(names))
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def tls_failure(exc: ssl.SSLError, server_name: str) -> OSError:
    """The line a 502 logs for a handshake that failed: what did not verify, and against which name."""
    reason = getattr(exc, "verify_message", None) or exc.reason or str(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return OSError(f"TLS: the server's certificate did not verify for {server_name!r}: {reason}")
    return OSError(f"TLS handshake with {server_name!r} failed: {reason}")


def check_peer(transport: asyncio.Transport, settings: TransportSettings, server_name: str) -> None:
    """peerCertSANs / peerCertURI: one of them must be in the server's certificate (else OSError)."""
    if not settings.peer_cert_sans:
        return
    obj = transport.get_extra_info("ssl_object")
    cert = obj.getpeercert() if obj is not None else None
    found = [(kind.upper(), value) for kind, value in (cert or {}).get("subjectAltName", ())]
    for kind, wanted in settings.peer_cert_sans:
        for have_kind, have in found:
            if kind == "URI" and have_kind == "URI" and have.lower() == wanted.lower():
                return
            if kind == "DNS" and have_kind == "DNS" and _host_matches(wanted, have):
                return
    transport.abort()
    raise OSError(
        f"TLS: no matching SAN in the certificate of {server_name!r} (wanted "
        f"{', '.join(f'{k}:{v}' for k, v in settings.peer_cert_sans)})"
    )


def _host_matches(host: str, pattern: str) -> bool:
    host, pattern = host.lower().rstrip("."), pattern.lower().rstrip(".")
    if pattern.startswith("*."):
        return "." in host and host.split(".", 1)[1] == pattern[2:]
    return host == pattern
