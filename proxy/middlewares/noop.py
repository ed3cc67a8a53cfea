"""Traefik's `noop@internal` service, as the last middleware of an internal router: an empty 200.

The entry point redirection router (`http.redirections.entryPoint`) ends there when its redirectScheme has
nothing to redirect (the request already has the target scheme and port).
"""

from __future__ import annotations

from collections.abc import Callable

from proxy.message import Reply, RequestHead
from proxy.middlewares.base import Middleware
from proxy.services.loadbalancer import NoServerAvailable, UpstreamServer


class NoopAnswer(Middleware):
    def on_request(self, req: RequestHead) -> Reply | None:
        return Reply(200)


class NoService:
    """The service of such a router: never asked, since the middleware before it always answers."""

    name = "noop@internal"
    writes_cookies = False

    def pick(self, req: RequestHead) -> UpstreamServer:
        raise NoServerAvailable(self.name)

    def register_status_updater(self, fn: Callable[[bool], None]) -> None:
        raise ValueError(f"{self.name} does not track health")

    def health(self) -> list[str]:
        return []
