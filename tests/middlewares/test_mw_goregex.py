"""Go regexp / net/url helpers the middlewares rely on (behaviour of Go's regexp and net/url packages)."""

from __future__ import annotations

import pytest

from proxy.middlewares.goregex import compile_go, replace_all
from proxy.middlewares.urlpath import clean, normalize_url, parse_raw_path, request_uri_path


@pytest.mark.parametrize(("pattern", "text", "template", "expected"), [
    pytest.param("x*", "abxd", "-", "-a-b-d-", id="empty match after a match not replaced"),
    pytest.param("a(x*)", "baaxxaxb", "<${1}>", "b<><xx><x>b", id="braced group"),
    pytest.param("(?P<n>a)", "ab", "[$n]", "[a]b", id="named group"),
    pytest.param("(?<n>a)", "ab", "[$n]", "[a]b", id="Go 1.22 named group syntax"),
    pytest.param("a", "a", "$$", "$", id="dollar escape"),
    pytest.param("(a)", "a", "$1x", "", id="$1x is group 1x"),
    pytest.param("(a)", "a", "$", "$", id="lone dollar kept"),
    pytest.param(r"a(?i)b|c", "aBC", "-", "--", id="mid-pattern flag covers the rest of the group"),
    pytest.param("^a$", "a\n", "-", "a\n", id="$ is end of text"),
    pytest.param("(?m)^a$", "a\na", "-", "-\n-", id="multiline"),
    pytest.param("[[:digit:]]+", "a12b", "#", "a#b", id="POSIX class"),
    pytest.param(r"\d", "\u0663", "#", "\u0663", id="ASCII digits only"),
])
def test_replace_all(pattern: str, text: str, template: str, expected: str) -> None:
    assert replace_all(compile_go(pattern), text, template) == expected


@pytest.mark.parametrize("pattern", ["(?=a)", "(?<!a)b", r"(a)\1", "a(b", "(?err)", r"\pL"])
def test_rejected_patterns(pattern: str) -> None:
    with pytest.raises(ValueError):
        compile_go(pattern)


@pytest.mark.parametrize(("raw", "path", "raw_path"), [
    ("/a/b", "/a/b", ""), ("/a%2Fb", "/a/b", "/a%2Fb"), ("/a%41", "/aA", "/a%41"), ("/a b", "/a b", "/a b"),
])
def test_parse_raw_path(raw: str, path: str, raw_path: str) -> None:
    assert parse_raw_path(raw) == (path, raw_path)


def test_request_uri_reencodes_invalid_raw() -> None:
    assert request_uri_path("/a b", "/a b") == "/a%20b"
    assert request_uri_path("", "") == "/"


@pytest.mark.parametrize(("path", "expected"), [("//a", "/a"), ("/a/../..", "/"), ("a/../..", ".."), ("", ".")])
def test_clean(path: str, expected: str) -> None:
    assert clean(path) == expected


@pytest.mark.parametrize(("url", "expected"), [
    ("HTTPS://Host:8443/a b?x=1#f g", "https://Host:8443/a%20b?x=1#f%20g"),
    ("https://::1", "https://::1"),
    ("http://h/p?", "http://h/p?"),
])
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


@pytest.mark.parametrize("url", ["http://192.168.0.%31/", "http://h:x/", "http://h/\x01", ":nope"])
def test_normalize_url_rejects(url: str) -> None:
    with pytest.raises(ValueError):
        normalize_url(url)
