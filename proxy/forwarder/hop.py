"""Hop-by-hop headers: what Go's httputil.ReverseProxy drops between client and upstream (both directions).

Sources: Go net/http/httputil/reverseproxy.go (hopHeaders, removeHopByHopHeaders, upgradeType) and
golang.org/x/net/http/httpguts (HeaderValuesContainsToken), as used by Traefik v3's pkg/proxy/httputil.
"""

from __future__ import annotations

from collections.abc import Iterable

from proxy.message import HeaderList

# RFC 2616 section 13.5.1 list Go still removes, whatever Connection says (lower-cased).
HOP_HEADERS: frozenset[str] = frozenset(
    {
        "connection",
        "proxy-connection",  # non-standard, still sent by libcurl
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

_ONLY_CONNECTION = frozenset({"connection"})
_OWS = " \t"  # httpguts trims optional white space around list tokens
_TEXTPROTO_SPACE = " \t\r\n"  # textproto.TrimString, used when splitting Connection


def header_values_contain_token(values: Iterable[str], token: str) -> bool:
    """Whether any comma-separated element of `values` equals `token` (ASCII case-insensitive).

    Like httpguts.HeaderValuesContainsToken: elements are trimmed of spaces/tabs, parameters are not
    stripped (`trailers;q=1` is not `trailers`).
    """
    token = token.lower()
    for value in values:
        for element in value.split(","):
            if element.strip(_OWS).lower() == token:
                return True
    return False


def connection_tokens(headers: HeaderList) -> set[str]:
    """The lower-cased header names listed in every Connection header value."""
    names: set[str] = set()
    for value in headers.get_all("connection"):
        for element in value.split(","):
            element = element.strip(_TEXTPROTO_SPACE)
            if element:
                names.add(element.lower())
    return names


def upgrade_type(headers: HeaderList) -> str:
    """The first Upgrade value when Connection carries the `upgrade` token, else "" (Go's upgradeType)."""
    if not header_values_contain_token(headers.get_all("connection"), "upgrade"):
        return ""
    return headers.get("upgrade", "") or ""


def is_printable_ascii(value: str) -> bool:
    """Go's ascii.IsPrint: every character in 0x20..0x7e."""
    return all(" " <= ch <= "~" for ch in value)


def strip_hop_headers(headers: HeaderList, keep_upgrade: bool, exempt: frozenset[str] = frozenset()) -> str:
    """Drop hop-by-hop headers in one pass; returns the upgrade type that was re-added ("" if none).

    Removed: the fixed HOP_HEADERS list plus every header named in Connection (names in `exempt`, lower
    case, survive a Connection listing; the fixed list always goes). With `keep_upgrade`, a protocol
    upgrade asked for by the message (Connection: upgrade + Upgrade: x) is put back as
    `Connection: Upgrade` / `Upgrade: x`, as Go does for any upgrade type, not only websocket.
    """
    keys = headers.keys
    if HOP_HEADERS.isdisjoint(keys):  # no Connection header either: the usual case, one C call
        return ""
    if keys.count("connection") == 1 and HOP_HEADERS.intersection(keys) == _ONLY_CONNECTION:
        at = keys.index("connection")
        if headers.items[at][1].strip(_TEXTPROTO_SPACE).lower() == "keep-alive":
            # nginx's answer and many clients' requests: nothing listed is present, no upgrade asked.
            headers.remove_at(at)
            return ""
    kept_upgrade = upgrade_type(headers) if keep_upgrade else ""
    listed = connection_tokens(headers)
    drop = HOP_HEADERS | (listed - exempt) if listed else HOP_HEADERS
    headers.remove_many(drop)
    if kept_upgrade:
        headers.add("Connection", "Upgrade")
        headers.add("Upgrade", kept_upgrade)
    return kept_upgrade
