"""ipAllowList / ipWhiteList, from traefik/traefik pkg/middlewares/ipallowlist/ip_allowlist_test.go
(TestNewIPAllowLister, TestIPAllowLister_ServeHTTP), ipwhitelist/ip_whitelist_test.go, and the docs'
ipStrategy examples; then end to end through a live gateway with httpx and curl, forged X-Forwarded-For
from trusted and untrusted clients for every strategy."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from proxy.config.errors import ConfigError
from proxy.message import HeaderList, RequestHead
from proxy.middlewares.ipallowlist import IPAllowList
from proxy.netutil import ip_strategy
from tests.middlewares.live import live_gateway


def request(client_ip: str, xff: str | None = None) -> RequestHead:
    headers = HeaderList([("X-Forwarded-For", xff)] if xff is not None else [])
    return RequestHead("GET", "/", None, headers, host="10.10.10.10", client_ip=client_ip)


@pytest.mark.parametrize(
    ("source_range", "status", "error"),
    [
        pytest.param(["foo"], 0, "'foo' is neither an IP address nor a CIDR", id="invalid IP"),
        pytest.param(["10.10.10.10"], 0, None, id="valid IP"),
        pytest.param(["10.10.10.10"], 600, "invalid HTTP status code 600", id="invalid HTTP status code"),
        pytest.param([], 0, "sourceRange is empty", id="empty sourceRange"),
        pytest.param(["10.10.10.10"], 306, "invalid HTTP status code 306", id="status Go has no text for"),
        pytest.param(["10.10.10.10"], 100, "not a final status", id="1xx refused"),
    ],
)
def test_new(source_range: list[str], status: int, error: str | None) -> None:
    if error is None:
        IPAllowList(source_range, reject_status_code=status)
    else:
        with pytest.raises(ValueError, match=error):
            IPAllowList(source_range, reject_status_code=status)


@pytest.mark.parametrize(
    ("source_range", "status", "remote", "expected"),
    [
        pytest.param(["20.20.20.20"], 0, "20.20.20.20", None, id="authorized with remote address"),
        pytest.param(["20.20.20.20"], 0, "20.20.20.21", 403, id="non authorized with remote address"),
        pytest.param(["20.20.20.20"], 404, "20.20.20.20", None, id="authorized, reject 404"),
        pytest.param(["20.20.20.20"], 404, "20.20.20.21", 404, id="non authorized, reject 404"),
        pytest.param(["20.20.20.0/24", "::1"], 0, "::1", None, id="ipv6 peer"),
        pytest.param(["20.20.20.20"], 0, "::ffff:20.20.20.20", None, id="ipv4-mapped peer"),
    ],
)
def test_serve_http(source_range: list[str], status: int, remote: str, expected: int | None) -> None:
    reply = IPAllowList(source_range, reject_status_code=status).on_request(request(remote))
    assert (reply and reply.status) == expected


@pytest.mark.parametrize(
    ("strategy", "remote", "xff", "allowed"),
    [
        # docs ipallowlist.md, ipStrategy.depth: X-Forwarded-For "10.0.0.1,11.0.0.1,12.0.0.1,13.0.0.1"
        pytest.param({"depth": 2}, "1.1.1.1", "10.0.0.1,11.0.0.1,12.0.0.1,13.0.0.1", True, id="depth 2 -> 12.0.0.1"),
        pytest.param({"depth": 4}, "1.1.1.1", "10.0.0.1,11.0.0.1,12.0.0.1,13.0.0.1", False, id="depth 4 -> 10.0.0.1"),
        pytest.param(
            {"depth": 5},
            "12.0.0.1",
            "10.0.0.1,11.0.0.1,12.0.0.1,13.0.0.1",
            False,
            id="depth past the end: refused, never the peer",
        ),
        # docs, ipStrategy.excludedIPs: the right-most address not excluded
        pytest.param(
            {"excluded_ips": ["13.0.0.1", "11.0.0.1"]},
            "1.1.1.1",
            "10.0.0.1,11.0.0.1,12.0.0.1,13.0.0.1",
            True,
            id="excluded -> 12.0.0.1",
        ),
        pytest.param(
            {"excluded_ips": ["12.0.0.0/8", "13.0.0.1"]},
            "1.1.1.1",
            "10.0.0.1,11.0.0.1,12.0.0.1,13.0.0.1",
            False,
            id="excluded -> 11.0.0.1",
        ),
        pytest.param({"excluded_ips": ["10.0.0.0/8"]}, "12.0.0.1", "10.0.0.1", False, id="all excluded: refused"),
        pytest.param(
            {"depth": 1, "excluded_ips": ["13.0.0.1"]},
            "1.1.1.1",
            "12.0.0.1,13.0.0.1",
            False,
            id="depth wins over excludedIPs",
        ),
        pytest.param({}, "12.0.0.1", "1.1.1.1", True, id="remote address ignores the header"),
        pytest.param({"ipv6_subnet": 64}, "2001:db8::1", None, False, id="subnet of an ipv6 peer -> 2001:db8::"),
        pytest.param({"depth": 1, "ipv6_subnet": 64}, "1.1.1.1", "2001:db8:0:1::7", True, id="depth with subnet"),
    ],
)
def test_strategies(strategy: dict[str, Any], remote: str, xff: str | None, allowed: bool) -> None:
    middleware = IPAllowList(["12.0.0.1", "2001:db8:0:1::"], ip_strategy(**strategy))
    assert (middleware.on_request(request(remote, xff)) is None) is allowed


# -- live ---------------------------------------------------------------------------------------------------


def allow(source_range: list[str], **options: Any) -> dict[str, Any]:
    return {"guard": {"ipAllowList": {"sourceRange": source_range, **options}}}


async def get(gateway: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(gateway.url + "/x", headers=headers)


@pytest.mark.parametrize(
    ("config", "status", "body"),
    [
        pytest.param(allow(["10.0.0.0/8"]), 403, b"Forbidden", id="default 403"),
        pytest.param(allow(["10.0.0.0/8"], rejectStatusCode=404), 404, b"Not Found", id="rejectStatusCode"),
        pytest.param(allow(["10.0.0.0/8"], rejectStatusCode=418), 418, b"I'm a teapot", id="Go's status text"),
        pytest.param({"guard": {"ipWhiteList": {"sourceRange": ["10.0.0.0/8"]}}}, 403, b"Forbidden", id="ipWhiteList"),
    ],
)
async def test_refusal_is_traefiks(tmp_path: Path, config: dict[str, Any], status: int, body: bytes) -> None:
    async with live_gateway(tmp_path, config) as gateway:
        response = await get(gateway)
    assert response.status_code == status
    assert response.content == body
    assert "content-type" not in response.headers  # Traefik's entry points do not sniff one
    assert response.headers["content-length"] == str(len(body))


async def test_204_refusal_has_no_body(tmp_path: Path) -> None:
    async with live_gateway(tmp_path, allow(["10.0.0.0/8"], rejectStatusCode=204)) as gateway:
        response = await get(gateway)
    assert response.status_code == 204 and response.content == b""
    assert "content-type" not in response.headers


async def test_allowed_peer_reaches_the_upstream(tmp_path: Path) -> None:
    async with live_gateway(tmp_path, allow(["10.0.0.0/8", "127.0.0.1"])) as gateway:
        response = await get(gateway)
    assert response.status_code == 200, gateway.explain()
    assert response.json()["path"] == "/x"


# Forged X-Forwarded-For: from an untrusted client the entry point drops the header before the middleware
# runs, so no strategy can be steered by it; from a trusted one (trustedIPs 127.0.0.1) it is believed.
FORGED = {"X-Forwarded-For": "10.1.2.3"}


@pytest.mark.parametrize(
    ("strategy", "trusted", "headers", "status"),
    [
        pytest.param(None, None, FORGED, 403, id="remote addr, untrusted, forged"),
        pytest.param(None, ["127.0.0.1"], FORGED, 403, id="remote addr, trusted, header ignored"),
        pytest.param({"depth": 1}, None, FORGED, 403, id="depth, untrusted, forged"),
        pytest.param({"depth": 1}, None, {"X_Forwarded_For": "10.1.2.3"}, 403, id="depth, untrusted, underscore"),
        pytest.param({"depth": 1}, ["127.0.0.1"], FORGED, 200, id="depth, trusted"),
        pytest.param(
            {"depth": 2}, None, {"X-Forwarded-For": "10.1.2.3, 127.0.0.1"}, 403, id="depth 2, untrusted, forged"
        ),
        pytest.param(
            {"depth": 2}, ["127.0.0.1"], {"X-Forwarded-For": "10.1.2.3, 127.0.0.1"}, 200, id="depth 2, trusted"
        ),
        pytest.param(
            {"excludedIPs": ["127.0.0.1"]},
            None,
            {"X-Forwarded-For": "10.1.2.3, 127.0.0.1"},
            403,
            id="excludedIPs, untrusted, forged",
        ),
        pytest.param(
            {"excludedIPs": ["127.0.0.1"]},
            ["127.0.0.1"],
            {"X-Forwarded-For": "10.1.2.3, 127.0.0.1"},
            200,
            id="excludedIPs, trusted",
        ),
        pytest.param(
            {"depth": 1, "ipv6Subnet": 64},
            None,
            {"X-Forwarded-For": "10.1.2.3"},
            403,
            id="depth + ipv6Subnet, untrusted, forged",
        ),
        pytest.param({"ipv6Subnet": 64}, ["127.0.0.1"], FORGED, 403, id="remote addr + ipv6Subnet, trusted, forged"),
    ],
)
async def test_forged_forwarded_for(
    tmp_path: Path, strategy: dict[str, Any] | None, trusted: list[str] | None, headers: dict[str, str], status: int
) -> None:
    options = {"ipStrategy": strategy} if strategy is not None else {}
    async with live_gateway(tmp_path, allow(["10.0.0.0/8"], **options), trusted=trusted) as gateway:
        response = await get(gateway, headers)
    assert response.status_code == status, gateway.explain()


@pytest.mark.parametrize(
    ("options", "status"),
    [
        pytest.param({"ipStrategy": {"ipv6Subnet": 64}}, 200, id="::1 judged as ::"),
        pytest.param({}, 403, id="::1 judged as itself"),
    ],
)
async def test_ipv6_subnet_on_an_ipv6_peer(tmp_path: Path, options: dict[str, Any], status: int) -> None:
    try:
        async with live_gateway(tmp_path, allow(["::"], **options), address="[::1]:0") as gateway:
            response = await get(gateway)
    except OSError:
        pytest.skip("no IPv6 loopback")
    assert response.status_code == status, gateway.explain()


async def curl(*args: str) -> bytes:
    """curl in a subprocess, awaited: the gateway serves on this test's loop."""
    proc = await asyncio.create_subprocess_exec("curl", "-sS", "-i", *args, stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0
    return out


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
async def test_curl_sees_the_refusal(tmp_path: Path) -> None:
    async with live_gateway(tmp_path, allow(["10.0.0.0/8"], rejectStatusCode=404)) as gateway:
        out = await curl("-H", "X-Forwarded-For: 10.0.0.1", gateway.url + "/x")
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404 ")
    assert not [line for line in head.split(b"\r\n") if line.lower().startswith(b"content-type")]
    assert body == b"Not Found"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param(allow([]), "sourceRange is empty", id="empty"),
        pytest.param(allow(["10.0.0.0/33"]), "sourceRange: invalid CIDR '10.0.0.0/33'", id="bad CIDR"),
        pytest.param(allow(["10.0.0.1"], rejectStatusCode=999), "invalid HTTP status code 999", id="bad status"),
        pytest.param(allow(["10.0.0.1"], ipStrategy={"depth": 1, "ipv6Subnet": 200}), "ipv6Subnet", id="bad subnet"),
        pytest.param(
            allow(["10.0.0.1"], ipStrategy={"excludedIPs": ["nope"]}), "excludedIPs: 'nope'", id="bad excluded"
        ),
    ],
)
async def test_config_errors_name_the_problem(tmp_path: Path, config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        async with live_gateway(tmp_path, config):
            pass


async def test_white_list_has_no_reject_status_code(tmp_path: Path) -> None:
    config = {"guard": {"ipWhiteList": {"sourceRange": ["10.0.0.1"], "rejectStatusCode": 404}}}
    with pytest.raises(ConfigError, match="rejectStatusCode"):
        async with live_gateway(tmp_path, config):
            pass


@pytest.mark.parametrize(
    ("strategy", "warning"),
    [
        pytest.param(
            {"depth": 1, "excludedIPs": ["10.0.0.1"]},
            "ipStrategy.excludedIPs: not used: depth takes precedence",
            id="depth and excludedIPs",
        ),
        pytest.param(
            {"excludedIPs": ["10.0.0.1"], "ipv6Subnet": 64},
            "ipStrategy.ipv6Subnet: not used with excludedIPs",
            id="excludedIPs and ipv6Subnet",
        ),
        pytest.param({"depth": -2}, "ipStrategy.depth: -2 is read as 0", id="negative depth"),
    ],
)
async def test_options_not_acted_on_are_warned_about(tmp_path: Path, strategy: dict[str, Any], warning: str) -> None:
    async with live_gateway(tmp_path, allow(["127.0.0.1"], ipStrategy=strategy), strict=False) as gateway:
        assert any("guard@file" in problem and warning in problem for problem in gateway.problems), gateway.problems
        assert (await get(gateway)).status_code != 404  # the router is served anyway
