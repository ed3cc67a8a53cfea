"""X-Forwarded-* headers (proxy.forwarder.forwarded).

Ported from traefik/traefik pkg/middlewares/forwardedheaders/forwarded_header_test.go (TestServeHTTP,
Test_isWebsocketRequest, TestConnection), pkg/ip/checker_test.go, pkg/proxy/httputil/proxy.go
(X-Forwarded-For append, copyForwardedHeader), and Go's reverseproxy_test.go (TE trailers, User-Agent,
X-Forwarded-For); plus the conformance cases of category forwardedHeaders.
"""

from __future__ import annotations

import pytest

from proxy.forwarder.forwarded import (
    ForwardedHeaders,
    InvalidUpgradeProtocol,
    TrustedIPs,
    finalize_upstream_headers,
    go_split_port,
    is_managed_x_header,
)
from proxy.message import XFF_NO_APPEND, XFF_SUPPRESS, HeaderList, RequestHead

HOSTNAME = "traefik-host"


def make_request(
    headers: list[tuple[str, str]] | None = None,
    client_ip: str = "",
    host: str = "",
    tls: bool = False,
    websocket: bool = False,
) -> RequestHead:
    items = list(headers or [])
    if websocket:
        items += [("Connection", "upgrade"), ("Upgrade", "websocket")]
    return RequestHead(
        "GET", "/", None, HeaderList(items), host=host, client_ip=client_ip, scheme="https" if tls else "http"
    )


def through_traefik(req: RequestHead, fwd: ForwardedHeaders) -> dict[str, str | None]:
    """Entry point stage then the proxy's last step; returns the upstream headers (joined, lower-case keys)."""
    fwd.apply(req, 80)
    finalize_upstream_headers(req)
    names = {k.lower() for k, _ in req.headers}
    return {name: req.headers.joined(name) for name in names}


# -- conformance cases -------------------------------------------------------------------------------


def test_conformance_fwd_trustedips_loopback_trusted() -> None:
    fwd = ForwardedHeaders(False, ["127.0.0.1/32"], HOSTNAME)
    req = make_request(
        [("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-Proto", "https")], client_ip="127.0.0.1", host="fwd.test"
    )
    up = through_traefik(req, fwd)
    assert up["x-forwarded-for"] == "1.2.3.4, 127.0.0.1"
    assert up["x-forwarded-proto"] == "https"
    assert up["x-forwarded-port"] == "443"  # from the trusted X-Forwarded-Proto


def test_conformance_fwd_host_with_port_and_case_kept() -> None:
    fwd = ForwardedHeaders(False, [], HOSTNAME)
    req = make_request([("Host", "Fwd.Test:8080")], client_ip="127.0.0.1", host="Fwd.Test:8080")
    up = through_traefik(req, fwd)
    assert up["host"] == "Fwd.Test:8080"
    assert up["x-forwarded-host"] == "Fwd.Test:8080"
    assert up["x-forwarded-port"] == "8080"


def test_conformance_fwd_untrusted_client_headers_replaced() -> None:
    fwd = ForwardedHeaders(False, [], HOSTNAME)
    req = make_request(
        [
            ("X-Forwarded-For", "1.2.3.4"),
            ("X-Real-Ip", "5.6.7.8"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "evil.test"),
            ("X-Forwarded-Port", "9999"),
            ("X-Forwarded-Prefix", "/evil"),
            ("X-Forwarded-Uri", "/evil"),
            ("X-Forwarded-Method", "DELETE"),
        ],
        client_ip="127.0.0.1",
        host="fwd.test",
    )
    up = through_traefik(req, fwd)
    assert up["x-forwarded-for"] == "127.0.0.1"
    assert up["x-real-ip"] == "127.0.0.1"
    assert up["x-forwarded-proto"] == "http"
    assert up["x-forwarded-host"] == "fwd.test"
    assert up["x-forwarded-port"] == "80"
    assert up["x-forwarded-server"] == HOSTNAME
    for absent in ("x-forwarded-prefix", "x-forwarded-uri", "x-forwarded-method"):
        assert absent not in up


# -- TestServeHTTP (forwarded_header_test.go) ----------------------------------------------------------

INCOMING = [
    ("X-Forwarded-For", "10.0.1.0, 10.0.1.12"),
    ("X-Forwarded-Uri", "/bar"),
    ("X-Forwarded-Method", "GET"),
    ("X-Forwarded-Tls-Client-Cert", "Cert"),
    ("X-Forwarded-Tls-Client-Cert-Info", "CertInfo"),
    ("X-Forwarded-Prefix", "/prefix"),
    ("X_forwarded_proto", "https"),
    ("X_forwarded_for", "10.0.0.1"),
]
INCOMING_KEPT = {k: v for k, v in INCOMING}
INCOMING_REMOVED: dict[str, str | None] = {k: None for k, _ in INCOMING}

X_HEADERS = [
    "X-Forwarded-Proto",
    "X-Forwarded-For",
    "X-Forwarded-Uri",
    "X-Forwarded-Method",
    "X-Forwarded-Host",
    "X-Forwarded-Port",
    "X-Forwarded-Tls-Client-Cert",
    "X-Forwarded-Tls-Client-Cert-Info",
    "X-Forwarded-Prefix",
    "X-Real-Ip",
]
FOO_KEPT: dict[str, str | None] = {name: "foo" for name in X_HEADERS}
FOO_UNTRUSTED: dict[str, str | None] = {
    **{name: None for name in X_HEADERS},
    "X-Forwarded-Proto": "http",
    "X-Forwarded-Port": "80",
}


@pytest.mark.parametrize(
    (
        "insecure",
        "trusted",
        "connection",
        "scheme_headers",
        "incoming",
        "client_ip",
        "tls",
        "websocket",
        "host",
        "expected",
    ),
    [
        pytest.param(
            True,
            [],
            [],
            False,
            [],
            "",
            False,
            False,
            "",
            {"X-Forwarded-For": None, "X-Forwarded-Uri": None, "X-Real-Ip": None},
            id="all-empty",
        ),
        pytest.param(
            True,
            [],
            [],
            False,
            INCOMING,
            "",
            False,
            False,
            "",
            INCOMING_KEPT,
            id="insecure-keeps-incoming-including-underscore-variants",
        ),
        pytest.param(
            False,
            [],
            [],
            False,
            INCOMING + [("X_forwarded_host", "evil.example")],
            "",
            False,
            False,
            "",
            {**INCOMING_REMOVED, "X_forwarded_host": None},
            id="not-insecure-removes-incoming",
        ),
        pytest.param(
            False,
            ["10.0.1.100"],
            [],
            False,
            INCOMING,
            "10.0.1.100",
            False,
            False,
            "",
            INCOMING_KEPT,
            id="trusted-ip-keeps-incoming",
        ),
        pytest.param(
            False,
            ["10.0.1.100"],
            [],
            False,
            INCOMING,
            "10.0.1.101",
            False,
            False,
            "",
            INCOMING_REMOVED,
            id="untrusted-ip-removes-incoming",
        ),
        pytest.param(
            False,
            ["1.2.3.4/24"],
            [],
            False,
            INCOMING,
            "1.2.3.156",
            False,
            False,
            "",
            INCOMING_KEPT,
            id="trusted-cidr-keeps-incoming",
        ),
        pytest.param(
            False,
            ["1.2.3.4/24"],
            [],
            False,
            INCOMING,
            "10.0.1.101",
            False,
            False,
            "",
            INCOMING_REMOVED,
            id="untrusted-cidr-removes-incoming",
        ),
        pytest.param(
            True,
            [],
            [],
            False,
            [
                ("X-Forwarded-For", "10.0.0.4, 10.0.0.3"),
                ("X-Forwarded-For", "10.0.0.2, 10.0.0.1"),
                ("X-Forwarded-For", "10.0.0.0"),
            ],
            "",
            False,
            False,
            "",
            {"X-Forwarded-For": "10.0.0.4, 10.0.0.3, 10.0.0.2, 10.0.0.1, 10.0.0.0"},
            id="xff-multiple-headers-folded",
        ),
        pytest.param(
            False,
            [],
            [],
            False,
            [],
            "10.0.1.101",
            False,
            False,
            "",
            {"X-Real-Ip": "10.0.1.101"},
            id="x-real-ip-from-remote-address",
        ),
        pytest.param(
            True,
            [],
            [],
            False,
            [("X-Real-Ip", "10.0.1.12")],
            "10.0.1.101",
            False,
            False,
            "",
            {"X-Real-Ip": "10.0.1.12"},
            id="x-real-ip-already-set",
        ),
        pytest.param(False, [], [], False, [], "", False, False, "", {"X-Forwarded-Proto": "http"}, id="proto-no-tls"),
        pytest.param(False, [], [], False, [], "", True, False, "", {"X-Forwarded-Proto": "https"}, id="proto-tls"),
        pytest.param(
            False,
            [],
            [],
            True,
            [],
            "",
            True,
            False,
            "",
            {"X-Forwarded-Proto": "https", "X-Forwarded-Scheme": "https", "X-Scheme": "https"},
            id="scheme-headers-tls",
        ),
        pytest.param(
            False,
            [],
            [],
            False,
            [],
            "",
            True,
            False,
            "",
            {"X-Forwarded-Proto": "https", "X-Forwarded-Scheme": None, "X-Scheme": None},
            id="scheme-headers-disabled-absent",
        ),
        pytest.param(False, [], [], False, [], "", False, True, "", {"X-Forwarded-Proto": "ws"}, id="proto-websocket"),
        pytest.param(
            False,
            [],
            [],
            True,
            [],
            "",
            False,
            True,
            "",
            {"X-Forwarded-Proto": "ws", "X-Forwarded-Scheme": "ws", "X-Scheme": "ws"},
            id="scheme-headers-websocket",
        ),
        pytest.param(
            False, [], [], False, [], "", True, True, "", {"X-Forwarded-Proto": "wss"}, id="proto-websocket-tls"
        ),
        pytest.param(
            False,
            [],
            [],
            True,
            [],
            "",
            True,
            True,
            "",
            {"X-Forwarded-Proto": "wss", "X-Forwarded-Scheme": "wss", "X-Scheme": "wss"},
            id="scheme-headers-websocket-tls",
        ),
        pytest.param(
            False,
            [],
            [],
            False,
            [("X-Forwarded-Proto", "wss")],
            "",
            True,
            True,
            "",
            {"X-Forwarded-Proto": "wss"},
            id="proto-websocket-tls-already-wss",
        ),
        pytest.param(
            True,
            [],
            [],
            True,
            [("X-Forwarded-Proto", "https"), ("X-Forwarded-Scheme", "external-https"), ("X-Scheme", "external-https")],
            "",
            False,
            False,
            "",
            {"X-Forwarded-Proto": "https", "X-Forwarded-Scheme": "https", "X-Scheme": "https"},
            id="scheme-headers-overwritten-in-insecure-mode",
        ),
        pytest.param(
            False, [], [], False, [], "", False, False, "foo.com:8080", {"X-Forwarded-Port": "8080"}, id="port-explicit"
        ),
        pytest.param(
            True,
            [],
            [],
            False,
            [("X-Forwarded-Proto", "https")],
            "",
            False,
            False,
            "",
            {"X-Forwarded-Proto": "https", "X-Forwarded-Port": "443"},
            id="port-implicit-from-proto",
        ),
        pytest.param(
            False, [], [], False, [], "", True, False, "", {"X-Forwarded-Port": "443"}, id="port-implicit-from-tls"
        ),
        pytest.param(
            False,
            [],
            [],
            False,
            [],
            "",
            False,
            False,
            "foo.com:8080",
            {"X-Forwarded-Host": "foo.com:8080"},
            id="host-from-request-host",
        ),
        pytest.param(
            False,
            [],
            [],
            False,
            [("Connection", ", ".join(X_HEADERS + ["X_forwarded_proto"]))]
            + [(name, "foo") for name in X_HEADERS]
            + [("X_forwarded_proto", "spoofed")],
            "",
            False,
            False,
            "",
            {**FOO_UNTRUSTED, "X_forwarded_proto": None, "Connection": None},
            id="untrusted-connection-no-effect-on-x-headers",
        ),
        pytest.param(
            True,
            [],
            [],
            False,
            [("Connection", ", ".join(X_HEADERS))] + [(name, "foo") for name in X_HEADERS],
            "",
            False,
            False,
            "",
            {**FOO_KEPT, "Connection": None},
            id="trusted-connection-no-effect-on-x-headers",
        ),
        pytest.param(
            False,
            [],
            X_HEADERS,
            False,
            [("Connection", ", ".join(X_HEADERS))] + [(name, "foo") for name in X_HEADERS],
            "",
            False,
            False,
            "",
            {**FOO_UNTRUSTED, "Connection": None},
            id="untrusted-connection-option-no-effect",
        ),
        pytest.param(
            True,
            [],
            X_HEADERS,
            False,
            [("Connection", ", ".join(X_HEADERS))] + [(name, "foo") for name in X_HEADERS],
            "",
            False,
            False,
            "",
            {**FOO_KEPT, "Connection": None},
            id="trusted-connection-option-no-effect",
        ),
        pytest.param(
            True,
            [],
            [h.lower() for h in X_HEADERS],
            False,
            [("Connection", ", ".join(X_HEADERS))] + [(name, "foo") for name in X_HEADERS],
            "",
            False,
            False,
            "",
            {**FOO_KEPT, "Connection": None},
            id="connection-option-case-insensitive",
        ),
        pytest.param(
            True,
            [],
            [],
            False,
            [("Connection", ", ".join(h.lower() for h in X_HEADERS))] + [(name, "foo") for name in X_HEADERS],
            "",
            False,
            False,
            "",
            {**FOO_KEPT, "Connection": None},
            id="connection-tokens-case-insensitive",
        ),
        pytest.param(
            False,
            [],
            ["foo"],
            False,
            [("Connection", "foo"), ("Connection", "bar"), ("Foo", "bar"), ("Bar", "foo")],
            "",
            False,
            False,
            "",
            {"Bar": None, "Foo": "bar"},
            id="connection-one-removed-one-passed-through",
        ),
        pytest.param(
            False,
            [],
            [],
            False,
            [("X_custom_header", "value"), ("X_forwarded_proto", "spoofed")],
            "10.0.1.101",
            False,
            False,
            "",
            {"X_custom_header": "value", "X_forwarded_proto": None},
            id="untrusted-keeps-unmanaged-underscore-headers",
        ),
    ],
)
def test_forwarded_headers_middleware(
    insecure: bool,
    trusted: list[str],
    connection: list[str],
    scheme_headers: bool,
    incoming: list[tuple[str, str]],
    client_ip: str,
    tls: bool,
    websocket: bool,
    host: str,
    expected: dict[str, str | None],
) -> None:
    # Traefik's test sets the hostname to the request host when one is given.
    fwd = ForwardedHeaders(
        insecure, trusted, host or HOSTNAME, connection=connection, add_x_forwarded_scheme_headers=scheme_headers
    )
    req = make_request(incoming, client_ip=client_ip, host=host, tls=tls, websocket=websocket)
    fwd.apply(req, 80)
    for name, value in expected.items():
        assert req.headers.get(name) == value, name
    if host:
        assert req.headers.get("X-Forwarded-Server") == host


# -- Test_isWebsocketRequest ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("connection", "upgrade", "websocket"),
    [
        pytest.param("foo,upgrade,bar", "websocket", True, id="connection-middle"),
        pytest.param("foo,bar,upgrade", "websocket", True, id="connection-end"),
        pytest.param("upgrade,foo,bar", "websocket", True, id="connection-begin"),
        pytest.param("foo,bar", "websocket", False, id="no-upgrade-token"),
        pytest.param("", "websocket", False, id="connection-empty"),
        pytest.param("foo,bar", "foo,bar", False, id="no-values"),
        pytest.param("upgrade", "foo,bar,websocket", True, id="upgrade-multiple-values"),
    ],
)
def test_websocket_detection(connection: str, upgrade: str, websocket: bool) -> None:
    req = make_request([("Connection", connection), ("Upgrade", upgrade)])
    ForwardedHeaders(False, [], HOSTNAME).apply(req)
    assert req.headers.get("X-Forwarded-Proto") == ("ws" if websocket else "http")


# -- TestConnection ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("incoming", "connection", "expected"),
    [
        pytest.param([("Foo", "bar"), ("Connection", "foo")], [], [], id="simple-remove"),
        pytest.param(
            [("Upgrade", "test"), ("Foo", "bar"), ("Connection", "upgrade,foo")],
            [],
            [("Upgrade", "test"), ("Connection", "Upgrade")],
            id="remove-and-upgrade",
        ),
        pytest.param([("Foo", "bar"), ("Connection", "fii")], [], [("Foo", "bar")], id="no-remove"),
        pytest.param(
            [("Foo", "bar"), ("Connection", "Foo")],
            ["Foo"],
            [("Foo", "bar"), ("Connection", "Foo")],
            id="pass-through-connection-option",
        ),
    ],
)
def test_connection_handling(
    incoming: list[tuple[str, str]], connection: list[str], expected: list[tuple[str, str]]
) -> None:
    fwd = ForwardedHeaders(True, [], HOSTNAME, connection=connection)
    headers = HeaderList(list(incoming))
    fwd._apply_connection(headers)
    assert sorted(headers.items) == sorted(expected)  # Go headers are a map: order is not part of it


# -- trusted IPs (pkg/ip/checker.go) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trusted", "address", "expected"),
    [
        pytest.param(["10.0.0.1"], "10.0.0.1", True, id="exact-ip"),
        pytest.param(["10.0.0.1"], "10.0.0.2", False, id="other-ip"),
        pytest.param(["1.2.3.4/24"], "1.2.3.200", True, id="cidr-with-host-bits"),
        pytest.param(["::1"], "::1", True, id="ipv6-exact"),
        pytest.param(["2a03:4000::/32"], "2a03:4000:6:d080::1", True, id="ipv6-cidr"),
        pytest.param(["10.0.0.1"], "::ffff:10.0.0.1", True, id="ipv4-mapped-client"),
        pytest.param(["::ffff:10.0.0.0/120"], "10.0.0.7", True, id="ipv4-mapped-cidr"),
        pytest.param(["::/0"], "10.0.0.1", False, id="ipv6-any-excludes-ipv4"),
        pytest.param(["fe80::/10"], "fe80::1%eth0", True, id="zone-ignored"),
        pytest.param(["10.0.0.1"], "", False, id="empty-address"),
        pytest.param(["10.0.0.1"], "not-an-ip", False, id="unparsable-address"),
    ],
)
def test_trusted_ips(trusted: list[str], address: str, expected: bool) -> None:
    assert TrustedIPs(trusted).contains(address) is expected


@pytest.mark.parametrize("entry", ["foo", "10.0.0.1/33", "10.0.0.256", "1.2.3.4/x"])
def test_invalid_trusted_ip_rejected_at_construction(entry: str) -> None:
    with pytest.raises(ValueError, match="trustedIPs"):
        ForwardedHeaders(False, [entry], HOSTNAME)


@pytest.mark.parametrize(
    ("name", "managed"),
    [
        ("X-Forwarded-For", True),
        ("x-real-ip", True),
        ("X_Forwarded_Host", True),
        ("X-Scheme", True),
        ("Forwarded", False),
        ("X-Custom", False),
        ("X_custom_header", False),
    ],
)
def test_managed_x_headers(name: str, managed: bool) -> None:
    assert is_managed_x_header(name) is managed


@pytest.mark.parametrize(
    ("host", "port"),
    [
        ("example.com", ""),
        ("example.com:8080", "8080"),
        ("[::1]:443", "443"),
        ("[::1]", ""),
        ("a:b:c", ""),
        ("host:", ""),
        ("host:abc", "abc"),
    ],
)
def test_go_split_port(host: str, port: str) -> None:
    assert go_split_port(host) == port


def test_ipv6_zone_removed_from_x_real_ip() -> None:
    req = make_request(client_ip="fe80::1%eth0")
    ForwardedHeaders(False, [], HOSTNAME).apply(req)
    assert req.headers.get("X-Real-Ip") == "fe80::1"


def test_empty_hostname_sets_no_server_header() -> None:
    req = make_request(client_ip="1.2.3.4")
    ForwardedHeaders(False, [], "").apply(req)
    assert "X-Forwarded-Server" not in req.headers


# -- the proxy's last step (Go ReverseProxy + Traefik rewriteRequestBuilder) ---------------------------


@pytest.mark.parametrize(
    ("incoming", "xff", "expected_xff"),
    [
        pytest.param([], 0, "9.9.9.9", id="set-from-client-ip"),
        pytest.param([("X-Forwarded-For", "1.1.1.1, 2.2.2.2")], 0, "1.1.1.1, 2.2.2.2, 9.9.9.9", id="appended"),
        pytest.param(
            [("X-Forwarded-For", "1.1.1.1"), ("X-Forwarded-For", "2.2.2.2")],
            0,
            "1.1.1.1, 2.2.2.2, 9.9.9.9",
            id="multiple-headers-folded",
        ),
        pytest.param([("X-Forwarded-For", "")], 0, ", 9.9.9.9", id="empty-prior-kept-as-go-does"),
        pytest.param(
            [("X-Forwarded-For", "1.1.1.1")],
            XFF_SUPPRESS,
            None,
            id="custom-request-header-empty-suppresses",
        ),
        pytest.param([], XFF_SUPPRESS, None, id="suppressed-nothing-prior"),
        pytest.param(
            [("X-Forwarded-For", "1.1.1.1")],
            XFF_NO_APPEND,
            "1.1.1.1",
            id="notAppendXForwardedFor-keeps-prior",
        ),
        pytest.param([], XFF_NO_APPEND, None, id="notAppendXForwardedFor-nothing-prior"),
        # Traefik's headers middleware deletes the header after forwardedHeaders ran: nothing goes, even on an
        # entry point that keeps the client's value.
        pytest.param(
            [("X-Forwarded-For", "1.1.1.1")],
            XFF_SUPPRESS | XFF_NO_APPEND,
            None,
            id="suppress-wins-over-notAppend",
        ),
    ],
)
def test_x_forwarded_for_append(incoming: list[tuple[str, str]], xff: int, expected_xff: str | None) -> None:
    req = make_request(incoming, client_ip="9.9.9.9")
    req.xff = xff
    finalize_upstream_headers(req)
    assert req.headers.joined("X-Forwarded-For") == expected_xff


@pytest.mark.parametrize(
    ("xff", "expected_xff"),
    [
        pytest.param(0, "9.9.9.9", id="default-appends"),
        pytest.param(XFF_SUPPRESS, None, id="suppressed"),
        pytest.param(XFF_NO_APPEND, None, id="notAppend-nothing-prior"),
    ],
)
def test_x_forwarded_for_plain_shortcut_same_as_general(xff: int, expected_xff: str | None) -> None:
    """finalize_upstream_headers(plain=True) (a head with no X- or hop-by-hop header) skips to one test of
    `req.xff`: it gives what the general path gives."""
    plain = make_request([("Accept", "*/*")], client_ip="9.9.9.9")
    general = make_request([("Accept", "*/*")], client_ip="9.9.9.9")
    plain.xff = general.xff = xff
    finalize_upstream_headers(plain, plain=True)
    finalize_upstream_headers(general)
    assert plain.headers.items == general.headers.items
    assert plain.headers.joined("X-Forwarded-For") == expected_xff


def test_not_append_option_sets_flag() -> None:
    req = make_request([("X-Forwarded-For", "1.1.1.1")], client_ip="9.9.9.9")
    fwd = ForwardedHeaders(True, [], HOSTNAME, not_append_x_forwarded_for=True)
    fwd.apply(req)
    assert req.xff == XFF_NO_APPEND
    finalize_upstream_headers(req)
    assert req.headers.get_all("X-Forwarded-For") == ["1.1.1.1"]


@pytest.mark.parametrize(
    ("incoming", "expected"),
    [
        pytest.param([("TE", "trailers")], [("Te", "trailers")], id="te-trailers-kept"),
        pytest.param([("TE", "gzip, trailers")], [("Te", "trailers")], id="te-reduced-to-trailers"),
        pytest.param([("TE", "gzip")], [], id="te-without-trailers-dropped"),
        pytest.param(
            [
                ("Connection", "Keep-Alive, X-Hop"),
                ("Keep-Alive", "timeout=5"),
                ("X-Hop", "1"),
                ("Proxy-Authorization", "Basic x"),
                ("Trailer", "X"),
                ("X-Keep", "1"),
            ],
            [("X-Keep", "1")],
            id="hop-headers-and-connection-named-removed",
        ),
        pytest.param(
            [("Connection", "Upgrade"), ("Upgrade", "websocket"), ("Sec-WebSocket-Key", "k")],
            [("Sec-WebSocket-Key", "k"), ("Connection", "Upgrade"), ("Upgrade", "websocket")],
            id="websocket-upgrade-kept",
        ),
        pytest.param(
            [("Connection", "Forwarded, X-Forwarded-Host"), ("Forwarded", "for=1.2.3.4"), ("X-Forwarded-Host", "a")],
            [("Forwarded", "for=1.2.3.4"), ("X-Forwarded-Host", "a")],
            id="forwarding-headers-restored",
        ),
    ],
)
def test_finalize_hop_handling(incoming: list[tuple[str, str]], expected: list[tuple[str, str]]) -> None:
    req = make_request(incoming)  # no client ip: no X-Forwarded-For
    finalize_upstream_headers(req)
    assert req.headers.items == expected


@pytest.mark.parametrize(
    ("incoming", "expected"),
    [
        pytest.param([], [], id="absent-stays-absent"),
        pytest.param([("User-Agent", "")], [], id="empty-not-sent"),
        pytest.param([("User-Agent", "curl/8")], [("User-Agent", "curl/8")], id="kept"),
        pytest.param([("User-Agent", "a"), ("User-Agent", "b")], [("User-Agent", "a")], id="first-value-only"),
        pytest.param([("User-Agent", ""), ("User-Agent", "b")], [], id="empty-first-value-sends-none"),
    ],
)
def test_user_agent(incoming: list[tuple[str, str]], expected: list[tuple[str, str]]) -> None:
    req = make_request(incoming)
    finalize_upstream_headers(req)
    assert req.headers.items == expected


def test_invalid_upgrade_protocol_rejected() -> None:
    req = make_request([("Connection", "upgrade"), ("Upgrade", "web\u00e9socket")])
    with pytest.raises(InvalidUpgradeProtocol) as info:
        finalize_upstream_headers(req)
    assert info.value.status == 500


def test_connection_option_headers_reach_middlewares_but_not_upstream() -> None:
    """forwardedHeaders.connection keeps a Connection-listed header for the middleware chain only."""
    fwd = ForwardedHeaders(True, [], HOSTNAME, connection=["X-Auth"])
    req = make_request([("Connection", "X-Auth, X-Drop"), ("X-Auth", "t"), ("X-Drop", "d")], client_ip="1.2.3.4")
    fwd.apply(req)
    assert req.headers.get("X-Auth") == "t"
    assert req.headers.get("X-Drop") is None
    assert req.headers.get("Connection") == "X-Auth"
    finalize_upstream_headers(req)
    assert req.headers.get("X-Auth") is None
    assert "Connection" not in req.headers


@pytest.mark.parametrize(
    "connection, kept, dropped, expected",
    [
        ("keep-alive", (), True, [("Host", "h"), ("X-Private", "1"), ("X-Other", "2")]),
        ("close, X-Private", (), True, [("Host", "h"), ("X-Other", "2")]),
        ("X-Private", ["X-Private"], False, None),
        ("Upgrade", (), False, None),
        ("keep-alive", ["keep-alive"], False, None),
    ],
    ids=["keep-alive", "listing", "kept-by-entry-point", "upgrade", "keep-alive-kept"],
)
def test_drop_connection_listing_only_for_plain_drops(
    connection: str, kept: list[str], dropped: bool, expected: list[tuple[str, str]] | None
) -> None:
    """The forwarder's shortcut for a head whose only special header is Connection: it acts only when
    `apply` would drop the Connection header with what it lists, and then does exactly that."""
    items = [("Host", "h"), ("Connection", connection), ("X-Private", "1"), ("X-Other", "2")]
    headers = HeaderList(list(items))
    assert ForwardedHeaders(False, [], HOSTNAME, connection=kept).drop_connection_listing(headers) is dropped
    assert headers.items == (expected if dropped else items)


@pytest.mark.parametrize(
    "items, expected",
    [
        (
            [("Host", "h"), ("Connection", "keep-alive"), ("X-A", "1"), ("Connection", "keep-alive")],
            [("Host", "h"), ("X-A", "1")],
        ),
        (
            [("Host", "h"), ("Connection", "keep-alive"), ("Keep-Alive", "timeout=5"), ("X-A", "1")],
            [("Host", "h"), ("X-A", "1")],
        ),
        (
            [("Connection", "X-A"), ("Host", "h"), ("X-A", "1"), ("x-a", "2"), ("X-B", "3")],
            [("Host", "h"), ("X-B", "3")],
        ),
    ],
    ids=["two-connection-headers", "listed-header-present", "listed-header-twice"],
)
def test_drop_connection_listing_removes_every_copy(
    items: list[tuple[str, str]], expected: list[tuple[str, str]]
) -> None:
    """Repeated Connection headers, and headers they list, all go (not only the first Connection)."""
    headers = HeaderList(list(items))
    assert ForwardedHeaders(False, [], HOSTNAME).drop_connection_listing(headers) is True
    assert headers.items == expected
