"""What a head's header *names* decide, worked out once per distinct list of names.

A client sends the same header names request after request (a browser, an SDK, a load generator); only
the values change, and an upstream answers with the same names too. Everything that depends on the names
alone (their lower-cased forms, whether they are valid tokens, whether any needs special handling) is
computed once per distinct tuple of names and cached, so the hot path reads flags instead of scanning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import methodcaller
from typing import TypeVar

from proxy.forwarder.forwarded import MANAGED_X_HEADERS
from proxy.forwarder.hop import HOP_HEADERS
from proxy.normalize import header_names_valid

CACHE_LIMIT = 1024  # distinct name lists kept; a flood of odd heads only clears the cache, never grows it

latin1 = methodcaller("decode", "latin-1")  # every byte round-trips; C-level when mapped over values


def decode_values(raw_values: list[bytes]) -> list[str]:
    """Header values as str, with one decode for the lot: llhttp refuses NUL in a value, so it can
    separate them (2-3x cheaper than decoding each)."""
    return b"\0".join(raw_values).decode("latin-1").split("\0")


# Request headers that send a request off the plain path: hop-by-hop ones, those Go or Traefik rewrite by
# name (Expect, Pragma) and the Traefik-managed X- headers, which the forwarded-headers stage must filter.
_REQUEST_SPECIAL = HOP_HEADERS | MANAGED_X_HEADERS | {"expect", "pragma"}


@dataclass(frozen=True, slots=True)
class RequestShape:
    names: tuple[str, ...]  # as sent (latin-1)
    keys: tuple[str, ...]  # lower-cased, parallel to `names`
    valid: bool  # every name is a token and there is exactly one Host: only the values are left to check
    plain: bool  # no name needs special handling (see _REQUEST_SPECIAL; no underscore spellings either)
    # Connection is the only name that needs special handling: applying it may leave the head plain.
    only_connection: bool
    has_length: bool  # a Content-Length header is present
    has_te: bool  # a Transfer-Encoding header is present
    host_at: int  # index of the first Host header, -1 when there is none
    # Indexes (-1: absent) of the first Connection, Upgrade, Accept and Content-Type headers, the ones
    # Traefik's metrics read the request's protocol from; None when neither of the last three is there
    # (the protocol is then plain http whatever the values).
    protocol_at: tuple[int, int, int, int] | None


@dataclass(frozen=True, slots=True)
class ResponseShape:
    # Index of the lone Content-Length when the head can go to the client as the upstream wrote it, but
    # for a lone Connection header (no other hop-by-hop header, no Transfer-Encoding); -1 otherwise.
    length_at: int
    connection_at: int  # index of that Connection header (nginx sends `keep-alive`), -1 when absent
    keys: frozenset[str]  # the lower-cased names (RoutePlan.relays_unless is looked up in them)


# Keyed by the names joined with a newline (never part of a name): one bytes object to hash and compare.
_requests: dict[bytes, RequestShape] = {}
_responses: dict[bytes, ResponseShape] = {}
Shape = TypeVar("Shape", RequestShape, ResponseShape)


def request_shape(raw_names: list[bytes]) -> RequestShape:
    return _cached(_requests, raw_names, _request_shape)


def response_shape(raw_names: list[bytes]) -> ResponseShape:
    return _cached(_responses, raw_names, _response_shape)


def _cached(cache: dict[bytes, Shape], raw_names: list[bytes], build: Callable[[tuple[bytes, ...]], Shape]) -> Shape:
    key = b"\n".join(raw_names)
    shape = cache.get(key)
    if shape is None:
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        shape = cache[key] = build(tuple(raw_names))
    return shape


def _request_shape(raw_names: tuple[bytes, ...]) -> RequestShape:
    names = tuple(map(latin1, raw_names))
    keys = tuple(name.lower() for name in names)
    valid = keys.count("host") == 1 and header_names_valid(keys)
    underscores = any("_" in key for key in keys)
    special = _REQUEST_SPECIAL.intersection(keys)
    protocol_at = (
        _first(keys, "connection"),
        _first(keys, "upgrade"),
        _first(keys, "accept"),
        _first(keys, "content-type"),
    )
    return RequestShape(
        names,
        keys,
        valid,
        not special and not underscores,
        special == {"connection"} and not underscores,
        "content-length" in keys,
        "transfer-encoding" in keys,
        _first(keys, "host"),
        protocol_at if max(protocol_at[1:]) >= 0 else None,
    )


def _first(keys: tuple[str, ...], key: str) -> int:
    return keys.index(key) if key in keys else -1


def _response_shape(raw_names: tuple[bytes, ...]) -> ResponseShape:
    keys = [latin1(name).lower() for name in raw_names]
    hop = HOP_HEADERS.intersection(keys)
    passes = keys.count("content-length") == 1 and (
        not hop or (hop == {"connection"} and keys.count("connection") == 1)
    )
    return ResponseShape(
        keys.index("content-length") if passes else -1,
        keys.index("connection") if passes and hop else -1,
        frozenset(keys),
    )
