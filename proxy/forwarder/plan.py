"""What a matched router resolves to: its middlewares, in order, and the service that picks a server."""

from __future__ import annotations

from dataclasses import dataclass

from proxy.middlewares.base import Middleware
from proxy.middlewares.chain import Chain
from proxy.services.loadbalancer import Picker

# One step of the response side, innermost first: a run of plain `on_response` hooks, or one middleware
# whose `response_filter` sees the body.
ResponseStage = tuple[Middleware, ...] | Middleware


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
    # (position in `middlewares`, middleware) for those whose on_request does something, in order.
    request_hooks: tuple[tuple[int, Middleware], ...] = ()
    # Set only when some middleware filters response bodies: the whole response side, innermost first
    # (hooks and filters in Traefik's order). Empty: `response_hooks` alone, today's path.
    response_stages: tuple[ResponseStage, ...] = ()
    # Nothing on the response side at all: a response head may go out as the upstream wrote it.
    relays_as_is: bool = True
    # (max bytes or 0, bytes in memory before spilling to disk) when the whole request body must be read
    # before anything goes upstream (buffering); None for every other plan.
    hold_request: tuple[int, int] | None = None

    @classmethod
    def build(cls, router: str, middlewares: list[tuple[str, Middleware]], service: Picker,
              service_name: str) -> RoutePlan:
        chain = tuple(m for _, m in middlewares)
        hooks = tuple(m for m in reversed(chain) if m.has_response_hook)
        stages = _response_stages(chain) if any(m.filters_response for m in chain) else ()
        return cls(router, chain, tuple(n for n, _ in middlewares), service, service_name, hooks,
                   any(m.edits_request_headers for m in chain),
                   tuple((index, m) for index, m in enumerate(chain) if m.has_request_hook),
                   stages, not hooks and not stages, _hold_request(chain))


def _flattened(chain: tuple[Middleware, ...]) -> list[Middleware]:
    """Chains that hold a body filter are opened up, so that each member takes its own place."""
    out: list[Middleware] = []
    for middleware in chain:
        if isinstance(middleware, Chain) and middleware.filters_response:
            out += _flattened(middleware.middlewares)
        else:
            out.append(middleware)
    return out


def _response_stages(chain: tuple[Middleware, ...]) -> tuple[ResponseStage, ...]:
    stages: list[ResponseStage] = []
    run: list[Middleware] = []
    for middleware in reversed(_flattened(chain)):
        if middleware.filters_response:
            if run:
                stages.append(tuple(run))
                run = []
            stages.append(middleware)
        elif middleware.has_response_hook:
            run.append(middleware)
    if run:
        stages.append(tuple(run))
    return tuple(stages)


def _hold_request(chain: tuple[Middleware, ...]) -> tuple[int, int] | None:
    """Several buffering middlewares on one route: the tightest limits hold."""
    limits = [m.request_body_limits() for m in _flattened(chain) if m.holds_request_body]
    if not limits:
        return None
    maxes = [limit for limit, _ in limits if limit > 0]
    return (min(maxes) if maxes else 0), min(memory for _, memory in limits)
