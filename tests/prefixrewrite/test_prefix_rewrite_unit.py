"""prefixRewrite's header rules (proxy/prefixrewrite/headers.py) case by case, the replacePathRegex mappings it
can invert, and properties (hypothesis): a rewritten value is never rewritten again (no double prefix)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from proxy.message import HeaderList
from proxy.middlewares.replacepathregex import plain_strip
from proxy.prefixrewrite.headers import Rewriter, default_path, has_prefix, origins

UPSTREAM = "http://127.0.0.1:8000"
PUBLIC = "https://gw.example"
ORIGINS, HOSTS = origins([UPSTREAM])


def rewriter(app_path: str = "/x") -> Rewriter:
    return Rewriter("/api/v1", PUBLIC, ORIGINS, HOSTS, app_path)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("/login", "/api/v1/login", id="absolute path"),
        pytest.param("/", "/api/v1/", id="root"),
        pytest.param("/api/v1", "/api/v1", id="the prefix itself"),
        pytest.param("/api/v1/", "/api/v1/", id="the prefix with slash"),
        pytest.param("/api/v1?x=1", "/api/v1?x=1", id="the prefix with query"),
        pytest.param("/api/v1x", "/api/v1/api/v1x", id="not a segment boundary"),
        pytest.param(f"{UPSTREAM}/login?a=b", f"{PUBLIC}/api/v1/login?a=b", id="upstream origin"),
        pytest.param("HTTP://127.0.0.1:8000/Login", f"{PUBLIC}/api/v1/Login", id="upstream origin any case"),
        pytest.param(UPSTREAM, f"{PUBLIC}/api/v1/", id="upstream origin without path"),
        pytest.param(f"{UPSTREAM}/api/v1/x", f"{PUBLIC}/api/v1/x", id="upstream origin already prefixed"),
        pytest.param("http://127.0.0.1:8001/x", "http://127.0.0.1:8001/x", id="another port: another origin"),
        pytest.param(f"{PUBLIC}/x", f"{PUBLIC}/api/v1/x", id="public origin"),
        pytest.param(f"{PUBLIC}/api/v1/x", f"{PUBLIC}/api/v1/x", id="public origin already prefixed"),
        pytest.param("http://gw.example/x", "http://gw.example/x", id="public host, other scheme: left"),
        pytest.param("//gw.example/x", "//gw.example/api/v1/x", id="scheme-relative public origin"),
        pytest.param(
            "//127.0.0.1:8000/x", "//127.0.0.1:8000/x", id="scheme-relative: https://127.0.0.1:8000, not ours"
        ),
        pytest.param("x/y", "x/y", id="relative"),
        pytest.param("./x", "./x", id="dot relative"),
        pytest.param("#top", "#top", id="fragment only"),
        pytest.param("ftp://127.0.0.1:8000/x", "ftp://127.0.0.1:8000/x", id="another scheme"),
        pytest.param("http://[::1/x", "http://[::1/x", id="unparsable: left"),
    ],
)
def test_uri(value: str, expected: str) -> None:
    assert rewriter().uri(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("5; url=/x", "5; url=/api/v1/x", id="classic"),
        pytest.param("0;URL=/x", "0;URL=/api/v1/x", id="no space, upper case"),
        pytest.param("3, url='/x'", "3, url='/api/v1/x'", id="comma and quotes"),
        pytest.param("1.5; /x", "1.5; /api/v1/x", id="no url= label"),
        pytest.param("5", "5", id="no url"),
        pytest.param("5; url=x", "5; url=x", id="relative"),
    ],
)
def test_refresh(value: str, expected: str) -> None:
    assert rewriter().refresh(value) == expected


@pytest.mark.parametrize(
    ("value", "app_path", "expected"),
    [
        pytest.param("a=1; Path=/", "/x", "a=1; Path=/api/v1", id="root"),
        pytest.param("a=1; Path=/s; Secure", "/x", "a=1; Path=/api/v1/s; Secure", id="subpath"),
        pytest.param("a=1;path=/api/v1", "/x", "a=1;path=/api/v1", id="already"),
        pytest.param("a=1; Domain=127.0.0.1; Path=/", "/x", "a=1; Path=/api/v1", id="upstream domain dropped"),
        pytest.param("a=1; Domain=.127.0.0.1", "/x", "a=1", id="dotted upstream domain dropped"),
        pytest.param("a=1; Domain=gw.example", "/x", "a=1; Domain=gw.example", id="public domain kept"),
        pytest.param("a=1", "/x", "a=1", id="no path, one segment: default-path is the prefix already"),
        pytest.param("a=1", "/a/b", "a=1", id="no path, deeper: /api/v1/a as the app expects /a"),
        pytest.param("a=1", "/", "a=1", id="no path on the prefix with slash"),
        pytest.param("a=1", "", "a=1; Path=/api/v1", id="no path on the bare prefix: /api would be too wide"),
        pytest.param("a=1; Path=rel", "", "a=1; Path=rel; Path=/api/v1", id="invalid path is no path"),
        pytest.param("a=b=c; Path=/", "/x", "a=b=c; Path=/api/v1", id="value with ="),
    ],
)
def test_cookie(value: str, app_path: str, expected: str) -> None:
    assert rewriter(app_path).cookie(value) == expected


def test_link_rewrites_each_target() -> None:
    value = f'</a.css>; rel="preload"; as=style, <{UPSTREAM}/n>; rel=next, <https://cdn.example/x>; rel=dns-prefetch'
    expected = (
        f'</api/v1/a.css>; rel="preload"; as=style, <{PUBLIC}/api/v1/n>; rel=next, '
        "<https://cdn.example/x>; rel=dns-prefetch"
    )
    assert rewriter().link(value) == expected


def test_rewrite_touches_only_its_headers_and_reports_changes() -> None:
    headers = HeaderList(
        [("Content-Type", "text/html"), ("Location", "/a"), ("X-Location", "/b"), ("location", "/api/v1/c")]
    )
    changes = rewriter().rewrite(headers)
    assert changes == [("Location", "/a", "/api/v1/a")]
    assert headers.items == [
        ("Content-Type", "text/html"),
        ("Location", "/api/v1/a"),
        ("X-Location", "/b"),
        ("location", "/api/v1/c"),
    ]
    untouched = HeaderList([("Content-Type", "text/plain")])
    assert rewriter().rewrite(untouched) == []


@pytest.mark.parametrize(
    ("path", "expected"),
    [("", "/"), ("/", "/"), ("/a", "/"), ("/a/", "/a"), ("/a/b", "/a"), ("/api/v1", "/api"), ("x", "/")],
)
def test_default_path_rfc6265(path: str, expected: str) -> None:
    assert default_path(path) == expected


@pytest.mark.parametrize(
    ("regex", "replacement", "expected"),
    [
        pytest.param("^/api/v1/(.*)", "/$1", "/api/v1", id="slash kept by the replacement"),
        pytest.param("^/api/v1/(.*)$", "/${1}", "/api/v1", id="anchored end, braces"),
        pytest.param("^/api(.*)", "$1", "/api", id="group keeps the slash"),
        pytest.param("^/api/(.*)", "$1", None, id="would leave a relative path"),
        pytest.param("^/api(.*)", "/$1", None, id="would double the slash"),
        pytest.param("^/api/(.*)", "/v2/$1", None, id="another prefix: not a strip"),
        pytest.param("/api/(.*)", "/$1", None, id="unanchored"),
        pytest.param("^/ap.?/(.*)", "/$1", None, id="not a literal"),
        pytest.param("^/(.*)", "/$1", None, id="nothing stripped"),
    ],
)
def test_replace_path_regex_inversion(regex: str, replacement: str, expected: str | None) -> None:
    assert plain_strip(regex, replacement) == expected


segment = st.text(alphabet="abcxyz09-_.~", min_size=1, max_size=6)
paths = st.lists(segment, max_size=4).map(lambda parts: "/" + "/".join(parts))
suffix = st.sampled_from(["", "?q=1", "#f", "/"])


@given(paths, suffix, st.sampled_from(["", UPSTREAM, PUBLIC, "//gw.example"]))
def test_rewriting_twice_changes_nothing_more(path: str, tail: str, origin: str) -> None:
    assume(not (path + tail).startswith("//"))  # `//` alone is a scheme-relative URL without a host
    r = rewriter()
    once = r.uri(origin + path + tail)
    assert r.uri(once) == once
    assert has_prefix(once.removeprefix(PUBLIC).removeprefix("//gw.example"), "/api/v1")


@given(paths, st.sampled_from(["", "; Secure", "; Domain=127.0.0.1"]), paths)
def test_cookie_rewriting_is_idempotent_and_prefixed(path: str, extra: str, app_path: str) -> None:
    r = rewriter(app_path)
    once = r.cookie(f"a=1; Path={path}{extra}")
    assert r.cookie(once) == once
    assert f"Path=/api/v1{'' if path == '/' else path}" in once
