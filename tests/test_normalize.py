"""Request-target normalisation at the entry point (proxy.normalize).

Cases ported from traefik/traefik pkg/server/server_entrypoint_tcp_test.go (TestSanitizePath,
TestNormalizePath, TestNormalizePath_malformedPercentEncoding, TestPathOperations, Test_denyFragment),
integration/simple_test.go (TestEncodeSemicolons, TestDenyFragment, TestSanitizePath,
TestEncodedCharactersDifferentEntryPoints), pkg/server/router/deny_test.go, and Go's
net/url ParseRequestURI / EscapedPath behaviour; plus conformance cases of category pathNormalization.
"""

from __future__ import annotations

import pytest

from proxy.message import HeaderList
from proxy.normalize import (
    BadRequest,
    PathOptions,
    check_request_headers,
    denied_encoded_character,
    escaped_path,
    fix_pragma_cache_control,
    parse_request_target,
    parse_target,
    sanitize_path,
)

DEFAULT = PathOptions()
NO_SANITIZE = PathOptions(sanitize_path=False)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # conformance (pkg/server/server_entrypoint_tcp_test.go)
        pytest.param("/a/../b", ("/b", None), id="conformance-norm-dotdot-removed"),
        # conformance (pkg/proxy/httputil/proxy.go)
        pytest.param("/p?a=1;b=2", ("/p", "a=1&b=2"), id="conformance-norm-query-semicolon-becomes-ampersand"),
    ],
)
def test_conformance_path_normalization(raw: str, expected: tuple[str, str | None]) -> None:
    assert parse_target(raw, DEFAULT) == expected


# TestSanitizePath: URL.JoinPath() = path.Clean with one trailing slash kept.
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/b", "/b"),
        ("/b/", "/b/"),
        ("/../../b/", "/b/"),
        ("/../../b", "/b"),
        ("/a/b/..", "/a"),
        ("/a/b/../", "/a/"),
        ("/a/../../b", "/b"),
        ("/..///b///", "/b/"),
        ("/a/../b", "/b"),
        ("/a/./b", "/a/b"),
        ("/a//b", "/a/b"),
        ("/a/../c/../b", "/b"),
        ("/a/../../../c/../b", "/b"),
        ("/a/../c/../../b", "/b"),
        ("/a/..//c/.././b", "/b"),
        pytest.param("/", "/", id="root-kept"),
        pytest.param("//", "/", id="double-slash-root"),
        pytest.param("/..", "/", id="dotdot-beyond-root"),
        pytest.param("/.", "/", id="dot-at-root"),
        pytest.param("/a/.", "/a", id="trailing-dot-no-slash"),
        pytest.param("/a/./", "/a/", id="trailing-dot-slash"),
        pytest.param("/a/...", "/a/...", id="three-dots-is-a-name"),
        pytest.param("/a/%2E%2E/b", "/a/%2E%2E/b", id="clean-works-on-escaped-path-only"),
        pytest.param("*", "*", id="asterisk-kept"),
        pytest.param("", "/", id="empty-becomes-root"),
    ],
)
def test_sanitize_path(path: str, expected: str) -> None:
    assert sanitize_path(path) == expected


# TestPathOperations: normalizePath then sanitizePath through the whole entry point (expected escaped path).
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("/a/../b/%41%42%43//%2f/", "/b/ABC/%2F/", id="normalize-and-sanitize"),
        pytest.param("/../../b/", "/b/", id="traversal-attempt"),
        pytest.param("/a/../../b/../c/", "/c/", id="multiple-traversal"),
        pytest.param("/a/../b/./c/../d/", "/b/d/", id="mixed-traversal"),
        pytest.param("/a/b/../", "/a/", id="trailing-slash-and-traversal"),
        pytest.param("/a/%2E%2E/%2E%2E/b/", "/b/", id="encoded-dots-decoded-then-cleaned"),
        pytest.param("/a/%2e%2e/%2e%2e/b/", "/b/", id="lowercase-encoded-dots-decoded-then-cleaned"),
        pytest.param("/a/%252E%252E/%252E%252E/b/", "/a/%252E%252E/%252E%252E/b/", id="over-encoded-dots-kept"),
        pytest.param("/foo%20bar", "/foo%20bar", id="encoded-space-kept"),
        pytest.param("/foo%2Fbar", "/foo%2Fbar", id="encoded-slash-kept"),
        pytest.param("/foo%20%2Fbar", "/foo%20%2Fbar", id="encoded-space-and-slash-kept"),
        pytest.param("/a/..%2Fb/", "/a/..%2Fb/", id="dotdot-glued-to-encoded-slash-is-one-segment"),
        # integration TestSanitizePath
        pytest.param("/without/../with", "/with", id="implicit-route-via-dotdot"),
        pytest.param("/without/%2E%2E/with", "/with", id="implicit-route-via-encoded-dotdot"),
        pytest.param("/%77ith", "/with", id="encoded-unreserved-letter-decoded"),
        pytest.param("//foo/bar", "/foo/bar", id="origin-form-double-slash-is-path-not-authority"),
    ],
)
def test_path_operations(raw: str, expected: str) -> None:
    assert parse_target(raw, DEFAULT)[0] == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("/without/../with", "/without/../with", id="dotdot-kept"),
        pytest.param("/a//b/./c", "/a//b/./c", id="double-slash-and-dot-kept"),
        pytest.param("/a/%2e%2E/b", "/a/../b", id="encoded-dots-still-normalized"),
        pytest.param("/%7e%7A", "/~z", id="unreserved-decoded"),
    ],
)
def test_sanitize_path_disabled(raw: str, expected: str) -> None:
    assert parse_target(raw, NO_SANITIZE)[0] == expected


def test_normalize_path_table_of_traefik() -> None:
    """TestNormalizePath: unreserved %XX decoded, reserved kept upper-cased, others upper-cased."""
    unreserved = [f"%{ord(c):02X}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"]
    reserved = [
        "%3A",
        "%2F",
        "%3F",
        "%23",
        "%5B",
        "%5D",
        "%40",
        "%21",
        "%24",
        "%26",
        "%27",
        "%28",
        "%29",
        "%2A",
        "%2B",
        "%2C",
        "%3B",
        "%3D",
        "%25",
    ]
    raw = "/" + "".join(unreserved) + "".join(reserved) + "%0a"
    expected = "/ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~" + "".join(reserved) + "%0A"
    assert escaped_path(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("/a%3fb", "/a%3Fb", id="hex-upper-cased"),
        pytest.param("/a!$&'()*+,;=:@[]b", "/a!$&'()*+,;=:@[]b", id="sub-delims-kept-raw"),
        pytest.param("/a\u00fcb", "/a%FCb", id="non-ascii-byte-percent-encoded"),
        pytest.param("/\u00c3\u00bc", "/%C3%BC", id="utf8-bytes-percent-encoded"),
        pytest.param("/a|b", "/a%7Cb", id="pipe-encoded"),
        pytest.param('/a"b', "/a%22b", id="double-quote-encoded"),
        pytest.param("/a\\b", "/a%5Cb", id="backslash-encoded"),
        pytest.param("/a{b}^`", "/a%7Bb%7D%5E%60", id="braces-caret-backtick-encoded"),
        # Go re-escapes the decoded path as a whole once one raw char needs escaping: %2F is lost.
        pytest.param("/a%2Fb|c", "/a/b%7Cc", id="go-reescape-decodes-encoded-slash"),
        pytest.param("/a(b)|", "/a%28b%29%7C", id="go-reescape-encodes-sub-delims"),
        pytest.param("/a+b", "/a+b", id="plus-kept"),
    ],
)
def test_escaped_path_mirrors_go(raw: str, expected: str) -> None:
    assert escaped_path(raw) == expected


@pytest.mark.parametrize(
    ("raw", "options", "expected"),
    [
        pytest.param("/?bar=toto;boo=titi", DEFAULT, "bar=toto&boo=titi", id="semicolon-to-ampersand-by-default"),
        pytest.param(
            "/?bar=toto&boo=titi;aaaa",
            PathOptions(encode_query_semicolons=True),
            "bar=toto&boo=titi%3Baaaa",
            id="encodeQuerySemicolons-percent-encodes",
        ),
        pytest.param("/p?", DEFAULT, "", id="empty-query-kept-as-force-query"),
        pytest.param("/p??", DEFAULT, "?", id="second-question-mark-in-query"),
        pytest.param("/p?a=%zz", DEFAULT, "a=%zz", id="invalid-escape-in-query-kept"),
        pytest.param("/p?a#b", DEFAULT, "a#b", id="hash-in-query-kept"),
        pytest.param("/p?a=\u00fc", DEFAULT, "a=\u00fc", id="non-ascii-query-kept-raw"),
        pytest.param("/p?a=1%3Bb", DEFAULT, "a=1%3Bb", id="encoded-semicolon-untouched"),
        pytest.param("/p", DEFAULT, None, id="no-query"),
    ],
)
def test_query(raw: str, options: PathOptions, expected: str | None) -> None:
    assert parse_target(raw, options)[1] == expected


@pytest.mark.parametrize(
    ("raw", "path", "query", "authority"),
    [
        pytest.param("http://example.com/a/../b?x=1", "/b", "x=1", "example.com", id="absolute-form"),
        pytest.param("HTTP://Example.com:8080/x", "/x", None, "Example.com:8080", id="absolute-form-case-kept"),
        pytest.param("http://example.com", "/", None, "example.com", id="absolute-form-empty-path"),
        pytest.param("http://example.com?q", "/", "q", "example.com", id="absolute-form-query-only"),
        pytest.param("https://user:pw@example.com/x", "/x", None, "example.com", id="userinfo-dropped"),
        pytest.param("http://[::1]:80/x", "/x", None, "[::1]:80", id="ipv6-literal"),
        pytest.param("http:///x", "/x", None, None, id="empty-authority-keeps-host-header"),
        pytest.param("http:/x", "/x", None, None, id="scheme-without-authority"),
        pytest.param("*", "*", None, None, id="asterisk-form"),
    ],
)
def test_request_target_forms(raw: str, path: str, query: str | None, authority: str | None) -> None:
    assert parse_request_target(raw, DEFAULT) == (path, query, authority)


def test_connect_authority_form() -> None:
    assert parse_request_target("example.com:443", DEFAULT, method="CONNECT") == ("/", None, "example.com:443")


@pytest.mark.parametrize(
    ("raw", "go_error"),
    [
        pytest.param("/#", False, id="denyFragment-hash"),
        pytest.param("/a#b", False, id="denyFragment-hash-in-path"),
        pytest.param("/#/?bar=toto;boo=titi", False, id="integration-TestDenyFragment"),
        pytest.param("http://host/a#b", False, id="denyFragment-absolute-form"),
        pytest.param("/%", True, id="percent-at-end"),
        pytest.param("/%f", True, id="incomplete-percent-encoding"),
        pytest.param("/%zz", True, id="invalid-hex"),
        pytest.param("/a\x00b", True, id="nul-control-char"),
        pytest.param("/a\x7fb", True, id="del-control-char"),
        pytest.param("/p?a=\x01", True, id="control-char-in-query"),
        pytest.param("", True, id="empty-target"),
        pytest.param("a/b", True, id="path-not-starting-with-slash"),
        pytest.param("?a=1", True, id="query-without-path"),
        pytest.param("*?x", True, id="asterisk-with-query"),
        pytest.param(":foo", True, id="missing-protocol-scheme"),
        pytest.param("http:foo", True, id="opaque-absolute-form-refused"),
        pytest.param("http://a:1:2/", True, id="colons-in-host"),
        pytest.param("http://::1/", True, id="unbracketed-ipv6"),
        pytest.param("http://a:b/", True, id="non-numeric-port"),
        pytest.param("http://[::1/", True, id="missing-closing-bracket"),
        pytest.param("http://[1.2.3.4]/", True, id="ipv4-in-brackets"),
        pytest.param("http://a b/", True, id="space-in-host"),
        pytest.param("http://a%41/", True, id="ascii-percent-escape-in-host"),
        pytest.param("http://us er@a/", True, id="invalid-userinfo"),
        pytest.param("http://host/%zz", True, id="invalid-escape-absolute-form"),
    ],
)
def test_bad_request(raw: str, go_error: bool) -> None:
    with pytest.raises(BadRequest) as info:
        parse_request_target(raw, DEFAULT)
    assert info.value.status == 400
    # Go's server answers its parse errors itself (text body, connection closed); Traefik's denyFragment
    # writes an empty 400.
    assert info.value.close is go_error
    assert (info.value.body == b"400 Bad Request") is go_error


@pytest.mark.parametrize(
    ("path", "options", "expected"),
    [
        pytest.param("/path%2Fwith%2Fslash", PathOptions(allow_encoded_slash=False), "%2F", id="strict-slash-refused"),
        pytest.param("/path%2Fwith%2Fslash", DEFAULT, None, id="defaults-allow-everything"),
        pytest.param("/regular/path", PathOptions(allow_encoded_slash=False), None, id="regular-path-ok"),
        pytest.param("/a%5Cb", PathOptions(allow_encoded_back_slash=False), "%5C", id="backslash"),
        pytest.param("/a%00b", PathOptions(allow_encoded_null_character=False), "%00", id="null"),
        pytest.param("/a%3Bb", PathOptions(allow_encoded_semicolon=False), "%3B", id="semicolon"),
        pytest.param("/a%25b", PathOptions(allow_encoded_percent=False), "%25", id="percent"),
        pytest.param("/a%3Fb", PathOptions(allow_encoded_question_mark=False), "%3F", id="question-mark"),
        pytest.param("/a%23b", PathOptions(allow_encoded_hash=False), "%23", id="hash"),
        pytest.param("/a%252Fb", PathOptions(allow_encoded_slash=False), None, id="double-encoded-slash-is-percent"),
        pytest.param("/foo%20bar", PathOptions(allow_encoded_slash=False), None, id="space-allowed"),
    ],
)
def test_denied_encoded_characters(path: str, options: PathOptions, expected: str | None) -> None:
    assert denied_encoded_character(path, options) == expected


def test_denied_encoded_character_after_normalisation() -> None:
    """The router check sees the normalised path: %2f arrives upper-cased."""
    strict = PathOptions(allow_encoded_slash=False)
    path = parse_target("/a%2fb", strict)[0]
    assert path == "/a%2Fb"
    assert denied_encoded_character(path, strict) == "%2F"


@pytest.mark.parametrize(
    ("version", "method", "headers", "message"),
    [
        pytest.param("1.1", "GET", [], "missing required Host header", id="missing-host-http11"),
        pytest.param("1.1", "GET", [("Host", "a"), ("Host", "b")], "too many Host headers", id="two-hosts"),
        pytest.param("1.0", "GET", [("Host", "a"), ("host", "b")], "too many Host headers", id="two-hosts-http10"),
        pytest.param("1.1", "GET", [("Host", "a b")], "malformed Host header", id="space-in-host"),
        pytest.param("1.1", "GET", [("Host", "a/b")], "malformed Host header", id="slash-in-host"),
        pytest.param("1.1", "GET", [("Host", "a"), ("X-A", "b\x01")], "invalid header value", id="ctl-in-value"),
        pytest.param("1.1", "GET", [("Host", "a"), ("X A", "b")], "invalid header name", id="space-in-name"),
    ],
)
def test_check_request_headers_rejects(version: str, method: str, headers: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(BadRequest) as info:
        check_request_headers(version, method, HeaderList(headers))
    assert info.value.message == message
    assert info.value.body == f"400 Bad Request: {message}".encode()


@pytest.mark.parametrize(
    ("version", "method", "headers"),
    [
        pytest.param("1.0", "GET", [], id="http10-without-host"),
        pytest.param("1.1", "CONNECT", [], id="connect-without-host"),
        pytest.param("1.1", "GET", [("Host", "")], id="empty-host-is-valid"),
        pytest.param("1.1", "GET", [("Host", "[::1]:8080")], id="ipv6-host"),
        pytest.param("1.1", "GET", [("Host", "a"), ("X-A", "tab\there")], id="tab-in-value"),
    ],
)
def test_check_request_headers_accepts(version: str, method: str, headers: list[tuple[str, str]]) -> None:
    check_request_headers(version, method, HeaderList(headers))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param([("Pragma", "no-cache")], [("Pragma", "no-cache"), ("Cache-Control", "no-cache")], id="added"),
        pytest.param(
            [("Pragma", "no-cache"), ("Cache-Control", "max-age=1")],
            [("Pragma", "no-cache"), ("Cache-Control", "max-age=1")],
            id="existing-kept",
        ),
        pytest.param([("Pragma", "No-Cache")], [("Pragma", "No-Cache")], id="exact-value-only"),
    ],
)
def test_fix_pragma_cache_control(headers: list[tuple[str, str]], expected: list[tuple[str, str]]) -> None:
    hl = HeaderList(list(headers))
    fix_pragma_cache_control(hl)
    assert hl.items == expected


def test_path_options_are_frozen() -> None:
    with pytest.raises(AttributeError):
        DEFAULT.sanitize_path = False


# The plain-target fast path must agree with the general parser wherever it applies.
FAST_PATH_SAMPLES = [
    "/",
    "/a",
    "/api/v1/app",
    "/a/b/",
    "/a-b_c.d~e",
    "/x?y=1",
    "/x?y=1;z=2",
    "/x?",
    "/$&+,;=:@",
    "/p?q=a%20b&x=%2F",
    "/a.b/c",
    "/a./b",
    "/a?#frag",
    "/é",
    "/a b",
    "/a//b",
    "/a/./b",
    "/.well-known",
]


@pytest.mark.parametrize("target", FAST_PATH_SAMPLES)
@pytest.mark.parametrize("semicolons", [False, True])
def test_fast_path_agrees_with_general_parser(target, semicolons):
    from proxy.normalize import _parse_any_target

    options = PathOptions(encode_query_semicolons=semicolons)
    try:
        general = _parse_any_target(target, options, "GET")
    except BadRequest:
        with pytest.raises(BadRequest):
            parse_request_target(target, options)
        return
    assert parse_request_target(target, options) == general
