"""What a matched router resolves to: its middlewares, in order, and the service that picks a server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from proxy.middlewares.base import Middleware
from proxy.middlewares.chain import Chain
from proxy.middlewares.retry import RetryPolicy
from proxy.services.loadbalancer import Picker


@dataclass(frozen=True, slots=True)
class RoutePlan:
    router: str  # qualified name, e.g. "app-http@file"
    middlewares: tuple[Middleware, ...]
    middleware_names: tuple[str, ...]
    service: Picker
    service_name: str
    # Innermost first: the middleware nearest the service sees the upstream's headers first, as in Traefik.
    response_hooks: tuple[Middleware, ...] = ()
    edits_request_headers: bool = False  # some middleware may add/remove arbitrary request headers
    # (position in `middlewares`, middleware) for those whose on_request does something, in order, up to
    # the first one that waits; that one and all after it are `waiting_hooks`, run in a task.
    request_hooks: tuple[tuple[int, Middleware], ...] = ()
    waiting_hooks: tuple[tuple[int, Middleware], ...] = ()
    retry: RetryPolicy | None = None  # the first retry middleware's policy, applied by the exchange
    overrides: tuple[str, ...] = ()  # test overrides in this plan, in words (see Gateway's middlewares=)

    @classmethod
    def build(cls, router: str, middlewares: list[tuple[str, Middleware]], service: Picker,
              service_name: str, overrides: tuple[str, ...] = ()) -> RoutePlan:
        # A chain runs as its members in its place: a member that answers is seen by those before it only,
        # which is what the plan does for any middleware, and members that wait or retry work as anywhere.
        chain = tuple(_flattened(m for _, m in middlewares))
        hooks = tuple(m for m in reversed(chain) if m.has_response_hook)
        request_hooks = tuple((index, m) for index, m in enumerate(chain) if m.has_request_hook)
        first_wait = next((at for at, (_, m) in enumerate(request_hooks) if m.waits), len(request_hooks))
        return cls(router, chain, tuple(n for n, _ in middlewares), service, service_name, hooks,
                   any(m.edits_request_headers for m in chain), request_hooks[:first_wait],
                   request_hooks[first_wait:],
                   next((m.retry_policy for m in chain if m.retry_policy is not None), None), overrides)


def _flattened(middlewares: Iterable[Middleware]) -> Iterator[Middleware]:
    for middleware in middlewares:
        if isinstance(middleware, Chain):
            yield from _flattened(middleware.middlewares)
        else:
            yield middleware
