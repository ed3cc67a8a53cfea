"""X-Forwarded-* handling: Traefik's entry point forwardedHeaders middleware and its proxy's last touches.

Sources (traefik/traefik): pkg/middlewares/forwardedheaders/forwarded_header.go (+ _test.go),
pkg/ip/checker.go (proxy/netutil.py), pkg/proxy/httputil/proxy.go (rewriteRequestBuilder, copyForwardedHeader),
pkg/middlewares/headers/header.go (customRequestHeaders X-Forwarded-For = "" suppresses the append);
Go's net/http/httputil/reverseproxy.go (hop-by-hop removal, TE: trailers, User-Agent).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from proxy.forwarder.hop import header_values_contain_token, is_printable_ascii, strip_hop_headers
from proxy.message import XFF_NO_APPEND, XFF_SUPPRESS, HeaderList, RequestHead
from proxy.netutil import IPChecker, canonical_header_key, strip_ipv6_zone
from proxy.netutil import split_port as go_split_port

# The X- headers Traefik manages (XHeadersSet), lower-cased; underscore spellings count too.
MANAGED_X_HEADERS: frozenset[str] = frozenset(
    {
        "x-forwarded-proto",
        "x-forwarded-scheme",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-port",
        "x-forwarded-server",
        "x-forwarded-uri",
        "x-forwarded-method",
        "x-forwarded-prefix",
        "x-forwarded-tls-client-cert",
        "x-forwarded-tls-client-cert-info",
        "x-scheme",
        "x-real-ip",
    }
)

# Go's Rewrite proxy deletes these then copies them back from the inbound request, so a Connection
# listing never removes them upstream.
_RESTORED_FORWARDING = frozenset({"forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"})
_CACHE_LIMIT = 4096


class InvalidUpgradeProtocol(ValueError):
    """The client asked to switch to a protocol name that is not printable ASCII (Traefik answers 500)."""

    status = 500


def _set_if_empty(headers: HeaderList, name: str, value: str) -> None:
    """Set `name` unless it already has a non-empty first value (Traefik's `if req.Header.Get(x) == ""`)."""
    current = headers.get(name)
    if current is None:
        headers.add(name, value)
    elif not current:
        headers.set(name, value)


def is_managed_x_header(name: str) -> bool:
    lname = name.lower()
    if not lname.startswith("x"):
        return False
    return lname in MANAGED_X_HEADERS or ("_" in lname and lname.replace("_", "-") in MANAGED_X_HEADERS)


def TrustedIPs(entries: Iterable[str]) -> IPChecker:  # the name callers and tests know
    """The entry point's forwardedHeaders.trustedIPs as a pkg/ip Checker (entries may carry spaces)."""
    return IPChecker([entry.strip() for entry in entries], "forwardedHeaders.trustedIPs")


def _is_websocket(headers: HeaderList) -> bool:
    """Traefik's isWebsocketRequest: Connection holds `upgrade` and Upgrade holds `websocket`."""
    return _token_in_first_value(headers, "connection", "upgrade") and _token_in_first_value(
        headers, "upgrade", "websocket"
    )


def _token_in_first_value(headers: HeaderList, name: str, token: str) -> bool:
    """isWebsocketRequest's check: the FIRST value of `name` holds `token` as a comma-separated element."""
    value = headers.get(name, "") or ""
    return any(part.strip().lower() == token for part in value.split(","))


class ForwardedHeaders:
    """The entry point's forwardedHeaders stage, run on every request before routing."""

    def __init__(
        self,
        insecure: bool,
        trusted_ips: list[str],
        hostname: str,
        *,
        connection: Iterable[str] = (),
        not_append_x_forwarded_for: bool = False,
        add_x_forwarded_scheme_headers: bool = False,
    ) -> None:
        self.insecure = insecure
        self.trusted = TrustedIPs(trusted_ips) if trusted_ips else None
        self.hostname = hostname
        self.connection_kept = frozenset(name.strip().lower() for name in connection)
        self.not_append_xff = not_append_x_forwarded_for
        self.add_scheme_headers = add_x_forwarded_scheme_headers
        self._connection_plans: dict[tuple[str, ...], _ConnectionPlan] = {}
        # The headers `_fill_fresh` appends depend only on (host, client IP, scheme, websocket): a client
        # sends the same ones request after request, so each set is built once.
        self._fresh: dict[tuple[str, str, str, bool], tuple[list[tuple[str, str]], list[str]]] = {}

    def is_trusted(self, client_ip: str) -> bool:
        return self.trusted is not None and self.trusted.contains(client_ip)

    def apply(self, req: RequestHead, local_port: int = 0, *, plain: bool = False) -> None:
        """Filter, then fill in the X-Forwarded-* headers of `req`; tidy its Connection header.

        `local_port` is unused: Traefik derives X-Forwarded-Port from the Host header or the scheme,
        never from the listening port. `plain`: the caller knows `req` holds no managed X- header (in any
        spelling) and no Connection header, so there is nothing to filter or tidy.
        """
        if plain:  # no Upgrade header either (it is hop-by-hop): not a websocket
            fresh = self._fresh.get((req.host, req.client_ip, req.scheme, False))
            if fresh is not None:
                req.headers.extend(*fresh)
            else:
                self._fill_fresh(req)
        else:
            self._filter_and_fill(req)
        if self.not_append_xff:
            req.xff |= XFF_NO_APPEND

    def _filter_and_fill(self, req: RequestHead) -> None:
        headers = req.headers
        keys = headers.keys
        unmanaged = MANAGED_X_HEADERS.isdisjoint(keys)  # no managed header under its own name
        # The trust lookup last: most requests carry no X- header to filter at all.
        if not self.insecure and (not unmanaged or "_" in "".join(keys)) and not self.is_trusted(req.client_ip):
            headers.items = [(k, v) for k, v in headers.items if not is_managed_x_header(k)]
            unmanaged = True
        if unmanaged:
            self._fill_fresh(req)
        else:
            self._fill(req)
        if "connection" in headers.keys:
            self._apply_connection(headers)

    def _fill_fresh(self, req: RequestHead) -> None:
        """`_fill` for a request holding none of the managed headers (the usual case once filtered).

        Every "is it set already?" test of `_fill` is then false, so the values are appended directly,
        in `_fill`'s order; tests/forwarder/test_forwarded_fill_paths.py checks both paths agree.
        """
        headers = req.headers
        websocket = "upgrade" in headers.keys and _is_websocket(headers)
        key = (req.host, req.client_ip, req.scheme, websocket)
        fresh = self._fresh.get(key)
        if fresh is None:
            if len(self._fresh) >= _CACHE_LIMIT:
                self._fresh.clear()
            added = self._fresh_headers(*key)
            fresh = self._fresh[key] = (added, [name.lower() for name, _ in added])
        headers.extend(*fresh)

    def _fresh_headers(self, host: str, client_ip: str, scheme: str, websocket: bool) -> list[tuple[str, str]]:
        tls = scheme == "https"
        proto = "https" if tls else "http"
        if websocket:
            proto = "wss" if tls else "ws"
        port = go_split_port(host) if ":" in host else ""
        added = [("X-Forwarded-Proto", proto), ("X-Forwarded-Port", port or ("443" if tls else "80"))]
        if "%" in client_ip:
            client_ip = strip_ipv6_zone(client_ip)
        if client_ip:
            added.insert(0, ("X-Real-Ip", client_ip))
        if self.add_scheme_headers:
            added += (("X-Forwarded-Scheme", proto), ("X-Scheme", proto))
        if host:
            added.append(("X-Forwarded-Host", host))
        if self.hostname:
            added.append(("X-Forwarded-Server", self.hostname))
        return added

    def _fill(self, req: RequestHead) -> None:
        headers = req.headers
        client_ip = strip_ipv6_zone(req.client_ip)
        if client_ip:
            _set_if_empty(headers, "X-Real-Ip", client_ip)
        tls = req.scheme == "https"
        if not headers.get("X-Forwarded-Proto"):
            websocket = "upgrade" in headers.keys and _is_websocket(headers)
            proto = ("wss" if tls else "ws") if websocket else ("https" if tls else "http")
            _set_if_empty(headers, "X-Forwarded-Proto", proto)
        if not headers.get("X-Forwarded-Port"):
            _set_if_empty(headers, "X-Forwarded-Port", self._port(req, tls))
        if self.add_scheme_headers:
            scheme = headers.get("X-Forwarded-Proto", "") or ""
            headers.set("X-Forwarded-Scheme", scheme)
            headers.set("X-Scheme", scheme)
        if req.host:
            _set_if_empty(headers, "X-Forwarded-Host", req.host)
        if headers.keys.count("x-forwarded-for") > 1:  # fold repeated headers into one list, order kept
            headers.set("X-Forwarded-For", ", ".join(headers.get_all("X-Forwarded-For")))
        if self.hostname:
            headers.set("X-Forwarded-Server", self.hostname)

    @staticmethod
    def _port(req: RequestHead, tls: bool) -> str:
        port = go_split_port(req.host)
        if port:
            return port
        if req.headers.get("X-Forwarded-Proto") in ("https", "wss") or tls:
            return "443"
        return "80"

    def drop_connection_listing(self, headers: HeaderList) -> bool:
        """Do now what `apply` would do with a Connection header that only drops names (nothing kept by
        the entry point's `connection` option, no upgrade asked, e.g. `keep-alive`) and return True;
        leave any other Connection header alone and return False. Called only when there is one."""
        keys = headers.keys
        at = keys.index("connection") if keys.count("connection") == 1 else -1
        plan = self._connection_plans.get((headers.items[at][1],)) if at >= 0 else None
        if plan is None:
            plan = self._plan_for(headers)
        if plan.drop_all is None:
            return False
        if at >= 0 and plan.drop.isdisjoint(keys):  # the usual `keep-alive`: only Connection itself goes
            headers.remove_at(at)
        else:
            headers.remove_many(plan.drop_all)
        return True

    def _plan_for(self, headers: HeaderList) -> _ConnectionPlan:
        values = tuple(headers.get_all("connection"))
        plan = self._connection_plans.get(values)
        if plan is None:  # a few distinct values ("keep-alive", "Upgrade"...) cover nearly every request
            if len(self._connection_plans) >= _CACHE_LIMIT:
                self._connection_plans.clear()
            plan = self._connection_plans[values] = self._connection_plan(values)
        return plan

    def _apply_connection(self, headers: HeaderList) -> None:
        """Drop headers the client named in Connection, except Traefik's X- headers and configured ones.

        Called only when there is a Connection header.
        """
        plan = self._plan_for(headers)
        if plan.drop_all is not None:  # nothing kept, no upgrade: Connection goes with the listed names
            headers.remove_many(plan.drop_all)
            return
        wanted_upgrade = (headers.get("upgrade", "") or "") if plan.asks_upgrade else ""
        if plan.drop:
            headers.remove_many(plan.drop)
        kept = plan.kept
        if wanted_upgrade:
            kept += ("Upgrade",)
            headers.set("Upgrade", wanted_upgrade)
        if kept:
            headers.set("Connection", ",".join(kept))
        else:
            headers.remove("Connection")

    def _connection_plan(self, values: tuple[str, ...]) -> _ConnectionPlan:
        """What `_apply_connection` does for these Connection values (depends on nothing else)."""
        kept: list[str] = []
        drop: set[str] = set()
        for value in values:
            for element in value.split(","):
                name = element.strip(" \t\r\n")
                if not name or is_managed_x_header(name):
                    continue
                if name.lower() in self.connection_kept:
                    kept.append(canonical_header_key(name))
                else:
                    drop.add(name.lower())
        asks_upgrade = header_values_contain_token(values, "upgrade")
        drop_all = None if kept or asks_upgrade else frozenset(drop | {"connection"})
        return _ConnectionPlan(frozenset(drop), tuple(kept), asks_upgrade, drop_all)


class _ConnectionPlan(NamedTuple):
    drop: frozenset[str]  # lower-cased names listed in Connection that go
    kept: tuple[str, ...]  # canonical names listed in Connection that stay (entry point's `connection`)
    asks_upgrade: bool  # Connection holds the `upgrade` token
    drop_all: frozenset[str] | None  # `drop` plus Connection itself, when that is all there is to do


def finalize_upstream_headers(req: RequestHead, plain: bool = False) -> None:
    """The header changes Traefik's reverse proxy (Go httputil.ReverseProxy + Rewrite) makes last.

    `plain`: the caller knows the headers hold no hop-by-hop header (TE and Upgrade among them), so only
    X-Forwarded-For and User-Agent are left to do. Raises InvalidUpgradeProtocol when the Upgrade value is
    not printable ASCII.
    """
    headers = req.headers
    if plain:
        if not req.xff and req.client_ip:  # nothing suppresses it, and a plain head has none to append to
            headers.add("X-Forwarded-For", req.client_ip)
        else:
            _append_forwarded_for(req)
        _fix_user_agent(headers)
        return
    te_trailers = "te" in headers.keys and header_values_contain_token(headers.get_all("te"), "trailers")
    kept_upgrade = strip_hop_headers(headers, keep_upgrade=True, exempt=_RESTORED_FORWARDING)
    if kept_upgrade and not is_printable_ascii(kept_upgrade):
        raise InvalidUpgradeProtocol(f"client tried to switch to invalid protocol {kept_upgrade!r}")
    if te_trailers:
        headers.add("Te", "trailers")
    _append_forwarded_for(req)
    _fix_user_agent(headers)


def _append_forwarded_for(req: RequestHead) -> None:
    headers, xff = req.headers, req.xff
    if xff & XFF_SUPPRESS:
        headers.remove("X-Forwarded-For")
        return
    if xff & XFF_NO_APPEND or not req.client_ip:
        return
    client_ip = req.client_ip
    if "x-forwarded-for" not in headers.keys:
        headers.add("X-Forwarded-For", client_ip)
        return
    prior = headers.get_all("X-Forwarded-For")
    headers.set("X-Forwarded-For", ", ".join(prior) + ", " + client_ip)


def _fix_user_agent(headers: HeaderList) -> None:
    """Go's transport writes only the first User-Agent value, and none at all when it is empty."""
    if headers.keys.count("user-agent") == 1 and headers.get("user-agent"):
        return  # the usual case: one non-empty agent, sent as it is
    agents = headers.get_all("user-agent")
    if not agents:
        return  # Go sets "" so that its own default agent is not sent: nothing goes out
    if not agents[0]:
        headers.remove("user-agent")
    elif len(agents) > 1:
        headers.set("User-Agent", agents[0])
