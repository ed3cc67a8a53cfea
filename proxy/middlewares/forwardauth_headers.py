"""forwardAuth's header work as plain functions: what goes to the auth server, what comes back.

Sources (traefik/traefik): pkg/middlewares/auth/forward.go (writeHeader, oldWriteHeader,
filterForwardRequestHeaders, forwardedPort, hopHeaders, buildModifier), connectionheader.go
(RemoveConnectionHeaders); Go's net/http (CanonicalHeaderKey; the transport never writes Host,
Content-Length, Transfer-Encoding or Trailer from the header map, writes its own User-Agent when the map has
none and none when it holds "", and asks for gzip when the request does not choose an encoding).
"""

from __future__ import annotations

from collections.abc import Iterable

from proxy.forwarder.forwarded import MANAGED_X_HEADERS, is_managed_x_header
from proxy.message import RequestHead
from proxy.netutil import canonical_header_key
from proxy.netutil import split_port as go_split_port

GO_USER_AGENT = "Go-http-client/1.1"

# forward.go hopHeaders: removed from the auth request and from a refusal passed to the client.
HOP_HEADERS = frozenset({"connection", "keep-alive", "te", "trailers", "transfer-encoding", "upgrade"})
# What Go's transport never writes from the header map (it frames the request itself).
_NOT_WRITTEN = frozenset({"host", "content-length", "transfer-encoding", "trailer"})
# Headers an auth server may not put into the forwarded request (our guard, see the README): the framing
# and hop-by-hop ones, and the X-Forwarded-* set the proxy itself manages.
_NOT_COPIED = frozenset({"host", "content-length", "transfer-encoding", "trailer", "proxy-connection", *HOP_HEADERS})

# XHeadersSet in Go's spelling: added to authRequestHeaders when trustForwardHeader is true.
X_HEADERS = tuple(sorted("-".join(w.capitalize() for w in name.split("-")) for name in MANAGED_X_HEADERS))


canonical_key = canonical_header_key  # Go's http.CanonicalHeaderKey (proxy.netutil)
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def may_copy_into_request(name: str) -> bool:
    """False for the names an auth server's answer must not set on the forwarded request."""
    lname = name.lower()
    return lname not in _NOT_COPIED and not is_managed_x_header(lname)


def _values(headers: list[tuple[str, str]], lname: str) -> list[str]:
    return [value for name, value in headers if name.lower() == lname]


def _without(headers: list[tuple[str, str]], lnames: Iterable[str]) -> list[tuple[str, str]]:
    drop = frozenset(lnames)
    return [(name, value) for name, value in headers if name.lower() not in drop]


def _set(headers: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    kept = _without(headers, (name.lower(),))
    kept.append((name, value))
    return kept


def _has(headers: list[tuple[str, str]], name: str) -> bool:
    lname = name.lower()
    return any(key.lower() == lname for key, _ in headers)


def _filter(headers: list[tuple[str, str]], allowed: list[str]) -> list[tuple[str, str]]:
    """filterForwardRequestHeaders: only the listed names, in the listed order, under Go's spelling."""
    if not allowed:
        return headers
    kept: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name in allowed:
        key = canonical_key(name)
        if key.lower() in seen:
            continue
        seen.add(key.lower())
        kept += [(key, value) for value in _values(headers, name.lower())]
    return kept


def request_uri(req: RequestHead) -> str:
    """Go's URL.RequestURI(): the (current) path, "/" when empty, and `?query` when there was a `?`."""
    path = req.path or "/"
    return path if req.query is None else f"{path}?{req.query}"


def auth_request_headers(
    req: RequestHead, trust_forward_header: bool | None, allowed: list[str]
) -> list[tuple[str, str]]:
    """The headers of the request to the auth server, Go's spelling, before the transport's own touches.

    `trust_forward_header` None is Traefik's legacy path (oldWriteHeader): the X-Forwarded-For, -Proto,
    -Method, -Host and -Uri it sends are always its own; True / False are writeHeader's two behaviours.
    `allowed` is authRequestHeaders (already extended with the X- set when trusted).
    """
    headers = [(canonical_key(name), value) for name, value in req.headers.items if name.lower() != "host"]
    listed = {token.strip(" \t").lower() for value in _values(headers, "connection") for token in value.split(",")}
    headers = _without(headers, (listed - {""}) | HOP_HEADERS)
    tls = req.scheme == "https"
    if trust_forward_header is None:
        headers = _filter(headers, allowed)
        if req.client_ip:
            headers = _set(headers, "X-Forwarded-For", req.client_ip)
        headers = _set(headers, "X-Forwarded-Proto", "https" if tls else "http")
        headers = _set(headers, "X-Forwarded-Method", req.method)
        headers = _set(headers, "X-Forwarded-Host", req.host)
        return _set(headers, "X-Forwarded-Uri", request_uri(req))
    if not trust_forward_header:
        headers = [(name, value) for name, value in headers if not is_managed_x_header(name)]
    if not _has(req.headers.items, "user-agent"):
        headers = _set(headers, "User-Agent", "")  # so that Go's own agent is not sent
    headers = _filter(headers, allowed)
    if req.client_ip:
        prior = _values(headers, "x-forwarded-for")
        headers = _set(headers, "X-Forwarded-For", ", ".join([*prior, req.client_ip]))
    if not _has(headers, "x-forwarded-method"):
        headers.append(("X-Forwarded-Method", req.method))
    if not _has(headers, "x-forwarded-proto"):
        headers.append(("X-Forwarded-Proto", "https" if tls else "http"))
    if not _has(headers, "x-forwarded-port"):
        headers.append(("X-Forwarded-Port", _forwarded_port(req, headers, tls)))
    if not _has(headers, "x-forwarded-host"):
        headers.append(("X-Forwarded-Host", req.host))
    if not _has(headers, "x-forwarded-uri"):
        headers.append(("X-Forwarded-Uri", request_uri(req)))
    return headers


def _forwarded_port(req: RequestHead, headers: list[tuple[str, str]], tls: bool) -> str:
    port = go_split_port(req.host)
    if port:
        return port
    proto = next(iter(_values(headers, "x-forwarded-proto")), "")
    if proto in ("https", "wss") or tls:
        return "443"
    return "80"


def wire_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """What Go's transport writes of a header map, sorted by name: framing headers dropped, and its
    User-Agent rule applied (see `wants_gzip` for the Accept-Encoding it adds)."""
    agents = _values(headers, "user-agent")
    out = sorted(
        ((name, value) for name, value in headers if name.lower() not in _NOT_WRITTEN and name.lower() != "user-agent"),
        key=lambda pair: pair[0],
    )
    if not agents:
        out.insert(0, ("User-Agent", GO_USER_AGENT))
    elif agents[0]:
        out.insert(0, ("User-Agent", agents[0]))
    return out


def wants_gzip(headers: list[tuple[str, str]], method: str) -> bool:
    """Go's transport asks for gzip (and undoes it) unless the request picks an encoding or a range."""
    return method != "HEAD" and not any(_values(headers, "accept-encoding")) and not any(_values(headers, "range"))


def cookie_name(set_cookie: str) -> str | None:
    """The name of a Set-Cookie value, or None when Go's parser would drop it."""
    first = set_cookie.split(";", 1)[0].strip()
    name, sep, _ = first.partition("=")
    name = name.strip()
    if not sep or not name or not _TOKEN_CHARS.issuperset(name):
        return None
    return name
