"""chain (traefik/traefik pkg/middlewares/chain/chain.go) and a few conformance chains."""

from __future__ import annotations

from proxy.message import HeaderList, RequestHead
from proxy.middlewares import (
    AddPrefix,
    Chain,
    Headers,
    RedirectScheme,
    ReplacePath,
    ReplacePathRegex,
    StripPrefix,
)


def make(path: str, host: str = "c.test") -> RequestHead:
    return RequestHead("GET", path, None, HeaderList(), host=host)


def test_runs_in_order() -> None:
    req = make("/api/x")
    assert Chain([StripPrefix(["/api"]), AddPrefix("/v2")]).on_request(req) is None
    assert req.path == "/v2/x"
    req = make("/api/x")
    Chain([AddPrefix("/v2"), StripPrefix(["/api"])]).on_request(req)
    assert req.path == "/v2/api/x"


def test_strip_then_replace_path() -> None:
    # conformance chain-strip-then-replacepath
    req = make("/api/x")
    Chain([StripPrefix(["/api"]), ReplacePath("/fixed")]).on_request(req)
    assert req.path == "/fixed"
    assert req.headers.get("X-Forwarded-Prefix") == "/api"
    assert req.headers.get("X-Replaced-Path") == "/x"


def test_strip_then_redirect_loses_prefix() -> None:
    # conformance chain-strip-then-redirect-loses-prefix
    reply = Chain([StripPrefix(["/cloud"]), RedirectScheme("https")]).on_request(make("/cloud/whoami"))
    assert reply is not None and reply.status == 302
    assert ("Location", "https://c.test/whoami") in reply.headers


def test_stops_at_first_reply() -> None:
    req = make("/api./x")
    reply = Chain([StripPrefix(["/api"]), AddPrefix("/never")]).on_request(req)
    assert reply is not None and reply.status == 400
    assert req.path == "/api./x"


def test_replace_regex_then_strip() -> None:
    req = make("/v1/users")
    Chain([ReplacePathRegex("^/v1/(.*)", "/api/$1"), StripPrefix(["/api"])]).on_request(req)
    assert req.path == "/users"


def test_response_hooks_innermost_first() -> None:
    outer = Headers(custom_response_headers={"X-Who": "outer"})
    inner = Headers(custom_response_headers={"X-Who": "inner", "X-Inner": "1"})
    chain = Chain([outer, AddPrefix("/p"), inner])
    assert chain.has_response_hook
    req = make("/x")
    assert chain.on_request(req) is None
    headers = HeaderList()
    chain.on_response(req, 200, headers)
    assert headers.get("X-Who") == "outer" and headers.get("X-Inner") == "1"


def test_reply_only_seen_by_earlier_members() -> None:
    before = Headers(custom_response_headers={"X-Before": "1"})
    after = Headers(custom_response_headers={"X-After": "1"})
    chain = Chain([before, RedirectScheme("https"), after])
    req = make("/x")
    assert chain.on_request(req) is not None
    headers = HeaderList()
    chain.on_response(req, 302, headers)
    assert "X-Before" in headers and "X-After" not in headers


def test_no_response_hook_without_members_needing_one() -> None:
    assert not Chain([StripPrefix(["/a"]), AddPrefix("/b")]).has_response_hook
