"""What every middleware is: hooks over a parsed head, built once from its config.

Most middlewares are a pair of plain functions (`on_request`, `on_response`). Two capabilities extend that,
both read once when a router's plan is built, so a route that uses neither pays nothing for them:

- `waits`: `on_request` is a coroutine (it asks a server, runs a slow hash in a thread, or delays). The
  forwarder runs it, every request hook after it and the server pick in one task per request; the request
  body is held meanwhile under the usual back-pressure, and a client that leaves cancels the task.
  A middleware that only sometimes has to wait (a rate limiter whose bucket is empty, an auth cache miss)
  keeps `waits` False and returns an awaitable from its plain `on_request` when it must: only those
  requests pay for the task.
- `req.at_end(callback)`: any request hook may ask to be told, exactly once, when the exchange is over
  (answered, failed, abandoned by the client, or turned into a tunnel): counters that last as long as the
  request (inFlightReq), outcome statistics (circuitBreaker, passive health checks).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeAlias

from proxy.message import HeaderList, Reply, RequestHead

if TYPE_CHECKING:
    from proxy.middlewares.body import BodyFilter
    from proxy.middlewares.retry import RetryPolicy

#: What a request hook gives back: nothing (go on), its own answer, or, when it has to wait this time (or
#: always, `waits`), an awaitable of one of those.
HookResult: TypeAlias = "Reply | Awaitable[Reply | None] | None"


class Middleware:
    """Base class. `on_request` rewrites the request head in place, or returns a Reply to answer directly
    (the chain stops there and nothing is forwarded). `on_response` may rewrite the upstream response's
    headers before they reach the client. Options are validated in `__init__`, never per request.
    """

    #: False lets the forwarder skip `on_response` entirely for this middleware.
    has_response_hook: bool = False
    #: False lets the forwarder skip `on_request` (it would do nothing, e.g. a response-headers-only config).
    has_request_hook: bool = True
    #: True when `on_request` may add, change or remove request headers other than the X-Forwarded-Prefix /
    #: X-Replaced-Path notes the path middlewares add (so hop-by-hop headers may have to be looked for again).
    edits_request_headers: bool = False
    #: True when `response_filter` may see (hold, change, replace) response bodies: see middlewares/body.py.
    filters_response: bool = False
    #: Optional, for `filters_response` middlewares: a cheap look at a response's status and Content-Type
    #: (None when absent); False promises `response_filter` would let it pass, so the forwarder may take its
    #: plain path for it (used only when that middleware is the plan's one filter and none nearer the
    #: service has a response hook).
    body_probe: Callable[[int, str | None], bool] | None = None
    #: Bytes of request body the forwarder must hold before anything goes upstream (buffering): see
    #: `request_body_limits`. False for every middleware that never needs the whole request body.
    holds_request_body: bool = False
    #: True when `on_request` is `async def` (see the module docstring).
    waits: bool = False
    #: True for middlewares with state of their own (circuitBreaker, rateLimit, inFlightReq): as in Traefik,
    #: which builds a router's middlewares for that router, each router using it gets its own instance.
    per_router: bool = False
    #: For a response hook that does nothing to a response without any of these headers (lower-case names):
    #: such a response may go out as the upstream wrote it, the hook skipped. None: it must see every one.
    response_header_names: frozenset[str] | None = None
    #: Options accepted but not acted on, each as "key.path: what happens instead"; the builder reports
    #: them as warnings for this middleware.
    warnings: tuple[str, ...] = ()
    #: Set by the retry middleware: the exchange sends the request again as this policy says.
    retry_policy: RetryPolicy | None = None

    def on_request(self, req: RequestHead) -> HookResult:
        return None

    def on_response(self, req: RequestHead, status: int, headers: HeaderList) -> None:
        return None

    def response_filter(self, req: RequestHead, status: int, headers: HeaderList) -> BodyFilter | None:
        """For `filters_response` middlewares: a filter for this response, or None to let it pass."""
        return None

    def request_body_limits(self) -> tuple[int, int]:
        """For `holds_request_body` middlewares: (max bytes or 0 for no limit, bytes kept in memory before
        the rest spills to a temporary file)."""
        return 0, 0

    async def aclose(self) -> None:
        """Release what the middleware holds (connection pools): the gateway calls it when the routes
        that use it are replaced or the gateway stops."""
        return None
