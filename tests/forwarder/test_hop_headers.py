"""Hop-by-hop header removal (proxy.forwarder.hop), as Go's httputil.ReverseProxy does it.

Behaviour from Go net/http/httputil/reverseproxy.go (hopHeaders, removeHopByHopHeaders, upgradeType)
and its reverseproxy_test.go (TestReverseProxy hop headers, TestReverseProxyStripHeadersPresentInConnection,
TestReverseProxyStripEmptyConnection, TestReverseProxyWebSocket), used by traefik/traefik
pkg/proxy/httputil/proxy.go.
"""

from __future__ import annotations

import pytest

from proxy.forwarder.hop import (
    HOP_HEADERS,
    connection_tokens,
    header_values_contain_token,
    strip_hop_headers,
    upgrade_type,
)
from proxy.message import HeaderList


@pytest.mark.parametrize(
    "name",
    [
        "Connection",
        "Proxy-Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
    ],
)
def test_fixed_hop_headers_removed(name: str) -> None:
    headers = HeaderList([(name, "x"), ("X-Kept", "1")])
    strip_hop_headers(headers, keep_upgrade=False)
    assert headers.items == [("X-Kept", "1")]


def test_hop_list_is_gos() -> None:
    assert HOP_HEADERS == {
        "connection",
        "proxy-connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        pytest.param(
            [("Connection", "X-Foo, x-bar"), ("X-Foo", "1"), ("X-Bar", "2"), ("X-Baz", "3")],
            [("X-Baz", "3")],
            id="named-in-connection-removed-case-insensitively",
        ),
        pytest.param(
            [("Connection", "x-a"), ("Connection", "X-B ,  "), ("X-A", "1"), ("X-B", "2"), ("Y", "3")],
            [("Y", "3")],
            id="several-connection-headers-and-empty-elements",
        ),
        pytest.param([("Connection", ""), ("X-A", "1")], [("X-A", "1")], id="empty-connection"),
        pytest.param([("Connection", "close"), ("Content-Length", "3")], [("Content-Length", "3")], id="close-token"),
        pytest.param(
            [("Connection", "Upgrade"), ("Upgrade", "websocket"), ("X", "1")],
            [("X", "1")],
            id="upgrade-dropped-without-keep",
        ),
    ],
)
def test_connection_named_headers_removed(items: list[tuple[str, str]], expected: list[tuple[str, str]]) -> None:
    headers = HeaderList(list(items))
    strip_hop_headers(headers, keep_upgrade=False)
    assert headers.items == expected


@pytest.mark.parametrize(
    ("items", "expected_type", "expected"),
    [
        pytest.param(
            [("Connection", "keep-alive, Upgrade"), ("Upgrade", "websocket"), ("Keep-Alive", "5")],
            "websocket",
            [("Connection", "Upgrade"), ("Upgrade", "websocket")],
            id="websocket",
        ),
        pytest.param(
            [("Connection", "upgrade"), ("Upgrade", "h2c")],
            "h2c",
            [("Connection", "Upgrade"), ("Upgrade", "h2c")],
            id="any-protocol-not-only-websocket",
        ),
        pytest.param(
            [("Connection", "upgrade"), ("Upgrade", "WebSocket"), ("Upgrade", "other")],
            "WebSocket",
            [("Connection", "Upgrade"), ("Upgrade", "WebSocket")],
            id="first-upgrade-value-case-kept",
        ),
        pytest.param([("Upgrade", "websocket")], "", [], id="upgrade-without-connection-token"),
        pytest.param([("Connection", "upgrade")], "", [], id="connection-upgrade-without-upgrade-header"),
    ],
)
def test_keep_upgrade(items: list[tuple[str, str]], expected_type: str, expected: list[tuple[str, str]]) -> None:
    headers = HeaderList(list(items))
    assert strip_hop_headers(headers, keep_upgrade=True) == expected_type
    assert headers.items == expected


def test_exempt_names_survive_connection_listing_only() -> None:
    headers = HeaderList(
        [("Connection", "Forwarded, X-Other"), ("Forwarded", "for=1.2.3.4"), ("X-Other", "1"), ("Keep-Alive", "1")]
    )
    strip_hop_headers(headers, keep_upgrade=False, exempt=frozenset({"forwarded", "keep-alive"}))
    assert headers.items == [("Forwarded", "for=1.2.3.4")]


@pytest.mark.parametrize(
    ("values", "token", "expected"),
    [
        (["trailers"], "trailers", True),
        (["deflate, Trailers"], "trailers", True),
        (["deflate", " trailers\t"], "trailers", True),
        (["trailers;q=1"], "trailers", False),
        (["nottrailers"], "trailers", False),
        ([], "trailers", False),
    ],
)
def test_header_values_contain_token(values: list[str], token: str, expected: bool) -> None:
    assert header_values_contain_token(values, token) is expected


def test_connection_tokens_and_upgrade_type() -> None:
    headers = HeaderList([("connection", " Foo ,bar"), ("CONNECTION", "Upgrade"), ("upgrade", "websocket")])
    assert connection_tokens(headers) == {"foo", "bar", "upgrade"}
    assert upgrade_type(headers) == "websocket"


@pytest.mark.parametrize(
    "items",
    [
        [("Connection", "keep-alive"), ("Content-Length", "3")],
        [("Content-Length", "3"), ("Connection", " Keep-Alive\t")],
        [("Connection", "keep-alive"), ("Keep-Alive", "timeout=5")],
        [("Connection", "keep-alive"), ("Connection", "x-a"), ("X-A", "1")],
        [("Connection", "keep-alive, x-a"), ("X-A", "1"), ("X-B", "2")],
        [("Connection", "keep-alive"), ("TE", "trailers")],
        [("Connection", "upgrade"), ("Upgrade", "websocket")],
    ],
    ids=["lone", "spaced-and-cased", "keep-alive-header", "two-connections", "listing", "te", "upgrade"],
)
@pytest.mark.parametrize("keep_upgrade", [False, True])
def test_lone_keep_alive_shortcut_agrees_with_the_general_rule(
    items: list[tuple[str, str]], keep_upgrade: bool
) -> None:
    """strip_hop_headers drops a lone `Connection: keep-alive` in place; the result must be what the full
    rule gives: the fixed list plus everything Connection names, an asked-for upgrade put back."""
    headers = HeaderList(list(items))
    kept = strip_hop_headers(headers, keep_upgrade=keep_upgrade)
    listed = {
        token.strip(" \t").lower()
        for name, value in items
        if name.lower() == "connection"
        for token in value.split(",")
    }
    upgrade = "websocket" if keep_upgrade and "upgrade" in listed else ""
    expected = [(n, v) for n, v in items if n.lower() not in HOP_HEADERS | listed]
    if upgrade:
        expected += [("Connection", "Upgrade"), ("Upgrade", upgrade)]
    assert (kept, headers.items) == (upgrade, expected)
