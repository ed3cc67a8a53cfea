"""Traefik's `noop@internal` service, as the last middleware of an internal router: an empty 200.

The entry point redirection router (`http.redirections.entryPoint`) ends there when its redirectScheme has
nothing to redirect (the request already has the target scheme and port).
"""

from __future__ import annotations

from proxy.message import Reply, RequestHead
from proxy.middlewares.base import Middleware
from proxy.services.loadbalancer import NoServerAvailable, UpstreamServer


class NoopAnswer(Middleware):
    def on_request(self, req: RequestHead) -> Reply | None:
        return Reply(200)


class NoService:
    """The service of such a router: never asked, since the middleware before it always answers."""

    def pick(self) -> UpstreamServer:
        raise NoServerAvailable("noop@internal")
