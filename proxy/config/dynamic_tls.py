"""The dynamic `tls` section (Traefik pkg/tls/tls.go, pkg/config/dynamic/config.go TLSConfiguration).

Defaults are Traefik's: a tls option that is defined gets the default ALPN list and cipher suites
(Options.SetDefaults); `minVersion` is only defaulted (VersionTLS12) for the built-in `default` option.
"""

from __future__ import annotations

from pydantic import Field

from proxy.config.base import GoBool, TraefikModel, TraefikStr

DEFAULT_ALPN = ["h2", "http/1.1", "acme-tls/1"]


class DomainConfig(TraefikModel):
    """types.Domain: a main name and subject alternative names (router tls.domains, defaultGeneratedCert)."""

    main: TraefikStr = ""
    sans: list[TraefikStr] = []

    def names(self) -> list[str]:
        return [name for name in (self.main, *self.sans) if name]


class CertificateConfig(TraefikModel):
    """certFile / keyFile: a path, or the PEM itself (Traefik's FileOrContent)."""

    cert_file: TraefikStr = ""
    key_file: TraefikStr = ""


class CertAndStoresConfig(CertificateConfig):
    stores: list[TraefikStr] = []


class ClientAuthConfig(TraefikModel):
    ca_files: list[TraefikStr] = Field([], alias="caFiles")
    client_auth_type: TraefikStr = ""


class OptionsConfig(TraefikModel):
    min_version: TraefikStr = ""
    max_version: TraefikStr = ""
    cipher_suites: list[TraefikStr] | None = None  # None: Go's defaults
    curve_preferences: list[TraefikStr] | None = None
    client_auth: ClientAuthConfig = Field(default_factory=ClientAuthConfig)
    sni_strict: GoBool = False
    alpn_protocols: list[TraefikStr] = Field(default_factory=lambda: list(DEFAULT_ALPN), alias="alpnProtocols")
    disable_session_tickets: GoBool = False
    prefer_server_cipher_suites: GoBool | None = None  # deprecated and ineffective in Traefik


class GeneratedCertConfig(TraefikModel):
    resolver: TraefikStr = ""
    domain: DomainConfig | None = None


class StoreConfig(TraefikModel):
    default_certificate: CertificateConfig | None = None
    default_generated_cert: GeneratedCertConfig | None = None


class TLSSectionConfig(TraefikModel):
    certificates: list[CertAndStoresConfig] = []
    options: dict[str, OptionsConfig] = {}
    stores: dict[str, StoreConfig] = {}
