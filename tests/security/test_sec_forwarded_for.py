"""Forged X-Forwarded-For against ipAllowList, rateLimit and inFlightReq, for every ipStrategy, through a live
gateway with raw sockets.

Traefik's rule (pkg/middlewares/forwardedheaders): X-Forwarded-* (and X-Real-Ip) from a client outside
`forwardedHeaders.trustedIPs` (and without `insecure`) are removed at the entry point, before any
middleware; the ip strategies (pkg/ip/strategy.go) then read an empty header (depth, excludedIPs: the
source is "") or the peer address (no strategy, ipv6Subnet alone). So an untrusted client that forges a
new address on every request still counts as one source: refused by ipAllowList, limited by rateLimit and
inFlightReq. From a trusted client (trustedIPs holding 127.0.0.1, or insecure) the same strategies do read
the header: the control cases, which show the test would see a bypass.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from rawhttp import read_answer

from proxy.config.dynamic import DynamicConfig
from proxy.config.static import EntryPointConfig, StaticConfig
from proxy.server.gateway import Gateway

ENTRY_POINTS = {  # name -> (forwardedHeaders, whether the loopback client is trusted)
    "untrusted": ({}, False),
    "elsewhere": ({"trustedIPs": ["10.0.0.0/8", "::2"]}, False),
    "trusted": ({"trustedIPs": ["127.0.0.1/32"]}, True),
    "insecure": ({"insecure": True}, True),
}
# (id, ipStrategy, X-Forwarded-For for the n-th request, whether a trusted client's forgeries count apart)
STRATEGIES = [
    ("remote-address", None, "10.0.0.{n}", False),
    ("depth-1", {"depth": 1}, "10.0.0.{n}", True),
    ("depth-2", {"depth": 2}, "10.0.0.{n}, 127.0.0.1", True),
    ("excluded-ips", {"excludedIPs": ["127.0.0.1", "192.168.0.0/16"]}, "10.0.0.{n}, 192.168.1.1, 127.0.0.1", True),
    ("ipv6-subnet", {"ipv6Subnet": 64}, "2001:db8:0:{n}::1", False),
    ("depth-1-ipv6-subnet", {"depth": 1, "ipv6Subnet": 64}, "2001:db8:0:{n}::1", True),
]
KINDS = ["ipAllowList", "rateLimit", "inFlightReq"]


def middleware(kind: str, strategy: dict[str, Any] | None) -> dict[str, Any]:
    criterion: dict[str, Any] = {"ipStrategy": strategy} if strategy else {}
    if kind == "ipAllowList":
        return {"ipAllowList": {"sourceRange": ["10.0.0.0/8", "2001:db8::/32"], **criterion}}
    if kind == "rateLimit":
        return {
            "rateLimit": {
                "average": 1,
                "period": "1h",
                "burst": 1,
                **({"sourceCriterion": criterion} if criterion else {}),
            }
        }
    return {"inFlightReq": {"amount": 1, "sourceCriterion": criterion or {"ipStrategy": {}}}}


def host(kind: str, strategy_id: str) -> str:
    return f"{kind.lower()}.{strategy_id}.test"


@pytest.fixture
async def live() -> AsyncIterator[tuple[Gateway, asyncio.Event]]:
    release = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if b" /slow " in head.split(b"\r\n", 1)[0]:
                    await release.wait()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    upstream = await asyncio.start_server(serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{upstream.sockets[0].getsockname()[1]}"
    routers, middlewares = {}, {}
    for kind in KINDS:
        for strategy_id, strategy, _, _ in STRATEGIES:
            name = f"{kind}-{strategy_id}"
            middlewares[name] = middleware(kind, strategy)
            routers[name] = {"rule": f"Host(`{host(kind, strategy_id)}`)", "service": "s", "middlewares": [name]}
    entry_points = {
        name: EntryPointConfig.model_validate({"address": "127.0.0.1:0", "forwardedHeaders": forwarded})
        for name, (forwarded, _) in ENTRY_POINTS.items()
    }
    gateway = Gateway(StaticConfig(entry_points=entry_points), strict=True)
    gateway.apply(
        DynamicConfig.model_validate(
            {
                "http": {
                    "routers": routers,
                    "middlewares": middlewares,
                    "services": {"s": {"loadBalancer": {"servers": [{"url": url}]}}},
                }
            }
        )
    )
    await gateway.start()
    yield gateway, release
    release.set()
    await gateway.stop()
    upstream.close()


def forged(target: str, host_name: str, xff: str) -> bytes:
    """A request whose every forwarding header claims `xff`'s first address, some in odd spellings."""
    first = xff.split(",")[0].strip()
    return (
        f"GET {target} HTTP/1.1\r\nHost: {host_name}\r\nX-Forwarded-For: {xff}\r\n"
        f'x-forwarded-for: {xff}\r\nX-Real-Ip: {first}\r\nForwarded: for="{first}"\r\n'
        f"X-Original-Forwarded-For: {first}\r\n\r\n"
    ).encode()


async def send(port: int, data: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return (await asyncio.wait_for(read_answer(reader), 10)).status
    finally:
        writer.close()


def port_of(gateway: Gateway, entry_point: str) -> int:
    return int(gateway.urls[entry_point].rsplit(":", 1)[1])


def every_entry_point_and_strategy(test):  # each test runs on every entry point x every ipStrategy shape
    test = pytest.mark.parametrize(
        ("strategy_id", "template", "apart"), [pytest.param(s[0], s[2], s[3], id=s[0]) for s in STRATEGIES]
    )(test)
    return pytest.mark.parametrize("entry_point", list(ENTRY_POINTS))(test)


@every_entry_point_and_strategy
async def test_ip_allow_list(live, entry_point: str, strategy_id: str, template: str, apart: bool) -> None:
    gateway, _ = live
    trusted = ENTRY_POINTS[entry_point][1]
    status = await send(
        port_of(gateway, entry_point), forged("/", host("ipAllowList", strategy_id), template.format(n=1))
    )
    assert status == (200 if trusted and apart else 403)


@every_entry_point_and_strategy
async def test_rate_limit(live, entry_point: str, strategy_id: str, template: str, apart: bool) -> None:
    gateway, _ = live
    trusted = ENTRY_POINTS[entry_point][1]
    port = port_of(gateway, entry_point)
    statuses = [await send(port, forged("/", host("rateLimit", strategy_id), template.format(n=n))) for n in (1, 2, 3)]
    assert statuses == ([200, 200, 200] if trusted and apart else [200, 429, 429])


@every_entry_point_and_strategy
async def test_in_flight_req(live, entry_point: str, strategy_id: str, template: str, apart: bool) -> None:
    gateway, release = live
    trusted = ENTRY_POINTS[entry_point][1]
    port = port_of(gateway, entry_point)
    name = host("inFlightReq", strategy_id)
    held = asyncio.create_task(send(port, forged("/slow", name, template.format(n=1))))
    await asyncio.sleep(0.1)  # the first request is in flight, held by the upstream
    second = await send(port, forged("/", name, template.format(n=2)))
    release.set()
    assert await held == 200
    assert second == (200 if trusted and apart else 429)
