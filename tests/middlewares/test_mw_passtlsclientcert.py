"""passTLSClientCert, after Traefik's pkg/middlewares/passtlsclientcert/pass_tls_client_cert_test.go
(TestPassTLSClientCert_PEM, TestPassTLSClientCert_certInfo): the header formats on a certificate built here,
end to end over mTLS in tests/tls/test_tls_passtlsclientcert.py."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from proxy.middlewares.passtlsclientcert import DNOptions, InfoOptions, certificate_info

ALL_DN = DNOptions(True, True, True, True, True, True, True, True)


def _cheese_certificate() -> bytes:
    """A certificate with repeated attributes, as Traefik's completeCert (DC, C, ST, L, O, OU twice)."""

    def name(cn: str, ou: bool) -> x509.Name:
        attrs = [
            x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "org"),
            x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "cheese"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Signing State"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Signing State 2"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "TOULOUSE"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "LYON"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Cheese"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Cheese 2"),
        ]
        if ou:
            attrs += [
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Simple Signing Section"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Simple Signing Section 2"),
            ]
        return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    key = ec.generate_private_key(ec.SECP256R1())
    start = datetime.datetime(2018, 12, 6, 11, 10, 16, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("*.cheese.com", True))
        .issuer_name(name("Simple Signing CA 2", False))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=365 * 3))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("*.cheese.org"),
                    x509.DNSName("*.cheese.net"),
                    x509.DNSName("*.cheese.com"),
                    x509.RFC822Name("test@cheese.org"),
                    x509.RFC822Name("test@cheese.net"),
                    x509.IPAddress(__import__("ipaddress").ip_address("10.0.1.0")),
                    x509.IPAddress(__import__("ipaddress").ip_address("10.0.1.2")),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        pytest.param(
            InfoOptions(not_after=True, not_before=True, sans=True, serial_number=True, subject=ALL_DN, issuer=ALL_DN),
            'Subject="DC=org,DC=cheese,C=FR,C=US,ST=Signing State,ST=Signing State 2,L=TOULOUSE,L=LYON,'
            'O=Cheese,O=Cheese 2,OU=Simple Signing Section,OU=Simple Signing Section 2,CN=*.cheese.com";'
            'Issuer="DC=org,DC=cheese,C=FR,C=US,ST=Signing State,ST=Signing State 2,L=TOULOUSE,L=LYON,'
            'O=Cheese,O=Cheese 2,CN=Simple Signing CA 2";SerialNumber="1";NB="1544094616";NA="1638702616";'
            'SAN="*.cheese.org,*.cheese.net,*.cheese.com,test@cheese.org,test@cheese.net,10.0.1.0,10.0.1.2"',
            id="all info (completeCertAllInfo's layout)",
        ),
        pytest.param(
            InfoOptions(not_after=True, subject=DNOptions(organization=True), issuer=DNOptions(country=True)),
            'Subject="O=Cheese,O=Cheese 2";Issuer="C=FR,C=US";NA="1638702616"',
            id="some fields",
        ),
        pytest.param(InfoOptions(), "", id="nothing chosen"),
    ],
)
def test_certificate_info_format(info, expected):
    assert certificate_info(_cheese_certificate(), info) == expected
