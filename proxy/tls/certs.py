"""Certificates as Traefik's TLS manager keeps them (pkg/tls/certificate.go, certificate_store.go).

A key pair is indexed by its names (common name, DNS names, IP addresses; lower-cased, sorted, joined by
","), and a server name picks the first pair, in reverse order of those keys, that has the name or a
one-label wildcard for it. With nothing matching, the store's default certificate is served: the
configured one, or one generated at start like Traefik's "TRAEFIK DEFAULT CERT".

`cryptography` (the `tls` extra) parses and generates; it is imported only when TLS is configured.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import secrets
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_DOMAIN = "TRAEFIK DEFAULT CERT"


class CertificateError(ValueError):
    """A certificate or key that cannot be read or does not parse."""


def read_file_or_content(value: str, what: str) -> bytes:
    """Traefik's FileOrContent: a path when such a file exists, else the value itself (inline PEM)."""
    if not value:
        raise CertificateError(f"{what} is empty")
    try:
        path = Path(value)
        if len(value) < 4096 and "\n" not in value and path.is_file():
            return path.read_bytes()
    except OSError as exc:
        raise CertificateError(f"{what}: cannot read {value!r}: {exc}") from None
    if "-----BEGIN" not in value:
        raise CertificateError(f"{what}: {value!r} is neither a readable file nor PEM content")
    return value.encode()


@dataclass(frozen=True, eq=False)
class KeyPair:
    """A certificate chain (leaf first) and its private key, PEM, with the names it serves."""

    cert_pem: bytes
    key_pem: bytes
    names: tuple[str, ...]  # Traefik's SANs: CN, DNS names, IPs, lower-cased
    common_name: str = ""
    fingerprint: str = field(default="")

    @property
    def key(self) -> str:
        return ",".join(sorted(self.names))

    def load_into(self, ctx: ssl.SSLContext) -> None:
        """ssl only loads chains from files: write both to a private temporary file, load, delete."""
        fd, path = tempfile.mkstemp(prefix="stripproxy-", suffix=".pem")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(self.key_pem if self.key_pem.endswith(b"\n") else self.key_pem + b"\n")
                out.write(self.cert_pem)
            ctx.load_cert_chain(path)
        finally:
            os.unlink(path)


def parse_key_pair(cert_pem: bytes, key_pem: bytes) -> KeyPair:
    """Go's tls.X509KeyPair plus parseCertificate's names; CertificateError when they do not parse or match."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError as exc:
        raise CertificateError(f"the certificate does not parse: {exc}") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise CertificateError(f"the private key does not parse: {exc}") from None
    leaf = chain[0]
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, public) != leaf.public_key().public_bytes(
        serialization.Encoding.DER, public
    ):
        raise CertificateError("private key does not match public key")
    return _pair_of(leaf, cert_pem, key_pem)


def _pair_of(leaf: Any, cert_pem: bytes, key_pem: bytes) -> KeyPair:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID

    cns = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(cns[0].value) if cns else ""
    names: list[str] = [common_name.lower()] if common_name else []
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if san is not None:
        for dns in san.get_values_for_type(x509.DNSName):
            if dns != common_name:
                names.append(dns.lower())
        for ip in san.get_values_for_type(x509.IPAddress):
            if str(ip) != common_name:
                names.append(str(ip).lower())
    digest = hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest()
    return KeyPair(cert_pem, key_pem, tuple(names), common_name, digest)


def load_certificate(cert_file: str, key_file: str) -> KeyPair:
    return parse_key_pair(read_file_or_content(cert_file, "certFile"), read_file_or_content(key_file, "keyFile"))


def match_domain(server_name: str, cert_key: str) -> bool:
    """Traefik's matchDomain: a name of the pair, or the server name with its first label as `*`."""
    for cert_domain in cert_key.split(","):
        if server_name == cert_domain:
            return True
        cert_domain = cert_domain.rstrip(".")
        labels = server_name.split(".")
        labels[0] = "*"
        if cert_domain == ".".join(labels):
            return True
    return False


class CertificateStore:
    """One TLS store: certificates by names, a default one, and a cache of the choice per server name."""

    def __init__(self, default: KeyPair) -> None:
        self.pairs: dict[str, KeyPair] = {}
        self.default = default
        self._cache: dict[str, KeyPair | None] = {}

    def add(self, pair: KeyPair) -> bool:
        """False when a pair with the same names is there already (Traefik keeps the first)."""
        if pair.key in self.pairs:
            return False
        self.pairs[pair.key] = pair
        self._cache.clear()
        return True

    def best(self, server_name: str) -> KeyPair | None:
        name = server_name.strip().lower()
        if name in self._cache:
            return self._cache[name]
        found = next((self.pairs[key] for key in sorted(self.pairs, reverse=True) if match_domain(name, key)), None)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[name] = found
        return found


_GENERATED: KeyPair | None = None


def default_certificate() -> KeyPair:
    """Traefik's generated default: RSA 2048, CN "TRAEFIK DEFAULT CERT", a random *.traefik.default name,
    valid a year. Made once per process (Traefik makes one per configuration)."""
    global _GENERATED
    if _GENERATED is None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        z = hashlib.sha256(secrets.token_bytes(100)).hexdigest()
        domain = f"{z[:32]}.{z[32:]}.traefik.default"
        _GENERATED = self_signed(key, DEFAULT_DOMAIN, [domain], days=365)
    return _GENERATED


def self_signed(key: Any, common_name: str, names: list[str], days: int) -> KeyPair:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(san_entries(names)), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return _pair_of(cert, pem_certificate(cert), pem_key(key))


def san_entries(names: list[str]) -> list[Any]:
    from cryptography import x509

    entries: list[Any] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return entries


def pem_certificate(cert: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    pem: bytes = cert.public_bytes(serialization.Encoding.PEM)
    return pem


def pem_key(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    pem: bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem
