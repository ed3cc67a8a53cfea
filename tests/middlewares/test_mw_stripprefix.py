"""stripPrefix, ported from traefik/traefik pkg/middlewares/stripprefix/strip_prefix_test.go (+ conformance)."""

from __future__ import annotations

import pytest

from proxy.message import HeaderList, Reply, RequestHead
from proxy.middlewares import StripPrefix


def make(target: str) -> RequestHead:
    path, sep, query = target.partition("?")
    return RequestHead("GET", path, query if sep else None, HeaderList(), host="localhost")


# (prefixes, request path, expected status, expected upstream path, expected X-Forwarded-Prefix or None).
# Traefik's expectedPath "" is sent as "/" (RequestURI); with a RawPath the RawPath is what is sent.
CASES = [
    pytest.param([], "/noprefixes", 200, "/noprefixes", None, id="no prefixes configured"),
    pytest.param(["/"], "/", 200, "/", "/", id="wildcard (.*) requests"),
    pytest.param(["/stat"], "/stat", 200, "/", "/stat", id="prefix and path matching"),
    pytest.param(["/stat/"], "/stat/", 200, "/", "/stat/", id="path prefix on exactly matching path"),
    pytest.param(["/stat/"], "/stat/us", 200, "/us", "/stat/", id="path prefix on matching longer path"),
    pytest.param(["/stat/"], "/status", 200, "/status", None, id="path prefix on mismatching path"),
    pytest.param(["/stat"], "/stat/", 200, "/", "/stat", id="general prefix on matching path"),
    pytest.param(["/stat", "/stat/us"], "/stat/us", 200, "/us", "/stat", id="earlier prefix matching"),
    pytest.param(["/mismatch", "/stat"], "/stat", 200, "/", "/stat", id="later prefix matching"),
    pytest.param(["/stat"], "/status", 200, "/us", "/stat", id="prefix matching within slash boundaries"),
    pytest.param(["/stat"], "/stat/a%2Fb", 200, "/a%2Fb", "/stat", id="raw path is also stripped"),
    pytest.param(["/api/"], "/ap%69/a%2Fb", 200, "/a%2Fb", "/api/", id="encoded char in prefix segment of raw path"),
    pytest.param(["/api"], "/api./foo", 400, None, None, id="dot in the path not stripped by the prefix"),
    pytest.param(["/api"], "/api../foo", 400, None, None, id="multiple dots in the path not stripped by the prefix"),
    # Ours / conformance sample.
    pytest.param(["/api"], "/api/search?q=a%20b&x=1", 200, "/search?q=a%20b&x=1", "/api", id="keeps query"),
    pytest.param(["/api"], "/apiv2/x", 200, "/v2/x", "/api", id="strips inside a segment"),
    pytest.param([" /api "], "/api/x", 200, "/x", "/api", id="prefixes are trimmed"),
    pytest.param(["/api"], "/api//x", 400, None, None, id="double slash left after strip is rejected"),
    pytest.param(["/api"], "/api/x/", 200, "/x/", "/api", id="trailing slash kept"),
    pytest.param(["/api"], "/ap%69/x%20y", 200, "/x%20y", "/api", id="decoded match, raw rest kept"),
    pytest.param(["/a b"], "/a%20b/c", 200, "/c", "/a b", id="prefix with a space matches encoded path"),
    # An encoded slash right after the prefix: the stripped Path no longer matches the stripped RawPath, so
    # Go's JoinPath cleans its own encoding of Path, where that slash is a separator (tests/security).
    pytest.param(["/api"], "/api%2F..%2Fadmin", 400, None, None, id="encoded slash then dot segment"),
    pytest.param(["/api"], "/api%2F%2F", 400, None, None, id="two encoded slashes after the prefix"),
    pytest.param(["/api"], "/api%2F/x", 400, None, None, id="encoded slash then slash after the prefix"),
    pytest.param(["/api"], "/api%2Fx", 200, "/x", "/api", id="encoded slash after the prefix alone"),
    pytest.param(["/api"], "/api/..%2Fadmin", 200, "/..%2Fadmin", "/api", id="encoded slash stays data"),
]


@pytest.mark.parametrize(("prefixes", "path", "status", "upstream", "header"), CASES)
def test_strip_prefix(prefixes: list[str], path: str, status: int, upstream: str | None, header: str | None) -> None:
    req = make(path)
    reply = StripPrefix(prefixes).on_request(req)
    if status != 200:
        assert isinstance(reply, Reply) and reply.status == status
        assert reply.body == b"Bad Request\n"
        return
    assert reply is None
    assert req.target == upstream
    assert req.headers.get_all("X-Forwarded-Prefix") == ([header] if header is not None else [])


def test_force_slash_dots_still_rejected() -> None:
    # strip_prefix_test.go: "multiple dots in the path not stripped by the prefix with forceSlash"
    assert StripPrefix(["/api"], force_slash=True).on_request(make("/api../foo")).status == 400


def test_two_strip_middlewares_add_two_prefix_values() -> None:
    # conformance strip-two-middlewares-two-prefix-values: each strip ADDS a value.
    req = make("/a/b/c")
    assert StripPrefix(["/a"]).on_request(req) is None
    assert StripPrefix(["/b"]).on_request(req) is None
    assert req.path == "/c"
    assert req.headers.joined("X-Forwarded-Prefix") == "/a, /b"


def test_prefix_list_must_not_be_a_string() -> None:
    with pytest.raises(ValueError, match="/api"):
        StripPrefix("/api")


def test_plain_path_shortcut_agrees_with_the_general_path() -> None:
    """`_strip_plain` (a path with nothing escaped) must give exactly what `_strip_any` gives."""
    prefixes = ["/api/v1", "/api", "/a", "/stat", "/api/v1/", "/x.y", "/"]
    tails = ["", "/", "x", "/items", "//items", "/./x", "/../x", ".", "./x", "/a/b/", "-_~$&+,;=:@", "/.x", "..", "/."]
    compared = 0
    for prefix_list in ([p] for p in prefixes):
        middleware = StripPrefix(prefix_list)
        for head in ("/api/v1", "/api", "/a", "/stat", "/x.y", "/other", ""):
            for tail in tails:
                path = head + tail
                if not path.startswith("/"):
                    continue
                plain, general = _head(path), _head(path)
                assert (middleware._strip_plain(plain) is None) == (middleware._strip_any(general) is None), path
                assert (plain.path, plain.headers.items) == (general.path, general.headers.items), (prefix_list, path)
                compared += 1
    assert compared > 500


def _head(path: str) -> RequestHead:
    return RequestHead("GET", path, None, HeaderList([("Host", "h")]))
