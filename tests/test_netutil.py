"""proxy.netutil: Go's net helpers and Traefik's pkg/ip, table-driven from their tests.

Cases: Go's net/ipsock_test.go (SplitHostPort), textproto's CanonicalMIMEHeaderKey tests, traefik
pkg/ip/checker_test.go (TestIsAuthorized, TestNew, TestContainsIsAllowed) and pkg/ip/strategy_test.go.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from proxy.message import HeaderList
from proxy.netutil import (
    DepthStrategy,
    IPChecker,
    PoolStrategy,
    RemoteAddrStrategy,
    canonical_header_key,
    ip_strategy,
    split_host_port,
)


@pytest.mark.parametrize(
    ("hostport", "expected"),
    [
        pytest.param("localhost:http", ("localhost", "http"), id="name-service"),
        pytest.param("127.0.0.1:80", ("127.0.0.1", "80"), id="ipv4"),
        pytest.param("[::1]:80", ("::1", "80"), id="ipv6"),
        pytest.param("[fe80::1%lo0]:80", ("fe80::1%lo0", "80"), id="ipv6-zone"),
        pytest.param(":80", ("", "80"), id="empty-host"),
        pytest.param("[::1]:", ("::1", ""), id="empty-port"),
        pytest.param("host:", ("host", ""), id="host-empty-port"),
        pytest.param("127.0.0.1", None, id="missing-port"),
        pytest.param("::1", None, id="too-many-colons"),
        pytest.param("[::1]", None, id="brackets-no-port"),
        pytest.param("[::1]80", None, id="no-colon-after-bracket"),
        pytest.param("[::1]:80:80", None, id="colon-after-port"),
        pytest.param("a]b:80", None, id="unexpected-close-bracket"),
        pytest.param("[a[b]:80", None, id="unexpected-open-bracket"),
        # Go's splitJoinTests and splitFailureTests (net/ipsock_test.go) not spelled above.
        pytest.param("[localhost%lo0]:80", ("localhost%lo0", "80"), id="go-bracketed-name-zone"),
        pytest.param(":0", ("", "0"), id="go-empty-host-port-0"),
        pytest.param("google.com:https%foo", ("google.com", "https%foo"), id="go-1.0-port-unchecked"),
        pytest.param("www.google.com:", ("www.google.com", ""), id="go-1.0-empty-port"),
        pytest.param("[localhost%lo0]", None, id="go-brackets-zone-no-port"),
        pytest.param("localhost%lo0", None, id="go-zone-no-port"),
        pytest.param("fe80::1%lo0:80", None, id="go-unbracketed-ipv6-zone-port"),
        pytest.param("[foo:bar]", None, id="go-bracketed-no-port"),
        pytest.param("[foo:bar]baz", None, id="go-text-after-bracket"),
        pytest.param("[foo]bar:baz", None, id="go-text-between-bracket-and-colon"),
        pytest.param("[foo]:[bar]:baz", None, id="go-two-bracketed-parts"),
        pytest.param("[foo]:[bar]baz", None, id="go-open-bracket-in-port"),
        pytest.param("foo[bar]:baz", None, id="go-open-bracket-in-host"),
        pytest.param("foo]bar:baz", None, id="go-close-bracket-in-host"),
    ],
)
def test_split_host_port(hostport: str, expected: tuple[str, str] | None) -> None:
    assert split_host_port(hostport) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a-b-c", "A-B-C"),
        ("a-1-c", "A-1-C"),
        ("User-Agent", "User-Agent"),
        ("uSER-aGENT", "User-Agent"),
        ("user-agent", "User-Agent"),
        ("USER-AGENT", "User-Agent"),
        ("x-webauth-user", "X-Webauth-User"),
        ("foo bar", "foo bar"),  # a space: not a token, left alone
        ("foo\nbar", "foo\nbar"),
        ("", ""),
        ("C Ontent-Transfer-Encoding", "C Ontent-Transfer-Encoding"),
        # The rest of textproto's canonicalHeaderKeyTests (reader_test.go): other token bytes, and non-ASCII
        # names left alone (the access log's own copy used to give "Üser-Agent" here).
        ("foo-bar_baz", "Foo-Bar_baz"),
        ("foo-bar$baz", "Foo-Bar$baz"),
        ("foo-bar~baz", "Foo-Bar~baz"),
        ("foo-bar*baz", "Foo-Bar*baz"),
        ("üser-agenT", "üser-agenT"),
        ("a B", "a B"),
    ],
)
def test_canonical_header_key(name: str, expected: str) -> None:
    assert canonical_header_key(name) == expected


@pytest.mark.parametrize(
    ("allow", "remote", "authorized"),
    [
        pytest.param(["1.2.3.4/24"], "10.2.3.1:123", False, id="not-in-range"),
        pytest.param(["1.2.3.4/24"], "1.2.3.1:123", True, id="in-range"),
        pytest.param(["127.2.3.4/24"], "0127.2.3.1:123", False, id="octal-ip"),
        pytest.param(["::1"], "[::1]:80", True, id="ipv6-with-port"),
        pytest.param(["::1"], "::1", True, id="ipv6-bare"),
        pytest.param(["::1"], "[::1]", False, id="brackets-without-port-do-not-parse"),
        pytest.param(["10.0.0.0/8"], "10.1.2.3", True, id="no-port"),
    ],
)
def test_is_authorized(allow: list[str], remote: str, authorized: bool) -> None:
    assert IPChecker(allow).is_authorized(remote) is authorized


@pytest.mark.parametrize(
    "entry",
    [
        "",
        "foo",
        "1.2.3.4/33",
        "1.2.3.4/",
        "10.0.0.0/255.0.0.0",
        "fe80::1%eth0",
        "fe80::/10%eth0",
        "1.2.3.4 ",
        "::1/129",
        "1.2.3.4/x",
    ],
)
def test_bad_entries_are_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="sourceRange"):
        IPChecker(["1.2.3.4/24", entry], "sourceRange")


@pytest.mark.parametrize(
    ("trusted", "passing", "rejected"),
    [
        pytest.param(
            ["1.2.3.4/24"],
            ["1.2.3.1", "1.2.3.32", "1.2.3.156", "1.2.3.255"],
            ["1.2.16.1", "1.2.32.1", "127.0.0.1", "8.8.8.8"],
            id="ipv4",
        ),
        pytest.param(["8.8.8.8"], ["8.8.8.8"], ["8.8.8.7", "8.8.8.9", "8.8.8.0", "4.4.4.4"], id="ipv4-single"),
        pytest.param(["8.8.8.8/32"], ["8.8.8.8"], ["8.8.8.7", "8.8.8.9", "127.0.0.1"], id="ipv4-net-single"),
        pytest.param(
            ["1.2.3.4/24", "8.8.8.8/8"],
            ["1.2.3.1", "8.8.4.4", "8.0.0.1", "8.255.255.255"],
            ["1.2.16.1", "127.0.0.1", "4.4.4.4", "4.8.8.8"],
            id="multiple-ipv4",
        ),
        pytest.param(
            ["2a03:4000:6:d080::/64"],
            ["2a03:4000:6:d080::", "2a03:4000:6:d080:dead:beef:ffff:ffff"],
            ["2a03:4000:7:d080::", "fe80::", "4242::1"],
            id="ipv6",
        ),
        pytest.param(
            ["2a03:4000:6:d080::42/128"], ["2a03:4000:6:d080::42"], ["2a03:4000:6:d080::43"], id="ipv6-single"
        ),
        pytest.param(
            ["2a03:4000:6:d080::/64", "fe80::/16"],
            ["fe80::1", "fe80:aa00:00bb:4232:ff00:eeee:00ff:1111"],
            ["4242::1", "fe81::1"],
            id="multiple-ipv6",
        ),
        pytest.param(["10.0.0.1"], ["::ffff:10.0.0.1"], ["::10.0.0.1"], id="mapped-equals-ipv4"),
        pytest.param(["::ffff:10.0.0.0/104"], ["10.9.9.9"], ["11.0.0.1"], id="mapped-network-is-ipv4"),
        pytest.param(["::/0"], ["::1"], ["10.0.0.1"], id="ipv6-any-holds-no-ipv4"),
        pytest.param(["0.0.0.0/0"], ["10.0.0.1"], ["::1"], id="ipv4-any-holds-no-ipv6"),
        pytest.param(["fe80::/10"], ["fe80::1%eth0"], ["fe80::1%", "[fe80::1]"], id="zone-ignored-not-empty"),
        pytest.param(["1.2.3.4"], [], ["", "1.2.3.4:80", " 1.2.3.4", "1.2.3.4%eth0", "01.2.3.4"], id="not-ips"),
    ],
)
def test_contains(trusted: list[str], passing: list[str], rejected: list[str]) -> None:
    checker = IPChecker(trusted)
    for address in passing:
        assert checker.contains(address), address
        assert checker.contains(address), address  # the remembered answer too
    for address in rejected:
        assert not checker.contains(address), address


def _req(client_ip: str = "192.0.2.1", xff: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(client_ip=client_ip, headers=HeaderList([] if xff is None else [("X-Forwarded-For", xff)]))


@pytest.mark.parametrize(
    ("remote", "subnet", "expected"),
    [
        # strategy_test.go TestRemoteAddrStrategy_GetIP
        pytest.param("192.0.2.1", None, "192.0.2.1", id="ipv4"),
        pytest.param("192.0.2.1:1234", None, "192.0.2.1", id="ipv4-with-port"),
        pytest.param("[::abcd:ffff:c0a8:1]:80", None, "::abcd:ffff:c0a8:1", id="ipv6-brackets-port"),
        pytest.param("[::abcd:ffff:c0a8:1%1]:80", None, "::abcd:ffff:c0a8:1%1", id="ipv6-zone-port"),
        pytest.param("::abcd:ffff:c0a8:1", None, "::abcd:ffff:c0a8:1", id="ipv6-bare"),
        pytest.param("192.0.2.1", 24, "192.0.2.1", id="ipv4-ignores-subnet"),
        pytest.param("[::abcd:ffff:c0a8:1]:80", 80, "::abcd:0:0:0", id="ipv6-subnet"),
        pytest.param("[::abcd:ffff:c0a8:1%1]:80", 80, "::abcd:0:0:0", id="ipv6-zone-subnet"),
        pytest.param("[::abcd:ffff:c0a8:1]:80", 500, "::abcd:ffff:c0a8:1", id="invalid-subnet-unchanged"),
        pytest.param("::ffff:10.1.2.3", 120, "::ffff:10.1.2.0", id="mapped-is-ipv6-for-subnets"),
    ],
)
def test_remote_addr_strategy(remote: str, subnet: int | None, expected: str) -> None:
    assert RemoteAddrStrategy(subnet).get_ip(_req(remote)) == expected


@pytest.mark.parametrize(
    ("depth", "xff", "subnet", "expected"),
    [
        # strategy_test.go TestDepthStrategy_GetIP
        pytest.param(3, "10.0.0.4,10.0.0.3,10.0.0.2,10.0.0.1", None, "10.0.0.3", id="depth"),
        pytest.param(2, "", None, "", id="nonexistent-depth"),
        pytest.param(2, None, None, "", id="no-header"),
        pytest.param(2, "10.0.0.2,10.0.0.1", None, "10.0.0.2", id="first-ip"),
        pytest.param(2, "10.0.0.3,10.0.0.2,10.0.0.1", 80, "10.0.0.2", id="ipv4-with-subnet"),
        pytest.param(2, "10.0.0.3,::abcd:ffff:c0a8:1,10.0.0.1", 80, "::abcd:0:0:0", id="ipv6-subnet"),
        pytest.param(1, "10.0.0.3, 10.0.0.2 ", None, "10.0.0.2", id="trimmed"),
    ],
)
def test_depth_strategy(depth: int, xff: str | None, subnet: int | None, expected: str) -> None:
    assert DepthStrategy(depth, subnet).get_ip(_req(xff=xff)) == expected


@pytest.mark.parametrize(
    ("excluded", "xff", "expected"),
    [
        # strategy_test.go TestTrustedIPsStrategy_GetIP
        pytest.param(
            ["10.0.0.4", "10.0.0.3", "10.0.0.2", "10.0.0.1"],
            "10.0.0.4,10.0.0.3,10.0.0.2,10.0.0.1",
            "",
            id="all-excluded",
        ),
        pytest.param(["10.0.0.2", "10.0.0.1"], "10.0.0.4,10.0.0.3,10.0.0.2,10.0.0.1", "10.0.0.3", id="some"),
        pytest.param(["10.0.0.1/24"], "127.0.0.1,10.0.0.4,10.0.0.3,10.0.0.2,10.0.0.1", "127.0.0.1", id="cidr"),
        pytest.param(["10.0.0.1/24"], "10.0.0.4,10.0.0.3,10.0.0.2,10.0.0.1", "", id="cidr-all"),
        pytest.param(["10.0.0.1"], "garbage, ,10.0.0.1", "garbage", id="unparsable-is-not-excluded"),
    ],
)
def test_pool_strategy(excluded: list[str], xff: str, expected: str) -> None:
    assert PoolStrategy(IPChecker(excluded)).get_ip(_req(xff=xff)) == expected


@pytest.mark.parametrize(
    ("options", "kind"),
    [
        # dynamic.IPStrategy.Get: depth wins over excludedIPs; no option -> the remote address.
        pytest.param({}, RemoteAddrStrategy, id="none"),
        pytest.param({"depth": 2, "excluded_ips": ["10.0.0.1"]}, DepthStrategy, id="depth-wins"),
        pytest.param({"excluded_ips": ["10.0.0.1"], "ipv6_subnet": 999}, PoolStrategy, id="excluded-ignores-subnet"),
        pytest.param({"depth": -1}, RemoteAddrStrategy, id="negative-depth-is-none"),
        pytest.param({"ipv6_subnet": 64}, RemoteAddrStrategy, id="subnet"),
    ],
)
def test_ip_strategy_choice(options: dict, kind: type) -> None:
    assert isinstance(ip_strategy(**options), kind)


@pytest.mark.parametrize("options", [{"ipv6_subnet": 0}, {"ipv6_subnet": 129}, {"depth": 1, "ipv6_subnet": -1}])
def test_ip_strategy_bad_subnet(options: dict) -> None:
    with pytest.raises(ValueError, match="ipv6Subnet"):
        ip_strategy(**options)
