"""The static configuration (Traefik pkg/config/static/static_config.go, entrypoints.go, provider/file).

Defaults are Traefik's SetDefaults values. Sections stripproxy does not use are accepted as loose mappings.
`load_static` (in static_sources.py) builds a StaticConfig from a file, flags and TRAEFIK_* variables.
"""

from __future__ import annotations

from typing import Any, cast

from pydantic import Field, PrivateAttr, field_validator, model_validator

from proxy.config.base import GoBool, LooseDict, TraefikModel, TraefikStr
from proxy.config.durations import Duration
from proxy.config.dynamic_tls import DomainConfig
from proxy.config.errors import ConfigProblem

MAX_GO_INT = 2**63 - 1


# ------------------------------------------------------------------------------------------------ entry points


class RespondingTimeoutsConfig(TraefikModel):
    read_timeout: Duration = 60.0
    write_timeout: Duration = 0.0  # 0: no timeout
    idle_timeout: Duration = 180.0


class LifeCycleConfig(TraefikModel):
    request_accept_grace_timeout: Duration = 0.0
    grace_time_out: Duration = Field(10.0, alias="graceTimeOut")


class EntryPointTransportConfig(TraefikModel):
    life_cycle: LifeCycleConfig = Field(default_factory=LifeCycleConfig)
    responding_timeouts: RespondingTimeoutsConfig = Field(default_factory=RespondingTimeoutsConfig)
    keep_alive_max_time: Duration = 0.0
    keep_alive_max_requests: int = 0


class ForwardedHeadersConfig(TraefikModel):
    insecure: GoBool = False
    trusted_ips: list[TraefikStr] = Field([], alias="trustedIPs")
    connection: list[TraefikStr] = []
    not_append_x_forwarded_for: GoBool = False
    add_x_forwarded_scheme_headers: GoBool = False


class ProxyProtocolConfig(TraefikModel):
    insecure: GoBool = False
    trusted_ips: list[TraefikStr] = Field([], alias="trustedIPs")


class RedirectEntryPointConfig(TraefikModel):
    to: TraefikStr = ""
    scheme: TraefikStr = "https"
    permanent: GoBool = True
    priority: int = MAX_GO_INT - 1


class RedirectionsConfig(TraefikModel):
    entry_point: RedirectEntryPointConfig | None = None


class EntryPointEncodedCharactersConfig(TraefikModel):
    """Entry point http.encodedCharacters: every encoded character is allowed unless set to false. The
    encodedCharacters middleware reads the same keys (dynamic_middlewares.EncodedCharactersConfig), denying by
    default."""

    allow_encoded_slash: GoBool = True
    allow_encoded_back_slash: GoBool = True
    allow_encoded_null_character: GoBool = True
    allow_encoded_semicolon: GoBool = True
    allow_encoded_percent: GoBool = True
    allow_encoded_question_mark: GoBool = True
    allow_encoded_hash: GoBool = True


class EntryPointTLSConfig(TraefikModel):
    """Default TLS of the entry point's routers (static TLSConfig): applied to those that have none."""

    options: TraefikStr = ""
    cert_resolver: TraefikStr = ""
    domains: list[DomainConfig] = []


class EntryPointHTTPConfig(TraefikModel):
    redirections: RedirectionsConfig | None = None
    middlewares: list[TraefikStr] = []  # applied to every router attached to this entry point
    tls: EntryPointTLSConfig | None = None
    encoded_characters: EntryPointEncodedCharactersConfig = Field(default_factory=EntryPointEncodedCharactersConfig)
    encode_query_semicolons: GoBool = False
    sanitize_path: GoBool = True
    max_header_bytes: int = 1 << 20
    underscore_headers_strategy: TraefikStr = "keep"

    @field_validator("underscore_headers_strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        if value not in ("keep", "delete", "reject"):
            raise ValueError(f"unknown strategy {value!r} (use keep, delete or reject)")
        return value


class HTTP2Config(TraefikModel):
    max_concurrent_streams: int = 250
    max_decoder_header_table_size: int = 4096
    max_encoder_header_table_size: int = 4096


class UDPConfig(TraefikModel):
    timeout: Duration = 3.0


def split_address(address: str) -> tuple[str, int, str]:
    """ ":80/tcp" -> ("", 80, "tcp"); "[::1]:80" -> ("::1", 80, "tcp"). ValueError naming the address."""
    host_port, _, protocol = address.partition("/")
    protocol = protocol.lower() or "tcp"
    if protocol not in ("tcp", "udp"):
        raise ValueError(f"invalid protocol: {address.partition('/')[2]}")
    host, sep, port_text = host_port.rpartition(":")
    if not sep:
        raise ValueError(f"address {address}: missing port in address")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"address {address}: too many colons in address (write IPv6 hosts as [::1]:80)")
    if not port_text.isascii() or not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError(f"address {address}: invalid port {port_text!r}")
    return host, int(port_text), protocol


class EntryPointObservabilityConfig(TraefikModel):
    """What the routers of an entry point report by default (a router's own `observability` overrides)."""

    access_logs: GoBool = True
    metrics: GoBool = True
    tracing: GoBool = True
    trace_verbosity: TraefikStr = "minimal"


class EntryPointConfig(TraefikModel):
    address: TraefikStr = ""
    allow_acme_by_pass: GoBool = Field(False, alias="allowACMEByPass")
    reuse_port: GoBool = False
    as_default: GoBool = False
    transport: EntryPointTransportConfig = Field(default_factory=EntryPointTransportConfig)
    proxy_protocol: ProxyProtocolConfig | None = None
    forwarded_headers: ForwardedHeadersConfig = Field(default_factory=ForwardedHeadersConfig)
    http: EntryPointHTTPConfig = Field(default_factory=EntryPointHTTPConfig)
    http2: HTTP2Config = Field(default_factory=HTTP2Config)
    http3: LooseDict | None = None
    udp: UDPConfig = Field(default_factory=UDPConfig)
    observability: EntryPointObservabilityConfig = Field(default_factory=EntryPointObservabilityConfig)

    @field_validator("address")
    @classmethod
    def _valid_address(cls, value: str) -> str:
        if value:
            split_address(value)
        return value

    @property
    def host(self) -> str:
        return split_address(self.address)[0] if self.address else ""

    @property
    def port(self) -> int:
        return split_address(self.address)[1] if self.address else 0

    @property
    def protocol(self) -> str:
        return split_address(self.address)[2] if self.address else "tcp"


# ------------------------------------------------------------------------------------------------ providers


class FileProviderConfig(TraefikModel):
    directory: TraefikStr = ""
    watch: GoBool = True
    filename: TraefikStr = ""
    debug_log_generated_template: GoBool = False


class ProvidersConfig(TraefikModel):
    providers_throttle_duration: Duration = 2.0
    precedence: list[TraefikStr] = []
    file: FileProviderConfig | None = None
    docker: LooseDict | None = None
    swarm: LooseDict | None = None
    kubernetes_ingress: LooseDict | None = None
    kubernetes_ingress_nginx: LooseDict | None = Field(None, alias="kubernetesIngressNGINX")
    kubernetes_crd: LooseDict | None = Field(None, alias="kubernetesCRD")
    kubernetes_gateway: LooseDict | None = None
    knative: LooseDict | None = None
    rest: LooseDict | None = None
    consul_catalog: LooseDict | None = None
    nomad: LooseDict | None = None
    ecs: LooseDict | None = None
    consul: LooseDict | None = None
    etcd: LooseDict | None = None
    zoo_keeper: LooseDict | None = None
    redis: LooseDict | None = None
    http: LooseDict | None = None
    plugin: LooseDict | None = None


# ------------------------------------------------------------------------------------------------ the rest

LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "PANIC")
OTHER_PROVIDERS = (
    "docker",
    "swarm",
    "kubernetesIngress",
    "kubernetesIngressNGINX",
    "kubernetesCRD",
    "kubernetesGateway",
    "knative",
    "rest",
    "consulCatalog",
    "nomad",
    "ecs",
    "consul",
    "etcd",
    "zooKeeper",
    "redis",
    "http",
    "plugin",
)


class LogConfig(TraefikModel):
    level: TraefikStr = "ERROR"
    format: TraefikStr = "common"
    file_path: TraefikStr = ""
    no_color: GoBool = False
    max_size: int = 0
    max_age: int = 0
    max_backups: int = 0
    compress: GoBool = False
    otlp: LooseDict | None = None

    @field_validator("level")
    @classmethod
    def _upper(cls, value: str) -> str:
        # An unknown level is kept as written here, then falls back to ERROR with a warning
        # (with_effective_defaults).
        return value.upper() if effective_log_level(value) is not None else value


# zerolog.ParseLevel also reads numbers (-1 trace ... 5 panic) and "disabled"; "" is Traefik's default.
_NUMERIC_LEVELS = {"-1": "TRACE", "0": "DEBUG", "1": "INFO", "2": "WARN", "3": "ERROR", "4": "FATAL", "5": "PANIC"}


def effective_log_level(level: str) -> str | None:
    """The level Traefik runs with for `log.level` (cmd/traefik/logger.go getLogLevel); None when zerolog
    cannot parse it, and Traefik falls back to ERROR."""
    level = level.upper()
    if level == "":
        return "ERROR"
    if level in LOG_LEVELS or level == "DISABLED":
        return level
    return _NUMERIC_LEVELS.get(level)


class APIConfig(TraefikModel):
    base_path: TraefikStr = "/"
    insecure: GoBool = False
    dashboard: GoBool = True
    debug: GoBool = False
    disable_dashboard_ad: GoBool = False
    dashboard_name: TraefikStr = ""


# ------------------------------------------------------------------------------------------------ observability
# pkg/observability/types/logs.go, metrics.go and pkg/ping (their SetDefaults are the defaults below).

FIELD_MODES = ("keep", "drop")
HEADER_MODES = ("keep", "drop", "redact")


class AccessLogFiltersConfig(TraefikModel):
    status_codes: list[TraefikStr] = []
    retry_attempts: GoBool = False
    min_duration: Duration = 0.0


class AccessLogFieldHeadersConfig(TraefikModel):
    default_mode: TraefikStr = "drop"
    names: dict[str, TraefikStr] = {}


class AccessLogQueryParametersConfig(TraefikModel):
    default_mode: TraefikStr = "keep"


class AccessLogFieldsConfig(TraefikModel):
    default_mode: TraefikStr = "keep"
    names: dict[str, TraefikStr] = {}
    headers: AccessLogFieldHeadersConfig = Field(default_factory=AccessLogFieldHeadersConfig)
    query_parameters: AccessLogQueryParametersConfig = Field(default_factory=AccessLogQueryParametersConfig)


class AccessLogConfig(TraefikModel):
    file_path: TraefikStr = ""
    format: TraefikStr = "common"
    filters: AccessLogFiltersConfig = Field(default_factory=AccessLogFiltersConfig)
    fields: AccessLogFieldsConfig = Field(default_factory=AccessLogFieldsConfig)
    buffering_size: int = 0
    add_internals: GoBool = False
    dual_output: GoBool = False
    otlp: LooseDict | None = Field(None, alias="otlp")


class PrometheusConfig(TraefikModel):
    buckets: list[float] = [0.1, 0.3, 1.2, 5.0]
    add_entry_points_labels: GoBool = True
    add_routers_labels: GoBool = False
    add_services_labels: GoBool = True
    entry_point: TraefikStr = "traefik"
    manual_routing: GoBool = False
    header_labels: dict[str, TraefikStr] = {}


class MetricsConfig(TraefikModel):
    add_internals: GoBool = False
    prometheus: PrometheusConfig | None = None
    datadog: LooseDict | None = None
    stats_d: LooseDict | None = Field(None, alias="statsD")
    influx_db2: LooseDict | None = Field(None, alias="influxDB2")
    otlp: LooseDict | None = Field(None, alias="otlp")

    @model_validator(mode="before")
    @classmethod
    def _presence_means_on(cls, data: Any) -> Any:
        """`--metrics.prometheus` alone, or `prometheus:` with nothing under it: on, with the defaults."""
        if isinstance(data, dict):
            for key in ("prometheus", "datadog", "statsD", "influxDB2", "otlp"):
                if key in data and (data[key] is None or data[key] is True or data[key] == "true"):
                    data = {**data, key: {}}
        return data


class PingConfig(TraefikModel):
    entry_point: TraefikStr = "traefik"
    manual_routing: GoBool = False
    terminating_status_code: int = 503


# Sections that switch a feature on by their mere presence: `[ping]`, `ping: {}`, `ping:` (null) in YAML,
# `--ping=true` on the command line all mean "on with the defaults", as paerser reads them.
_PRESENCE_SECTIONS = ("accessLog", "api", "ping", "metrics")


class CoreConfig(TraefikModel):
    """`core`: the rule syntax a router without `ruleSyntax` is read with (static_config.go ValidateConfiguration)."""

    default_rule_syntax: TraefikStr = "v3"

    @field_validator("default_rule_syntax")
    @classmethod
    def _known_syntax(cls, value: str) -> str:
        if value not in ("v3", "v2"):
            raise ValueError(f"unsupported default rule syntax configuration: {value!r} (use v3 or v2)")
        return value


class StaticForwardingTimeoutsConfig(TraefikModel):
    dial_timeout: Duration = 30.0
    response_header_timeout: Duration = 0.0
    idle_conn_timeout: Duration = 90.0


class StaticServersTransportConfig(TraefikModel):
    """The default transport of services that name no serversTransport."""

    insecure_skip_verify: GoBool = False
    root_c_as: list[TraefikStr] = Field([], alias="rootCAs")
    max_idle_conns_per_host: int = 200
    forwarding_timeouts: StaticForwardingTimeoutsConfig = Field(default_factory=StaticForwardingTimeoutsConfig)
    spiffe: LooseDict | None = None


class StaticConfig(TraefikModel):
    entry_points: dict[str, EntryPointConfig] = {}
    providers: ProvidersConfig = Field(default_factory=ProvidersConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    access_log: AccessLogConfig | None = None
    api: APIConfig | None = None
    ping: PingConfig | None = None
    metrics: MetricsConfig | None = None
    tracing: LooseDict | None = None
    global_: LooseDict | None = Field(None, alias="global")
    servers_transport: StaticServersTransportConfig = Field(default_factory=StaticServersTransportConfig)
    tcp_servers_transport: LooseDict | None = None
    experimental: LooseDict | None = None
    certificates_resolvers: dict[str, LooseDict] | None = None
    host_resolver: LooseDict | None = None
    core: CoreConfig = Field(default_factory=CoreConfig)
    spiffe: LooseDict | None = None
    ocsp: LooseDict | None = None

    # Where the configuration came from (for resolving the file provider's relative paths) and
    # non-fatal findings such as ignored top-level keys. Set by load_static.
    _source_file: Any = PrivateAttr(default=None)
    _warnings: list[ConfigProblem] = PrivateAttr(default_factory=list)
    _label: str = PrivateAttr(default="")  # which source the settings came from, for warnings
    _name_source: Any = PrivateAttr(default=None)  # (key path, message) -> that warning, naming its source

    @model_validator(mode="before")
    @classmethod
    def _presence_means_on(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in _PRESENCE_SECTIONS:
                if key in data and (data[key] is None or data[key] is True or data[key] == "true"):
                    data = {**data, key: {}}
        return data

    @property
    def source_file(self) -> Any:
        return self._source_file

    @property
    def warnings(self) -> list[ConfigProblem]:
        return self._warnings

    def problem(self, key_path: str, message: str) -> ConfigProblem:
        """A warning about `key_path`, naming the source that set it (the file, the flags or variables), as
        the load's own warnings do."""
        if self._name_source is not None:
            return cast(ConfigProblem, self._name_source(key_path, message))
        return ConfigProblem(self._label or "static configuration", key_path, message)

    def with_effective_defaults(self) -> StaticConfig:
        """Traefik's SetEffectiveConfiguration: an "http" entry point on :80 when none is defined, and a
        "traefik" one on :8080 when api.insecure, ping or prometheus (routed to "traefik") ask for it."""
        label = self._label or (str(self._source_file) if self._source_file else "static configuration")
        level = effective_log_level(self.log.level)
        if level is None:
            self._warnings.append(
                ConfigProblem(
                    label,
                    "log.level",
                    f"unknown log level {self.log.level!r} (Traefik's levels: "
                    f"{', '.join(LOG_LEVELS)}): logging at ERROR, as Traefik does",
                )
            )
            level = "ERROR"
        self.log.level = level
        for name, field in ProvidersConfig.model_fields.items():
            alias = field.alias or name
            if alias in OTHER_PROVIDERS and getattr(self.providers, name) is not None:
                self._warnings.append(
                    ConfigProblem(
                        label,
                        f"providers.{alias}",
                        f"provider {alias} is not available here; its routers are not served (only the file "
                        "provider is)",
                    )
                )
        from proxy.config import unimplemented

        dumped = self.model_dump(by_alias=True, exclude_unset=True)
        self._warnings += unimplemented.find(dumped, unimplemented.STATIC, label)
        if not self.entry_points:
            self.entry_points["http"] = EntryPointConfig(address=":80")
        ping, prometheus = self.ping, self.metrics.prometheus if self.metrics else None
        if "traefik" not in self.entry_points and (
            (self.api is not None and self.api.insecure)
            or (ping is not None and not ping.manual_routing and ping.entry_point == "traefik")
            or (prometheus is not None and not prometheus.manual_routing and prometheus.entry_point == "traefik")
        ):
            self.entry_points["traefik"] = EntryPointConfig(address=":8080")
        return self
