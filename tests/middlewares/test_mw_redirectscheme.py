"""redirectScheme, ported from traefik/traefik pkg/middlewares/redirect/redirect_scheme_test.go (+ conformance).

Traefik's table sends absolute-form targets (`GET http://foo:8080`), which the middleware splits itself;
we feed the same targets, then check the usual origin-form requests separately.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from proxy.message import HeaderList, RequestHead
from proxy.middlewares import RedirectScheme


def absolute(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> RequestHead:
    return RequestHead(method, url, None, HeaderList(list((headers or {}).items())), host=urlsplit(url).netloc)


# (options, url, headers, expected Location or None for "forwarded", expected status)
CASES = [
    pytest.param({"scheme": "https"}, "http://foo", {}, "https://foo", 302, id="HTTP to HTTPS"),
    pytest.param(
        {"scheme": "https"},
        "http://foo",
        {"X-Forwarded-Proto": "http"},
        "https://foo",
        302,
        id="HTTP to HTTPS, with X-Forwarded-Proto",
    ),
    pytest.param(
        {"scheme": "https"},
        "http://foo",
        {"X-Forwarded-Proto": "https"},
        None,
        200,
        id="HTTP to HTTPS, with X-Forwarded-Proto to HTTPS",
    ),
    pytest.param(
        {"scheme": "https"},
        "http://foo",
        {"X-Forwarded-Proto": "bar"},
        "https://foo",
        302,
        id="HTTP to HTTPS, with X-Forwarded-Proto to unknown value",
    ),
    pytest.param(
        {"scheme": "https"},
        "http://foo",
        {"X-Forwarded-Proto": "ws"},
        "https://foo",
        302,
        id="HTTP to HTTPS, with X-Forwarded-Proto to ws",
    ),
    pytest.param(
        {"scheme": "https"},
        "http://foo",
        {"X-Forwarded-Proto": "wss"},
        None,
        200,
        id="HTTP to HTTPS, with X-Forwarded-Proto to wss",
    ),
    pytest.param(
        {"scheme": "https"}, "http://foo:8080", {}, "https://foo", 302, id="HTTP with port to HTTPS without port"
    ),
    pytest.param(
        {"scheme": "https", "port": "8443"},
        "http://foo",
        {},
        "https://foo:8443",
        302,
        id="HTTP without port to HTTPS with port",
    ),
    pytest.param(
        {"scheme": "https", "port": "8443"},
        "http://foo:8000",
        {},
        "https://foo:8443",
        302,
        id="HTTP with port to HTTPS with port",
    ),
    pytest.param(
        {"scheme": "https", "port": "8443"},
        "https://foo:8000",
        {},
        "https://foo:8443",
        302,
        id="HTTPS with port to HTTPS with port",
    ),
    pytest.param(
        {"scheme": "https"}, "https://foo:8000", {}, "https://foo", 302, id="HTTPS with port to HTTPS without port"
    ),
    pytest.param(
        {"scheme": "https"},
        "https://foo:8000/theother",
        {},
        "https://foo/theother",
        302,
        id="redirection to HTTPS without port from an URL already in https",
    ),
    pytest.param(
        {"scheme": "https", "port": "8443", "permanent": True},
        "http://foo",
        {},
        "https://foo:8443",
        301,
        id="HTTP to HTTPS permanent",
    ),
    pytest.param(
        {"scheme": "https", "force_permanent_redirect": True},
        "http://foo",
        {},
        "https://foo",
        308,
        id="HTTP to HTTPS with explicit 308 status code",
    ),
    pytest.param({"scheme": "http", "port": "80"}, "http://foo:80", {}, None, 200, id="to HTTP 80"),
    pytest.param({"scheme": "https", "port": "443"}, "https://foo:443", {}, None, 200, id="to HTTPS 443"),
    pytest.param({"scheme": "wss", "port": "9443"}, "http://foo", {}, "wss://foo:9443", 302, id="HTTP to wss"),
    pytest.param({"scheme": "wss"}, "http://foo", {}, "wss://foo", 302, id="HTTP to wss without port"),
    pytest.param({"scheme": "wss"}, "http://foo:5678", {}, "wss://foo", 302, id="HTTP with port to wss without port"),
    pytest.param({"scheme": "https"}, "http://foo:443", {}, "https://foo", 302, id="HTTP to HTTPS without port"),
    pytest.param(
        {"scheme": "http", "port": "8181"}, "http://foo:8080", {}, "http://foo:8181", 302, id="HTTP port redirection"
    ),
    pytest.param(
        {"scheme": "https"}, "https://foo:80", {}, "https://foo", 302, id="HTTPS with port 80 to HTTPS without port"
    ),
    pytest.param(
        {"scheme": "https"}, "http://[::1]", {}, "https://[::1]", 302, id="IPV6 HTTP to HTTPS redirection without port"
    ),
    pytest.param(
        {"scheme": "https", "port": "8443"},
        "http://[::1]",
        {},
        "https://[::1]:8443",
        302,
        id="IPV6 HTTP to HTTPS redirection with port",
    ),
    pytest.param(
        {"scheme": "https"},
        "http://[::1]:80",
        {},
        "https://[::1]",
        302,
        id="IPV6 HTTP with port 80 to HTTPS redirection without port",
    ),
    pytest.param(
        {"scheme": "https", "port": "8443"},
        "http://[::1]:80",
        {},
        "https://[::1]:8443",
        302,
        id="IPV6 HTTP with port 80 to HTTPS redirection with port",
    ),
]


@pytest.mark.parametrize(("options", "url", "headers", "location", "status"), CASES)
def test_redirect_scheme(options: dict, url: str, headers: dict[str, str], location: str | None, status: int) -> None:
    reply = RedirectScheme(**options).on_request(absolute(url, headers))
    if location is None:
        assert reply is None
        return
    assert reply is not None and reply.status == status
    assert dict(reply.headers)["Location"] == location


def test_scheme_is_required() -> None:
    # redirect_scheme_test.go: "Without scheme"
    with pytest.raises(ValueError, match="scheme"):
        RedirectScheme("")


def origin(
    path: str,
    query: str | None = None,
    host: str = "rs1.test",
    method: str = "GET",
    headers: dict[str, str] | None = None,
    scheme: str = "http",
) -> RequestHead:
    return RequestHead(method, path, query, HeaderList(list((headers or {}).items())), host=host, scheme=scheme)


@pytest.mark.parametrize(
    ("options", "req", "status", "location"),
    [
        pytest.param(
            {"scheme": "https"}, origin("/path", "x=1"), 302, "https://rs1.test/path?x=1", id="302 keeps path and query"
        ),
        pytest.param(
            {"scheme": "https", "permanent": True},
            origin("/p", host="rs2.test"),
            301,
            "https://rs2.test/p",
            id="permanent GET is 301",
        ),
        pytest.param({"scheme": "https"}, origin("/p", method="POST"), 307, "https://rs1.test/p", id="POST is 307"),
        pytest.param(
            {"scheme": "https", "permanent": True},
            origin("/p", method="HEAD"),
            308,
            "https://rs1.test/p",
            id="permanent HEAD is 308",
        ),
        pytest.param(
            {"scheme": "https", "port": "8443"},
            origin("/p", host="rs3.test:8000"),
            302,
            "https://rs3.test:8443/p",
            id="configured port replaces Host port",
        ),
        pytest.param(
            {"scheme": "https", "port": "443"},
            origin("/p", host="rs4.test"),
            302,
            "https://rs4.test/p",
            id="port 443 dropped for https",
        ),
        pytest.param(
            {"scheme": "https"}, origin("/a%2Fb", "q=%20"), 302, "https://rs1.test/a%2Fb?q=%20", id="encoding kept"
        ),
        pytest.param(
            {"scheme": "https"},
            origin("/p", host="[::1]:8080"),
            302,
            "https://::1:8080/p",
            id="Traefik quirk: SplitHostPort drops IPv6 brackets",
        ),
    ],
)
def test_redirect_scheme_origin_form(options: dict, req: RequestHead, status: int, location: str) -> None:
    reply = RedirectScheme(**options).on_request(req)
    assert reply is not None and reply.status == status
    assert ("Location", location) in reply.headers
    assert reply.body.decode() in ("Found", "Moved Permanently", "Temporary Redirect", "Permanent Redirect")


@pytest.mark.parametrize(
    "req",
    [
        pytest.param(origin("/p", headers={"X-Forwarded-Proto": "https"}), id="trusted X-Forwarded-Proto https"),
        pytest.param(origin("/p", scheme="https"), id="TLS connection"),
        pytest.param(origin("/p", host="rs1.test:443", scheme="https"), id="TLS on 443"),
    ],
)
def test_no_redirect_when_already_on_scheme(req: RequestHead) -> None:
    before = req.target
    assert RedirectScheme("https").on_request(req) is None
    assert req.target == before
