"""HTTP middleware sections of the dynamic configuration (Traefik pkg/config/dynamic/middlewares.go).

Middlewares stripproxy implements are modelled field by field; the other Traefik middleware types are
recognised by name with their options kept as a loose dict, so the caller can say "not supported" instead of
"unknown key".
"""

from __future__ import annotations

from pydantic import Field

from proxy.config.base import GoBool, LooseDict, TraefikModel, TraefikStr, exactly_one_set
from proxy.config.durations import Duration
from proxy.config.static import EntryPointEncodedCharactersConfig


class StripPrefixConfig(TraefikModel):
    prefixes: list[TraefikStr] = []
    force_slash: GoBool | None = None  # deprecated in Traefik (v2 behaviour: exactly one leading slash)


class StripPrefixRegexConfig(TraefikModel):
    regex: list[TraefikStr] = []


class AddPrefixConfig(TraefikModel):
    prefix: TraefikStr = ""


class ReplacePathConfig(TraefikModel):
    path: TraefikStr = ""


class ReplacePathRegexConfig(TraefikModel):
    regex: TraefikStr = ""
    replacement: TraefikStr = ""


class RedirectSchemeConfig(TraefikModel):
    scheme: TraefikStr = ""
    port: TraefikStr = ""  # a string in Traefik; `port = 443` is read as "443"
    permanent: GoBool = False


class RedirectRegexConfig(TraefikModel):
    regex: TraefikStr = ""
    replacement: TraefikStr = ""
    permanent: GoBool = False


class ChainConfig(TraefikModel):
    middlewares: list[TraefikStr] = []


class EncodedCharactersConfig(EntryPointEncodedCharactersConfig):
    """The encodedCharacters middleware: the entry point's seven allowEncoded* keys
    (static.EntryPointEncodedCharactersConfig), each defaulting to false here (the character is rejected) where
    the entry point allows it."""


for _flag in EncodedCharactersConfig.model_fields.values():  # the same keys, the opposite default
    _flag.default = False
EncodedCharactersConfig.model_rebuild(force=True)


class HeadersConfig(TraefikModel):
    """The headers middleware: custom headers, CORS and security headers."""

    # Header names are user-chosen map keys: kept exactly as written.
    custom_request_headers: dict[str, TraefikStr] = {}
    custom_response_headers: dict[str, TraefikStr] = {}

    # CORS
    access_control_allow_credentials: GoBool = False
    access_control_allow_headers: list[TraefikStr] = []
    access_control_allow_methods: list[TraefikStr] = []
    access_control_allow_origin_list: list[TraefikStr] = []
    access_control_allow_origin_list_regex: list[TraefikStr] = []
    access_control_expose_headers: list[TraefikStr] = []
    access_control_max_age: int | None = None
    add_vary_header: GoBool = False

    # Security
    allowed_hosts: list[TraefikStr] = []
    hosts_proxy_headers: list[TraefikStr] = []
    ssl_proxy_headers: dict[str, TraefikStr] = {}
    sts_seconds: int | None = None
    sts_include_subdomains: GoBool = False
    sts_preload: GoBool = False
    force_sts_header: GoBool = Field(False, alias="forceSTSHeader")
    frame_deny: GoBool = False
    custom_frame_options_value: TraefikStr = ""
    content_type_nosniff: GoBool = False
    browser_xss_filter: GoBool = False
    custom_browser_xss_value: TraefikStr = Field("", alias="customBrowserXSSValue")
    content_security_policy: TraefikStr = ""
    content_security_policy_report_only: TraefikStr = ""
    public_key: TraefikStr = ""
    referrer_policy: TraefikStr = ""
    permissions_policy: TraefikStr = ""
    is_development: GoBool = False

    # Deprecated in Traefik v3, still accepted.
    feature_policy: TraefikStr | None = None
    ssl_redirect: GoBool | None = None
    ssl_temporary_redirect: GoBool | None = None
    ssl_host: TraefikStr | None = None
    ssl_force_host: GoBool | None = None


class CompressConfig(TraefikModel):
    excluded_content_types: list[TraefikStr] = []
    included_content_types: list[TraefikStr] = []
    min_response_body_bytes: int = 0  # 0: 1024
    encodings: list[TraefikStr] = ["gzip", "br", "zstd"]  # Traefik's SetDefaults
    default_encoding: TraefikStr = ""


class BufferingConfig(TraefikModel):
    max_request_body_bytes: int = 0  # 0: no limit
    mem_request_body_bytes: int = 0  # 0: 1 MiB
    max_response_body_bytes: int = 0
    mem_response_body_bytes: int = 0
    retry_expression: TraefikStr = ""  # refused when set: not supported yet


class ContentTypeConfig(TraefikModel):
    auto_detect: GoBool | None = None  # deprecated in Traefik; false makes the middleware do nothing


class ErrorsConfig(TraefikModel):
    """The errors middleware (Traefik's ErrorPage)."""

    status: list[TraefikStr] = []
    status_rewrites: dict[str, int] = {}
    service: TraefikStr = ""
    query: TraefikStr = ""
    error_request_headers: list[TraefikStr] | None = None  # None: every request header goes


class IPStrategyConfig(TraefikModel):
    """How a client IP is chosen (pkg/config/dynamic IPStrategy): depth wins over excludedIPs; neither
    means the TCP peer address. ipv6Subnet groups IPv6 addresses (remote address and depth strategies)."""

    depth: int = 0
    excluded_ips: list[TraefikStr] = Field([], alias="excludedIPs")
    ipv6_subnet: int | None = None


class IPAllowListConfig(TraefikModel):
    source_range: list[TraefikStr] = []
    ip_strategy: IPStrategyConfig | None = None
    reject_status_code: int = 0  # 0: 403


class IPWhiteListConfig(TraefikModel):
    """Deprecated spelling of ipAllowList, without rejectStatusCode (always 403)."""

    source_range: list[TraefikStr] = []
    ip_strategy: IPStrategyConfig | None = None


class BasicAuthConfig(TraefikModel):
    users: list[TraefikStr] = []  # "name:htpasswd-hash"
    users_file: TraefikStr = ""  # read when the middleware is built (start, reload); relative to the cwd
    realm: TraefikStr = ""  # "": "traefik"
    remove_header: GoBool = False
    header_field: TraefikStr = ""


class DigestAuthConfig(TraefikModel):
    users: list[TraefikStr] = []  # "name:realm:md5(name:realm:password)", as htdigest writes them
    users_file: TraefikStr = ""
    remove_header: GoBool = False
    realm: TraefikStr = ""  # "": "traefik"
    header_field: TraefikStr = ""


class SourceCriterionConfig(TraefikModel):
    """What groups requests into one source; the three are mutually exclusive (checked at build time)."""

    ip_strategy: IPStrategyConfig | None = Field(None, alias="ipStrategy")
    request_header_name: TraefikStr = ""
    request_host: GoBool = False


class ClientTLSConfig(TraefikModel):
    """TLS towards a server the gateway calls (pkg/types ClientTLS): ca, cert and key are file paths or
    PEM text. caOptional is forwardAuth's deprecated key (dynamic.ClientTLS)."""

    ca: TraefikStr = ""
    cert: TraefikStr = ""
    key: TraefikStr = ""
    insecure_skip_verify: GoBool = False
    ca_optional: GoBool | None = None


class RedisConfig(TraefikModel):
    """rateLimit.redis: the store that shares buckets between gateway processes (SetDefaults values)."""

    endpoints: list[TraefikStr] = ["localhost:6379"]
    tls: ClientTLSConfig | None = None
    username: TraefikStr = ""
    password: TraefikStr = ""
    db: int = 0
    pool_size: int = 0
    min_idle_conns: int = 0
    max_active_conns: int = 0
    read_timeout: Duration | None = 3.0
    write_timeout: Duration | None = 3.0
    dial_timeout: Duration | None = 5.0


class RateLimitConfig(TraefikModel):
    """rateLimit: a token bucket per source; rate = average / period (SetDefaults: burst 1, period 1s)."""

    average: int = 0
    period: Duration = 1.0
    burst: int = 1
    source_criterion: SourceCriterionConfig | None = None
    redis: RedisConfig | None = None


class InFlightReqConfig(TraefikModel):
    """inFlightReq: at most `amount` requests in progress per source (default source: the request host)."""

    amount: int = 0
    source_criterion: SourceCriterionConfig | None = None


class ForwardAuthConfig(TraefikModel):
    """forwardAuth: ask `address` about each request (SetDefaults: maxBodySize -1)."""

    address: TraefikStr = ""
    tls: ClientTLSConfig | None = None
    trust_forward_header: GoBool | None = None
    auth_response_headers: list[TraefikStr] = []
    auth_response_headers_regex: TraefikStr = ""
    auth_request_headers: list[TraefikStr] = []
    max_response_body_size: int | None = None
    add_auth_cookies_to_response: list[TraefikStr] = []
    header_field: TraefikStr = ""
    forward_body: GoBool = False
    max_body_size: int | None = -1
    preserve_location_header: GoBool = False
    preserve_request_method: GoBool = False
    auth_signin_url: TraefikStr = Field("", alias="authSigninURL")


class CircuitBreakerConfig(TraefikModel):
    expression: TraefikStr = ""
    check_period: Duration = 0.1
    fallback_duration: Duration = 10.0
    recovery_duration: Duration = 10.0
    response_code: int = 503


class RetryConfig(TraefikModel):
    attempts: int = 0
    timeout: Duration = 0.0
    initial_interval: Duration = 0.0
    max_request_body_bytes: int | None = None  # None: Traefik's default, 2 MiB
    status: list[TraefikStr] = []
    disable_retry_on_network_error: GoBool = False
    retry_non_idempotent_method: GoBool = False


class TLSClientCertificateIssuerDNInfoConfig(TraefikModel):
    country: GoBool = False
    province: GoBool = False
    locality: GoBool = False
    organization: GoBool = False
    common_name: GoBool = False
    serial_number: GoBool = False
    domain_component: GoBool = False


class TLSClientCertificateSubjectDNInfoConfig(TLSClientCertificateIssuerDNInfoConfig):
    """The issuer's keys and organizationalUnit (Traefik's issuer has none)."""

    organizational_unit: GoBool = False


class TLSClientCertificateInfoConfig(TraefikModel):
    not_after: GoBool = False
    not_before: GoBool = False
    sans: GoBool = False
    subject: TLSClientCertificateSubjectDNInfoConfig | None = None
    issuer: TLSClientCertificateIssuerDNInfoConfig | None = None
    serial_number: GoBool = False


class PassTLSClientCertConfig(TraefikModel):
    pem: GoBool = Field(False, alias="pem")
    info: TLSClientCertificateInfoConfig | None = None


class PrefixRewriteConfig(TraefikModel):
    """stripproxy's own `prefixRewrite` (not a Traefik middleware): see proxy/middlewares/prefixrewrite.py."""

    headers: GoBool = True
    cookies: GoBool = True
    slash_redirect: GoBool = False
    html: GoBool = False


# Traefik middleware types stripproxy recognises but does not implement.
UNSUPPORTED_MIDDLEWARE_TYPES: tuple[str, ...] = (
    "grpcWeb",
    "plugin",
)


class MiddlewareConfig(TraefikModel):
    """One named middleware: Traefik allows exactly one type per entry (checked by `type_name`)."""

    add_prefix: AddPrefixConfig | None = None
    strip_prefix: StripPrefixConfig | None = None
    strip_prefix_regex: StripPrefixRegexConfig | None = None
    replace_path: ReplacePathConfig | None = None
    replace_path_regex: ReplacePathRegexConfig | None = None
    chain: ChainConfig | None = None
    headers: HeadersConfig | None = None
    redirect_regex: RedirectRegexConfig | None = None
    redirect_scheme: RedirectSchemeConfig | None = None
    encoded_characters: EncodedCharactersConfig | None = None
    ip_allow_list: IPAllowListConfig | None = None
    ip_white_list: IPWhiteListConfig | None = None
    basic_auth: BasicAuthConfig | None = None
    digest_auth: DigestAuthConfig | None = None
    rate_limit: RateLimitConfig | None = None
    in_flight_req: InFlightReqConfig | None = None
    forward_auth: ForwardAuthConfig | None = None

    buffering: BufferingConfig | None = None
    circuit_breaker: CircuitBreakerConfig | None = None
    compress: CompressConfig | None = None
    content_type: ContentTypeConfig | None = None
    errors: ErrorsConfig | None = None
    grpc_web: LooseDict | None = None
    pass_tls_client_cert: PassTLSClientCertConfig | None = Field(None, alias="passTLSClientCert")
    plugin: dict[str, LooseDict] | None = None
    retry: RetryConfig | None = None
    prefix_rewrite: PrefixRewriteConfig | None = None  # ours, not Traefik's

    def type_name(self) -> str:
        """The middleware's type as Traefik spells it ("stripPrefix").

        ValueError when none or several types are set: Traefik reports that at runtime for this middleware
        only (the rest of the configuration still loads), so it is not a validation error here.
        """
        return exactly_one_set(self, "middleware")

    def options(self) -> TraefikModel | LooseDict:
        """The options of the single type (a model, or a loose dict for unsupported types)."""
        name = self.type_name()
        for field_name, field in type(self).model_fields.items():
            if (field.alias or field_name) == name:
                options: TraefikModel | LooseDict = getattr(self, field_name)
                return options
        raise AssertionError(name)

    @property
    def is_supported(self) -> bool:
        return self.type_name() not in UNSUPPORTED_MIDDLEWARE_TYPES
