"""stripPrefixRegex, ported from traefik/traefik pkg/middlewares/stripprefixregex/strip_prefix_regex_test.go."""

from __future__ import annotations

import pytest

from proxy.message import HeaderList, RequestHead
from proxy.middlewares import StripPrefixRegex


def make(path: str) -> RequestHead:
    return RequestHead("GET", path, None, HeaderList(), host="localhost")


# (regexes, request path, status, upstream path, X-Forwarded-Prefix or None)
CASES = [
    pytest.param(["/a/api/"], "/a/test", 200, "/a/test", None, id="/a/test"),
    pytest.param(["/a/api/"], "/a/test/", 200, "/a/test/", None, id="/a/test/"),
    pytest.param(["/a/api/"], "/a/api/", 200, "", "/a/api/", id="/a/api/"),
    pytest.param(["/a/api/"], "/a/api/test", 200, "/test", "/a/api/", id="/a/api/test"),
    pytest.param(["/a/api/"], "/a/api/test/", 200, "/test/", "/a/api/", id="/a/api/test/"),
    pytest.param(["/b/([a-z0-9]+)/"], "/b/api/", 200, "", "/b/api/", id="/b/api/"),
    pytest.param(["/b/([a-z0-9]+)/"], "/b/api", 200, "/b/api", None, id="/b/api"),
    pytest.param(["/b/([a-z0-9]+)/"], "/b/api/test1", 200, "/test1", "/b/api/", id="/b/api/test1"),
    pytest.param(["/b/([a-z0-9]+)/"], "/b/api2/test2", 200, "/test2", "/b/api2/", id="/b/api2/test2"),
    pytest.param(["/c/[a-z0-9]+/[0-9]+/"], "/c/api/123/", 200, "", "/c/api/123/", id="/c/api/123/"),
    pytest.param(["/c/[a-z0-9]+/[0-9]+/"], "/c/api/123", 200, "/c/api/123", None, id="/c/api/123"),
    pytest.param(["/c/[a-z0-9]+/[0-9]+/"], "/c/api/123/test3", 200, "/test3", "/c/api/123/", id="/c/api/123/test3"),
    pytest.param(["/c/[a-z0-9]+/[0-9]+/"], "/c/api/abc/test4", 200, "/c/api/abc/test4", None, id="/c/api/abc/test4"),
    pytest.param(["/a/api/"], "/a/api/a%2Fb", 200, "/a%2Fb", "/a/api/", id="/a/api/a2Fb"),
    pytest.param(["/b/([a-z0-9]+)/"], "/b/ap%69/test", 200, "/test", "/b/api/", id="/b/ap69/test"),
    pytest.param(["/b/([a-z0-9]+)/"], "/b/ap%69/a%2Fb", 200, "/a%2Fb", "/b/api/", id="/b/ap69/a2Fb"),
    pytest.param(["/t /test"], "/t%2F/test/foo", 200, "/t%2F/test/foo", None, id="/t2F/test/foo"),
    pytest.param(["/t /test"], "/t /test/a%2Fb", 200, "/a%2Fb", "/t /test", id="/t /test/a2Fb"),
    pytest.param(["/t /test"], "/t%20/test/a%2Fb", 200, "/a%2Fb", "/t /test", id="/t20/test/a2Fb"),
    pytest.param(["/api"], "/api./foo", 400, None, None, id="/api./foo"),
    pytest.param(["/api"], "/api../foo", 400, None, None, id="/api../foo"),
    # conformance spr-*: a match in the middle of the path is skipped.
    pytest.param(["/api/"], "/v1/api/x", 200, "/v1/api/x", None, id="match not at start ignored"),
    pytest.param(["^/api/v[0-9]+"], "/api/v12/x", 200, "/x", "/api/v12", id="anchored version prefix"),
    pytest.param(["/nope", "/b/"], "/b/x", 200, "/x", "/b/", id="second regex tried"),
    # Encoded slashes (tests/security): the decoded path is what the regex and the guard see.
    pytest.param(["^/api"], "/api%2F..%2Fadmin", 400, None, None, id="encoded slash then dot segment"),
    pytest.param(["^/api"], "/api/..%2Fadmin", 200, "/..%2Fadmin", "/api", id="encoded slash stays data"),
    pytest.param(["^/api/[^/]+"], "/api/a%2Fb", 200, "/b", "/api/a", id="match ends at a decoded slash"),
]


@pytest.mark.parametrize(("regexes", "path", "status", "upstream", "header"), CASES)
def test_strip_prefix_regex(
    regexes: list[str], path: str, status: int, upstream: str | None, header: str | None
) -> None:
    req = make(path)
    reply = StripPrefixRegex(regexes).on_request(req)
    if status != 200:
        assert reply is not None and reply.status == status
        return
    assert reply is None
    assert req.path == upstream  # Traefik's expectedPath: "" when the whole path was stripped...
    assert req.target == (upstream or "/")  # ...and expectedRequestURI "/"
    assert req.headers.get_all("X-Forwarded-Prefix") == ([header] if header is not None else [])


def test_bad_regex_is_a_config_error() -> None:
    with pytest.raises(ValueError, match=r"a\(b"):
        StripPrefixRegex(["a(b"])
