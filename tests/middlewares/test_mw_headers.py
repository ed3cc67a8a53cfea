"""headers, ported from traefik/traefik pkg/middlewares/headers/{header,headers,secure}_test.go (+ conformance)."""

from __future__ import annotations

import pytest

from proxy.message import XFF_SUPPRESS, HeaderList, RequestHead
from proxy.middlewares import Chain, Headers


def make(
    method: str = "GET", headers: dict[str, str] | None = None, host: str = "example.org", scheme: str = "http"
) -> RequestHead:
    return RequestHead(method, "/foo", None, HeaderList(list((headers or {}).items())), host=host, scheme=scheme)


def respond(mw: Headers, req: RequestHead, upstream: dict[str, str] | None = None) -> dict[str, str]:
    """Run the request and response hooks around an upstream answering with `upstream` headers."""
    assert mw.on_request(req) is None
    headers = HeaderList(list((upstream or {}).items()))
    mw.on_response(req, 200, headers)
    return dict(headers.items)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param(
            {"X-Custom-Request-Header": "test_request"},
            [("Foo", "bar"), ("X-Custom-Request-Header", "test_request")],
            id="adds a header",
        ),
        pytest.param({"X-Forwarded-For": "", "X-Custom-Request-Header": "", "Foo": ""}, [], id="delete a header"),
        pytest.param({"Foo": "test"}, [("Foo", "test")], id="override a header"),
        pytest.param(
            {"x-script-name": "test"}, [("Foo", "bar"), ("X-Script-Name", "test")], id="name canonicalised like Go"
        ),
    ],
)
def test_custom_request_headers(config: dict[str, str], expected: list[tuple[str, str]]) -> None:
    req = make(headers={"Foo": "bar"})
    assert Headers(custom_request_headers=config).on_request(req) is None
    assert req.headers.items == expected


def test_empty_x_forwarded_for_suppresses_proxy_xff() -> None:
    req = make(headers={"X-Forwarded-For": "1.2.3.4"})
    Headers(custom_request_headers={"X-Forwarded-For": ""}).on_request(req)
    assert "X-Forwarded-For" not in req.headers
    assert req.xff == XFF_SUPPRESS  # and the forwarder sends none of its own (test_forwarded_headers)


@pytest.mark.parametrize(
    ("config", "host"),
    [
        pytest.param({}, "example.org", id="standard Host header"),
        pytest.param({"Host": "example.com"}, "example.com", id="custom Host header"),
    ],
)
def test_custom_host(config: dict[str, str], host: str) -> None:
    req = make()
    Headers(custom_request_headers=config or {"X-A": "b"}).on_request(req)
    assert req.host == host


PREFLIGHT = {
    "Access-Control-Request-Headers": "origin",
    "Access-Control-Request-Method": "GET",
    "Origin": "https://foo.bar.org",
}


@pytest.mark.parametrize(
    ("config", "request_headers", "expected"),
    [
        pytest.param(
            {
                "access_control_allow_methods": ["GET", "OPTIONS", "PUT"],
                "access_control_allow_origin_list": ["https://foo.bar.org"],
                "access_control_max_age": 600,
            },
            PREFLIGHT,
            {
                "Access-Control-Allow-Origin": "https://foo.bar.org",
                "Access-Control-Max-Age": "600",
                "Access-Control-Allow-Methods": "GET,OPTIONS,PUT",
            },
            id="Test Simple Preflight",
        ),
        pytest.param(
            {
                "access_control_allow_methods": ["GET", "OPTIONS", "PUT"],
                "access_control_allow_origin_list": ["*"],
                "access_control_max_age": 600,
            },
            PREFLIGHT,
            {
                "Access-Control-Allow-Origin": "*",
                "Access-Control-Max-Age": "600",
                "Access-Control-Allow-Methods": "GET,OPTIONS,PUT",
            },
            id="Wildcard origin Preflight",
        ),
        pytest.param(
            {
                "access_control_allow_methods": ["GET", "OPTIONS", "PUT"],
                "access_control_allow_origin_list": ["*"],
                "access_control_allow_credentials": True,
                "access_control_max_age": 600,
            },
            PREFLIGHT,
            {
                "Access-Control-Allow-Origin": "https://foo.bar.org",
                "Access-Control-Max-Age": "600",
                "Access-Control-Allow-Methods": "GET,OPTIONS,PUT",
                "Access-Control-Allow-Credentials": "true",
            },
            id="Allow Credentials Preflight",
        ),
        pytest.param(
            {
                "access_control_allow_methods": ["GET", "OPTIONS", "PUT"],
                "access_control_allow_origin_list": ["*"],
                "access_control_allow_headers": ["origin", "X-Forwarded-For"],
                "access_control_max_age": 600,
            },
            PREFLIGHT,
            {
                "Access-Control-Allow-Origin": "*",
                "Access-Control-Max-Age": "600",
                "Access-Control-Allow-Methods": "GET,OPTIONS,PUT",
                "Access-Control-Allow-Headers": "origin,X-Forwarded-For",
            },
            id="Allow Headers Preflight",
        ),
        pytest.param(
            {"access_control_allow_methods": ["GET", "OPTIONS", "PUT"], "access_control_allow_origin_list": ["*"]},
            {"Access-Control-Request-Method": "GET", "Origin": "https://foo.bar.org"},
            {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET,OPTIONS,PUT"},
            id="Nil MaxAge Preflight",
        ),
    ],
)
def test_cors_preflight(config: dict, request_headers: dict[str, str], expected: dict[str, str]) -> None:
    reply = Headers(**config).on_request(make("OPTIONS", request_headers))
    assert reply is not None and reply.status == 200 and reply.body == b""
    assert dict(reply.headers) == expected


@pytest.mark.parametrize(
    ("config", "origin", "upstream", "expected"),
    [
        pytest.param(
            {"access_control_allow_origin_list": ["https://foo.bar.org"]},
            "https://foo.bar.org",
            {},
            {"Access-Control-Allow-Origin": "https://foo.bar.org"},
            id="Test Simple Request",
        ),
        pytest.param(
            {"access_control_allow_origin_list": ["*"]},
            "https://foo.bar.org",
            {},
            {"Access-Control-Allow-Origin": "*"},
            id="Wildcard origin Request",
        ),
        pytest.param(
            {"access_control_allow_origin_list_regex": [r"^https?://([a-z]+)\.bar\.org$"]},
            "https://foo.bar.org",
            {},
            {"Access-Control-Allow-Origin": "https://foo.bar.org"},
            id="Regexp Origin Request",
        ),
        pytest.param(
            {"access_control_allow_origin_list_regex": [r"([a-z]+)\.bar"]},
            "https://foo.bar.org",
            {},
            {"Access-Control-Allow-Origin": "https://foo.bar.org"},
            id="Partial Regexp Origin Request",
        ),
        pytest.param(
            {"access_control_allow_origin_list_regex": [r"([a-z]+)\.bar\.org"]},
            "https://bar.org",
            {},
            {},
            id="Regexp Origin Request without matching",
        ),
        pytest.param(
            {"access_control_allow_origin_list": ["https://foo.bar.org"]}, None, {}, {}, id="Empty origin Request"
        ),
        pytest.param(
            {"access_control_allow_origin_list": ["*"], "access_control_allow_credentials": True},
            "https://foo.bar.org",
            {},
            {"Access-Control-Allow-Origin": "https://foo.bar.org", "Access-Control-Allow-Credentials": "true"},
            id="Allow Credentials Request",
        ),
        pytest.param(
            {"access_control_allow_origin_list": ["*"], "access_control_expose_headers": ["origin", "X-Forwarded-For"]},
            "https://foo.bar.org",
            {},
            {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "origin,X-Forwarded-For"},
            id="Expose Headers Request",
        ),
        pytest.param(
            {"access_control_allow_origin_list": ["https://foo.bar.org"], "add_vary_header": True},
            "https://foo.bar.org",
            {},
            {"Access-Control-Allow-Origin": "https://foo.bar.org", "Vary": "Origin"},
            id="Test Simple Request with Vary Headers",
        ),
        pytest.param(
            {"access_control_allow_origin_list": ["https://foo.bar.org"], "add_vary_header": True},
            "https://foo.bar.org",
            {"Vary": "Testing"},
            {"Access-Control-Allow-Origin": "https://foo.bar.org", "Vary": "Testing,Origin"},
            id="Test Simple Request with Vary Headers and non-empty response",
        ),
        pytest.param(
            {"access_control_allow_origin_list": ["https://foo.bar.org"], "add_vary_header": True},
            "https://foo.bar.org",
            {"Vary": "Origin"},
            {"Access-Control-Allow-Origin": "https://foo.bar.org", "Vary": "Origin"},
            id="Test Simple Request with Vary Headers and existing vary:origin response",
        ),
        pytest.param(
            {"access_control_allow_origin_list": ["*"]},
            "https://foo.bar.org",
            {"Access-Control-Allow-Origin": "http://foo.bar.org"},
            {"Access-Control-Allow-Origin": "*"},
            id="Test Simple Request with non-empty response: set ACAO",
        ),
        pytest.param(
            {"custom_request_headers": {"foo": "bar"}},
            "https://foo.bar.org",
            {},
            {},
            id="Test Simple CustomRequestHeaders Not Hijacked by CORS",
        ),
    ],
)
def test_cors_responses(config: dict, origin: str | None, upstream: dict[str, str], expected: dict[str, str]) -> None:
    req = make(headers={"Origin": origin} if origin else {})
    assert respond(Headers(**config), req, upstream) == expected


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        pytest.param(
            {"Testing": "foo", "Testing2": "bar"},
            {"Foo": "bar", "Testing": "foo", "Testing2": "bar"},
            id="Test Simple Response",
        ),
        pytest.param({"Testing": "foo", "Testing2": ""}, {"Foo": "bar", "Testing": "foo"}, id="empty Custom Header"),
        pytest.param({"Testing": "foo", "Foo": ""}, {"Testing": "foo"}, id="Deleting Custom Header"),
    ],
)
def test_custom_response_headers(config: dict[str, str], expected: dict[str, str]) -> None:
    assert respond(Headers(custom_response_headers=config), make(), {"Foo": "bar"}) == expected


@pytest.mark.parametrize(
    ("config", "scheme", "expected"),
    [
        pytest.param(
            {"permissions_policy": "microphone=(),"},
            "http",
            {"Permissions-Policy": "microphone=(),"},
            id="PermissionsPolicy",
        ),
        pytest.param(
            {"sts_seconds": 1, "force_sts_header": True},
            "http",
            {"Strict-Transport-Security": "max-age=1"},
            id="STSSeconds",
        ),
        pytest.param(
            {"sts_seconds": 1, "force_sts_header": True, "sts_preload": True},
            "http",
            {"Strict-Transport-Security": "max-age=1; preload"},
            id="STSSeconds and STSPreload",
        ),
        pytest.param(
            {"custom_frame_options_value": "foo"}, "http", {"X-Frame-Options": "foo"}, id="CustomFrameOptionsValue"
        ),
        pytest.param({"frame_deny": True}, "http", {"X-Frame-Options": "DENY"}, id="FrameDeny"),
        pytest.param(
            {"content_type_nosniff": True}, "http", {"X-Content-Type-Options": "nosniff"}, id="ContentTypeNosniff"
        ),
        pytest.param({"sts_seconds": 60}, "http", {}, id="no STS over plain http"),
        pytest.param(
            {"sts_seconds": 60, "sts_include_subdomains": True},
            "https",
            {"Strict-Transport-Security": "max-age=60; includeSubDomains"},
            id="STS over https",
        ),
        pytest.param(
            {"sts_seconds": 60, "ssl_proxy_headers": {"X-Forwarded-Proto": "https"}},
            "http",
            {"Strict-Transport-Security": "max-age=60"},
            id="sslProxyHeaders mark the request secure",
        ),
        pytest.param(
            {"sts_seconds": 60, "force_sts_header": True, "is_development": True},
            "https",
            {},
            id="isDevelopment drops STS",
        ),
        pytest.param(
            {
                "browser_xss_filter": True,
                "content_security_policy": "default-src 'self'",
                "referrer_policy": "no-referrer",
            },
            "http",
            {
                "X-XSS-Protection": "1; mode=block",
                "Content-Security-Policy": "default-src 'self'",
                "Referrer-Policy": "no-referrer",
            },
            id="xss csp referrer",
        ),
        pytest.param(
            {"frame_deny": True, "custom_response_headers": {"X-Frame-Options": "SAMEORIGIN"}},
            "http",
            {"X-Frame-Options": "SAMEORIGIN"},
            id="custom response header overrides security header",
        ),
    ],
)
def test_security_headers(config: dict, scheme: str, expected: dict[str, str]) -> None:
    req = make(scheme=scheme, headers={"X-Forwarded-Proto": "https"} if "ssl_proxy_headers" in config else {})
    assert respond(Headers(**config), req) == expected


def test_without_options_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="not valid"):
        Headers()


@pytest.mark.parametrize("force", [pytest.param(False, id="https"), pytest.param(True, id="forceSTSHeader")])
def test_sts_seconds_zero_is_valid(force: bool) -> None:
    """`stsSeconds: 0` is accepted (no "not valid" error) and sends no Strict-Transport-Security at all, not
    `max-age=0` (unrolled/secure adds the header only for a non-zero STSSeconds)."""
    mw = Headers(sts_seconds=0, force_sts_header=force, sts_include_subdomains=True)
    assert "Strict-Transport-Security" not in respond(mw, make(scheme="https"))


@pytest.mark.parametrize(
    ("host", "status"),
    [
        pytest.param("foo.com", None, id="Should accept the request when given a host that is in the list"),
        pytest.param("", 500, id="Should refuse the request when no host is given"),
        pytest.param("boo.com", 500, id="Should refuse the request when no matching host is given"),
        pytest.param("FOO.com", None, id="case-insensitive"),
    ],
)
def test_allowed_hosts(host: str, status: int | None) -> None:
    reply = Headers(allowed_hosts=["foo.com", "bar.com"]).on_request(make(host=host))
    assert (reply.status if reply else None) == status


def test_hosts_proxy_headers_used_for_allowed_hosts() -> None:
    mw = Headers(allowed_hosts=["foo.com"], hosts_proxy_headers=["X-Forwarded-Host"])
    assert mw.on_request(make(host="internal", headers={"X-Forwarded-Host": "foo.com"})) is None
    reply = mw.on_request(make(host="foo.com", headers={"X-Forwarded-Host": "evil.com"}))
    assert reply is not None and reply.status == 500 and reply.body == b"Bad Host\n"


def test_custom_request_and_response_together() -> None:
    # headers_test.go TestNew_customHeaders
    mw = Headers(
        custom_request_headers={"X-Custom-Request-Header": "test_request"},
        custom_response_headers={"X-Custom-Response-Header": "test_response"},
    )
    req = make()
    out = respond(mw, req)
    assert req.headers.get("X-Custom-Request-Header") == "test_request"
    assert out["X-Custom-Response-Header"] == "test_response"


@pytest.mark.parametrize(
    "options, hooked",
    [
        ({"custom_response_headers": {"X-A": "1"}}, False),
        ({"frame_deny": True}, False),
        ({"allowed_hosts": ["a.example"], "is_development": True}, False),
        ({"custom_request_headers": {"X-A": "1"}}, True),
        ({"custom_request_headers": {"X-Forwarded-For": ""}}, True),
        ({"access_control_allow_origin_list": ["*"]}, True),
        ({"allowed_hosts": ["a.example"]}, True),
    ],
    ids=[
        "response-headers-only",
        "security-headers-only",
        "allowed-hosts-in-development",
        "request-header",
        "suppress-xff",
        "cors",
        "allowed-hosts",
    ],
)
def test_request_hook_only_when_on_request_can_act(options: dict, hooked: bool) -> None:
    """The forwarder skips on_request for a headers middleware without request work; with the options
    that give it some, it must run (a skipped preflight or allowedHosts check would be a hole)."""
    assert Headers(**options).has_request_hook is hooked
    chain = Chain([Headers(custom_response_headers={"X-B": "2"}), Headers(**options)])
    assert chain.has_request_hook is hooked
