"""The plain data every stage of a request works on: a parsed request head, header lists, direct replies.

Middlewares and the router see only these objects; the forwarder turns them back into bytes.
Everything is `str`: header bytes are decoded as latin-1, so any byte round-trips unchanged.
"""

from __future__ import annotations

import builtins  # HeaderList.set shadows the builtin inside the class body, annotations included
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter
from typing import Any


class HeaderList:
    """An ordered list of (name, value) pairs; names compare case-insensitively, order and case are kept.

    Repeated headers (Set-Cookie, X-Forwarded-For from several hops) stay separate entries. A parallel
    list of lower-cased names makes every lookup one C-level list scan: this runs many times per request.
    """

    __slots__ = ("_items", "_keys")

    def __init__(self, items: list[tuple[str, str]] | None = None, keys: list[str] | None = None) -> None:
        self._items: list[tuple[str, str]] = items if items is not None else []
        self._keys: list[str] = keys if keys is not None else _lower_names(self._items)

    def _set_items(self, items: list[tuple[str, str]]) -> None:
        self._items = items
        self._keys = _lower_names(items)

    # C-level getters (attrgetter): read several times per request, a Python getter would cost 2x more.
    items = property(
        attrgetter("_items"),
        _set_items,
        doc="The pairs, in order. Read freely; to change them assign a new list (or use the methods).",
    )
    keys = property(attrgetter("_keys"), doc="The lower-cased names, parallel to `items` (read only).")

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of `name`, or `default`."""
        lname = name.lower()
        keys = self._keys
        if lname in keys:  # cheaper than catching index()'s ValueError for the usual absent header
            return self._items[keys.index(lname)][1]
        return default

    def get_all(self, name: str) -> list[str]:
        lname = name.lower()
        keys = self._keys
        count = keys.count(lname)
        if count < 2:  # the usual case, without a Python-level scan
            return [self._items[keys.index(lname)][1]] if count else []
        return [pair[1] for key, pair in zip(keys, self._items, strict=True) if key == lname]

    def joined(self, name: str) -> str | None:
        """All values of `name` joined with ', ' (how HTTP folds repeated fields), or None if absent."""
        values = self.get_all(name)
        return ", ".join(values) if values else None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._keys

    def add(self, name: str, value: str) -> None:
        self._items.append((name, value))
        self._keys.append(name.lower())

    def extend(self, pairs: Iterable[tuple[str, str]], lower_names: list[str] | None = None) -> None:
        """`add` each pair, in order (one call for the several headers the forwarder appends).

        `lower_names`, when the caller has them ready, are the pairs' names lower-cased.
        """
        if lower_names is None:
            pairs = list(pairs)
            lower_names = _lower_names(pairs)
        self._items += pairs
        self._keys += lower_names

    def set(self, name: str, value: str) -> None:
        """Replace every `name` entry by one, kept at the position of the first (or appended)."""
        lname = name.lower()
        keys = self._keys
        if lname not in keys:
            self._items.append((name, value))
            keys.append(lname)
            return
        index = keys.index(lname)
        self._items[index] = (name, value)
        if keys.count(lname) > 1:
            self._drop(lname, start=index + 1)

    def remove(self, name: str) -> None:
        lname = name.lower()
        keys = self._keys
        count = keys.count(lname)
        if count == 1:
            index = keys.index(lname)
            del keys[index]
            del self._items[index]
        elif count:
            self._drop(lname)

    def remove_at(self, index: int) -> None:
        """Drop the entry at `index` (a position in `items`)."""
        del self._items[index]
        del self._keys[index]

    def remove_many(self, lower_names: frozenset[str] | builtins.set[str]) -> None:
        """Drop every entry whose lower-cased name is in `lower_names`."""
        # Usually one or two of the names are present, once each: deleting those in place is cheaper
        # than rebuilding both lists.
        for lname in lower_names.intersection(self._keys):
            keys = self._keys  # _drop replaces the lists
            if keys.count(lname) == 1:
                index = keys.index(lname)
                del keys[index]
                del self._items[index]
            else:
                self._drop(lname)

    def _drop(self, lname: str, start: int = 0) -> None:
        pairs = enumerate(zip(self._keys, self._items, strict=True))
        kept = [(key, pair) for i, (key, pair) in pairs if i < start or key != lname]
        self._keys = [key for key, _ in kept]
        self._items = [pair for _, pair in kept]

    def copy(self) -> HeaderList:
        return HeaderList(list(self._items), list(self._keys))

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"HeaderList({self._items!r})"


# RequestHead.xff flags.
XFF_SUPPRESS = 1  # headers middleware, customRequestHeaders X-Forwarded-For = "": none goes upstream at all
XFF_NO_APPEND = 2  # entry point forwardedHeaders.notAppendXForwardedFor: the client's value goes as it is


def _lower_names(pairs: list[tuple[str, str]]) -> list[str]:
    # map() over C functions: a comprehension would run a Python frame per header list.
    return list(map(str.lower, map(itemgetter(0), pairs)))


@dataclass(slots=True)
class RequestHead:
    """A request as routing and middlewares see it.

    `path` is the raw, percent-encoded path (never decoded: `/a%2Fb` stays so); `query` is the raw
    query without the `?`, or None when the target had no `?`.
    """

    method: str
    path: str
    query: str | None
    headers: HeaderList
    host: str = ""  # the Host header as sent (may carry a port, any case); "" when absent
    client_ip: str = ""  # the TCP peer address
    scheme: str = "http"  # "http" or "https": how the client reached the entry point
    version: str = "1.1"
    entry_point: str = ""
    # What the stages of this request tell one another, as typed slots (never sent upstream as such). Each
    # says who writes it and who reads it; a request that none of them touches keeps the defaults.
    # How X-Forwarded-For leaves: XFF_* flags, 0 for Go's default (the client IP appended). Written by the
    # entry point's forwardedHeaders (XFF_NO_APPEND) and the headers middleware (XFF_SUPPRESS), read by
    # forwarded.finalize_upstream_headers: one int, so its fast path stays one test (`if not req.xff`).
    xff: int = 0
    # The position of the middleware that answered by itself, in the list that ran it: the plan's middlewares
    # (dispatch writes it when the plan has response stages; FilteringExchange.answer reads and clears it),
    # or a Chain's members when a Chain runs as one middleware (Chain.on_request writes, its on_response
    # reads). A plan runs chains flattened, so the two never meet. None: no middleware answered.
    replied_at: int | None = None
    # Set-Cookie values (sticky cookies) the service adds to the response: services/sticky.Sticky.write
    # writes them when it picks, services/sticky.add_set_cookies (the service's response hook) takes them.
    set_cookies: list[str] | None = None
    # How many X-Forwarded-Prefix values the client itself sent (prefixRewrite's request hook writes it when
    # there are any; its response side reads it, to tell the router's strips from the client's).
    client_prefixes: int = 0
    # The prefixes replacePathRegex middlewares that only strip one removed, in order (they add no
    # X-Forwarded-Prefix, as in Traefik): written by replacePathRegex, read by prefixRewrite's response side.
    regex_prefix: str = ""
    # What prefixRewrite changed in the answer, one `Name: before -> after` per entry: its response hook and
    # body filter append, ExchangeRecord.of reads. None: nothing changed.
    rewrites: list[str] | None = None
    # The user an authentication middleware let through (forwardAuth's headerField): the access log's
    # ClientUsername. None: no such user ("-" in the log).
    client_username: str | None = None
    # Callbacks registered with `at_end`; None (no list) for the requests that register none.
    end_callbacks: list[Callable[[Any], object]] | None = None  # what a callback returns is ignored
    # How a TLS connection was made (SNI, TLS options, client certificate); None for plain HTTP.
    tls: TLSInfo | None = None

    def at_end(self, callback: Callable[[Any], object]) -> None:
        """Call `callback(exchange)` once when this request's exchange is over, however it ends. The
        exchange is the outcome: `status`, `bytes_out`, `started`, `server`, `detail`, `attempts`, `head`."""
        if self.end_callbacks is None:
            self.end_callbacks = [callback]
        else:
            self.end_callbacks.append(callback)

    @property
    def target(self) -> str:
        """The request-target to send upstream (Go's URL.RequestURI): path plus `?query` when there was one;
        a path a middleware left empty is `/`."""
        path = self.path or "/"
        return path if self.query is None else f"{path}?{self.query}"


@dataclass(slots=True)
class TLSInfo:
    """One TLS connection, as its requests see it (shared by them)."""

    server_name: str  # the SNI, "" when the client sent none
    options: str  # the tls.options entry the connection was made with
    peer_cert: bytes | None = None  # the client certificate (DER) when it sent one


@dataclass(slots=True)
class Reply:
    """A response a middleware (or the router) gives itself instead of forwarding: redirect, 400, 404..."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    # A body written later (an event stream): called with a `ReplyStream` (proxy/forwarder/exchange.py) once
    # the head is out; the exchange lasts until the stream's `end()`. None for every ordinary answer.
    stream: Callable[[Any], None] | None = None

    @classmethod
    def text(cls, status: int, message: str, headers: list[tuple[str, str]] | None = None) -> Reply:
        """A short plain-text answer, as Traefik gives for its own errors."""
        return cls(status, [("Content-Type", "text/plain; charset=utf-8"), *(headers or [])], message.encode())
