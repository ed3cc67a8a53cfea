"""inFlightReq: at most `amount` requests of one source in progress at once; the next one gets 429.

Sources (traefik/traefik): pkg/middlewares/inflightreq/inflight_req.go (the default source is the request
host), vulcand/oxy connlimit/connlimit.go (count per source, refuse when the count has reached the maximum,
release when the handler returns: in Traefik that is once the response body is written, so a streamed
response counts until its end). The 429 carries "max connections reached: <amount>" as plain text (Go sniffs
the Content-Type of that body). Here the count is released through `req.at_end`, which runs once the
exchange is over on every path: normal end, error answer, client gone, tunnel start.
"""

from __future__ import annotations

from typing import Any

from proxy.message import Reply, RequestHead
from proxy.middlewares.base import Middleware
from proxy.middlewares.sourcecriterion import Extractor, source_extractor


class InFlightReq(Middleware):
    per_router = True  # Traefik builds one limiter per router

    def __init__(self, amount: int = 0, source_criterion: Any = None) -> None:
        self.amount = amount
        self.source: Extractor = source_extractor(source_criterion, default="host")
        self.counts: dict[str, int] = {}
        self._refusal = Reply(
            429, [("Content-Type", "text/plain; charset=utf-8")], f"max connections reached: {amount}".encode()
        )

    def on_request(self, req: RequestHead) -> Reply | None:
        source = self.source(req)
        counts = self.counts
        current = counts.get(source, 0)
        if current >= self.amount:
            return Reply(self._refusal.status, list(self._refusal.headers), self._refusal.body)
        counts[source] = current + 1
        req.at_end(lambda _outcome: self._release(source))
        return None

    def _release(self, source: str) -> None:
        left = self.counts.get(source, 0) - 1
        if left > 0:
            self.counts[source] = left
        else:
            self.counts.pop(source, None)  # as oxy: a source with nothing in flight is forgotten
