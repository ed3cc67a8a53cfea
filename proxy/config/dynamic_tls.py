"""The dynamic `tls` section (Traefik pkg/tls/tls.go, pkg/config/dynamic/config.go TLSConfiguration).

Defaults are Traefik's: a tls option that is defined gets the default ALPN list and cipher suites
(Options.SetDefaults); `minVersion` is only defaulted (VersionTLS12) for the built-in `default` option.
"""

from __future__ import annotations

from pydantic import Field

from proxy.config.base import GoBool, TraefikModel, TraefikStr

DEFAULT_ALPN = ["h2", "http/1.1", "acme-tls/1"]


class Domain(TraefikModel):
    """types.Domain: a main name and subject alternative names (router tls.domains, defaultGeneratedCert)."""

    main: TraefikStr = ""
    sans: list[TraefikStr] = []

    def names(self) -> list[str]:
        return [name for name in (self.main, *self.sans) if name]


class Certificate(TraefikModel):
    """certFile / keyFile: a path, or the PEM itself (Traefik's FileOrContent)."""

    cert_file: TraefikStr = ""
    key_file: TraefikStr = ""


class CertAndStores(Certificate):
    stores: list[TraefikStr] = []


class ClientAuth(TraefikModel):
    ca_files: list[TraefikStr] = Field([], alias="caFiles")
    client_auth_type: TraefikStr = ""


class Options(TraefikModel):
    min_version: TraefikStr = ""
    max_version: TraefikStr = ""
    cipher_suites: list[TraefikStr] | None = None  # None: Go's defaults
    curve_preferences: list[TraefikStr] | None = None
    client_auth: ClientAuth = Field(default_factory=ClientAuth)
    sni_strict: GoBool = False
    alpn_protocols: list[TraefikStr] = Field(default_factory=lambda: list(DEFAULT_ALPN), alias="alpnProtocols")
    disable_session_tickets: GoBool = False
    prefer_server_cipher_suites: GoBool | None = None  # deprecated and ineffective in Traefik


class GeneratedCert(TraefikModel):
    resolver: TraefikStr = ""
    domain: Domain | None = None


class Store(TraefikModel):
    default_certificate: Certificate | None = None
    default_generated_cert: GeneratedCert | None = None


class TLSSection(TraefikModel):
    certificates: list[CertAndStores] = []
    options: dict[str, Options] = {}
    stores: dict[str, Store] = {}
