"""Which source a request counts against: Traefik's sourceCriterion and ipStrategy, as plain functions.

Sources (traefik/traefik): pkg/middlewares/extractor.go (GetSourceExtractor), vulcand/oxy utils/source.go
(request.host, request.header.<name>); the ip strategies (pkg/ip/strategy.go, IPStrategy.Get) are
proxy.netutil's, which ipAllowList uses too. Shared by rateLimit and inFlightReq.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from proxy import netutil
from proxy.message import RequestHead

Extractor = Callable[[RequestHead], str]


def _client_ip(req: RequestHead) -> str:
    return req.client_ip


def ip_strategy(strategy: Any) -> Extractor:
    """IPStrategy.Get (proxy.netutil): depth > 0 wins, then excludedIPs, else the remote address (None:
    the remote address)."""
    if strategy is None:
        return _client_ip
    picked = netutil.ip_strategy(strategy.depth, strategy.excluded_ips, strategy.ipv6_subnet)
    if isinstance(picked, netutil.RemoteAddrStrategy) and picked.ipv6_subnet is None:
        return _client_ip  # the peer address as it is: the usual case, one attribute read
    return picked.get_ip


def request_host(req: RequestHead) -> str:
    return req.host


def request_header(name: str) -> Extractor:
    return lambda req: req.headers.get(name) or ""


def source_extractor(criterion: Any, default: str) -> Extractor:
    """GetSourceExtractor for a SourceCriterionConfig model (or None); `default` ("ip" or "host") is what the
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
    return request_host if default == "host" else _client_ip
