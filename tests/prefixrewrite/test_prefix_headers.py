"""What prefixRewrite does to one response header (proxy/prefixrewrite/headers.py), as tables.

The cases are the ones Traefik's tracker keeps reporting for stripPrefix (issues 563, 1957, 2510, 5374...):
the app redirects to `/login`, sets `Path=/`, or writes its own address into Location; and the cases
the rewriter must leave alone: a prefix-aware app, relative references, other sites.
"""

from __future__ import annotations

import pytest

from proxy.message import HeaderList
from proxy.prefixrewrite.headers import (
    Origins,
    hosts_of,
    rewrite_headers,
    rewrite_link,
    rewrite_refresh,
    rewrite_set_cookie,
    rewrite_url,
)

PREFIX = "/api/v1"
UPSTREAM = frozenset({"127.0.0.1:8000", "[::1]:8001"})
ORIGINS = Origins("http", "localhost:9999", UPSTREAM, hosts_of(UPSTREAM))


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        pytest.param("/login", "/api/v1/login", id="absolute-path"),
        pytest.param("/", "/api/v1/", id="root"),
        pytest.param("/login?next=/x#top", "/api/v1/login?next=/x#top", id="query-and-fragment-kept"),
        pytest.param("/api/v1/login", None, id="already-prefixed"),
        pytest.param("/api/v1", None, id="the-prefix-itself"),
        pytest.param("/api/v1?x=1", None, id="the-prefix-with-query"),
        pytest.param("/api/v10", "/api/v1/api/v10", id="prefix-is-only-a-text-prefix"),
        pytest.param("login", None, id="relative-resolves-under-the-public-url"),
        pytest.param("../x", None, id="dot-relative-left-alone"),
        pytest.param("?page=2", None, id="query-only"),
        pytest.param("http://127.0.0.1:8000/login", "http://localhost:9999/api/v1/login", id="upstream-origin"),
        pytest.param("http://127.0.0.1:8000", "http://localhost:9999/api/v1/", id="upstream-origin-no-path"),
        pytest.param("http://127.0.0.1:8000?x", "http://localhost:9999/api/v1/?x", id="upstream-origin-query-only"),
        pytest.param("http://[::1]:8001/x", "http://localhost:9999/api/v1/x", id="upstream-ipv6"),
        pytest.param("http://127.0.0.1:8000/api/v1/x", "http://localhost:9999/api/v1/x", id="upstream-origin-prefixed"),
        pytest.param("http://localhost:9999/login", "http://localhost:9999/api/v1/login", id="public-origin"),
        pytest.param("HTTP://LOCALHOST:9999/a", "HTTP://LOCALHOST:9999/api/v1/a", id="public-origin-any-case"),
        pytest.param("http://localhost:9999/api/v1/a", None, id="public-origin-prefixed"),
        pytest.param("https://localhost:9999/login", None, id="public-host-other-scheme"),
        pytest.param("http://example.org/login", None, id="elsewhere"),
        pytest.param("//localhost:9999/x", "//localhost:9999/api/v1/x", id="network-path-public"),
        pytest.param("//127.0.0.1:8000/x", "//localhost:9999/api/v1/x", id="network-path-upstream"),
        pytest.param("mailto:a@example.org", None, id="other-scheme"),
        pytest.param("http:///x", None, id="no-host"),
        pytest.param("", None, id="empty"),
    ],
)
def test_location(location: str, expected: str | None) -> None:
    assert rewrite_url(location, PREFIX, ORIGINS) == expected


def test_default_ports_match_either_spelling() -> None:
    origins = Origins("http", "localhost", frozenset({"127.0.0.1:80"}), frozenset({"127.0.0.1"}))
    assert rewrite_url("http://localhost:80/x", PREFIX, origins) == "http://localhost:80/api/v1/x"
    assert rewrite_url("http://127.0.0.1/x", PREFIX, origins) == "http://localhost/api/v1/x"


@pytest.mark.parametrize(
    ("refresh", "expected"),
    [
        pytest.param("5; url=/next", "5; url=/api/v1/next", id="seconds-and-url"),
        pytest.param("0;URL='/next'", "0;URL='/api/v1/next'", id="quoted"),
        pytest.param("3, url=/next", "3, url=/api/v1/next", id="comma"),
        pytest.param("5", None, id="no-url"),
        pytest.param("5; url=https://example.org/", None, id="elsewhere"),
    ],
)
def test_refresh(refresh: str, expected: str | None) -> None:
    assert rewrite_refresh(refresh, PREFIX, ORIGINS) == expected


def test_link_rewrites_each_own_target() -> None:
    link = "</app.css>; rel=preload; as=style, <https://cdn.example.org/x.js>; rel=preload, </api/v1/y>; rel=next"
    assert rewrite_link(link, PREFIX, ORIGINS) == (
        "</api/v1/app.css>; rel=preload; as=style, <https://cdn.example.org/x.js>; rel=preload, </api/v1/y>; rel=next"
    )
    assert rewrite_link("<https://cdn.example.org/x.js>; rel=preload", PREFIX, ORIGINS) is None


@pytest.mark.parametrize(
    ("cookie", "expected"),
    [
        pytest.param("sid=1; Path=/; HttpOnly", "sid=1; Path=/api/v1; HttpOnly", id="root-path"),
        pytest.param("sid=1; path=/app", "sid=1; path=/api/v1/app", id="sub-path"),
        pytest.param("sid=1; Path=/api/v1", None, id="already-prefixed"),
        pytest.param("sid=1", None, id="no-path-default-path-is-already-public"),
        pytest.param("sid=1; Path=relative", None, id="invalid-path-left"),
        pytest.param("sid=1; Domain=127.0.0.1; Path=/", "sid=1; Path=/api/v1", id="upstream-domain-dropped"),
        pytest.param("sid=1; Domain=.127.0.0.1", "sid=1", id="upstream-domain-leading-dot"),
        pytest.param("sid=1; Domain=localhost", None, id="public-domain-kept"),
        pytest.param("a=b=c; Path=/; Secure", "a=b=c; Path=/api/v1; Secure", id="value-with-equals"),
    ],
)
def test_set_cookie(cookie: str, expected: str | None) -> None:
    assert rewrite_set_cookie(cookie, PREFIX, ORIGINS.upstream_hosts) == expected


def test_rewrite_headers_reports_each_change_and_respects_the_switches() -> None:
    items = [("Location", "/login"), ("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2"), ("X-Other", "/x")]
    headers = HeaderList(list(items))
    changes = rewrite_headers(headers, PREFIX, ORIGINS)
    assert headers.items == [
        ("Location", "/api/v1/login"),
        ("Set-Cookie", "a=1; Path=/api/v1"),
        ("Set-Cookie", "b=2"),
        ("X-Other", "/x"),
    ]
    assert changes == ["Location: /login -> /api/v1/login", "Set-Cookie: a=1; Path=/ -> a=1; Path=/api/v1"]
    only_cookies = HeaderList(list(items))
    rewrite_headers(only_cookies, PREFIX, ORIGINS, urls=False)
    assert only_cookies.items[0] == ("Location", "/login")
    only_urls = HeaderList(list(items))
    rewrite_headers(only_urls, PREFIX, ORIGINS, cookies=False)
    assert only_urls.items[1] == ("Set-Cookie", "a=1; Path=/")


@pytest.mark.parametrize(
    ("regex", "replacement", "prefix"),
    [
        pytest.param("^/api/v1/(.*)", "/$1", "/api/v1", id="slash-kept"),
        pytest.param("^/api/v1(.*)", "$1", "/api/v1", id="group-only"),
        pytest.param("^/api/v1(.*)$", "${1}", "/api/v1", id="anchored-braced"),
        pytest.param("^/api/v1/(.*)", "$1", None, id="slash-lost"),
        pytest.param("^/api/v1(.*)", "/$1", None, id="slash-doubled"),
        pytest.param("^/(.*)", "/$1", None, id="nothing-stripped"),
        pytest.param("^/a.b/(.*)", "/$1", None, id="a-dot-is-any-character"),
        pytest.param("/api/(.*)", "/$1", None, id="not-anchored"),
        pytest.param("^/api/v1/(.*)", "/x/$1", None, id="replaced-too"),
    ],
)
def test_which_replace_path_regex_is_only_a_strip(regex: str, replacement: str, prefix: str | None) -> None:
    from proxy.middlewares.replacepathregex import plain_strip

    assert plain_strip(regex, replacement) == prefix
