"""Traefik's SNICheck (pkg/middlewares/snicheck): on a TLS connection, a router's requests must come over a
connection made with the router's own TLS options; otherwise 421 Misdirected Request. It happens when the
SNI picked other options than the Host the request is for (a client reusing a connection across hosts, or
sending a Host that differs from its SNI).

The builder puts it first on a TLS router only on entry points where some router has options other than
`default`: everywhere else every connection and every router use `default`, and there is nothing to check.
"""

from __future__ import annotations

from proxy.message import Reply, RequestHead
from proxy.middlewares.base import Middleware


class SNICheck(Middleware):
    def __init__(self, router: str, options: str) -> None:
        self.router = router
        self.options = options  # the router's resolved options (set again when conflicts reset it)

    def on_request(self, req: RequestHead) -> Reply | None:
        tls = req.tls
        if tls is None or tls.options == self.options:
            return None
        return Reply.text(421, "Misdirected Request\n", [("X-Content-Type-Options", "nosniff")])  # http.Error
