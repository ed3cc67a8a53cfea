"""redirectRegex, ported from traefik/traefik pkg/middlewares/redirect/redirect_regex_test.go (+ conformance)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from proxy.message import HeaderList, RequestHead
from proxy.middlewares import RedirectRegex


def absolute(
    url: str, method: str = "GET", secured: bool = False, headers: dict[str, str] | None = None
) -> RequestHead:
    return RequestHead(
        method,
        url,
        None,
        HeaderList(list((headers or {}).items())),
        host=urlsplit(url).netloc,
        scheme="https" if secured else "http",
    )


# (regex, replacement, permanent, request kwargs, expected Location or None, status)
CASES = [
    pytest.param(
        r"^(?:http?:\/\/)(foo)(\.com)(:\d+)(.*)$",
        "https://${1}bar$2:443$4",
        False,
        {"url": "http://foo.com:80"},
        "https://foobar.com:443",
        302,
        id="simple redirection",
    ),
    pytest.param(
        r"^(?:http?:\/\/)(foo)(\.com)(:\d+)(.*)$",
        "https://${1}bar$2:443$4",
        False,
        {"url": "http://bar.com:80"},
        None,
        200,
        id="URL doesn't match regex",
    ),
    pytest.param(
        r"^(.*)$", "http://192.168.0.%31/", False, {"url": "http://foo.com:80"}, None, 502, id="invalid rewritten URL"
    ),
    pytest.param(
        r"^http://", "https://$1", True, {"url": "http://foo"}, "https://foo", 301, id="HTTP to HTTPS permanent"
    ),
    pytest.param(
        "https://foo",
        "http://foo",
        True,
        {"url": "https://foo", "secured": True},
        "http://foo",
        301,
        id="HTTPS to HTTP permanent",
    ),
    pytest.param(
        "http://foo:80", "https://foo:443", False, {"url": "http://foo:80"}, "https://foo:443", 302, id="HTTP to HTTPS"
    ),
    pytest.param(
        "http://foo:80",
        "https://foo:443",
        False,
        {"url": "http://foo:80", "headers": {"X-Forwarded-Proto": "https"}},
        "https://foo:443",
        302,
        id="HTTP to HTTPS, with X-Forwarded-Proto",
    ),
    pytest.param(
        "https://foo:443",
        "http://foo:80",
        False,
        {"url": "https://foo:443", "secured": True},
        "http://foo:80",
        302,
        id="HTTPS to HTTP",
    ),
    pytest.param(
        "http://foo:80", "http://foo:88", False, {"url": "http://foo:80"}, "http://foo:88", 302, id="HTTP to HTTP"
    ),
    pytest.param(
        r"^http://",
        "https://$1",
        False,
        {"url": "http://foo", "method": "POST"},
        "https://foo",
        307,
        id="HTTP to HTTP POST",
    ),
    pytest.param(
        r"(https?)://[^/:]+(:[0-9]+)?/(.*)",
        "$1://example.com$2/$3",
        True,
        {"url": "http://www.example.com/path"},
        "http://example.com/path",
        301,
        id="www-redirect without port",
    ),
    pytest.param(
        r"(https?)://[^/:]+(:[0-9]+)?/(.*)",
        "$1://example.com$2/$3",
        True,
        {"url": "http://www.example.com:8080/path"},
        "http://example.com:8080/path",
        301,
        id="www-redirect with port",
    ),
    pytest.param(
        r"(https?)://[^/:]+(:[0-9]+)?/(.*)",
        "$1://example.com$2/$3",
        True,
        {"url": "http://www.example.com/"},
        "http://example.com/",
        301,
        id="www-redirect without port, root path",
    ),
    pytest.param(
        r"(https?)://[^/:]+(:[0-9]+)?/(.*)",
        "$1://example.com$2/$3",
        True,
        {"url": "https://www.example.com/path", "secured": True},
        "https://example.com/path",
        301,
        id="www-redirect HTTPS without port",
    ),
    pytest.param(
        r"^http://",
        "https://$1",
        True,
        {"url": "http://foo", "method": "POST"},
        "https://foo",
        308,
        id="HTTP to HTTP POST permanent",
    ),
]


@pytest.mark.parametrize(("regex", "replacement", "permanent", "req_args", "location", "status"), CASES)
def test_redirect_regex(
    regex: str, replacement: str, permanent: bool, req_args: dict, location: str | None, status: int
) -> None:
    reply = RedirectRegex(regex, replacement, permanent).on_request(absolute(**req_args))
    if status == 200:
        assert reply is None
        return
    assert reply is not None and reply.status == status
    assert dict(reply.headers).get("Location") == location


def test_invalid_regex_is_a_config_error() -> None:
    # redirect_regex_test.go: "invalid regex"
    with pytest.raises(ValueError):
        RedirectRegex("^(.*", "$1")


@pytest.mark.parametrize(
    ("regex", "replacement", "permanent", "host", "target", "location", "status"),
    [
        pytest.param(
            r"^http://rr1.test/old/(.*)",
            "http://rr1.test/new/${1}",
            False,
            "rr1.test",
            "/old/a?b=1",
            "http://rr1.test/new/a?b=1",
            302,
            id="path rewrite keeps query",
        ),
        pytest.param(
            r"^http://rr2.test/(.*)",
            "https://www.rr2.test/${1}",
            True,
            "rr2.test",
            "/x",
            "https://www.rr2.test/x",
            301,
            id="to www permanent",
        ),
        pytest.param(
            r"^http://rr2.test:8080/(.*)",
            "https://rr2.test/${1}",
            False,
            "rr2.test:8080",
            "/x",
            "https://rr2.test/x",
            302,
            id="Host port is part of the URL",
        ),
        pytest.param(
            r"^http://rr1.test/(.*)",
            "HTTPS://rr1.test/${1}",
            False,
            "rr1.test",
            "/a b",
            "https://rr1.test/a%20b",
            302,
            id="Location normalised like Go url.String",
        ),
    ],
)
def test_redirect_regex_origin_form(
    regex: str, replacement: str, permanent: bool, host: str, target: str, location: str, status: int
) -> None:
    path, sep, query = target.partition("?")
    req = RequestHead("GET", path, query if sep else None, HeaderList(), host=host)
    reply = RedirectRegex(regex, replacement, permanent).on_request(req)
    assert reply is not None and reply.status == status
    assert ("Location", location) in reply.headers


def test_same_url_is_forwarded() -> None:
    req = RequestHead("GET", "/x", None, HeaderList(), host="a.test")
    assert RedirectRegex(r"^http://a\.test/(.*)", "http://a.test/$1").on_request(req) is None
    assert req.path == "/x"
