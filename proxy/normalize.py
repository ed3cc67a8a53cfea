"""What Traefik v3 does to a request-target at the entry point, before routing and forwarding.

The pipeline mirrors Go's net/http server (url.ParseRequestURI, URL.EscapedPath) and the handlers
Traefik wraps around every entry point (pkg/server/server_entrypoint_tcp.go), in their run order:
denyFragment -> normalizePath -> sanitizePath (http.sanitizePath, default true) ->
http.AllowQuerySemicolons or encodeQuerySemicolons (http.encodeQuerySemicolons, default false).
The returned path is the escaped path Traefik routes on and sends upstream (URL.RequestURI()).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import itemgetter

from proxy.message import HeaderList
from proxy.urlpath import (
    ALNUM as _ALNUM,
)
from proxy.urlpath import (
    PLAIN_PATH,
    check_escapes,
    join_escaped,
    normalize_percent_encoding,
    parsed_escaped_path,
    split_scheme,
    unescape,
    valid_optional_port,
)

_HOST_SAFE = _ALNUM | frozenset("!$&'()*+,;=:[]<>\"-_.~")
_USERINFO_SAFE = _ALNUM | frozenset("-._:~!$&'()*+,;=%@")
_HOST_HEADER = re.compile(r"[A-Za-z0-9!$%&'()*+,\-.:;=\[\]_~]*")  # httpguts.ValidHostHeader
_TOKEN = _ALNUM | frozenset("!#$%&'*+-.^_`|~")
# Header names joined by ":" (never part of a name) must all be tokens; values joined by a space must not
# hold a control character other than tab. One regex pass each instead of a loop per character.
_TOKEN_CHARS = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_TOKEN_NAMES = re.compile(rf"(?:{_TOKEN_CHARS}(?::{_TOKEN_CHARS})*)?")
_BAD_VALUE_CHAR = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class BadRequest(Exception):
    """The request cannot be served: answer 400.

    `body` and `close` say how Go answers: parse errors from its server get a "400 Bad Request..."
    text body and close the connection; Traefik's own entry point checks answer with an empty body.
    """

    status = 400

    def __init__(self, message: str, body: bytes = b"", close: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.body = body
        self.close = close


def _go_parse_error(message: str) -> BadRequest:
    return BadRequest(message, b"400 Bad Request", close=True)


def _go_status_error(text: str) -> BadRequest:
    """Go's badRequestError: the text goes into the status line and the body."""
    return BadRequest(text, f"400 Bad Request: {text}".encode(), close=True)


# Encoded characters an entry point may refuse (http.encodedCharacters), with their option names.
_ENCODED_OPTIONS = (
    ("allow_encoded_slash", ("%2F", "%2f")),
    ("allow_encoded_back_slash", ("%5C", "%5c")),
    ("allow_encoded_null_character", ("%00",)),
    ("allow_encoded_semicolon", ("%3B", "%3b")),
    ("allow_encoded_percent", ("%25",)),
    ("allow_encoded_question_mark", ("%3F", "%3f")),
    ("allow_encoded_hash", ("%23",)),
)
ENCODED_FLAGS = tuple(name for name, _ in _ENCODED_OPTIONS)  # the allow_encoded_* option names


@dataclass(frozen=True)
class PathOptions:
    """Entry point `http` options that shape the request-target (defaults are Traefik v3.7's).

    The allow_encoded_* flags are `http.encodedCharacters`; every one defaults to true since v3.6.7.
    """

    sanitize_path: bool = True
    encode_query_semicolons: bool = False
    allow_encoded_slash: bool = True
    allow_encoded_back_slash: bool = True
    allow_encoded_null_character: bool = True
    allow_encoded_semicolon: bool = True
    allow_encoded_percent: bool = True
    allow_encoded_question_mark: bool = True
    allow_encoded_hash: bool = True
    denied_encodings: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        denied = {code for name, codes in _ENCODED_OPTIONS if not getattr(self, name) for code in codes}
        object.__setattr__(self, "denied_encodings", frozenset(denied))


# (path, query, authority): the escaped, normalised (and sanitised) path; the raw query without '?', None
# when the target had no '?'; host[:port] of an absolute-form or CONNECT target, which replaces Host.
# A plain tuple: a NamedTuple's constructor is a Python call, and this is built once per request.
Target = tuple[str, "str | None", "str | None"]


def parse_target(raw_target: str, options: PathOptions) -> tuple[str, str | None]:
    """(path, query) of a request-target as Traefik routes and forwards it; raises BadRequest."""
    path, query, _ = parse_request_target(raw_target, options)
    return path, query


# The common case, decided by two regex matches: an origin-form path of characters Go never escapes,
# with no `%`, `//` or dot segment, and a printable-ASCII query. Such a target is already normal.
_PLAIN_QUERY = re.compile(r"[!-~]*")


def parse_request_target(raw_target: str, options: PathOptions, method: str = "GET") -> Target:
    """Parse and normalise a request-target; `authority` is set for absolute-form/CONNECT targets."""
    path, sep, query = raw_target.partition("?")
    if (
        PLAIN_PATH.fullmatch(path)
        and "//" not in path
        and "/." not in path
        and method != "CONNECT"
        and (not sep or _PLAIN_QUERY.fullmatch(query))
    ):
        if sep and ";" in query:
            query = query.replace(";", "%3B" if options.encode_query_semicolons else "&")
        return path, query if sep else None, None
    return _parse_any_target(raw_target, options, method)


def _parse_any_target(raw_target: str, options: PathOptions, method: str) -> Target:
    if any(ch < " " or ch == "\x7f" for ch in raw_target):
        raise _go_parse_error(f"control character in request-target {raw_target!r}")
    if not raw_target:
        raise _go_parse_error("empty request-target")
    if raw_target == "*":
        return "*", None, None  # OPTIONS * never gets here: Go answers it itself
    if method == "CONNECT" and not raw_target.startswith("/"):
        raw_path, query, authority = _split_absolute("http://" + raw_target)
    else:
        raw_path, query, authority = _split_absolute(raw_target)
    if "#" in raw_path:  # Traefik's denyFragment: Go would otherwise forward it as %23
        raise BadRequest(f"fragment in request path {raw_path!r}")
    path = escaped_path(raw_path)
    if options.sanitize_path:
        path = sanitize_path(path)
    if query is not None and ";" in query:
        query = query.replace(";", "%3B" if options.encode_query_semicolons else "&")
    return path or "/", query, authority


def _split_absolute(raw: str) -> tuple[str, str | None, str | None]:
    """url.ParseRequestURI's split into (raw path, raw query, authority)."""
    scheme, rest = _split_scheme(raw)
    rest, sep, query = rest.partition("?")
    query_or_none = query if sep else None
    if not rest.startswith("/"):
        if scheme:
            raise _go_parse_error(f"opaque request-target {raw!r} is not supported")
        raise _go_parse_error(f"invalid URI for request: {raw!r}")
    authority: str | None = None
    if scheme and rest.startswith("//"):
        slash = rest.find("/", 2)
        auth, rest = (rest[2:], "") if slash < 0 else (rest[2:slash], rest[slash:])
        authority = _parse_authority(auth) or None
    _check_escapes(rest)
    return rest, query_or_none, authority


def _split_scheme(raw: str) -> tuple[str, str]:
    try:
        scheme, rest = split_scheme(raw)
    except ValueError as exc:
        raise _go_parse_error(str(exc)) from None
    return scheme.lower(), rest


def _check_escapes(text: str) -> None:
    try:
        check_escapes(text)
    except ValueError as exc:
        raise _go_parse_error(str(exc)) from None


def escaped_path(raw_path: str) -> str:
    """Go's URL.EscapedPath() after Traefik's normalizePath, for a path with valid escapes.

    A raw path made only of characters Go accepts unescaped keeps its spelling (normalised); any
    other character (non-ASCII, `"`, `\\`, `|`, `{`...) makes Go re-escape the decoded path as a
    whole, which also decodes reserved escapes such as %2F (Go's escape output is normalised already).
    """
    return normalize_percent_encoding(parsed_escaped_path(raw_path))


def sanitize_path(path: str) -> str:
    """sanitizePath = URL.JoinPath(): path.Clean on the escaped path, keeping one trailing slash."""
    return join_escaped(path)


def denied_encoded_character(path: str, options: PathOptions) -> str | None:
    """The first %XX of `path` the entry point's encodedCharacters options refuse, else None.

    Traefik runs this check in each root router's chain (pkg/server/router/deny.go), i.e. only
    after a router matched: an unmatched request still gets 404. Answer 400 with an empty body.
    """
    denied = options.denied_encodings
    if not denied or "%" not in path:
        return None
    index = path.find("%")
    while index >= 0:
        code = path[index : index + 3]
        if code in denied:
            return code
        index = path.find("%", index + 3)
    return None


def _parse_authority(authority: str) -> str:
    """url.parseAuthority: validate userinfo and host; returns the decoded host[:port]."""
    at = authority.rfind("@")
    host = _parse_host(authority[at + 1 :])
    if at >= 0:
        userinfo = authority[:at]
        if not all(ch in _USERINFO_SAFE for ch in userinfo):
            raise _go_parse_error(f"invalid userinfo in {authority!r}")
        _check_escapes(userinfo)
    return host


def _parse_host(host: str) -> str:
    if host.startswith("["):
        end = host.rfind("]")
        if end < 0:
            raise _go_parse_error(f"missing ']' in host {host!r}")
        if not valid_optional_port(host[end + 1 :]):
            raise _go_parse_error(f"invalid port {host[end + 1 :]!r} after host")
        literal = _unescape_literal(host[1:end])
        try:
            if not isinstance(ipaddress.ip_address(literal), ipaddress.IPv6Address):
                raise ValueError("IPv4 in brackets")
        except ValueError:
            raise _go_parse_error(f"invalid IP-literal {host!r}") from None
        return "[" + literal + "]" + host[end + 1 :]
    if "[" in host or "]" in host:
        raise _go_parse_error(f"unexpected bracket in host {host!r}")
    colon = host.find(":")
    if colon >= 0 and (":" in host[colon + 1 :] or not valid_optional_port(host[colon:])):
        raise _go_parse_error(f"invalid port in host {host!r}")
    return _unescape_host(host)


def _unescape_literal(inner: str) -> str:
    """An IPv6 literal, with its RFC 6874 zone (introduced by %25) decoded."""
    zone_at = inner.find("%25")
    if zone_at < 0:
        return _unescape_host(inner)
    zone = inner[zone_at + 3 :]
    _check_escapes(zone)
    decoded_zone = unescape(zone)
    if not all(ch in _HOST_SAFE or ch == " " or not ch.isascii() for ch in decoded_zone):
        raise _go_parse_error(f"invalid zone {zone!r} in host")
    return _unescape_host(inner[:zone_at]) + "%" + decoded_zone


def _unescape_host(host: str) -> str:
    """Host %-escapes may only encode non-ASCII bytes; ASCII must be host-safe as written."""
    _check_escapes(host)
    for index, ch in enumerate(host):
        if ch == "%" and int(host[index + 1], 16) < 8:
            raise _go_parse_error(f"invalid URL escape {host[index : index + 3]!r} in host")
        if ch != "%" and ch.isascii() and ch not in _HOST_SAFE:
            raise _go_parse_error(f"invalid character {ch!r} in host name")
    return unescape(host)


valid_host_header = _HOST_HEADER.fullmatch  # what check_request_headers asks of Host, for the caller


def check_request_headers(
    version: str, method: str, headers: HeaderList, names_valid: bool = False, values_valid: bool = False
) -> None:
    """The header checks Go's server makes before any handler runs; raises BadRequest.

    `names_valid`: the caller already knows every name is a token and Host appears exactly once;
    `values_valid`: that no value holds a control character other than HTAB.
    """
    keys = headers.keys
    if not names_valid:
        hosts = keys.count("host")
        if version != "1.0" and not hosts and method != "CONNECT":
            raise _go_status_error("missing required Host header")
        if hosts > 1:
            raise _go_status_error("too many Host headers")
    if "host" in keys and not _HOST_HEADER.fullmatch(headers.items[keys.index("host")][1]):
        raise _go_status_error("malformed Host header")
    if not names_valid and not header_names_valid(keys):
        raise _go_status_error("invalid header name")
    if values_valid:
        return
    values = " ".join(map(itemgetter(1), headers.items))
    # Printable ASCII throughout (the usual case) needs no regex; otherwise look for a control character.
    if not (values.isascii() and values.isprintable()) and _BAD_VALUE_CHAR.search(values):
        raise _go_status_error("invalid header value")


def header_names_valid(keys: Iterable[str]) -> bool:
    """Whether every name is a token (Go's httpguts.ValidHeaderFieldName)."""
    # Lower-casing maps no latin-1 character into or out of the token set: checking `keys` is the same.
    return bool(_TOKEN_NAMES.fullmatch(":".join(keys)))


def fix_pragma_cache_control(headers: HeaderList) -> None:
    """Go's server adds `Cache-Control: no-cache` when the first Pragma is `no-cache` and none is set."""
    if "pragma" not in headers.keys:
        return
    pragma = headers.get("pragma")
    if pragma == "no-cache" and "cache-control" not in headers:
        headers.add("Cache-Control", "no-cache")
