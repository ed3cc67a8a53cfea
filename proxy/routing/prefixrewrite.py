"""Placing and binding prefixRewrite (stripproxy's own middleware) in a router's chain.

A router's rewriter needs to know its strips (for the slash redirect) and its service's servers (so that
`Location: http://127.0.0.1:8000/x` is recognised as the app's own). The gateway-wide option adds one,
first, to every router whose chain strips a prefix; a router that names one itself keeps its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from proxy.middlewares.addprefix import AddPrefix
from proxy.middlewares.base import Middleware
from proxy.middlewares.prefixrewrite import GATEWAY_WIDE, PrefixRewrite
from proxy.middlewares.replacepath import ReplacePath
from proxy.middlewares.replacepathregex import ReplacePathRegex
from proxy.middlewares.stripprefix import StripPrefix
from proxy.middlewares.stripprefixregex import StripPrefixRegex
from proxy.prefixrewrite.headers import origin_key
from proxy.routing.plan import flattened
from proxy.routing.problems import BuildError
from proxy.routing.services import walk
from proxy.services.loadbalancer import parse_server_url

STRIPS = (StripPrefix, StripPrefixRegex)
NOT_INVERTED = (AddPrefix, ReplacePath, ReplacePathRegex)


def strips(middleware: Middleware) -> bool:
    """A stripPrefix, a stripPrefixRegex, or a replacePathRegex that only removes a prefix."""
    return isinstance(middleware, STRIPS) or (
        isinstance(middleware, ReplacePathRegex) and middleware.strips is not None
    )


def not_inverted(middleware: Middleware) -> bool:
    """A path change prefixRewrite does not undo."""
    return isinstance(middleware, NOT_INVERTED) and not strips(middleware)


def with_prefix_rewrite(
    chain: list[tuple[str, Middleware]], service: Any, gateway_wide: Callable[[], PrefixRewrite] | None
) -> tuple[list[tuple[str, Middleware]], list[str]]:
    """The chain with its rewriters bound (and the gateway-wide one added where it applies), and warnings.
    BuildError when a rewriter comes after a strip (it could not tell the strip's prefix)."""
    members = list(flattened(m for _, m in chain))
    rewriters = [m for m in members if isinstance(m, PrefixRewrite)]
    if not rewriters:
        if gateway_wide is None or not any(strips(m) for m in members):
            return chain, []
        rewriter = gateway_wide()
        chain, members, rewriters = [(GATEWAY_WIDE, rewriter), *chain], [rewriter, *members], [rewriter]
    warnings: list[str] = []
    upstream = frozenset(server_origins(service))
    sticky = [p.sticky.name for p in walk(service) if getattr(p, "sticky", None) is not None]
    for rewriter in rewriters:
        at = next(i for i, m in enumerate(members) if m is rewriter)
        if any(strips(m) for m in members[:at]):
            raise BuildError(
                "prefixRewrite must come before the stripPrefix / stripPrefixRegex whose prefix it puts back "
                "(put it first in the router's middlewares)"
            )
        after = members[at + 1 :]
        stripping = [m for m in after if strips(m)]
        if not stripping:
            warnings.append(
                "prefixRewrite: no stripPrefix or stripPrefixRegex after it on this router: it does nothing"
            )
        if any(not_inverted(m) for m in after):
            warnings.append(
                "prefixRewrite: addPrefix / replacePath / replacePathRegex on this router are not undone: "
                "only the stripped prefix is put back"
            )
        rewriter.bind(stripping, upstream, sticky)
    return chain, warnings


def server_origins(service: Any) -> Iterator[str]:
    """Every server of a service and the services it is made of, as `host:port`."""
    for server in getattr(service, "servers", ()) or ():
        try:
            scheme, host, port, _, _ = parse_server_url(server.url)
        except ValueError:
            continue
        yield origin_key(scheme, f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    children = [
        *(getattr(service, "children", ()) or ()),
        getattr(service, "main", None),
        getattr(service, "fallback", None),
    ]
    for child in children:
        if child is not None:
            yield from server_origins(child)
