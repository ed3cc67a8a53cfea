"""passTLSClientCert: Traefik v3 `pkg/middlewares/passtlsclientcert/pass_tls_client_cert.go`.

On a TLS connection with a client certificate, `pem` sets X-Forwarded-Tls-Client-Cert to the certificate's
base64 DER (the PEM without its armour and newlines), and `info` sets X-Forwarded-Tls-Client-Cert-Info to
the chosen fields, query-escaped as Go's url.QueryEscape does: `Subject="C=FR,O=Cheese,CN=x";Issuer="...";
SerialNumber="...";NB="<unix>";NA="<unix>";SAN="a,b"`. Without a client certificate neither is set (the
entry point has already dropped a client-sent one unless it trusts the client).

Python's ssl (3.11) gives the leaf certificate only, where Go lists every certificate the client sent:
with a client that sends intermediates too, Traefik's headers carry them comma-separated and ours do not.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

from proxy.message import RequestHead
from proxy.middlewares.base import Middleware

CERT_HEADER = "X-Forwarded-Tls-Client-Cert"
INFO_HEADER = "X-Forwarded-Tls-Client-Cert-Info"

# (field option, OID dotted string, prefix, many values) in Go's order; DC first, from every attribute.
_DN_PARTS = (
    ("country", "2.5.4.6", "C", True),
    ("province", "2.5.4.8", "ST", True),
    ("locality", "2.5.4.7", "L", True),
    ("organization", "2.5.4.10", "O", True),
    ("organizational_unit", "2.5.4.11", "OU", True),
    ("serial_number", "2.5.4.5", "SN", False),
    ("common_name", "2.5.4.3", "CN", False),
)
_DC = "0.9.2342.19200300.100.1.25"


@dataclass(frozen=True)
class DNOptions:
    country: bool = False
    province: bool = False
    locality: bool = False
    organization: bool = False
    organizational_unit: bool = False
    serial_number: bool = False
    common_name: bool = False
    domain_component: bool = False


@dataclass(frozen=True)
class InfoOptions:
    not_after: bool = False
    not_before: bool = False
    sans: bool = False
    serial_number: bool = False
    subject: DNOptions | None = None
    issuer: DNOptions | None = None


class PassTLSClientCert(Middleware):
    edits_request_headers = True

    def __init__(self, pem: bool = False, info: InfoOptions | None = None) -> None:
        self.pem = pem
        self.info = info
        self.has_request_hook = pem or info is not None

    def on_request(self, req: RequestHead) -> None:
        der = req.tls.peer_cert if req.tls is not None else None
        if der is None:
            return None
        if self.pem:
            req.headers.set(CERT_HEADER, base64.b64encode(der).decode("ascii"))
        if self.info is not None:
            req.headers.set(INFO_HEADER, quote_plus(certificate_info(der, self.info), safe=""))
        return None


def certificate_info(der: bytes, info: InfoOptions) -> str:
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    values = []
    subject = _dn(cert.subject, info.subject)
    if subject:
        values.append(f'Subject="{subject}"')
    issuer = _dn(cert.issuer, info.issuer)
    if issuer:
        values.append(f'Issuer="{issuer}"')
    if info.serial_number:
        values.append(f'SerialNumber="{cert.serial_number}"')
    if info.not_before:
        values.append(f'NB="{int(cert.not_valid_before_utc.timestamp())}"')
    if info.not_after:
        values.append(f'NA="{int(cert.not_valid_after_utc.timestamp())}"')
    if info.sans:
        sans = _sans(cert)
        if sans:
            values.append(f'SAN="{",".join(sans)}"')
    return ";".join(values)


def _dn(name: Any, options: DNOptions | None) -> str:
    if options is None:
        return ""
    attributes = [(attr.oid.dotted_string, str(attr.value)) for attr in name]
    parts = []
    if options.domain_component:
        parts += [f"DC={value}" for oid, value in attributes if oid == _DC]
    for option, oid, prefix, many in _DN_PARTS:
        if not getattr(options, option):
            continue
        found = [value for kind, value in attributes if kind == oid]
        for value in found if many else found[-1:]:  # Go keeps the last CN / serialNumber
            if value:
                parts.append(f"{prefix}={value}")
    return ",".join(parts)


def _sans(cert: Any) -> list[str]:
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [
        *san.get_values_for_type(x509.DNSName),
        *san.get_values_for_type(x509.RFC822Name),
        *(str(ip) for ip in san.get_values_for_type(x509.IPAddress)),
        *san.get_values_for_type(x509.UniformResourceIdentifier),
    ]
