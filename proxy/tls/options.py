"""tls.options -> a server SSLContext (Traefik pkg/tls/tlsmanager.go buildTLSConfig, cipher.go, version.go).

Go names map to OpenSSL's. What Python's ssl cannot do is an error (the routers using the option are
disabled with it) or, where the result is only narrower than asked, a warning:
- TLS 1.3 cipher suites are not configurable, in Go as in OpenSSL through Python: listed, they are accepted.
- curvePreferences: Python sets one group; with several the first is used (warning).
- alpnProtocols: HTTP/2 is not served, so `h2` (and `acme-tls/1`) are never advertised (warning once).
- clientAuthType RequestClientCert / RequireAnyClientCert ask for a certificate without verifying it:
  OpenSSL through Python always verifies what it asks for, so they are errors.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

from proxy.config.dynamic_tls import OptionsConfig
from proxy.tls.certs import CertificateError, KeyPair, read_file_or_content

VERSIONS = {
    "VersionTLS10": ssl.TLSVersion.TLSv1,
    "VersionTLS11": ssl.TLSVersion.TLSv1_1,
    "VersionTLS12": ssl.TLSVersion.TLSv1_2,
    "VersionTLS13": ssl.TLSVersion.TLSv1_3,
}

# Go's crypto/tls names (Traefik's CipherSuites map) -> OpenSSL names; None: TLS 1.3 suites and the SCSV,
# which Go accepts in the list without acting on them.
CIPHER_SUITES: dict[str, str | None] = {
    "TLS_RSA_WITH_RC4_128_SHA": "RC4-SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA": "DES-CBC3-SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256": "AES128-SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA": "ECDHE-ECDSA-RC4-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA": "ECDHE-RSA-RC4-SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA": "ECDHE-RSA-DES-CBC3-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256": "ECDHE-ECDSA-AES128-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256": "ECDHE-RSA-AES128-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_AES_128_GCM_SHA256": None,
    "TLS_AES_256_GCM_SHA384": None,
    "TLS_CHACHA20_POLY1305_SHA256": None,
    "TLS_FALLBACK_SCSV": None,
}

# Traefik's CurveIDs -> OpenSSL group names; None: post-quantum hybrids OpenSSL 3.0 lacks.
CURVES: dict[str, str | None] = {
    "secp256r1": "prime256v1",
    "CurveP256": "prime256v1",
    "secp384r1": "secp384r1",
    "CurveP384": "secp384r1",
    "secp521r1": "secp521r1",
    "CurveP521": "secp521r1",
    "x25519": "X25519",
    "X25519": "X25519",
    "x25519mlkem768": None,
    "X25519MLKEM768": None,
    "secp256r1mlkem768": None,
    "SecP256r1MLKEM768": None,
    "secp384r1mlkem1024": None,
    "SecP384r1MLKEM1024": None,
}

CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
UNVERIFIED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert")

SERVED_ALPN = "http/1.1"


@dataclass
class PreparedOptions:
    """An option checked once: everything needed to make contexts for it, and what it warns about."""

    name: str
    options: OptionsConfig
    min_version: ssl.TLSVersion
    max_version: ssl.TLSVersion | None
    ciphers: str | None
    curve: str | None
    verify_mode: ssl.VerifyMode
    ca_data: str | None
    alpn: list[str]
    warnings: list[str] = field(default_factory=list)

    def context(self, pair: KeyPair | None) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = self.min_version
        if self.max_version is not None:
            ctx.maximum_version = self.max_version
        if self.ciphers is not None:
            ctx.set_ciphers(self.ciphers)
        if self.curve is not None:
            ctx.set_ecdh_curve(self.curve)
        if self.ca_data is not None:
            ctx.load_verify_locations(cadata=self.ca_data)
        ctx.verify_mode = self.verify_mode
        if self.alpn:
            ctx.set_alpn_protocols(self.alpn)
        if self.options.disable_session_tickets:
            ctx.options |= ssl.OP_NO_TICKET
        if pair is not None:
            pair.load_into(ctx)
        return ctx


def prepare_options(name: str, options: OptionsConfig, builtin_default: bool = False) -> PreparedOptions:
    """Check `options` as Traefik's buildTLSConfig does; ValueError with Traefik's wording when broken."""
    warnings: list[str] = []
    minimum = VERSIONS.get(options.min_version)
    if minimum is None:
        if options.min_version:
            warnings.append(f"minVersion {options.min_version!r} is unknown: Go's default (TLS 1.2) is used")
        minimum = ssl.TLSVersion.TLSv1_2
    maximum = VERSIONS.get(options.max_version)
    if maximum is None and options.max_version:
        warnings.append(f"maxVersion {options.max_version!r} is unknown: no maximum is set")
    ciphers = None
    if options.cipher_suites is not None and not _is_default_suites(options.cipher_suites):
        names: list[str] = []
        for suite in options.cipher_suites:
            if suite not in CIPHER_SUITES:
                raise ValueError(f"invalid CipherSuite: {suite}")
            openssl_name = CIPHER_SUITES[suite]
            if openssl_name is not None:
                names.append(openssl_name)
        if names:
            ciphers = ":".join(names)
            try:
                ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).set_ciphers(ciphers)
            except ssl.SSLError:
                raise ValueError(
                    f"none of the cipherSuites {options.cipher_suites} is available in {ssl.OPENSSL_VERSION}"
                ) from None
    curve = None
    if options.curve_preferences:
        for wanted in options.curve_preferences:
            if wanted not in CURVES:
                raise ValueError(f"invalid CurveID in curvePreferences: {wanted}")
        available = [CURVES[c] for c in options.curve_preferences if CURVES[c] is not None]
        if not available:
            raise ValueError(
                f"curvePreferences {options.curve_preferences}: none is available in {ssl.OPENSSL_VERSION}"
            )
        curve = available[0]
        if len(options.curve_preferences) > 1:
            warnings.append(
                f"curvePreferences: Python's ssl sets one curve, only {options.curve_preferences[0]} is offered"
            )
    ca_data = None
    verify_mode = ssl.CERT_NONE
    auth = options.client_auth
    if auth.ca_files:
        pieces = []
        for ca in auth.ca_files:
            try:
                pieces.append(read_file_or_content(ca, "clientAuth.caFiles").decode("latin-1"))
            except CertificateError as exc:
                raise ValueError(str(exc)) from None
        ca_data = "\n".join(pieces)
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_verify_locations(cadata=ca_data)
        except ssl.SSLError:
            raise ValueError("invalid certificate(s) in clientAuth.caFiles") from None
        verify_mode = ssl.CERT_REQUIRED
    kind = auth.client_auth_type
    if kind:
        if ca_data is None and kind in ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert"):
            raise ValueError(f"invalid clientAuthType: {kind}, CAFiles is required")
        if kind in UNVERIFIED_CLIENT_AUTH:
            raise ValueError(
                f"clientAuthType {kind} (a client certificate asked for but not verified) is not "
                "supported by stripproxy: Python's ssl verifies every certificate it asks for"
            )
        if kind not in CLIENT_AUTH:
            raise ValueError(f"unknown client auth type {kind!r}")
        verify_mode = CLIENT_AUTH[kind]
    if verify_mode != ssl.CERT_NONE and ca_data is None:
        raise ValueError("clientAuth needs caFiles")
    alpn = [p for p in options.alpn_protocols if p == SERVED_ALPN]
    return PreparedOptions(name, options, minimum, maximum, ciphers, curve, verify_mode, ca_data, alpn, warnings)


def _is_default_suites(suites: list[str]) -> bool:
    return False if suites else True
