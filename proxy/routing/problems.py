"""What goes wrong while building: the error that disables one element, and the problems reported."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

PROVIDER = "file"
INTERNAL = "internal"  # Traefik's internal provider: api@internal, ping@internal, ... (proxy.observability)


class BuildError(Exception):
    """Why one service, middleware or router cannot be built."""


@dataclass(frozen=True, slots=True)
class Problem:
    """A problem with one element of the dynamic config, as Traefik reports it in its runtime view."""

    kind: str  # "router", "service", "middleware", "serversTransport"
    name: str
    message: str
    level: str = "error"  # "error": the element is disabled; "warning": served anyway

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {self.message}"


def local_name(reference: str) -> str:
    """`name@file` -> `name`; `name@internal` stays whole; other providers' names cannot be resolved here."""
    name, at, provider = reference.partition("@")
    if at and provider == INTERNAL:
        return reference
    if at and provider != PROVIDER:
        close = closest(provider, (PROVIDER, INTERNAL))
        hint = f" (did you mean {name + '@' + close!r}?)" if close else ""
        raise BuildError(f"{reference!r} refers to provider {provider!r}; stripproxy only has the file provider{hint}")
    return name


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """ " (did you mean 'web'?)" for the known name closest to a misspelt one (difflib), else "".

    The one helper for every name looked up: middlewares, services, entry points, servers transports,
    providers, internal services."""
    close = closest(name, known)
    return f" (did you mean {close!r}?)" if close else ""


def closest(name: str, known: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, [str(candidate) for candidate in known], n=1)
    return close[0] if close else None
