"""Go's net/url path model (proxy.urlpath): setPath, EscapedPath, path.Clean, JoinPath, url.Parse+String."""

from __future__ import annotations

import pytest

from proxy.urlpath import (
    clean,
    join_escaped,
    join_path,
    normalize_percent_encoding,
    normalize_url,
    parse_raw_path,
    parsed_escaped_path,
    request_uri_path,
    unescape,
)


@pytest.mark.parametrize(
    ("raw", "path", "raw_path"),
    [
        ("/a/b", "/a/b", ""),
        ("/a%2Fb", "/a/b", "/a%2Fb"),
        ("/a%41", "/aA", "/a%41"),
        ("/a b", "/a b", "/a b"),
    ],
)
def test_parse_raw_path(raw: str, path: str, raw_path: str) -> None:
    assert parse_raw_path(raw) == (path, raw_path)


def test_request_uri_reencodes_invalid_raw() -> None:
    assert request_uri_path("/a b", "/a b") == "/a%20b"
    assert request_uri_path("", "") == "/"


@pytest.mark.parametrize(("path", "expected"), [("//a", "/a"), ("/a/../..", "/"), ("a/../..", ".."), ("", ".")])
def test_clean(path: str, expected: str) -> None:
    assert clean(path) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Host:8443/a b?x=1#f g", "https://Host:8443/a%20b?x=1#f%20g"),
        ("https://::1", "https://::1"),
        ("http://h/p?", "http://h/p?"),
    ],
)
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


@pytest.mark.parametrize("url", ["http://192.168.0.%31/", "http://h:x/", "http://h/\x01", ":nope"])
def test_normalize_url_rejects(url: str) -> None:
    with pytest.raises(ValueError):
        normalize_url(url)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("/a%2fb", "/a%2fb", id="valid-spelling-kept"),
        pytest.param("/a%2Fb|", "/a/b%7C", id="invalid-char-forces-reencoding"),
        pytest.param("*", "*", id="asterisk"),
        pytest.param("", "", id="empty"),
    ],
)
def test_parsed_escaped_path_matches_go_model(raw: str, expected: str) -> None:
    assert parsed_escaped_path(raw) == expected
    path, raw_path = parse_raw_path(raw)
    assert request_uri_path(path, raw_path) == (expected or "/")


@pytest.mark.parametrize("raw", ["/%", "/a%2", "/%zz"])
def test_bad_escapes_raise_go_message(raw: str) -> None:
    with pytest.raises(ValueError, match="invalid URL escape"):
        parsed_escaped_path(raw)
    with pytest.raises(ValueError, match="invalid URL escape"):
        unescape(raw)


def test_host_unescape_allows_only_non_ascii_and_zone() -> None:
    assert unescape("%C3%A9%25", host=True) == "\xc3\xa9%"
    with pytest.raises(ValueError):
        unescape("a%41", host=True)


@pytest.mark.parametrize(
    ("escaped", "expected"),
    [
        ("/a/../b/", "/b/"),
        ("", "/"),
        ("a/../..", ""),
        ("a/", "a/"),
        ("*", "*"),
        ("/a/%2E%2E", "/a/%2E%2E"),
    ],
)
def test_join_escaped_is_go_joinpath(escaped: str, expected: str) -> None:
    assert join_escaped(escaped) == expected


def test_join_path_keeps_url_when_result_does_not_parse() -> None:
    assert join_path("/a/b", "") == ("/a/b", "")
    assert join_path("/a/../b", "") == ("/b", "")


def test_normalize_percent_encoding() -> None:
    assert normalize_percent_encoding("/%7e%2f%41") == "/~%2FA"
