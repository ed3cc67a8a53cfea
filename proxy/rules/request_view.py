"""What Traefik's matchers see of a request, computed from our raw RequestHead.

* host: `canonical_host` = requestdecorator's parseHost + types.CanonicalDomain (port and IPv6 brackets
  dropped, trimmed, lower-cased);
* path: `routing_path` = what pkg/muxer/http/mux.go withRoutingPath builds from Go's URL.EscapedPath():
  percent-escapes of unreserved characters are decoded (`/foo%20bar` -> `/foo bar`), escapes of reserved
  characters (`:/?#[]@!$&'()*+,;=%`) stay encoded and upper-cased (`/a%2fb` -> `/a%2Fb`, so an encoded
  slash never matches a literal `/` in Path/PathPrefix). If the raw path holds a byte Go's URL parser
  would re-escape (space, `"`, `|`, non-ASCII...), Go rebuilds the escaped path from the fully decoded
  one, which decodes `%2F` and encodes `(`; we reproduce that too;
* query: Go's url.ParseQuery (`+` is a space, pairs with a bad escape are dropped), after the entry point's
  default AllowQuerySemicolons turned `;` into `&`.

Strings are "byte strings": every character is one byte (latin-1), as in RequestHead.
"""

from __future__ import annotations

import codecs

from proxy.message import RequestHead
from proxy.netutil import split_host_port
from proxy.urlpath import PLAIN_PATH, from_text, parsed_escaped_path, recode_escapes, unescape

# Escapes Traefik's routing path keeps encoded (mux.go reservedCharacters); every other %XX is decoded.
_RESERVED = frozenset(":/?#[]@!$&'()*+,;=%")
_ROUTING_DECODED = frozenset(map(chr, range(256))) - _RESERVED


def _go_rune_errors(exc: UnicodeError) -> tuple[str, int]:
    # Go's regexp reads each byte of an invalid UTF-8 sequence as one U+FFFD.
    assert isinstance(exc, UnicodeDecodeError)
    return "\ufffd" * (exc.end - exc.start), exc.end


codecs.register_error("stripproxy.gorune", _go_rune_errors)


def regexp_subject(value: str) -> str:
    """A byte string as Go's regexp reads it: UTF-8 decoded, each invalid byte one U+FFFD."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8", "stripproxy.gorune")
    except UnicodeEncodeError:  # already text, not bytes
        return value


def rule_bytes(arg: str) -> str:
    """A rule argument (Go source is UTF-8) as a byte string comparable with request data."""
    return from_text(arg)


_HOST_CACHE_LIMIT = 4096
_canonical_hosts: dict[str, str] = {}


def canonical_host(host_header: str) -> str:
    """The request host as Traefik's Host/HostRegexp matchers compare it (remembered: clients repeat
    the same few Host values, and this runs for every request)."""
    host = _canonical_hosts.get(host_header)
    if host is None:
        if len(_canonical_hosts) >= _HOST_CACHE_LIMIT:
            _canonical_hosts.clear()
        host = _canonical_hosts[host_header] = _canonical_host(host_header)
    return host


def _canonical_host(host_header: str) -> str:
    host = host_header
    if ":" in host:
        split = split_host_port(host)
        if split is not None:
            host = split[0]
        elif host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
    return host.strip(" \t\n\v\f\r").lower()


def _query_unescape(raw: str) -> str | None:
    """Go's QueryUnescape into a byte string ('+' is a space); None for a malformed escape."""
    try:
        return unescape(raw.replace("+", " "))
    except ValueError:
        return None


def routing_path(raw_path: str) -> str | None:
    """The path Path/PathPrefix/PathRegexp match against; None if the raw path has a bad %-escape."""
    if PLAIN_PATH.fullmatch(raw_path):  # nothing to decode or re-escape: the common case
        return raw_path
    try:
        escaped = parsed_escaped_path(raw_path)
    except ValueError:
        return None
    return recode_escapes(escaped, _ROUTING_DECODED)


def parse_query(raw_query: str | None) -> dict[str, list[str]]:
    """Go's url.ParseQuery of the raw query (with `;` read as `&`)."""
    params: dict[str, list[str]] = {}
    if not raw_query:
        return params
    for pair in raw_query.replace(";", "&").split("&"):
        if not pair:
            continue
        raw_key, _, raw_value = pair.partition("=")
        key = _query_unescape(raw_key)
        value = _query_unescape(raw_value)
        if key is None or value is None:
            continue
        params.setdefault(key, []).append(value)
    return params


class MatchRequest:
    """One request as the matchers read it; host and routing path computed once, the query on demand."""

    __slots__ = ("head", "host", "path", "_query")

    def __init__(self, head: RequestHead) -> None:
        self.head = head
        self.host = canonical_host(head.host)
        self.path = routing_path(head.path)
        self._query: dict[str, list[str]] | None = None

    @property
    def query(self) -> dict[str, list[str]]:
        if self._query is None:
            self._query = parse_query(self.head.query)
        return self._query
