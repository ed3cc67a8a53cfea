"""What a matched router resolves to: its middlewares, in order, and the service that picks a server."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from proxy.middlewares.base import Middleware
from proxy.middlewares.chain import Chain
from proxy.middlewares.retry import RetryPolicy
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
    # (position in `middlewares`, middleware) for those whose on_request does something, in order, up to
    # the first one that waits; that one and all after it are `waiting_hooks`, run in a task.
    request_hooks: tuple[tuple[int, Middleware], ...] = ()
    waiting_hooks: tuple[tuple[int, Middleware], ...] = ()
    retry: RetryPolicy | None = None  # the first retry middleware's policy, applied by the exchange
    overrides: tuple[str, ...] = ()  # test overrides in this plan, in words (see Gateway's middlewares=)
    # Set only when some middleware filters response bodies: the whole response side, innermost first
    # (hooks and filters in Traefik's order). Empty: `response_hooks` alone, today's path.
    response_stages: tuple[ResponseStage, ...] = ()
    # Nothing on the response side at all: a response head may go out as the upstream wrote it.
    relays_as_is: bool = True
    # Only hooks that act on some header names (Middleware.response_header_names): a response head holding
    # none of these may still go out as written. None: every response takes the general path.
    relays_unless: frozenset[str] | None = None
    # (max bytes or 0, bytes in memory before spilling to disk) when the whole request body must be read
    # before anything goes upstream (buffering); None for every other plan.
    hold_request: tuple[int, int] | None = None
    # Either of the two above: dispatch makes the exchange a BodyExchange (forwarder/bodyexchange.py).
    sees_bodies: bool = False
    keep_body: int = 0  # request body bytes the service wants kept (mirroring's mirrorBody/maxBodySize)
    # The one body filter's `body_probe` when it alone decides (see `_body_probe`): a response it says no to
    # takes the plain path (response_hooks), as if the plan had no response_stages.
    response_probe: Callable[[int, str | None], bool] | None = None
    # With a response_probe: the header names the plan's hooks act on, when every hook says which. A head
    # lacking them that the probe declines may go out as the upstream wrote it (FilteringExchange).
    relays_declined: frozenset[str] | None = None

    @classmethod
    def build(
        cls,
        router: str,
        middlewares: list[tuple[str, Middleware]],
        service: Picker,
        service_name: str,
        overrides: tuple[str, ...] = (),
    ) -> RoutePlan:
        # A chain runs as its members in its place: a member that answers is seen by those before it only,
        # which is what the plan does for any middleware, and members that wait or retry work as anywhere.
        chain = tuple(flattened(m for _, m in middlewares))
        hooks = tuple(m for m in reversed(chain) if m.has_response_hook)
        request_hooks = tuple((index, m) for index, m in enumerate(chain) if m.has_request_hook)
        first_wait = next((at for at, (_, m) in enumerate(request_hooks) if m.waits), len(request_hooks))
        stages = _response_stages(chain) if any(m.filters_response for m in chain) else ()
        probe = _body_probe(chain) if stages else None
        hold = _hold_request(chain)
        return cls(
            router,
            chain,
            tuple(n for n, _ in middlewares),
            service,
            service_name,
            hooks,
            any(m.edits_request_headers for m in chain),
            request_hooks[:first_wait],
            request_hooks[first_wait:],
            next((m.retry_policy for m in chain if m.retry_policy is not None), None),
            overrides,
            stages,
            not hooks and not stages,
            _watched(hooks) if hooks and not stages else None,
            hold,
            bool(stages) or hold is not None,
            response_probe=probe,
            relays_declined=_watched(hooks) if probe is not None else None,
        )

    def with_service_hook(self, hook: Middleware) -> RoutePlan:
        """The plan with the service's own response hook (sticky cookies, time to first byte) innermost of
        all, before every middleware's, on whichever response path the plan takes."""
        stages = ((hook,), *self.response_stages) if self.response_stages else ()
        return dataclasses.replace(
            self,
            response_hooks=(hook, *self.response_hooks),
            response_stages=stages,
            relays_as_is=False,
            relays_unless=None,
            response_probe=None,  # a hook nearer the service now: the filter no longer sees the upstream's head
            relays_declined=None,
        )


def flattened(middlewares: Iterable[Middleware]) -> Iterator[Middleware]:
    for middleware in middlewares:
        if isinstance(middleware, Chain):
            yield from flattened(middleware.middlewares)
        else:
            yield middleware


def _watched(hooks: tuple[Middleware, ...]) -> frozenset[str] | None:
    """The header names some hook acts on, when every hook says which (else None)."""
    names: frozenset[str] = frozenset()
    for hook in hooks:
        if hook.response_header_names is None:
            return None
        names |= hook.response_header_names
    return names


def _response_stages(chain: tuple[Middleware, ...]) -> tuple[ResponseStage, ...]:
    stages: list[ResponseStage] = []
    run: list[Middleware] = []
    for middleware in reversed(chain):
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


def _body_probe(chain: tuple[Middleware, ...]) -> Callable[[int, str | None], bool] | None:
    """The probe of the chain's only filtering middleware, when no middleware nearer the service has a
    response hook: then the upstream's status and headers are what that filter would be shown (its own
    `on_response` runs first on both paths and must not change what its probe reads)."""
    filtering = [at for at, m in enumerate(chain) if m.filters_response]
    if len(filtering) != 1:
        return None
    at = filtering[0]
    if any(m.has_response_hook for m in chain[at + 1 :]):
        return None
    return chain[at].body_probe


def _hold_request(chain: tuple[Middleware, ...]) -> tuple[int, int] | None:
    """Several buffering middlewares on one route: the tightest limits hold."""
    limits = [m.request_body_limits() for m in chain if m.holds_request_body]
    if not limits:
        return None
    maxes = [limit for limit, _ in limits if limit > 0]
    return (min(maxes) if maxes else 0), min(memory for _, memory in limits)
