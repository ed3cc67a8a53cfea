"""Matchers, one table per matcher.

Ported from traefik/traefik pkg/muxer/http/matcher_test.go (TestClientIPMatcher, TestMethodMatcher,
TestHostMatcher, TestHostRegexpMatcher, TestPath*Matcher, TestHeader*Matcher, TestQuery*Matcher) and
pkg/muxer/http/mux_test.go (TestMuxer). Go's tests send URLs; the Host part becomes our Host header.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from proxy.message import HeaderList, RequestHead
from proxy.rules import RuleSyntaxError, compile_rule


def request(
    url: str, method: str = "GET", headers: Iterable[tuple[str, str]] = (), client_ip: str = "10.0.0.1"
) -> RequestHead:
    """A request for `https://host/path?query` (or just `/path?query`, host example.com)."""
    if "://" in url:
        authority, _, rest = url.split("://", 1)[1].partition("/")
        if "?" in authority:
            authority, query = authority.split("?", 1)
            rest = "?" + query
        target = "/" + rest
    else:
        authority, target = "example.com", url
    path, qmark, query = target.partition("?")
    return RequestHead(
        method, path, query if qmark else None, HeaderList(list(headers)), host=authority, client_ip=client_ip
    )


def cases(table: dict[str, dict[str, bool]]) -> list[object]:
    return [
        pytest.param(rule, url, want, id=f"{rule}|{url}") for rule, urls in table.items() for url, want in urls.items()
    ]


def check(rule: str, req: RequestHead, want: bool) -> None:
    assert compile_rule(rule).match(req) is want


INVALID = [
    # matcher_test.go "invalid ..." cases (arity and empty values are also in test_rules_parser.py).
    "ClientIP(`1`)",
    "ClientIP()",
    "ClientIP(``)",
    "ClientIP(`127.0.0.1`, `192.168.1.0/24`)",
    "ClientIP(`10.0.0.0/33`)",
    "ClientIP(`10.0.0.0/255.0.0.0`)",
    "ClientIP(`fe80::1%eth0`)",
    "Method()",
    "Method(``)",
    "Method(`GET`, `POST`)",
    "Host()",
    "Host(``)",
    "Host(`🦭.com`)",
    "Host(`example.com`, `example.org`)",
    "HostRegexp()",
    "HostRegexp(``)",
    "HostRegexp(`🦭.com`)",
    "HostRegexp(`(example.com`)",
    "HostRegexp(`example.com`, `example.org`)",
    "Path()",
    "Path(``)",
    "Path(`css`)",
    "Path(`/css`, `/js`)",
    "PathRegexp()",
    "PathRegexp(``)",
    "PathRegexp(`/(css`)",
    "PathRegexp(`/css`, `/js`)",
    "PathPrefix()",
    "PathPrefix(``)",
    "PathPrefix(`css`)",
    "PathPrefix(`/css`, `/js`)",
    "Header()",
    "Header(`X-Forwarded-Host`)",
    "Header(`X-Forwarded-Host`, ``)",
    "Header(``, `example.com`)",
    "Header(`X-Forwarded-Host`, `example.com`, `example.org`)",
    "HeaderRegexp()",
    "HeaderRegexp(`X-Forwarded-Host`)",
    "HeaderRegexp(`X-Forwarded-Host`, ``)",
    "HeaderRegexp(``, `example.com`)",
    "HeaderRegexp(`X-Forwarded-Host`,`(example.com`)",
    "Query()",
    "Query(``)",
    "Query(``, `traefik`)",
    "Query(`q`, ``)",
    "Query(`q`, `traefik`, `proxy`)",
    "QueryRegexp()",
    "QueryRegexp(``)",
    "QueryRegexp(`q`, `(traefik`)",
    "QueryRegexp(`q`, `traefik`, `proxy`)",
]


@pytest.mark.parametrize("rule", INVALID)
def test_invalid_rules(rule: str) -> None:
    with pytest.raises(RuleSyntaxError):
        compile_rule(rule)


def test_invalid_value_error_points_at_the_value() -> None:
    with pytest.raises(RuleSyntaxError, match=r"column 24: path 'css' does not start with a '/'"):
        compile_rule("Host(`a.test`) && Path(`css`)")


HOST = {
    "Host(`example.com`)": {
        "https://example.com": True,
        "https://example.com:8080": True,
        "https://example.com/path": True,
        "https://EXAMPLE.COM/path": True,
        "https://example.org": False,
        "https://example.org/path": False,
        "https://example.com.": True,
        "https://example.com./path": True,
        "https://example.org.": False,
    },
    "Host(`example.com.`)": {
        "https://example.com": True,
        "https://example.org": False,
        "https://example.com.": True,
        "https://example.com./path": True,
        "https://example.org.": False,
    },
    "Host(`EXAMPLE.COM`)": {"https://example.com": True, "https://example.org": False},
    "Host(`xn--9t9h.com`)": {"https://xn--9t9h.com": True, "https://example.com": False, "https://🦭.com": False},
    "Host(`*.example.com`)": {
        "https://test.example.com": True,
        "https://other.example.com": True,
        "https://example.com": False,
        "https://test.otherexample.com": False,
        "https://a.b.example.com": False,
        "https://Test.Example.com.": True,
    },
    "Host(`*`)": {"https://test.example.com": True, "https://localhost": True, "https://": True},
    # mux_test.go: IP hosts; IPv6 brackets are dropped before comparing.
    "Host(`127.0.0.1`)": {"http://127.0.0.1/foo": True, "http://127.0.0.1:8080/foo": True},
    "Host(`10::10`)": {"http://[10::10]/foo": True, "http://[10::10]:80/foo": True, "http://[10::11]/": False},
    "Host(`[10::10]`)": {"http://[10::10]/foo": False},
    # Go's SplitHostPort does not check the port: any text after the last colon goes.
    "Host(`example.net`)": {"http://example.net:/": True, "http://example.net:abc/": True, "https://": False},
}


@pytest.mark.parametrize(("rule", "url", "want"), cases(HOST))
def test_host(rule: str, url: str, want: bool) -> None:
    check(rule, request(url), want)


HOST_REGEXP = {
    "HostRegexp(`^[a-zA-Z-]+\\.com$`)": {
        "https://example.com": True,
        "https://example.com:8080": True,
        "https://example.org": False,
    },
    # The host is lower-cased before matching: an upper-case class never matches.
    "HostRegexp(`^[A-Z]+\\.com$`)": {"https://example.com": False, "https://EXAMPLE.com": False},
    "HostRegexp(`^[a-z]+\\.regex\\.test$`)": {"https://API.regex.test": True},
    "HostRegexp(`{domain:[a-zA-Z-]+\\.com}`)": {"https://example.com": False},
    "HostRegexp(`(?i)^EXAMPLE\\.(com|org)$`)": {"https://example.org": True, "https://example.net": False},
    "HostRegexp(`example\\.com`)": {"https://www.example.com.evil": True},  # unanchored, as in Go
    # Traefik also matches the regexp against the (empty) CNAME-flattened host.
    "HostRegexp(`^$`)": {"https://anything.test": True},
    "HostRegexp(`x*`)": {"https://anything.test": True},
}


@pytest.mark.parametrize(("rule", "url", "want"), cases(HOST_REGEXP))
def test_host_regexp(rule: str, url: str, want: bool) -> None:
    check(rule, request(url), want)


PATH = {
    "Path(`/css`)": {
        "https://example.com": False,
        "https://example.com/html": False,
        "https://example.org/css": True,
        "https://example.com/css": True,
        "https://example.com/css/": False,
        "https://example.com/css/main.css": False,
        "https://example.com/%63ss": True,
    },
    'PathPrefix("/css")': {
        "https://example.com": False,
        "https://example.com/html": False,
        "https://example.org/css": True,
        "https://example.com/css/": True,
        "https://example.com/css/main.css": True,
        "https://example.com/cssx": True,
    },
    "PathRegexp(`^/(css|js)`)": {
        "https://example.com": False,
        "https://example.com/html": False,
        "https://example.org/css": True,
        "https://example.com/CSS": False,
        "https://example.com/css/main.css": True,
        "https://example.com/js/": True,
    },
    'PathRegexp("/{path:(css|js)}")': {
        "https://example.org/css": False,
        "https://example.com/{path:css}": True,
        "https://example.com/%7Bpath:css%7D/": True,
        "https://example.com/%7Bpath:js%7D": True,
    },
    # Routing path: unreserved escapes decoded, reserved ones kept (mux.go withRoutingPath).
    "PathPrefix(`/foo bar`)": {"https://example.com/foo%20bar": True},
    "Path(`/a/b`)": {
        "https://example.com/a%2Fb": False,
        "https://example.com/a%2fb": False,
        "https://example.com/a/b": True,
    },
    "Path(`/a%2Fb`)": {"https://example.com/a%2Fb": True, "https://example.com/a%2fb": True},
    "PathRegexp(`^/caf.$`)": {"https://example.com/caf%C3%A9": True, "https://example.com/café": True},
    "PathRegexp(`^/x$`)": {"https://example.com/x%0A": False, "https://example.com/x": True},
    "Path(`/café`)": {"https://example.com/caf%C3%A9": True, "https://example.com/caf%c3%a9": True},
    "PathPrefix(`/`)": {"https://example.com/bad%zz": False},
}


@pytest.mark.parametrize(("rule", "url", "want"), cases(PATH))
def test_paths(rule: str, url: str, want: bool) -> None:
    req = request(url)
    if "café" in url:  # raw non-ASCII request bytes arrive latin-1 decoded
        req.path = req.path.encode("utf-8").decode("latin-1")
    check(rule, req, want)


@pytest.mark.parametrize(
    ("rule", "method", "want"),
    [
        pytest.param("Method(`GET`)", "GET", True, id="same"),
        pytest.param("Method(`GET`)", "POST", False, id="other"),
        pytest.param("Method(`GET`)", "get", False, id="request-method-is-case-sensitive"),
        pytest.param("Method(`get`)", "GET", True, id="rule-method-upper-cased"),
        pytest.param("Method(`get`)", "get", False, id="rule-lower-request-lower"),
    ],
)
def test_method(rule: str, method: str, want: bool) -> None:
    check(rule, request("/", method=method), want)


H = "X-Forwarded-Proto"
HEADERS = [
    ("Header(`X-Forwarded-Proto`, `https`)", [(H, "https")], True),
    ("Header(`X-Forwarded-Proto`, `https`)", [("x-forwarded-proto", "https")], True),
    ("Header(`X-Forwarded-Proto`, `https`)", [(H, "http"), (H, "https")], True),
    ("Header(`X-Forwarded-Proto`, `https`)", [(H, "https"), (H, "http")], True),
    ("Header(`X-Forwarded-Proto`, `https`)", [(H, "http, https")], False),
    ("Header(`X-Forwarded-Proto`, `https`)", [("X-Forwarded-Host", "example.com")], False),
    ("Header(`x-forwarded-proto`, `https`)", [(H, "https")], True),
    ("Header(`X-Env`, `prod`)", [("X-Env", "PROD")], False),
    ("Header(`Host`, `example.com`)", [("Host", "example.com")], False),  # Go keeps Host out of Header
    ("Header(`Cache-Control`, `no-cache`)", [("Pragma", "no-cache")], True),  # Go's fixPragmaCacheControl
    ("Header(`Cache-Control`, `no-cache`)", [("Pragma", "no-cache"), ("Cache-Control", "max-age=1")], False),
    ("HeaderRegexp(`X-Forwarded-Proto`, `^https?$`)", [(H, "http")], True),
    ("HeaderRegexp(`X-Forwarded-Proto`, `^https?$`)", [(H, "HTTPS")], False),
    ("HeaderRegexp(`X-Forwarded-Proto`, `^https?$`)", [(H, "ws"), (H, "https")], True),
    ("HeaderRegexp(`X-Forwarded-Proto`, `^https?$`)", [("X-Forwarded-Host", "example.com")], False),
    ("HeaderRegexp(`x-forwarded-proto`, `^https?$`)", [(H, "https")], True),
    ("HeaderRegexp(`X-Forwarded-Proto`, `http{secure:s?}`)", [(H, "https")], False),
    ("HeaderRegexp(`X-Forwarded-Proto`, `http{secure:s?}`)", [(H, "http{secure:}")], True),
    ("HeaderRegexp(`X-Forwarded-Proto`, `http{secure:s?}`)", [(H, "http{secure:s}")], True),
    ("HeaderRegexp(`X-Forwarded-Proto`, `http{secure:s?}`)", [(H, "http{secure:S}")], False),
    ("HeaderRegexp(`Content-Type`, `(?i)^application/(json|yaml)$`)", [("Content-Type", "Application/JSON")], True),
]


@pytest.mark.parametrize(
    ("rule", "headers", "want"), [pytest.param(*case, id=f"{case[0]}|{case[1]}") for case in HEADERS]
)
def test_headers(rule: str, headers: list[tuple[str, str]], want: bool) -> None:
    check(rule, request("/", headers=headers), want)


QUERY = {
    "Query(`q`, `traefik`)": {
        "https://example.com": False,
        "https://example.com?q=traefik": True,
        "https://example.com?rel=ddg&q=traefik": True,
        "https://example.com?q=traefik&q=proxy": True,
        "https://example.com?q=awesome&q=traefik": True,
        "https://example.com?q=nginx": False,
        "https://example.com?rel=ddg": False,
        "https://example.com?q=TRAEFIK": False,
        "https://example.com?Q=traefik": False,
        "https://example.com?rel=traefik": False,
        "https://example.com?q=tra%65fik": True,
        "https://example.com?q=bad%zz&q=traefik": True,
        "https://example.com?rel=1;q=traefik": True,
    },
    "Query(`mobile`)": {
        "https://example.com": False,
        "https://example.com?mobile": True,
        "https://example.com?mobile=": True,
        "https://example.com?mobile=true": False,
    },
    "Query(`q`, `a b`)": {"https://example.com?q=a+b": True, "https://example.com?q=a%20b": True},
    "QueryRegexp(`q`, `^(traefik|nginx)$`)": {
        "https://example.com": False,
        "https://example.com?q=traefik": True,
        "https://example.com?q=awesome&q=nginx": True,
        "https://example.com?q=NGINX": False,
        "https://example.com?Q=nginx": False,
        "https://example.com?q=haproxy": False,
    },
    "QueryRegexp(`q`, `^.*$`)": {
        "https://example.com": False,
        "https://example.com?q=TRAEFIK": True,
        "https://example.com?q": True,
        "https://example.com?Q=traefik": False,
    },
    "QueryRegexp(`q`, `{value:(traefik|nginx)}`)": {
        "https://example.com?q=traefik": False,
        "https://example.com?q={value:traefik}": True,
    },
    "QueryRegexp(`mobile`)": {"https://example.com?mobile": True, "https://example.com?mobile=1": False},
}


@pytest.mark.parametrize(("rule", "url", "want"), cases(QUERY))
def test_query(rule: str, url: str, want: bool) -> None:
    check(rule, request(url), want)


@pytest.mark.parametrize(
    ("rule", "client_ip", "want"),
    [
        pytest.param("ClientIP(`127.0.0.1`)", "127.0.0.1", True, id="exact"),
        pytest.param("ClientIP(`127.0.0.1`)", "192.168.1.1", False, id="exact-other"),
        pytest.param("ClientIP(`127.0.0.1`)", "1", False, id="unparsable-peer"),
        pytest.param("ClientIP(`127.0.0.1`)", "", False, id="no-peer"),
        pytest.param("ClientIP(`127.0.0.1`)", "127.0.0.1:5555", True, id="peer-with-port"),
        pytest.param("ClientIP(`192.168.1.0/24`)", "192.168.1.1", True, id="cidr"),
        pytest.param("ClientIP(`192.168.1.0/24`)", "192.168.1.100", True, id="cidr-2"),
        pytest.param("ClientIP(`192.168.1.0/24`)", "192.168.2.1", False, id="cidr-out"),
        pytest.param("ClientIP(`192.168.1.7/24`)", "192.168.1.1", True, id="cidr-host-bits-ignored"),
        pytest.param("ClientIP(`::1`)", "::1", True, id="ipv6"),
        pytest.param("ClientIP(`::1`)", "[::1]:8080", True, id="ipv6-with-port"),
        pytest.param("ClientIP(`fe80::/10`)", "fe80::1%eth0", True, id="ipv6-cidr-zone-dropped"),
        pytest.param("ClientIP(`10.0.0.0/8`)", "::ffff:10.1.2.3", True, id="v4-mapped-in-v4-cidr"),
        pytest.param("ClientIP(`1.2.3.4`)", "::ffff:1.2.3.4", True, id="v4-mapped-equals-v4"),
        pytest.param("ClientIP(`::ffff:10.0.0.0/104`)", "10.9.9.9", True, id="v4-mapped-cidr-acts-as-v4"),
        pytest.param("ClientIP(`::/0`)", "10.9.9.9", False, id="v6-cidr-never-holds-v4"),
        pytest.param("ClientIP(`0.0.0.0/0`)", "::1", False, id="v4-cidr-never-holds-v6"),
    ],
)
def test_client_ip(rule: str, client_ip: str, want: bool) -> None:
    check(rule, request("/", client_ip=client_ip), want)


def test_client_ip_ignores_x_forwarded_for() -> None:
    req = request("/", headers=[("X-Forwarded-For", "10.1.2.3")], client_ip="127.0.0.1")
    assert not compile_rule("ClientIP(`10.0.0.0/8`)").match(req)


MUXER = {
    # mux_test.go TestMuxer.
    "Host(`localhost`) && PathPrefix(`/css`)": {"https://localhost/css": True, "https://localhost/js": False},
    "Host(`example.com`) || Host(`example.org`)": {
        "https://example.com/css": True,
        "https://example.org/js": True,
        "https://example.eu/html": False,
    },
    'Host("example.com") || (Host("example.org") && Path("/css"))': {
        "https://example.com/css": True,
        "https://example.com/js": True,
        "https://example.org/css": True,
        "https://example.org/js": False,
        "https://example.eu/css": False,
    },
    'Host("example.com") || Host("example.org") && Path("/css")': {
        "https://example.com/js": True,
        "https://example.org/css": True,
        "https://example.org/js": False,
    },
    '(Host("example.com") || Host("example.org")) && Path("/css")': {
        "https://example.com/css": True,
        "https://example.com/js": False,
        "https://example.org/css": True,
        "https://example.eu/css": False,
    },
    '(Host("example.com") && Path("/js")) || ((Host("example.org")) && Path("/css"))': {
        "https://example.com/css": False,
        "https://example.com/js": True,
        "https://example.org/css": True,
        "https://example.org/js": False,
    },
    'PATHPREFIX("/css")': {"https://example.com/css": True, "https://example.com/js": False},
    'pathprefix("/css")': {"https://example.com/css": True},
    'Pathprefix("/css")': {"https://example.com/css": True},
    '!Host("example.com")': {"https://example.org": True, "https://example.com": False},
    '!(Host("example.com") || Host("example.org"))': {
        "https://example.eu/js": True,
        "https://example.com/css": False,
        "https://example.org/js": False,
    },
    '!(Host("example.com") && Path("/css"))': {
        "https://example.com/js": True,
        "https://example.eu/css": True,
        "https://example.com/css": False,
    },
    '!(Host("example.com") && !Path("/css"))': {
        "https://example.com/css": True,
        "https://example.org/css": True,
        "https://example.com/js": False,
    },
    '!Host("example.com") || !Path("/css")': {
        "https://example.com/js": True,
        "https://example.org/css": True,
        "https://example.com/css": False,
    },
    '!(!(Host("example.com") && Pathprefix("/css")))': {
        "https://example.com/css": True,
        "https://example.com/js": False,
        "https://example.org/css": False,
    },
    '!Host("example.com") && Pathprefix("/css")': {
        "https://example.org/css": True,
        "https://example.org/js": False,
        "https://example.com/css": False,
    },
}


@pytest.mark.parametrize(("rule", "url", "want"), cases(MUXER))
def test_muxer_combinations(rule: str, url: str, want: bool) -> None:
    check(rule, request(url), want)
