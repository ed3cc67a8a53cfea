"""What matchers read from a request: canonical host, routing path, query.

Routing path cases from traefik/traefik pkg/muxer/http/mux_test.go (TestRoutingPath) plus Go URL
EscapedPath behaviour; host cases from pkg/middlewares/requestdecorator (parseHost, CanonicalDomain);
query cases per Go's url.ParseQuery.
"""

from __future__ import annotations

import pytest

from proxy.rules.request_view import canonical_host, parse_query, routing_path


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        pytest.param("/foo%20bar", "/foo bar", id="unallowed-escape-decoded"),
        pytest.param("/foo%2Fbar", "/foo%2Fbar", id="reserved-escape-kept"),
        pytest.param("/foo%20bar%2Fbaz%23qux", "/foo bar%2Fbaz%23qux", id="mixed"),
        pytest.param("/foo%2fbar", "/foo%2Fbar", id="reserved-escape-upper-cased"),
        pytest.param("/%41%7e%25", "/A~%25", id="unreserved-decoded-percent-kept"),
        pytest.param("/a(b)", "/a(b)", id="sub-delims-stay"),
        pytest.param("/a%2Fb|", "/a/b|", id="go-re-escapes-when-path-holds-a-bad-byte"),
        pytest.param("/x(|", "/x%28|", id="re-escape-encodes-parens"),
        pytest.param("/caf\xc3\xa9", "/caf\xc3\xa9", id="raw-utf8-bytes"),
        pytest.param("/bad%zz", None, id="bad-escape"),
        pytest.param("/bad%2", None, id="truncated-escape"),
        pytest.param("*", "*", id="asterisk"),
    ],
)
def test_routing_path(raw: str, want: str | None) -> None:
    assert routing_path(raw) == want


@pytest.mark.parametrize(
    ("header", "want"),
    [
        pytest.param("Example.COM", "example.com", id="lower-cased"),
        pytest.param("example.com:8080", "example.com", id="port-dropped"),
        pytest.param("[::1]:8080", "::1", id="ipv6-with-port"),
        pytest.param("[::1]", "::1", id="ipv6-brackets-dropped"),
        pytest.param("::1", "::1", id="bare-ipv6"),
        pytest.param("[::1]:80:90", "[::1]:80:90", id="unsplittable-kept"),
        pytest.param("example.com:", "example.com", id="empty-port"),
        pytest.param("example.com.", "example.com.", id="trailing-dot-kept"),
        pytest.param("", "", id="absent"),
    ],
)
def test_canonical_host(header: str, want: str) -> None:
    assert canonical_host(header) == want


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        pytest.param(None, {}, id="no-query"),
        pytest.param("", {}, id="empty"),
        pytest.param("a=1&a=2&b", {"a": ["1", "2"], "b": [""]}, id="repeats-and-key-only"),
        pytest.param("a=x+y%21", {"a": ["x y!"]}, id="plus-and-escape"),
        pytest.param("a=%zz&b=1", {"b": ["1"]}, id="bad-escape-pair-dropped"),
        pytest.param("a=1;b=2", {"a": ["1"], "b": ["2"]}, id="semicolon-separates"),
        pytest.param("&&=v&k=", {"": ["v"], "k": [""]}, id="empty-pairs-skipped"),
        pytest.param("k=a=b", {"k": ["a=b"]}, id="first-equals-splits"),
    ],
)
def test_parse_query(raw: str | None, want: dict[str, list[str]]) -> None:
    assert parse_query(raw) == want
