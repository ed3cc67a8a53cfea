"""chain: Traefik v3 `pkg/middlewares/chain/chain.go`.

A named list of middlewares used as one: they run in order, and the first that answers by itself (a Reply)
ends the chain. Response hooks run innermost first, as Go's wrapped ResponseWriters do: the member closest
to the service sees the response first. When a member answered itself, only the members before it see that
answer's headers (in Traefik the reply is written through their writers, not through later ones), so the
chain keeps in `req.replied_at` which member answered. (A route plan runs a chain's members in its place, see
routing/plan.py: this class runs them only where a chain is used on its own.) Building the members (and
rejecting unknown names or cycles) is the config layer's job; this class receives them already built.
"""

from __future__ import annotations

from collections.abc import Sequence

from proxy.message import HeaderList, RequestHead
from proxy.middlewares.base import HookResult, Middleware


class Chain(Middleware):
    def __init__(self, middlewares: Sequence[Middleware]) -> None:
        for member in middlewares:
            if not isinstance(member, Middleware):
                raise ValueError(f"chain: {member!r} is not a built middleware")
        self.middlewares: tuple[Middleware, ...] = tuple(middlewares)
        self.response_hooks: tuple[Middleware, ...] = tuple(
            member for member in reversed(self.middlewares) if member.has_response_hook
        )
        self.has_response_hook = bool(self.response_hooks)
        self.edits_request_headers = any(member.edits_request_headers for member in self.middlewares)
        self.has_request_hook = any(member.has_request_hook for member in self.middlewares)
        self.per_router = any(member.per_router for member in self.middlewares)

    def on_request(self, req: RequestHead) -> HookResult:
        for index, member in enumerate(self.middlewares):
            reply = member.on_request(req)
            if reply is not None:
                if self.has_response_hook:
                    req.replied_at = index
                return reply
        return None

    def on_response(self, req: RequestHead, status: int, headers: HeaderList) -> None:
        replied_at = req.replied_at
        if replied_at is None:
            for member in self.response_hooks:
                member.on_response(req, status, headers)
            return
        for member in reversed(self.middlewares[:replied_at]):
            if member.has_response_hook:
                member.on_response(req, status, headers)
