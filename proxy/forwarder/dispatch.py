"""What happens to a parsed request, in Traefik's order: Go's server checks, path normalisation, the entry
point's forwarded headers, the router, its middlewares, then the service that picks a server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from proxy.forwarder.bodyexchange import see_bodies
from proxy.forwarder.forwarded import InvalidUpgradeProtocol, finalize_upstream_headers
from proxy.forwarder.shape import RequestShape
from proxy.forwarder.wire import error_reply
from proxy.message import HeaderList, Reply, RequestHead
from proxy.middlewares.base import Middleware
from proxy.normalize import (
    BadRequest,
    check_request_headers,
    denied_encoded_character,
    fix_pragma_cache_control,
    parse_request_target,
    valid_host_header,
)
from proxy.services.loadbalancer import NoServerAvailable

if TYPE_CHECKING:
    from proxy.forwarder.context import EntryPointRuntime
    from proxy.forwarder.exchange import Exchange
    from proxy.routing.plan import RoutePlan

log = logging.getLogger("proxy.forwarder")


def dispatch(exchange: Exchange, ep: EntryPointRuntime, shape: RequestShape) -> None:
    """Decide what a parsed request gets: a direct answer set on `exchange.reply` (bad request, 404, a
    middleware's redirect, 503...) or `exchange.server` to forward it to, its head rewritten for the trip."""
    head = exchange.head
    try:
        # llhttp refuses every control character but HTAB in a value (DEL too): no need to look again.
        # With the names known good (shape.valid), only Host's value is left to check.
        if not (shape.valid and valid_host_header(head.host)):
            check_request_headers(head.version, head.method, head.headers, names_valid=shape.valid, values_valid=True)
        path, head.query, authority = parse_request_target(head.path, ep.path_options, head.method)
    except BadRequest as exc:
        log.info("bad request %r from %s: %s", exchange.original_target, head.client_ip, exc)
        exchange.reply = Reply(400, [("Content-Type", "text/plain; charset=utf-8")], exc.body)
        exchange.detail = f"bad request: {exc}"
        exchange.keep_alive = exchange.keep_alive and not exc.close
        return
    if path == "*" and head.method == "OPTIONS":
        exchange.reply = Reply(200)  # Go's server answers `OPTIONS *` itself
        return
    head.path = path
    if authority is not None:
        head.host = authority
        head.headers.set("Host", authority)
    # A Connection header that only drops names (browsers send `keep-alive`) leaves a plain head once applied.
    plain = shape.plain or (shape.only_connection and ep.forwarded.drop_connection_listing(head.headers))
    if not plain:
        fix_pragma_cache_control(head.headers)
    ep.forwarded.apply(head, plain=plain)
    route = ep.table.match(head)
    if route is None:
        exchange.reply = error_reply(404)
        exchange.detail = "no router matched"
        return
    if denied_encoded_character(head.path, ep.path_options) is not None:
        exchange.reply = Reply(400)
        return
    plan = route.target
    exchange.plan = plan
    if plan.sees_bodies:
        see_bodies(exchange)  # body filters or a held request body: see bodyexchange.py
    if plan.retry is not None:
        exchange.retry = plan.retry
        if plan.retry.retries_statuses_of(head.method):
            exchange.replay, exchange.replay_limit = [], plan.retry.max_body  # the body is kept to be sent again
    if plan.keep_body:  # a mirroring service copies the body to its mirrors after the answer
        exchange.replay, exchange.replay_limit = [], max(exchange.replay_limit, plan.keep_body)
    for at, (index, middleware) in enumerate(plan.request_hooks):
        reply = middleware.on_request(head)
        if reply is not None:
            if not isinstance(reply, Reply):  # an awaitable: this middleware has to wait this time
                rest = (*plan.request_hooks[at + 1 :], *plan.waiting_hooks)
                exchange.stage = asyncio.get_running_loop().create_task(
                    _waiting_stage(exchange, plan, plain, rest, (index, reply))
                )
                return
            _answer_passes_back(plan, index, head, reply)
            exchange.reply = reply
            return
    if plan.waiting_hooks:
        exchange.stage = asyncio.get_running_loop().create_task(
            _waiting_stage(exchange, plan, plain, plan.waiting_hooks)
        )
        return
    try:  # _pick_server inline: a call costs as much as the rest of this tail
        exchange.server = plan.service.pick(head)
        finalize_upstream_headers(head, plain=plain and not plan.edits_request_headers)
    except NoServerAvailable as exc:
        exchange.reply, exchange.detail = exc.reply(), f"service {exc.service!r}: no available server"
    except InvalidUpgradeProtocol:
        exchange.reply = error_reply(500)


def _pick_server(exchange: Exchange, plan: RoutePlan, plain: bool) -> None:
    """The end of `dispatch` (inlined there), for the waiting stage."""
    try:
        exchange.server = plan.service.pick(exchange.head)
        finalize_upstream_headers(exchange.head, plain=plain and not plan.edits_request_headers)
    except NoServerAvailable as exc:
        exchange.reply, exchange.detail = exc.reply(), f"service {exc.service!r}: no available server"
    except InvalidUpgradeProtocol:
        exchange.reply = error_reply(500)


async def _waiting_stage(
    exchange: Exchange,
    plan: RoutePlan,
    plain: bool,
    hooks: tuple[tuple[int, Middleware], ...],
    waiting: tuple[int, Awaitable[Reply | None]] | None = None,
) -> None:
    """The request hooks from the first one that waits on (`waiting`: a sync hook's awaitable, when one
    returned it), then the server pick, off the parser's callback. Whatever the outcome, the exchange goes on
    (`stage_done`) unless the client left (the task is cancelled)."""
    head = exchange.head
    try:
        reply = None
        if waiting is not None:
            index, awaitable = waiting
            reply = await awaitable
        if reply is None:
            for position, middleware in hooks:
                result = middleware.on_request(head)
                reply = result if result is None or isinstance(result, Reply) else await result
                if reply is not None:
                    index = position  # the answer passes back through the hooks before this one
                    break
        if reply is not None:
            _answer_passes_back(plan, index, head, reply)
            exchange.reply = reply
        else:
            _pick_server(exchange, plan, plain)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a middleware's bug must not leave the client waiting
        log.exception("%s %s: middleware failed", head.method, exchange.original_target)
        exchange.reply = error_reply(500)
        exchange.detail = f"middleware failed: {exc!r}"
    exchange.stage_done()


def _answer_passes_back(plan: RoutePlan, index: int, head: RequestHead, reply: Reply) -> None:
    if plan.response_stages:  # hooks and body filters: the BodyExchange runs those before `index`
        head.replied_at = index
    else:
        _earlier_response_hooks(plan.middlewares[:index], head, reply)


def _earlier_response_hooks(earlier: tuple[Middleware, ...], head: RequestHead, reply: Reply) -> None:
    """A middleware's own answer passes back through the middlewares before it, as in Traefik."""
    hooks = [m for m in reversed(earlier) if m.has_response_hook]
    if hooks:
        headers = HeaderList(list(reply.headers))
        for middleware in hooks:
            middleware.on_response(head, reply.status, headers)
        reply.headers = headers.items
