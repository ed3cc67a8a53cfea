"""Go's net / net/textproto helpers and Traefik's pkg/ip, written once for every caller.

* `split_host_port`: Go's net.SplitHostPort (the Host header, X-Forwarded-* ports, a peer `ip:port`).
* `canonical_header_key`: Go's textproto.CanonicalMIMEHeaderKey.
* `IPChecker`: Traefik's pkg/ip/checker.go. Entries are parsed as Go's net.ParseIP, then net.ParseCIDR
  (host bits allowed, no IPv6 zone); an address is read as Go's netip.ParseAddr (a zone is allowed and
  ignored). As with net.IP, an IPv4-mapped IPv6 address or network behaves as IPv4 (`::ffff:10.0.0.1`
  equals `10.0.0.1`), and an IPv6 network never holds an IPv4 address (`::/0` does not hold `10.0.0.1`).
* The ip strategies of pkg/ip/strategy.go (`RemoteAddrStrategy`, `DepthStrategy`, `PoolStrategy`) and
  dynamic.IPStrategy.Get (`ip_strategy`), which pick the address ipAllowList (and later rateLimit,
  inFlightReq) judge a request by.

Used by the entry point's forwardedHeaders, the ClientIP matcher, ipAllowList and the ASGI middleware.
No dependencies beyond the standard library (proxy.asgi is used in production apps).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from proxy.message import HeaderList

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CACHE_LIMIT = 4096
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


# ------------------------------------------------------------------------------------------- net, textproto
def split_host_port(hostport: str) -> tuple[str, str] | None:
    """Go's net.SplitHostPort: (host, port) with IPv6 brackets removed; None where Go returns an error
    (no port, too many colons, stray brackets). The port is not checked to be numeric, as in Go."""
    colon = hostport.rfind(":")
    if colon < 0:
        return None
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0 or end + 1 != colon:
            return None
        host, start, after = hostport[1:end], 1, end + 1
    else:
        host, start, after = hostport[:colon], 0, 0
        if ":" in host:
            return None
    if "[" in hostport[start:] or "]" in hostport[after:]:
        return None
    return host, hostport[colon + 1 :]


def split_port(hostport: str) -> str:
    """The port net.SplitHostPort would return, "" where it errors."""
    split = split_host_port(hostport)
    return "" if split is None else split[1]


def host_of(address: str) -> str:
    """The host of `host:port`, or the whole value when net.SplitHostPort fails on it (Traefik's
    RemoteAddrStrategy and Checker.IsAuthorized both fall back that way)."""
    split = split_host_port(address) if ":" in address else None
    return address if split is None else split[0]


def canonical_header_key(name: str) -> str:
    """Go's textproto.CanonicalMIMEHeaderKey: `x-script-name` -> `X-Script-Name`; a name holding a
    character that is not a token character (a space, say) is returned unchanged."""
    if not name or not _TOKEN.issuperset(name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def strip_ipv6_zone(address: str) -> str:
    return address.split("%", 1)[0]


# ---------------------------------------------------------------------------------------- IP parsing (Go)
def _unmap(ip: IPAddress) -> IPAddress:
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def parse_addr(text: str) -> IPAddress | None:
    """Go's netip.ParseAddr, the zone dropped and an IPv4-mapped address unmapped (as As16 then
    net.IP comparisons see it); None where Go errors (brackets, a port, an empty or IPv4 zone...)."""
    if "%" in text:
        text, _, zone = text.partition("%")
        if not zone or ":" not in text:
            return None
    try:
        return _unmap(ipaddress.ip_address(text))
    except ValueError:
        return None


def parse_ip(text: str) -> IPAddress | None:
    """Go's net.ParseIP (no zone), unmapped."""
    return None if "%" in text else parse_addr(text)


def parse_cidr(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """Go's net.ParseCIDR as IPNet.Contains uses it: host bits dropped, a network written as IPv4-mapped
    IPv6 (prefix of 96 or more) becomes the IPv4 network; None where Go errors (a mask that is not
    decimal digits or too long, a zone, a dotted netmask)."""
    addr, slash, bits = text.partition("/")
    if not slash or not bits or not bits.isascii() or not bits.isdigit() or "%" in addr:
        return None
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return None
    length = int(bits)
    if length > ip.max_prefixlen:
        return None
    network = ipaddress.ip_network((ip, length), strict=False)
    if network.version == 6:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:  # net.IPNet.Contains compares the IPv4 part of ::ffff:a.b.c.d/n
            return ipaddress.ip_network((mapped, length - 96))
    return network


# ------------------------------------------------------------------------------------------------- checker
class IPChecker:
    """Traefik's ip.Checker over exact IPs and CIDR networks; results remembered per address text.

    `what` names the option in error messages (`forwardedHeaders.trustedIPs`, `sourceRange`).
    """

    __slots__ = ("v4", "v6", "_cache")

    def __init__(self, entries: Iterable[str], what: str = "trusted IPs") -> None:
        self.v4: list[ipaddress.IPv4Network] = []
        self.v6: list[ipaddress.IPv6Network] = []
        for entry in entries:
            ip = parse_ip(entry)
            network = ipaddress.ip_network(ip) if ip is not None else parse_cidr(entry)
            if network is None:
                if "/" in entry:
                    raise ValueError(f"{what}: invalid CIDR {entry!r}")
                raise ValueError(f"{what}: {entry!r} is neither an IP address nor a CIDR")
            if isinstance(network, ipaddress.IPv4Network):
                self.v4.append(network)
            else:
                self.v6.append(network)
        self._cache: dict[str, bool] = {}

    def contains(self, address: str) -> bool:
        """Checker.Contains: `address` is an IP (a zone allowed); False for anything else."""
        cached = self._cache.get(address)
        if cached is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            cached = self._cache[address] = self._lookup(address)
        return cached

    def is_authorized(self, address: str) -> bool:
        """Checker.IsAuthorized: the host of `address` when it is `host:port`, else `address` itself."""
        return self.contains(host_of(address))

    def _lookup(self, address: str) -> bool:
        ip = parse_addr(address)
        if ip is None:
            return False
        networks: list[ipaddress.IPv4Network] | list[ipaddress.IPv6Network] = self.v4 if ip.version == 4 else self.v6
        return any(ip in network for network in networks)


# ------------------------------------------------------------------------------------------- ip strategies
class _Request(Protocol):
    """What a strategy reads of a request (proxy.message.RequestHead has it)."""

    client_ip: str

    @property
    def headers(self) -> HeaderList: ...


def ipv6_subnet_ip(ip: str, bits: int) -> str:
    """Traefik's getIPv6SubnetIP: the first address of `ip`'s /bits subnet when `ip` is IPv6 (an
    IPv4-mapped one too, as Go's Is6 says), else `ip` unchanged."""
    if "%" in ip:
        text, _, zone = ip.partition("%")
        if not zone:
            return ip
    else:
        text = ip
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return ip
    if not isinstance(address, ipaddress.IPv6Address) or not 0 <= bits <= 128:
        return ip
    first = ipaddress.IPv6Network((address, bits), strict=False).network_address
    mapped = first.ipv4_mapped
    return f"::ffff:{mapped}" if mapped is not None else str(first)  # Go prints mapped addresses so


class RemoteAddrStrategy:
    """The TCP peer's address (ip.RemoteAddrStrategy)."""

    __slots__ = ("ipv6_subnet",)

    def __init__(self, ipv6_subnet: int | None = None) -> None:
        self.ipv6_subnet = ipv6_subnet

    def get_ip(self, req: _Request) -> str:
        ip = host_of(req.client_ip)
        return ip if self.ipv6_subnet is None else ipv6_subnet_ip(ip, self.ipv6_subnet)


class DepthStrategy:
    """The `depth`-th address of the first X-Forwarded-For value, from the right (ip.DepthStrategy);
    "" when the list is shorter."""

    __slots__ = ("depth", "ipv6_subnet")

    def __init__(self, depth: int, ipv6_subnet: int | None = None) -> None:
        self.depth = depth
        self.ipv6_subnet = ipv6_subnet

    def get_ip(self, req: _Request) -> str:
        parts = (req.headers.get("X-Forwarded-For") or "").split(",")
        if len(parts) < self.depth:
            return ""
        ip = parts[len(parts) - self.depth].strip(" \t\n\v\f\r")
        return ip if self.ipv6_subnet is None else ipv6_subnet_ip(ip, self.ipv6_subnet)


class PoolStrategy:
    """The right-most X-Forwarded-For address (first value) not in `checker` (ip.PoolStrategy);
    "" when every one is."""

    __slots__ = ("checker",)

    def __init__(self, checker: IPChecker) -> None:
        self.checker = checker

    def get_ip(self, req: _Request) -> str:
        parts = (req.headers.get("X-Forwarded-For") or "").split(",")
        for part in reversed(parts):
            ip = part.strip(" \t\n\v\f\r")
            if ip and not self.checker.contains(ip):
                return ip
        return ""


Strategy = RemoteAddrStrategy | DepthStrategy | PoolStrategy


def ip_strategy(
    depth: int = 0, excluded_ips: Iterable[str] = (), ipv6_subnet: int | None = None, *, what: str = "ipStrategy"
) -> Strategy:
    """dynamic.IPStrategy.Get: depth above 0 wins, then excludedIPs, else the remote address.

    ipv6Subnet must be in 1..128 where it applies (depth, remote address); with excludedIPs it is unused.
    """

    def subnet() -> int | None:
        if ipv6_subnet is not None and not 0 < ipv6_subnet <= 128:
            raise ValueError(
                f"{what}.ipv6Subnet: invalid IPv6 subnet {ipv6_subnet} value, should be "
                "greater to 0 and lower or equal to 128"
            )  # Traefik's words
        return ipv6_subnet

    if depth > 0:
        return DepthStrategy(depth, subnet())
    excluded = list(excluded_ips)
    if excluded:
        return PoolStrategy(IPChecker(excluded, f"{what}.excludedIPs"))
    return RemoteAddrStrategy(subnet())


# ------------------------------------------------------------------------------------------------ net/http
_STATUS_TEXT = {
    100: "Continue",
    101: "Switching Protocols",
    102: "Processing",
    103: "Early Hints",
    200: "OK",
    201: "Created",
    202: "Accepted",
    203: "Non-Authoritative Information",
    204: "No Content",
    205: "Reset Content",
    206: "Partial Content",
    207: "Multi-Status",
    208: "Already Reported",
    226: "IM Used",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    304: "Not Modified",
    305: "Use Proxy",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    409: "Conflict",
    410: "Gone",
    411: "Length Required",
    412: "Precondition Failed",
    413: "Request Entity Too Large",
    414: "Request URI Too Long",
    415: "Unsupported Media Type",
    416: "Requested Range Not Satisfiable",
    417: "Expectation Failed",
    418: "I'm a teapot",
    421: "Misdirected Request",
    422: "Unprocessable Entity",
    423: "Locked",
    424: "Failed Dependency",
    425: "Too Early",
    426: "Upgrade Required",
    428: "Precondition Required",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    451: "Unavailable For Legal Reasons",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    505: "HTTP Version Not Supported",
    506: "Variant Also Negotiates",
    507: "Insufficient Storage",
    508: "Loop Detected",
    510: "Not Extended",
    511: "Network Authentication Required",
}


def status_text(status: int) -> str:
    """Go's http.StatusText: "" for a code Go does not know."""
    return _STATUS_TEXT.get(status, "")
