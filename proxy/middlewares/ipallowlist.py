"""ipAllowList (and the deprecated ipWhiteList): Traefik v3 `pkg/middlewares/ipallowlist/ip_allowlist.go`,
`pkg/middlewares/ipwhitelist/ip_whitelist.go`, `pkg/ip/`.

The address a request is judged by comes from the ipStrategy (proxy.netutil.ip_strategy): the TCP peer by
default, the `depth`-th X-Forwarded-For entry from the right, or the right-most entry not in
`excludedIPs`. X-Forwarded-For is read as the entry point left it: from a client that forwardedHeaders
does not trust, the client's own X-Forwarded-For is gone before any middleware runs, so an untrusted
client cannot name its address (the depth is then past the end and the request is refused). An address
that is not an IP (an empty pick, garbage) is refused too.

Refused: `rejectStatusCode` (403 by default; ipWhiteList always 403) with Go's status text as the body
and no Content-Type (Traefik's entry points turn Go's content sniffing off: DisableAutoDetection). A
status Go does not know is a config error, as in Traefik; so is a 1xx code (Traefik would send it as an
interim answer and then a 200 with the text: a plain bug, refused here). For 204 and 304 the answer has
no body, as Go's server sends it.
"""

from __future__ import annotations

from proxy.message import Reply, RequestHead
from proxy.middlewares.base import Middleware
from proxy.netutil import IPChecker, RemoteAddrStrategy, Strategy, status_text


class IPAllowList(Middleware):
    def __init__(
        self,
        source_range: list[str],
        strategy: Strategy | None = None,
        reject_status_code: int = 0,
        *,
        kind: str = "IPAllowLister",
    ) -> None:
        if not source_range:
            raise ValueError(f"sourceRange is empty, {kind} not created")
        status = reject_status_code or 403
        if not status_text(status):
            raise ValueError(f"rejectStatusCode: invalid HTTP status code {status}")
        if status < 200:
            raise ValueError(f"rejectStatusCode: {status} is not a final status (1xx)")
        self.checker = IPChecker(source_range, "sourceRange")
        self.strategy = strategy or RemoteAddrStrategy()
        self.status = status
        self._body = b"" if status in (204, 304) else status_text(status).encode()
        if isinstance(self.strategy, RemoteAddrStrategy) and self.strategy.ipv6_subnet is None:
            # The usual configuration: the peer address is the one judged, no strategy object on the way.
            self._authorized = self.checker.is_authorized
            self.on_request = self._on_request_peer  # type: ignore[method-assign]  # the usual case's hook, chosen once

    def on_request(self, req: RequestHead) -> Reply | None:
        if self.checker.is_authorized(self.strategy.get_ip(req)):
            return None
        return self._reject()

    def _on_request_peer(self, req: RequestHead) -> Reply | None:
        return None if self._authorized(req.client_ip) else self._reject()

    def _reject(self) -> Reply:
        # A new Reply each time: the middlewares before this one may edit its headers on the way back.
        return Reply(self.status, [], self._body)
