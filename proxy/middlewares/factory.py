"""Config model -> middleware instance: the one place that knows both sides' spellings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from proxy.middlewares import (
    AddPrefix,
    Chain,
    Headers,
    RedirectRegex,
    RedirectScheme,
    ReplacePath,
    ReplacePathRegex,
    StripPrefix,
    StripPrefixRegex,
)
from proxy.middlewares.base import Middleware
from proxy.middlewares.circuitbreaker import CircuitBreaker
from proxy.middlewares.encodedcharacters import EncodedCharacters
from proxy.middlewares.ipallowlist import IPAllowList
from proxy.middlewares.passtlsclientcert import DNOptions, InfoOptions, PassTLSClientCert
from proxy.middlewares.prefixrewrite import PrefixRewrite
from proxy.middlewares.retry import Retry
from proxy.netutil import Strategy, ip_strategy

Resolve = Callable[[str], Middleware]
ResolveService = Callable[[str], Any]


def _pass_tls_client_cert(options: Any, _: Resolve) -> Middleware:
    info = options.info
    if info is None:
        return PassTLSClientCert(pem=options.pem)
    subject = DNOptions(**info.subject.model_dump()) if info.subject is not None else None
    issuer = DNOptions(**info.issuer.model_dump()) if info.issuer is not None else None
    return PassTLSClientCert(
        pem=options.pem,
        info=InfoOptions(
            not_after=info.not_after,
            not_before=info.not_before,
            sans=info.sans,
            serial_number=info.serial_number,
            subject=subject,
            issuer=issuer,
        ),
    )


def _chain(options: Any, resolve: Resolve) -> Middleware:
    return Chain([resolve(name) for name in options.middlewares])


def _strategy(options: Any) -> tuple[Strategy | None, tuple[str, ...]]:
    """The ipStrategy, and what of it Traefik (and so we) would not use."""
    config = options.ip_strategy
    if config is None:
        return None, ()
    unused = []
    if config.depth < 0:
        unused.append(f"ipStrategy.depth: {config.depth} is read as 0, as Traefik does")
    if config.depth > 0 and config.excluded_ips:
        unused.append("ipStrategy.excludedIPs: not used: depth takes precedence, as in Traefik")
    if config.depth <= 0 and config.excluded_ips and config.ipv6_subnet is not None:
        unused.append("ipStrategy.ipv6Subnet: not used with excludedIPs, as in Traefik")
    return ip_strategy(config.depth, config.excluded_ips, config.ipv6_subnet), tuple(unused)


def _ip_allow_list(options: Any, _: Resolve) -> Middleware:
    strategy, unused = _strategy(options)
    middleware = IPAllowList(list(options.source_range), strategy, options.reject_status_code)
    middleware.warnings = unused
    return middleware


def _ip_white_list(options: Any, _: Resolve) -> Middleware:
    strategy, unused = _strategy(options)
    middleware = IPAllowList(list(options.source_range), strategy, kind="IPWhiteLister")
    middleware.warnings = unused
    return middleware


def _basic_auth(options: Any, _: Resolve) -> Middleware:
    from proxy.middlewares.basicauth import basic_auth  # bcrypt and passlib only for configs that use them

    return basic_auth(
        users=list(options.users),
        users_file=options.users_file,
        realm=options.realm,
        header_field=options.header_field,
        remove_header=options.remove_header,
    )


def _digest_auth(options: Any, _: Resolve) -> Middleware:
    from proxy.middlewares.digestauth import digest_auth

    return digest_auth(
        users=list(options.users),
        users_file=options.users_file,
        realm=options.realm,
        header_field=options.header_field,
        remove_header=options.remove_header,
    )


BUILDERS: dict[str, Callable[[Any, Resolve], Middleware]] = {
    "stripPrefix": lambda o, _: StripPrefix(prefixes=list(o.prefixes), force_slash=bool(o.force_slash)),
    "stripPrefixRegex": lambda o, _: StripPrefixRegex(regex=list(o.regex)),
    "addPrefix": lambda o, _: AddPrefix(prefix=o.prefix),
    "replacePath": lambda o, _: ReplacePath(path=o.path),
    "replacePathRegex": lambda o, _: ReplacePathRegex(regex=o.regex, replacement=o.replacement),
    "redirectScheme": lambda o, _: RedirectScheme(scheme=o.scheme, port=o.port, permanent=o.permanent),
    "redirectRegex": lambda o, _: RedirectRegex(regex=o.regex, replacement=o.replacement, permanent=o.permanent),
    "headers": lambda o, _: Headers(**o.model_dump()),
    "encodedCharacters": lambda o, _: EncodedCharacters(**o.model_dump()),
    "chain": _chain,
    "passTLSClientCert": _pass_tls_client_cert,
    "ipAllowList": _ip_allow_list,
    "ipWhiteList": _ip_white_list,
    "basicAuth": _basic_auth,
    "digestAuth": _digest_auth,
    "circuitBreaker": lambda o, _: CircuitBreaker(
        o.expression,
        check_period=o.check_period,
        fallback_duration=o.fallback_duration,
        recovery_duration=o.recovery_duration,
        response_code=o.response_code,
    ),
    "retry": lambda o, _: Retry(
        attempts=o.attempts,
        initial_interval=o.initial_interval,
        timeout=o.timeout,
        max_request_body_bytes=o.max_request_body_bytes,
        status=list(o.status),
        disable_retry_on_network_error=o.disable_retry_on_network_error,
        retry_non_idempotent_method=o.retry_non_idempotent_method,
    ),
    "compress": lambda o, _: _compress(o),
    "prefixRewrite": lambda o, _: PrefixRewrite(
        headers=bool(o.headers), cookies=bool(o.cookies), slash_redirect=bool(o.slash_redirect), html=bool(o.html)
    ),
    "buffering": lambda o, _: _buffering(o),
    "contentType": lambda o, _: _content_type(o),
}


def _compress(o: Any) -> Middleware:
    from proxy.middlewares.compress import Compress

    return Compress(
        excluded_content_types=o.excluded_content_types,
        included_content_types=o.included_content_types,
        min_response_body_bytes=o.min_response_body_bytes,
        encodings=o.encodings,
        default_encoding=o.default_encoding,
    )


def _buffering(o: Any) -> Middleware:
    from proxy.middlewares.buffering import Buffering

    return Buffering(**o.model_dump())


def _content_type(o: Any) -> Middleware:
    from proxy.middlewares.contenttype import ContentType

    return ContentType(auto_detect=o.auto_detect)


def _errors(o: Any, service: ResolveService) -> Middleware:
    from proxy.middlewares.errors import Errors

    if not o.service:
        raise ValueError("service: the error page service is missing")
    return Errors(
        status=o.status,
        service=service(o.service),
        query=o.query,
        status_rewrites=o.status_rewrites,
        error_request_headers=o.error_request_headers,
    )


# Middlewares that refer to a service (built by the caller, which records a missing one as the reason).
SERVICE_BUILDERS: dict[str, Callable[[Any, ResolveService], Middleware]] = {
    "errors": _errors,
}


def _rate_limit(o: Any, _: Resolve, name: str) -> Middleware:
    from proxy.middlewares.ratelimit import RateLimit

    return RateLimit(
        name, average=o.average, period=o.period, burst=o.burst, source_criterion=o.source_criterion, redis=o.redis
    )


def _in_flight_req(o: Any, _: Resolve, name: str) -> Middleware:
    from proxy.middlewares.inflightreq import InFlightReq

    return InFlightReq(amount=o.amount, source_criterion=o.source_criterion)


def _forward_auth(o: Any, _: Resolve, name: str) -> Middleware:
    from proxy.middlewares.forwardauth import ForwardAuth

    return ForwardAuth(name, **o.model_dump(exclude={"tls"}), tls=o.tls)


# Builders that need the middleware's qualified name ("limit@file"): Traefik keys shared state by it.
NAMED_BUILDERS: dict[str, Callable[[Any, Resolve, str], Middleware]] = {
    "rateLimit": _rate_limit,
    "inFlightReq": _in_flight_req,
    "forwardAuth": _forward_auth,
}


def build_middleware(
    kind: str, options: Any, resolve: Resolve, name: str = "", service: ResolveService | None = None
) -> Middleware:
    """Build a `kind` middleware (Traefik's spelling) from its validated options; ValueError if unusable.

    `resolve` builds another named middleware (for chain); it raises for missing names and cycles.
    `name` is the middleware's qualified name (`name@file`). `service` builds a named service (for errors).
    """
    if kind in SERVICE_BUILDERS:
        if service is None:
            raise ValueError(f"middleware type {kind!r} needs the services of its configuration")
        return SERVICE_BUILDERS[kind](options, service)
    named = NAMED_BUILDERS.get(kind)
    if named is not None:
        return named(options, resolve, name)
    builder = BUILDERS.get(kind)
    if builder is None:
        raise ValueError(f"middleware type {kind!r} is not supported by stripproxy")
    return builder(options, resolve)
