"""A local development CA for routers with a `certResolver` (ACME cannot be reached from here).

Beyond Traefik, in the spirit of Caddy's internal issuer and mkcert: a CA key and certificate are created
once in a per-user directory (`$STRIPPROXY_CA_DIR`, else `$XDG_DATA_HOME/stripproxy/ca`, else
`~/.local/share/stripproxy/ca`), and a certificate for a router's names is minted from it when the router
is built (EC P-256, valid 7 days, kept in memory). Trust `rootCA.pem` in a client (`curl --cacert`,
`httpx.Client(verify=...)`, `requests.get(..., verify=...)`) and the router's certificate verifies.
"""

from __future__ import annotations

import datetime
import fcntl
import getpass
import os
from pathlib import Path
from typing import Any

from proxy.tls.certs import KeyPair, _pair_of, pem_certificate, pem_key, san_entries

CA_CERT = "rootCA.pem"
CA_KEY = "rootCA-key.pem"
LEAF_DAYS = 7


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown user"


def default_ca_dir() -> Path:
    env = os.environ.get("STRIPPROXY_CA_DIR")
    if env:
        return Path(env)
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "stripproxy" / "ca"


class LocalCA:
    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory) if directory else default_ca_dir()
        self.cert_path = self.directory / CA_CERT
        self._key: Any = None
        self._cert: Any = None
        self._minted: dict[tuple[str, ...], KeyPair] = {}

    @property
    def in_use(self) -> bool:
        return self._cert is not None

    def ensure(self) -> bool:
        """Load the CA, creating it the first time; True when it was created now."""
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        if self._cert is not None:
            return False
        key_path = self.directory / CA_KEY
        created = False
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.directory / ".lock", "w") as lock:  # --workers: one process creates, all read the same
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (self.cert_path.is_file() and key_path.is_file()):
                self._create(key_path)
                created = True
            key_pem, cert_pem = key_path.read_bytes(), self.cert_path.read_bytes()
        self._key = serialization.load_pem_private_key(key_pem, password=None)
        self._cert = x509.load_pem_x509_certificate(cert_pem)
        return created

    def _create(self, key_path: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "stripproxy local development CA"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"stripproxy local CA ({_user()})"),
            ]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem_key(key))
        self.cert_path.write_bytes(pem_certificate(cert))

    def mint(self, names: list[str]) -> KeyPair:
        """A certificate for `names` (DNS names or IPs; the first is the common name), cached."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key_names = tuple(sorted({n.lower() for n in names}))
        pair = self._minted.get(key_names)
        if pair is not None:
            return pair
        self.ensure()
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64])]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
            .add_extension(x509.SubjectAlternativeName(san_entries(list(key_names))), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        pair = self._minted[key_names] = _pair_of(cert, pem_certificate(cert), pem_key(key))
        return pair
