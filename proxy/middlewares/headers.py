"""headers: Traefik v3 `pkg/middlewares/headers/` (header.go, secure.go, headers.go; unrolled/secure v1.0.9).

Request order, as in Traefik: a CORS preflight is answered at once (cors.py); then customRequestHeaders are
applied (empty value deletes; `Host` sets the Host sent upstream; an empty `X-Forwarded-For` also stops the
proxy from adding its own); then the security part checks allowedHosts (500 "Bad Host" on a mismatch).
Response order: the security headers are set first, then customResponseHeaders and the CORS headers, so a
custom header overrides a security one. Header names are canonicalised the way Go's Header.Set does.
Deprecated options (sslRedirect, sslTemporaryRedirect, sslHost, sslForceHost, featurePolicy) are accepted
and ignored, as v3 does.
A Reply from this middleware (preflight, Bad Host) is final: its own on_response must not run on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from proxy.message import XFF_SUPPRESS, HeaderList, Reply, RequestHead
from proxy.middlewares.base import Middleware
from proxy.middlewares.cors import CorsPolicy
from proxy.middlewares.urlpath import go_error
from proxy.netutil import canonical_header_key


class SecurityHeaders:
    """The unrolled/secure part: allowedHosts check on the request, fixed security headers on the response."""

    def __init__(
        self,
        *,
        allowed_hosts: Sequence[str],
        hosts_proxy_headers: Sequence[str],
        ssl_proxy_headers: Mapping[str, str],
        sts_seconds: int | None,
        sts_include_subdomains: bool,
        sts_preload: bool,
        force_sts_header: bool,
        frame_deny: bool,
        custom_frame_options_value: str,
        content_type_nosniff: bool,
        browser_xss_filter: bool,
        custom_browser_xss_value: str,
        content_security_policy: str,
        content_security_policy_report_only: str,
        public_key: str,
        referrer_policy: str,
        permissions_policy: str,
        is_development: bool,
    ) -> None:
        self.allowed_hosts = [host.lower() for host in allowed_hosts]
        self.hosts_proxy_headers = list(hosts_proxy_headers)
        self.ssl_proxy_headers = dict(ssl_proxy_headers)
        self.is_development = is_development
        self.defined = bool(
            allowed_hosts
            or hosts_proxy_headers
            or ssl_proxy_headers
            or sts_seconds is not None
            or sts_include_subdomains
            or sts_preload
            or force_sts_header
            or frame_deny
            or custom_frame_options_value
            or content_type_nosniff
            or browser_xss_filter
            or custom_browser_xss_value
            or content_security_policy
            or content_security_policy_report_only
            or public_key
            or referrer_policy
            or permissions_policy
            or is_development
        )
        sts = ""
        if sts_seconds and not is_development:
            sts = (
                f"max-age={sts_seconds}"
                + ("; includeSubDomains" if sts_include_subdomains else "")
                + ("; preload" if sts_preload else "")
            )
        self.sts_always = sts if force_sts_header else ""
        self.sts_on_ssl = sts
        self.public_key = "" if is_development else public_key
        fixed = [
            ("X-Frame-Options", custom_frame_options_value or ("DENY" if frame_deny else "")),
            ("X-Content-Type-Options", "nosniff" if content_type_nosniff else ""),
            ("X-XSS-Protection", custom_browser_xss_value or ("1; mode=block" if browser_xss_filter else "")),
            ("Content-Security-Policy", content_security_policy),
            ("Content-Security-Policy-Report-Only", content_security_policy_report_only),
            ("Referrer-Policy", referrer_policy),
            ("Permissions-Policy", permissions_policy),
        ]
        self.fixed = [(name, value) for name, value in fixed if value]

    def is_ssl(self, req: RequestHead) -> bool:
        if req.scheme == "https":
            return True
        # A missing header reads as "" in Go, so an sslProxyHeaders entry with an empty value matches it.
        return any((req.headers.get(name) or "") == value for name, value in self.ssl_proxy_headers.items())

    def check_host(self, req: RequestHead) -> Reply | None:
        if not self.allowed_hosts or self.is_development:
            return None
        host = req.host
        for name in self.hosts_proxy_headers:
            value = req.headers.get(name)
            if value:
                host = value
                break
        if host.lower() in self.allowed_hosts:
            return None
        return go_error(500, "Bad Host")

    def on_response(self, req: RequestHead, headers: HeaderList) -> None:
        ssl = self.is_ssl(req)
        sts = self.sts_on_ssl if ssl else self.sts_always
        if sts:
            headers.set("Strict-Transport-Security", sts)
        for name, value in self.fixed:
            headers.set(name, value)
        if self.public_key and ssl:
            headers.set("Public-Key-Pins", self.public_key)


class Headers(Middleware):
    def __init__(
        self,
        *,
        custom_request_headers: Mapping[str, str] | None = None,
        custom_response_headers: Mapping[str, str] | None = None,
        access_control_allow_credentials: bool = False,
        access_control_allow_headers: Sequence[str] = (),
        access_control_allow_methods: Sequence[str] = (),
        access_control_allow_origin_list: Sequence[str] = (),
        access_control_allow_origin_list_regex: Sequence[str] = (),
        access_control_expose_headers: Sequence[str] = (),
        access_control_max_age: int | None = None,
        add_vary_header: bool = False,
        allowed_hosts: Sequence[str] = (),
        hosts_proxy_headers: Sequence[str] = (),
        ssl_proxy_headers: Mapping[str, str] | None = None,
        sts_seconds: int | None = None,
        sts_include_subdomains: bool = False,
        sts_preload: bool = False,
        force_sts_header: bool = False,
        frame_deny: bool = False,
        custom_frame_options_value: str = "",
        content_type_nosniff: bool = False,
        browser_xss_filter: bool = False,
        custom_browser_xss_value: str = "",
        content_security_policy: str = "",
        content_security_policy_report_only: str = "",
        public_key: str = "",
        referrer_policy: str = "",
        permissions_policy: str = "",
        is_development: bool = False,
        feature_policy: str | None = None,
        ssl_redirect: bool | None = None,
        ssl_temporary_redirect: bool | None = None,
        ssl_host: str | None = None,
        ssl_force_host: bool | None = None,
    ) -> None:
        # The deprecated options do nothing in v3, but setting one still makes the config "valid".
        deprecated_set = bool(feature_policy or ssl_redirect or ssl_temporary_redirect or ssl_host or ssl_force_host)
        self.custom_request_headers = dict(custom_request_headers or {})
        # (name as configured, lower-cased, canonical, value): names are worked out once, not per request.
        self._request_edits = tuple(
            (name, name.lower(), canonical_header_key(name), value)
            for name, value in self.custom_request_headers.items()
        )
        self.custom_response_headers = [
            (canonical_header_key(name), value) for name, value in (custom_response_headers or {}).items()
        ]
        self.cors = CorsPolicy(
            allow_credentials=access_control_allow_credentials,
            allow_headers=access_control_allow_headers,
            allow_methods=access_control_allow_methods,
            allow_origin_list=access_control_allow_origin_list,
            allow_origin_list_regex=access_control_allow_origin_list_regex,
            expose_headers=access_control_expose_headers,
            max_age=access_control_max_age,
            add_vary_header=add_vary_header,
        )
        self.secure = SecurityHeaders(
            allowed_hosts=allowed_hosts,
            hosts_proxy_headers=hosts_proxy_headers,
            ssl_proxy_headers=ssl_proxy_headers or {},
            sts_seconds=sts_seconds,
            sts_include_subdomains=sts_include_subdomains,
            sts_preload=sts_preload,
            force_sts_header=force_sts_header,
            frame_deny=frame_deny,
            custom_frame_options_value=custom_frame_options_value,
            content_type_nosniff=content_type_nosniff,
            browser_xss_filter=browser_xss_filter,
            custom_browser_xss_value=custom_browser_xss_value,
            content_security_policy=content_security_policy,
            content_security_policy_report_only=content_security_policy_report_only,
            public_key=public_key,
            referrer_policy=referrer_policy,
            permissions_policy=permissions_policy,
            is_development=is_development,
        )
        has_custom = bool(self.custom_request_headers or self.custom_response_headers)
        if not (has_custom or self.cors.defined or self.secure.defined or deprecated_set):
            raise ValueError("headers: configuration not valid: no custom, CORS or security header option is set")
        # Traefik builds the custom/CORS handler only when one of those options is set.
        self.header_part = has_custom or self.cors.defined
        # Only these options touch responses (a custom-request-only config leaves them alone).
        self.has_response_hook = bool(
            self.custom_response_headers
            or self.cors.defined
            or self.secure.fixed
            or self.secure.sts_on_ssl
            or self.secure.public_key
        )
        self.edits_request_headers = bool(self.custom_request_headers)
        # A preflight answer, request edits or the allowedHosts check: anything else leaves requests alone.
        self.has_request_hook = bool(
            self._request_edits or self.cors.defined or (self.secure.allowed_hosts and not self.secure.is_development)
        )

    def _apply_request_headers(self, req: RequestHead) -> None:
        for name, lower, canonical, value in self._request_edits:
            if value == "" and name == "X-Forwarded-For":  # exact spelling, as in Traefik
                req.headers.remove(name)
                req.xff |= XFF_SUPPRESS
            elif lower == "host":
                if value == "":  # Go keeps Host out of req.Header, so deleting it changes nothing
                    continue
                req.host = value
                if "host" in req.headers:
                    req.headers.set("Host", value)
            elif value == "":
                req.headers.remove(name)
            else:
                req.headers.set(canonical, value)

    def on_request(self, req: RequestHead) -> Reply | None:
        if self.header_part:
            preflight = self.cors.preflight(req)
            if preflight is not None:
                return preflight
            self._apply_request_headers(req)
        if self.secure.defined:
            return self.secure.check_host(req)
        return None

    def on_response(self, req: RequestHead, status: int, headers: HeaderList) -> None:
        if self.secure.defined:
            self.secure.on_response(req, headers)
        if not self.header_part:
            return
        for name, value in self.custom_response_headers:
            if value == "":
                headers.remove(name)
            else:
                headers.set(name, value)
        self.cors.on_response(req, headers)
