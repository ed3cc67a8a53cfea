"""The v2 rule syntax, one table per matcher.

Ported from traefik/traefik pkg/muxer/http/matcher_v2_test.go (TestClientIPV2Matcher, TestMethodV2Matcher,
TestHostV2Matcher, TestHostRegexpV2Matcher, TestPathV2Matcher, TestPathPrefixV2Matcher, TestHeadersMatcher,
TestHeaderRegexpV2Matcher, TestHostRegexp, Test_addRoute). 200 in Go's tables is True here, 404 False.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from proxy.message import HeaderList, RequestHead
from proxy.routing import Route, RouteTable
from proxy.rules import RuleSyntaxError, compile_rule


def request(
    url: str, method: str = "GET", headers: Iterable[tuple[str, str]] = (), client_ip: str = "10.0.0.1"
) -> RequestHead:
    """A request for `scheme://host/path?query` (as test_rules_matchers.py builds them)."""
    authority, _, rest = url.split("://", 1)[1].partition("/")
    if "?" in authority:
        authority, query = authority.split("?", 1)
        rest = "?" + query
    path, qmark, query = ("/" + rest).partition("?")
    return RequestHead(
        method, path, query if qmark else None, HeaderList(list(headers)), host=authority, client_ip=client_ip
    )


def v2(rule: str):
    return compile_rule(rule, "v2")


def cases(table: dict[str, dict[str, bool]]) -> list[object]:
    return [
        pytest.param(rule, url, want, id=f"{rule}|{url}") for rule, urls in table.items() for url, want in urls.items()
    ]


INVALID = [
    # matcher_v2_test.go "invalid ..." cases and Test_addRoute's expectedError cases.
    "ClientIP(`1`)",
    "ClientIP()",
    "ClientIP(``)",
    "ClientIP(`invalid`)",
    "Method()",
    "Method(``)",
    "Host()",
    "Host(``)",
    "Host(`🦭.com`)",
    "Host(`locàlhost`)",
    "HostRegexp()",
    "HostRegexp(``)",
    "HostRegexp(`🦭.com`)",
    "HostRegexp(`locàlhost`)",
    'HostRegexp("{test")',
    "Path()",
    "Path(``)",
    "Path(`css`)",
    'Path("titi")',
    'Host("tchouk") && Path("", "/titi")',
    "PathPrefix()",
    "PathPrefix(``)",
    "PathPrefix(`css`)",
    'PathPrefix("titi")',
    "Headers()",
    "Headers(`X-Forwarded-Host`)",
    "Headers(`X-Forwarded-Host`, ``)",
    "Headers(``, `example.com`)",
    "Headers(`X-Forwarded-Host`, `example.com`, `example.org`)",
    'Headers("titi")',
    "HeaderRegexp()",  # a v3 name: unknown in v2
    "HeadersRegexp(`X-Forwarded-Host`)",
    "HeadersRegexp(`X-Forwarded-Host`, ``)",
    "HeadersRegexp(``, `example.com`)",
    "HeadersRegexp(`X-Forwarded-Host`,`(example.com`)",
    "HeadersRegexp(`X-Forwarded-Host`, `example.com`, `example.org`)",
    'HeadersRegexp("titi")',
    'Query("titi")',
    'Query("titi={test")',
    "",
    "rulewithnotmatcher",
    "Host(tchouk)",
    'Host("tchouk") && Path()',
    "PathRegexp(`/a`)",
    "QueryRegexp(`a`, `b`)",  # v3-only matchers
]


@pytest.mark.parametrize("rule", INVALID)
def test_invalid_v2_rules(rule):
    with pytest.raises(RuleSyntaxError):
        v2(rule)


CLIENT_IP = {
    "ClientIP(`127.0.0.1`, `192.168.1.0/24`)": {"127.0.0.1": True, "192.168.1.1": True, "10.0.0.1": False},
    "ClientIP(`127.0.0.1`)": {"127.0.0.1": True, "192.168.1.1": False, "1": False},
    "ClientIP(`192.168.1.0/24`)": {"192.168.1.1": True, "192.168.1.100": True, "192.168.2.1": False},
    "ClientIP(`10.0.0.0`)": {"10.0.0.0:8456": True},
    "ClientIP(`10::10`)": {"10::10": True, "::1": False},
    "ClientIP(`10.0.0.1`, `10.0.0.0`)": {"10.0.0.0": True},
    "ClientIP(`11.0.0.0/24`)": {"10.0.0.0": False},
    "ClientIP(`11::/16`)": {"10::": False},
    "ClientIP(`10::/16`)": {"10::10": True},
    "ClientIP(`11.0.0.0/16`, `10.0.0.0/16`)": {"10.0.0.0": True},
    "ClientIP(`11.0.0.0/16`, `10.0.0.0`)": {"10.0.0.0": True},
    "ClientIP(`11.0.0.0`, `10.0.0.0/16`)": {"10.0.0.0": True},
}


@pytest.mark.parametrize(("rule", "remote", "want"), cases(CLIENT_IP))
def test_client_ip(rule, remote, want):
    assert v2(rule).match(request("https://example.com", client_ip=remote)) is want


METHOD = {
    "Method(`GET`, `POST`)": {"GET": True, "POST": True, "PUT": False},
    "Method(`GET`)": {"GET": True, "POST": False, "get": False},
    "Method(`get`)": {"GET": True, "POST": False, "get": False},
}


@pytest.mark.parametrize(("rule", "method", "want"), cases(METHOD))
def test_method(rule, method, want):
    assert v2(rule).match(request("https://example.com", method=method)) is want


HOST = {
    "Host(`example.com`, `example.org`)": {
        "https://example.com": True,
        "https://example.com:8080": True,
        "https://example.com/path": True,
        "https://EXAMPLE.COM/path": True,
        "https://example.org": True,
        "https://example.org/path": True,
        "https://example.net": False,
    },
    "Host(`example.com`)": {
        "https://example.com": True,
        "https://example.com:8080": True,
        "https://EXAMPLE.COM/path": True,
        "https://example.org": False,
        "https://example.com.": True,
        "https://example.org.": False,
    },
    "Host(`example.com.`)": {"https://example.com": True, "https://example.com.": True, "https://example.org.": False},
    "Host(`EXAMPLE.COM`)": {"https://example.com": True, "https://example.org": False},
    "Host(`xn--9t9h.com`)": {"https://xn--9t9h.com": True, "https://example.com": False},
    "HostHeader(`localhost`)": {"http://localhost/foo": True, "http://bar/foo": False},
    "Host(`127.0.0.1`)": {"http://127.0.0.1/foo": True},
    "Host(`10::10`)": {"http://[10::10]/foo": True},
    "Host(`nope,localhost`) && PathPrefix(`/bar`)": {"http://localhost/foo": False},
    "Host(`nope`,`localhost`) && PathPrefix(`/foo`)": {"http://localhost/foo": True, "http://nope/foo": True},
}


@pytest.mark.parametrize(("rule", "url", "want"), cases(HOST))
def test_host(rule, url, want):
    assert v2(rule).match(request(url)) is want


HOST_REGEXP = {
    "HostRegexp(`(example.com`)": {  # "This is weird": a literal template that matches nothing
        "https://example.com": False,
        "https://example.com:8080": False,
        "https://example.org": False,
    },
    "HostRegexp(`example.com`, `example.org`)": {
        "https://example.com": True,
        "https://example.com:8080": True,
        "https://example.org/path": True,
        "https://exampleXcom": False,
    },
    "HostRegexp(`^[A-Z]+\\.com$`)": {"https://example.com": False, "https://EXAMPLE.com": False},
    "HostRegexp(`{domain:[a-zA-Z-]+\\.com}`)": {
        "https://example.com": True,
        "https://example.com/path": True,
        "https://example.org": False,
    },
    # TestHostRegexp
    "HostRegexp(`{subdomain:(foo\\.)?bar\\.com}`)": {
        "http://foo.bar.com": True,
        "http://bar.com": True,
        "http://fooubar.com": False,
        "http://barucom": False,
        "http://barcom": False,
    },
    "HostRegexp(`{subdomain:(?:foo\\.)?bar\\.com}`)": {
        "http://foo.bar.com": True,
        "http://bar.com": True,
        "http://fooubar.com": False,
    },
    "HostRegexp(`{dummy:[A-Za-z-]+\\.bar\\.com}`)": {
        "http://FOO.bar.com": True,
        "http://foo.bar.com": True,
        "http://fooubar.com": False,
    },
    "HostRegexp(`{dummy:[a-z-]+\\.bar\\.com}`)": {
        "http://FOO.bar.com": True,
        "http://foo.bar.com": True,
        "http://barcom": False,
    },
    "HostRegexp(`foo.bar.com`)": {"http://FOO.bar.com": True, "http://foo.bar.com": True, "http://fooubar.com": False},
    # The example: a placeholder with the default and an explicit pattern.
    "HostRegexp(`{sub:[a-z]+}.example.com`)": {
        "http://api.example.com": True,
        "http://api.example.com:8443": True,
        "http://a1.example.com": False,
        "http://example.com": False,
        "http://a.b.example.com": False,
    },
    "HostRegexp(`{sub}.example.com`)": {"http://a-1.example.com": True, "http://a.b.example.com": False},
}


@pytest.mark.parametrize(("rule", "url", "want"), cases(HOST_REGEXP))
def test_host_regexp(rule, url, want):
    assert v2(rule).match(request(url)) is want


PATH = {
    "Path(`/css`, `/js`)": {
        "https://example.com": False,
        "https://example.com/html": False,
        "https://example.org/css": True,
        "https://example.com/css": True,
        "https://example.com/css/": False,
        "https://example.com/css/main.css": False,
        "https://example.com/js": True,
        "https://example.com/js/main.js": False,
    },
    "Path(`/css`)": {"https://example.com/css": True, "https://example.com/css/": False},
    "Path(`/css{path:(/.*)?}`)": {
        "https://example.com": False,
        "https://example.com/css/main.css": True,
        "https://example.com/css/components/component.css": True,
        "https://example.com/css.css": False,
        "https://example.com/js/main.js": False,
    },
    "Path(`/user/{id:[0-9]+}`)": {"http://a/user/42": True, "http://a/user/x": False, "http://a/user/42/": False},
    "Path(`/user/{name}`)": {"http://a/user/bob": True, "http://a/user/bob/x": False},
    "Path(`/foo bar`)": {"http://a/foo%20bar": True},  # the routing path decodes unreserved escapes
    "Path(`/café/{id:[0-9]+}`)": {"http://a/caf%C3%A9/1": True, "http://a/cafe/1": False},
}


@pytest.mark.parametrize(("rule", "url", "want"), cases(PATH))
def test_path(rule, url, want):
    assert v2(rule).match(request(url)) is want


PATH_PREFIX = {
    "PathPrefix(`/css`, `/js`)": {
        "https://example.com": False,
        "https://example.com/html": False,
        "https://example.org/css": True,
        "https://example.com/css/": True,
        "https://example.com/css/main.css": True,
        "https://example.com/js/": True,
        "https://example.com/js/main.js": True,
    },
    'PathPrefix("/css")': {"https://example.com/css": True, "https://example.com/html": False},
    "PathPrefix(`/css-{name:[0-9]?}`)": {
        "https://example.com": False,
        "https://example.com/css-1/main.css": True,
        "https://example.org/css-222/main.css": True,
        "https://example.com/css-333333/components/component.css": True,
        "https://example.com/css.css": False,
        "https://example.com/js/main.js": False,
    },
    "PathPrefix(`/api/{version:v[0-9]+}/`)": {"http://a/api/v2/users": True, "http://a/api/x/users": False},
}


@pytest.mark.parametrize(("rule", "url", "want"), cases(PATH_PREFIX))
def test_path_prefix(rule, url, want):
    assert v2(rule).match(request(url)) is want


HEADERS = {
    "Headers(`X-Forwarded-Proto`, `https`)": {
        "X-Forwarded-Proto=https": True,
        "X-Forwarded-Proto=http,https": True,
        "X-Forwarded-Proto=https,http": True,
        "X-Forwarded-Host=example.com": False,
    },
    "Headers(`x-forwarded-proto`, `https`)": {"X-Forwarded-Proto=https": True, "X-Forwarded-Proto=http": False},
    "Headers(`Content-Type`,`application/json`)": {"Content-Type=application/json": True},
    "Headers(`Content-Type`,`application/foo`)": {"Content-Type=application/json": False},
    "Headers(`A`, `1`, `B`, `2`)": {"A=1;B=2": True, "A=1": False},  # pairs add up
    "HeadersRegexp(`X-Forwarded-Proto`, `^https?$`)": {
        "X-Forwarded-Proto=http": True,
        "X-Forwarded-Proto=https": True,
        "X-Forwarded-Proto=HTTPS": False,
        "X-Forwarded-Proto=ws,https": True,
        "X-Forwarded-Host=example.com": False,
    },
    "HeadersRegexp(`x-forwarded-proto`, `^https?$`)": {"X-Forwarded-Proto=http": True},
    "HeadersRegexp(`X-Forwarded-Proto`, `http{secure:s?}`)": {  # no placeholders here: a plain regexp
        "X-Forwarded-Proto=http": False,
        "X-Forwarded-Proto=https": False,
        "X-Forwarded-Proto=http{secure:}": True,
        "X-Forwarded-Proto=HTTP{secure:}": False,
        "X-Forwarded-Proto=http{secure:s}": True,
        "X-Forwarded-Proto=http{secure:S}": False,
        "X-Forwarded-Proto=ws,http{secure:s}": True,
    },
    "HeadersRegexp(`Content-Type`, `application/(text|json)`)": {
        "Content-Type=application/json": True,
        "Content-Type=application/foo": False,
        "Content-Type=application/text": True,
    },
    "Headers(`Host`, `example.com`)": {"Host=example.com": False},  # Go keeps Host out of the header map
}


def _headers(spec: str) -> list[tuple[str, str]]:
    out = []
    for part in spec.split(";"):
        name, _, values = part.partition("=")
        out += [(name, value) for value in values.split(",")]
    return out


@pytest.mark.parametrize(("rule", "spec", "want"), cases(HEADERS))
def test_headers(rule, spec, want):
    assert v2(rule).match(request("https://example.com", headers=_headers(spec))) is want


QUERY = {
    "Query(`foo=bar`, `bar=baz`)": {
        "http://localhost/foo?foo=bar&bar=baz": True,
        "http://localhost/foo?bar=baz": False,
    },
    "Query(`foo=b=ar`)": {"http://localhost/foo?foo=b=ar": True, "http://localhost/foo?foo=bar": False},
    "Query(`foo=`)": {"http://a/?foo=x": True, "http://a/?foo": True, "http://a/?bar=x": False},
    "Query(`id={id:[0-9]+}`)": {"http://a/?id=12": True, "http://a/?id=x": False},
    "Query(`a=1`)": {"http://a/?a=2&a=1": False, "http://a/?a=1&a=2": True},  # the first value counts
    "Query(`q=a b`)": {"http://a/?q=a+b": True, "http://a/?q=a%20b": True},
    "Query(`q=é{rest:.*}`)": {"http://a/?q=%C3%A9t%C3%A9": True, "http://a/?q=e": False},
}


@pytest.mark.parametrize(("rule", "url", "want"), cases(QUERY))
def test_query(rule, url, want):
    assert v2(rule).match(request(url)) is want


OPERATORS = {  # Test_addRoute
    'Path("/a") && Host("plop")': {"http://plop/a": True, "http://plopi/a": False},
    'Host("tchouk") || Host("pouet")': {"http://tchouk/toto": True, "http://pouet/a": True, "http://plopi/a": False},
    'Host("tchouk") || Host("pouet") && Path("/powpow")': {
        "http://tchouk/toto": True,
        "http://tchouk/powpow": True,
        "http://pouet/powpow": True,
        "http://pouet/toto": False,
        "http://plopi/a": False,
    },
    '(Host("tchouk") || Host("pouet")) && Path("/powpow")': {
        "http://tchouk/toto": False,
        "http://tchouk/powpow": True,
        "http://pouet/powpow": True,
    },
    'Host("tchouk","pouet") && Path("/powpow", "/titi")': {
        "http://tchouk/toto": False,
        "http://tchouk/powpow": True,
        "http://pouet/powpow": True,
        "http://tchouk/titi": True,
        "http://pouet/titi": True,
        "http://pouet/toto": False,
        "http://plopi/a": False,
    },
    '(HOST("tchouk") && PATHPREFIX("/titi"))': {"http://tchouk/titi": True, "http://tchouk/powpow": False},
    '(host("tchouk") && pathprefix("/titi"))': {"http://tchouk/titi": True, "http://tchouk/powpow": False},
    '(Host("tchouk") && Pathprefix("/titi"))': {"http://tchouk/titi": True, "http://tchouk/powpow": False},
    '!Host("tchouk")': {"http://tchouk/titi": False, "http://test/powpow": True},
    '!(Host("tchouk") && !Path("/titi"))': {
        "http://tchouk/titi": True,
        "http://toto/titi": True,
        "http://tchouk/toto": False,
    },
    '!(Host("tchouk","pouet") && Path("/powpow", "/titi"))': {
        "http://tchouk/toto": True,
        "http://tchouk/powpow": False,
        "http://pouet/titi": False,
        "http://plopi/a": True,
    },
}


@pytest.mark.parametrize(("rule", "url", "want"), cases(OPERATORS))
def test_operators(rule, url, want):
    assert v2(rule).match(request(url)) is want


@pytest.mark.parametrize(
    ("rule", "url"),
    [
        pytest.param("Host(`a.test`, `b.test`)", "http://b.test/", id="second-host"),
        pytest.param("Path(`/x`, `/y/{id}`)", "http://h/y/7", id="second-path-template"),
        pytest.param("PathPrefix(`/api-{v:[0-9]}`)", "http://h/api-2/x", id="prefix-template"),
        pytest.param("Host(`A.test.`) && PathPrefix(`/p`)", "http://a.test/p", id="dot-and-case"),
    ],
)
def test_indexed_table_finds_v2_routes(rule, url):
    """The route table's host and path-prefix index must never hide a v2 route that matches."""
    filler = [
        Route(f"r{i}@file", 1, compile_rule(f"Host(`h{i}.test`) && PathPrefix(`/q{i}`)"), None) for i in range(10)
    ]
    table = RouteTable([*filler, Route("v2@file", 100, v2(rule), None)])
    found = table.match(request(url))
    assert found is not None and found.name == "v2@file"


def test_v3_is_the_default_and_v2_names_are_unknown_there():
    with pytest.raises(RuleSyntaxError):
        compile_rule("Host(`a`, `b`)")
    with pytest.raises(RuleSyntaxError):
        compile_rule("Headers(`a`, `b`)")
    assert compile_rule("Host(`a`, `b`)", "v2").match(request("http://b/"))
