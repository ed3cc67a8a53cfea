"""replacePathRegex, ported from traefik/traefik pkg/middlewares/replacepathregex/replace_path_regex_test.go."""

from __future__ import annotations

import pytest

from proxy.message import HeaderList, RequestHead
from proxy.middlewares import ReplacePathRegex

# (path, regex, replacement, status, upstream, X-Replaced-Path or None)
CASES = [
    pytest.param(
        "/whoami/and/whoami",
        r"^/whoami/(.*)",
        "/who-am-i/$1",
        200,
        "/who-am-i/and/whoami",
        "/whoami/and/whoami",
        id="simple regex",
    ),
    pytest.param(
        "/whoami/and/whoami",
        "/whoami",
        "/who-am-i",
        200,
        "/who-am-i/and/who-am-i",
        "/whoami/and/whoami",
        id="simple replace (no regex)",
    ),
    pytest.param("/whoami/and/whoami", "/whoami", "", 200, "/and", "/whoami/and/whoami", id="empty replacement"),
    pytest.param(
        "/whoami/and/whoami", "/whoami", " ", 200, "/and", "/whoami/and/whoami", id="empty trimmed replacement"
    ),
    pytest.param("/whoami/and/whoami", "/no-match", "/whoami", 200, "/whoami/and/whoami", None, id="no match"),
    pytest.param(
        "/downloads/src/source.go",
        r"^(?i)/downloads/([^/]+)/([^/]+)$",
        "/downloads/$1-$2",
        200,
        "/downloads/src-source.go",
        "/downloads/src/source.go",
        id="multiple replacement",
    ),
    pytest.param(
        "/aaa/bbb", "/aaa/bbb", "/foo%2Fbar", 200, "/foo%2Fbar", "/aaa/bbb", id="replacement with escaped char"
    ),
    pytest.param(
        "/aaa%2Fbbb", "/aaa%2Fbbb", "/foo/bar", 200, "/foo/bar", "/aaa%2Fbbb", id="path and regex with escaped char"
    ),
    pytest.param("/aaa%2Fbbb", "/aaa/bbb", "/foo/bar", 200, "/aaa%2Fbbb", None, id="path with escaped char (no match)"),
    pytest.param(
        "/foo/%08bar",
        r"^/foo/(.*)",
        "/$1",
        200,
        "/%08bar",
        "/foo/%08bar",
        id="path with percent encoded backspace char",
    ),
    pytest.param("/foo../bar", r"^/foo(.*)", "/$1", 400, None, None, id="path with .."),
    # Ours: Go template rules and case-insensitive flag after ^.
    pytest.param(
        "/DOWNLOADS/a/b",
        r"^(?i)/downloads/([^/]+)/([^/]+)$",
        "/d/${1}x",
        200,
        "/d/ax",
        "/DOWNLOADS/a/b",
        id="braced group and (?i) after caret",
    ),
    pytest.param("/v1/x", r"^/v1/(.*)", "/api/$1x", 200, "/api/", "/v1/x", id="$1x names group 1x (empty)"),
    pytest.param("/a", "/a", "/%zz", 500, None, None, id="bad escape in result answers 500"),
]


@pytest.mark.parametrize(("path", "regex", "replacement", "status", "upstream", "header"), CASES)
def test_replace_path_regex(
    path: str, regex: str, replacement: str, status: int, upstream: str | None, header: str | None
) -> None:
    req = RequestHead("GET", path, None, HeaderList())
    reply = ReplacePathRegex(regex, replacement).on_request(req)
    if status != 200:
        assert reply is not None and reply.status == status
        return
    assert reply is None
    assert req.path == upstream
    assert req.headers.get_all("X-Replaced-Path") == ([header] if header else [])


def test_query_kept() -> None:
    # conformance rpr-keeps-query
    req = RequestHead("GET", "/whoami/x", "y=1", HeaderList())
    ReplacePathRegex(r"^/whoami/(.*)", "/who-am-i/$1").on_request(req)
    assert req.target == "/who-am-i/x?y=1"


def test_invalid_regex_is_a_config_error() -> None:
    # replace_path_regex_test.go: "invalid regular expression"
    with pytest.raises(ValueError, match="err"):
        ReplacePathRegex(r"^(?err)/invalid/regexp/([^/]+)$", "/valid/regexp/$1")
