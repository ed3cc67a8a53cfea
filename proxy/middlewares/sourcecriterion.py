"""Which source a request counts against: Traefik's sourceCriterion and ipStrategy, as plain functions.

Sources (traefik/traefik): pkg/middlewares/extractor.go (GetSourceExtractor), pkg/ip/strategy.go (remote
address, depth and pool strategies, getIPv6SubnetIP), pkg/config/dynamic/middlewares.go (IPStrategy.Get),
vulcand/oxy utils/source.go (request.host, request.header.<name>). Shared by rateLimit and inFlightReq.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Callable

from proxy.forwarder.forwarded import TrustedIPs, strip_ipv6_zone
from proxy.message import RequestHead

Extractor = Callable[[RequestHead], str]


def ipv6_subnet_ip(ip: str, subnet: int) -> str:
    """The first address of `ip`'s /`subnet` network when `ip` is IPv6; anything else unchanged."""
    try:
        address = ipaddress.ip_address(strip_ipv6_zone(ip))
    except ValueError:
        return ip
    if address.version != 6:
        return ip
    return str(ipaddress.ip_network(f"{address}/{subnet}", strict=False).network_address)


def _check_subnet(subnet: int | None) -> None:
    if subnet is not None and not 0 < subnet <= 128:
        raise ValueError(f"invalid IPv6 subnet {subnet} value, should be greater to 0 and lower or equal to 128")


def remote_address(subnet: int | None = None) -> Extractor:
    """RemoteAddrStrategy: the TCP peer's address (its /subnet network for IPv6 when given)."""
    if subnet is None:
        return _client_ip
    return lambda req: ipv6_subnet_ip(req.client_ip, subnet)


def _client_ip(req: RequestHead) -> str:
    return req.client_ip


def depth(count: int, subnet: int | None = None) -> Extractor:
    """DepthStrategy: the `count`-th address of X-Forwarded-For from the right ("" when there are fewer).

    Go's Header.Get: only the first X-Forwarded-For field is read.
    """
    def extract(req: RequestHead) -> str:
        parts = (req.headers.get("X-Forwarded-For") or "").split(",")
        if len(parts) < count:
            return ""
        ip = parts[len(parts) - count].strip()
        return ipv6_subnet_ip(ip, subnet) if subnet is not None else ip
    return extract


def excluded(entries: list[str]) -> Extractor:
    """PoolStrategy: the right-most X-Forwarded-For address not in `entries` ("" when all are).

    An entry Go cannot parse as an IP is not "contained", so it is the answer, as in Traefik.
    """
    try:
        checker = TrustedIPs(entries)
    except ValueError as exc:
        raise ValueError(f"ipStrategy.excludedIPs: {str(exc).partition(': ')[2] or exc}") from None

    def extract(req: RequestHead) -> str:
        for part in reversed((req.headers.get("X-Forwarded-For") or "").split(",")):
            ip = part.strip()
            if ip and not checker.contains(ip):
                return ip
        return ""
    return extract


def ip_strategy(strategy: Any) -> Extractor:
    """IPStrategy.Get: depth > 0 wins, then excludedIPs, else the remote address (None: remote address)."""
    if strategy is None:
        return remote_address()
    if strategy.depth > 0:
        _check_subnet(strategy.ipv6_subnet)
        return depth(strategy.depth, strategy.ipv6_subnet)
    if strategy.excluded_ips:
        return excluded(list(strategy.excluded_ips))
    _check_subnet(strategy.ipv6_subnet)
    return remote_address(strategy.ipv6_subnet)


def request_host(req: RequestHead) -> str:
    return req.host


def request_header(name: str) -> Extractor:
    return lambda req: req.headers.get(name) or ""


def source_extractor(criterion: Any, default: str) -> Extractor:
    """GetSourceExtractor for a SourceCriterion model (or None); `default` ("ip" or "host") is what the
    middleware uses when no criterion is set: rateLimit counts per remote address, inFlightReq per host."""
    if criterion is not None:
        has_ip = criterion.ip_strategy is not None
        if has_ip and criterion.request_header_name:
            raise ValueError("iPStrategy and RequestHeaderName are mutually exclusive")
        if has_ip and criterion.request_host:
            raise ValueError("iPStrategy and RequestHost are mutually exclusive")
        if criterion.request_header_name and criterion.request_host:
            raise ValueError("requestHost and RequestHeaderName are mutually exclusive")
        if has_ip:
            return ip_strategy(criterion.ip_strategy)
        if criterion.request_header_name:
            return request_header(criterion.request_header_name)
        if criterion.request_host:
            return request_host
    return request_host if default == "host" else remote_address()
