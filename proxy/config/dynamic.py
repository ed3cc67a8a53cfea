"""The dynamic configuration (Traefik pkg/config/dynamic/config.go, http_config.go), `http` section modelled.

Defaults are Traefik's SetDefaults values; they apply when the enclosing section is present, as in Traefik.
`tls` is modelled in dynamic_tls.py; `tcp` and `udp` are accepted as loose mappings (the caller warns
they are ignored).
"""

from __future__ import annotations

from pydantic import Field, PrivateAttr, field_validator

from proxy.config.base import GoBool, LooseDict, TraefikModel, TraefikStr, exactly_one_set
from proxy.config.durations import Duration
from proxy.config.dynamic_middlewares import MiddlewareConfig
from proxy.config.dynamic_tls import CertificateConfig, DomainConfig, TLSSectionConfig
from proxy.config.errors import KeyPath

# ------------------------------------------------------------------------------------------------ routers


class RouterTLSConfig(TraefikModel):
    """A router served over TLS: `options` names a tls.options entry, `certResolver` a certificate resolver
    (served by the local development CA, see proxy/tls/localca.py), `domains` the names to get certificates for."""

    options: TraefikStr = ""
    cert_resolver: TraefikStr = ""
    domains: list[DomainConfig] = []


class RouterObservabilityConfig(TraefikModel):
    access_logs: GoBool | None = None
    metrics: GoBool | None = None
    tracing: GoBool | None = None
    trace_verbosity: TraefikStr = "minimal"


class RouterConfig(TraefikModel):
    entry_points: list[TraefikStr] = []  # empty: every default entry point
    middlewares: list[TraefikStr] = []
    service: TraefikStr = ""
    rule: TraefikStr = ""
    parent_refs: list[TraefikStr] = []
    rule_syntax: TraefikStr = ""  # "v2" or "v3"; "" (or "default"): core.defaultRuleSyntax
    priority: int = 0  # 0: Traefik computes it from the rule length
    tls: RouterTLSConfig | None = None
    observability: RouterObservabilityConfig | None = None


# ------------------------------------------------------------------------------------------------ services


class CookieConfig(TraefikModel):
    name: TraefikStr = ""
    secure: GoBool = False
    http_only: GoBool = Field(False, alias="httpOnly")
    same_site: TraefikStr = ""
    max_age: int = 0
    path: TraefikStr = "/"
    domain: TraefikStr = ""


class StickyConfig(TraefikModel):
    cookie: CookieConfig | None = None


class ServerConfig(TraefikModel):
    url: TraefikStr = ""
    weight: int | None = None
    preserve_path: GoBool = False


class ServerHealthCheckConfig(TraefikModel):
    scheme: TraefikStr = ""
    mode: TraefikStr = "http"
    path: TraefikStr = ""
    method: TraefikStr = ""
    status: int = 0
    port: int = 0
    interval: Duration = 30.0
    unhealthy_interval: Duration | None = None
    timeout: Duration = 5.0
    hostname: TraefikStr = ""
    follow_redirects: GoBool = True
    headers: dict[str, TraefikStr] = {}


class PassiveServerHealthCheckConfig(TraefikModel):
    failure_window: Duration = 10.0
    max_failed_attempts: int = 1


class ResponseForwardingConfig(TraefikModel):
    flush_interval: Duration = 0.1  # negative: flush after every write


class LoadBalancerConfig(TraefikModel):
    servers: list[ServerConfig] = []
    strategy: TraefikStr = "wrr"
    sticky: StickyConfig | None = None
    health_check: ServerHealthCheckConfig | None = None
    passive_health_check: PassiveServerHealthCheckConfig | None = None
    pass_host_header: GoBool = True
    response_forwarding: ResponseForwardingConfig = Field(default_factory=ResponseForwardingConfig)
    servers_transport: TraefikStr = ""


class ServiceHealthCheckConfig(TraefikModel):
    """Empty on purpose: its presence turns health status propagation on."""


class WeightedServiceConfig(TraefikModel):
    name: TraefikStr = ""
    weight: int = 1


class WeightedConfig(TraefikModel):
    services: list[WeightedServiceConfig] = []
    sticky: StickyConfig | None = None
    health_check: ServiceHealthCheckConfig | None = None


class HighestRandomWeightConfig(TraefikModel):
    services: list[WeightedServiceConfig] = []
    health_check: ServiceHealthCheckConfig | None = None


class MirrorServiceConfig(TraefikModel):
    name: TraefikStr = ""
    percent: int = 0


class MirroringConfig(TraefikModel):
    service: TraefikStr = ""
    mirror_body: GoBool = True
    max_body_size: int = -1
    mirrors: list[MirrorServiceConfig] = []
    health_check: ServiceHealthCheckConfig | None = None


class FailoverErrorsConfig(TraefikModel):
    max_request_body_bytes: int = -1
    status: list[TraefikStr] = []


class FailoverConfig(TraefikModel):
    service: TraefikStr = ""
    fallback: TraefikStr = ""
    health_check: ServiceHealthCheckConfig | None = None
    errors: FailoverErrorsConfig | None = None


class ServiceConfig(TraefikModel):
    """One named service: exactly one of the type sections (checked by `type_name`, like Traefik, at runtime)."""

    middlewares: list[TraefikStr] = []
    load_balancer: LoadBalancerConfig | None = None
    weighted: WeightedConfig | None = None
    mirroring: MirroringConfig | None = None
    failover: FailoverConfig | None = None
    highest_random_weight: HighestRandomWeightConfig | None = None

    def type_name(self) -> str:
        """ "loadBalancer", "weighted", ...; ValueError when none or several are set."""
        return exactly_one_set(self, "service")


# ------------------------------------------------------------------------------------------------ transports


class ForwardingTimeoutsConfig(TraefikModel):
    dial_timeout: Duration = 30.0
    response_header_timeout: Duration = 0.0  # 0: no timeout
    idle_conn_timeout: Duration = 90.0
    read_idle_timeout: Duration = 0.0
    ping_timeout: Duration = 15.0


class PeerCertSANConfig(TraefikModel):
    """tls.SAN: a name the server's certificate must carry (type `uri` or `dnsName`)."""

    type: TraefikStr = ""
    value: TraefikStr = ""


DEFAULT_MAX_IDLE_CONNS_PER_HOST = 200  # Go's DefaultMaxIdleConnsPerHost as Traefik sets it


class ServersTransportConfig(TraefikModel):
    server_name: TraefikStr = ""
    insecure_skip_verify: GoBool = False
    root_c_as: list[TraefikStr] = Field([], alias="rootCAs")
    certificates: list[CertificateConfig] = []  # client certificates (mTLS to the servers)
    cipher_suites: list[TraefikStr] = []
    min_version: TraefikStr = ""
    max_version: TraefikStr = ""
    max_idle_conns_per_host: int = DEFAULT_MAX_IDLE_CONNS_PER_HOST  # negative: no connection reuse
    forwarding_timeouts: ForwardingTimeoutsConfig = Field(default_factory=ForwardingTimeoutsConfig)
    disable_http2: GoBool = Field(False, alias="disableHTTP2")
    peer_cert_uri: TraefikStr = Field("", alias="peerCertURI")
    peer_cert_sans: list[PeerCertSANConfig] = Field([], alias="peerCertSANs")
    spiffe: LooseDict | None = None

    @field_validator("max_idle_conns_per_host")
    @classmethod
    def _zero_means_default(cls, value: int) -> int:
        return DEFAULT_MAX_IDLE_CONNS_PER_HOST if value == 0 else value


# ------------------------------------------------------------------------------------------------ root


class HTTPConfig(TraefikModel):
    routers: dict[str, RouterConfig] = {}
    services: dict[str, ServiceConfig] = {}
    middlewares: dict[str, MiddlewareConfig] = {}
    servers_transports: dict[str, ServersTransportConfig] = {}
    models: dict[str, LooseDict] = {}


class DynamicConfig(TraefikModel):
    http: HTTPConfig = Field(default_factory=HTTPConfig)
    tcp: LooseDict | None = None
    udp: LooseDict | None = None
    tls: TLSSectionConfig | None = None

    # Which file defined each router, service, middleware... (("routers", name) or ("tls", "options", name)),
    # when the config was merged from files (loader.merge_dynamic): messages name the file a problem is in.
    _origins: dict[KeyPath, str] = PrivateAttr(default_factory=dict)

    def origin(self, *key: str) -> str | None:
        """The file that defined `key` (("routers", "app"), ("tls", "options", "x")), if known."""
        return self._origins.get(key)

    def ignored_sections(self) -> list[str]:
        """Top-level sections present but not served by stripproxy (for a warning)."""
        return [name for name in ("tcp", "udp") if getattr(self, name)]
