"""WSGI middleware: a Flask or Django app that knows nothing of its public prefix learns it from a trusted proxy.

The WSGI twin of `proxy.asgi.ForwardedPrefixMiddleware`, with the same trust model: when the peer
(`REMOTE_ADDR`) is a trusted address (default loopback), the X-Forwarded-* headers a proxy adds are applied
to the environ, as werkzeug's ProxyFix does:

- X-Forwarded-Prefix -> `SCRIPT_NAME` (in front of any SCRIPT_NAME the server set), and removed from the front
  of `PATH_INFO` when the path still carries it (a proxy that forwards without stripping);
- X-Forwarded-Proto -> `wsgi.url_scheme` (`http` or `https` only);
- X-Forwarded-Host -> `HTTP_HOST`, `SERVER_NAME` and `SERVER_PORT` (a `host[:port]` that is a DNS name, an
  IPv4 address or a bracketed IPv6 address);
- X-Forwarded-Port -> `SERVER_PORT` and the port of `HTTP_HOST` (left out of HTTP_HOST when it is the
  scheme's default, so URLs read `https://example.org/`, not `https://example.org:443/`);
- X-Forwarded-For -> `REMOTE_ADDR`: the rightmost address that is not itself trusted (the leftmost when all
  are), so a chain of trusted proxies is walked back to the client and a client cannot forge its way in.

    app = ForwardedPrefixMiddleware(flask_app.wsgi_app, trusted=["127.0.0.1"])   # Flask
    application = ForwardedPrefixMiddleware(get_wsgi_application())              # Django

A value that is not well formed (a prefix without its leading slash, with dot segments, encoded or not,
backslashes or control characters; a host with a path, a space or a bad port; a scheme other than http(s);
a port out of range; an X-Forwarded-For entry that is not an IP address) is ignored, that header alone; the
request goes on. From an untrusted peer every header is ignored. The environ's values before the change
are kept in `environ["stripproxy.forwarded.orig"]`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

from proxy.asgi import DEFAULT_TRUSTED, _plain_path, forwarded_prefix, parse_trusted
from proxy.netutil import parse_ip

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

__all__ = ["DEFAULT_TRUSTED", "ForwardedPrefixMiddleware", "apply_forwarded", "forwarded_host", "script_name"]

_DEFAULT_PORTS = {"http": "80", "https": "443"}
_DNS_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})?\Z")
ORIGINAL = "stripproxy.forwarded.orig"
_KEPT = ("REMOTE_ADDR", "wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "SCRIPT_NAME", "PATH_INFO")


def _environ_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


def _last(value: str | None) -> str | None:
    """The rightmost comma-separated item (the nearest proxy's word), None when empty."""
    if not value:
        return None
    last = value.rsplit(",", 1)[-1].strip()
    return last or None


def script_name(value: str | None) -> str | None:
    """The SCRIPT_NAME an X-Forwarded-Prefix value (a WSGI latin-1 string) gives: the prefixes joined, then
    percent-decoded as WSGI paths are; None when a part, before or after decoding, is not a plain path."""
    if not value:
        return None
    prefix = forwarded_prefix([value])
    if not prefix:
        return None
    decoded = unquote_to_bytes(prefix.encode("latin-1")).decode("latin-1")
    return decoded if _plain_path(decoded) and "%" not in decoded else None


def _valid_port(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 5 and 0 < int(text) < 65536


def forwarded_host(value: str | None) -> tuple[str, str | None] | None:
    """`host[:port]` -> (host, port or None); IPv6 keeps its brackets. None for anything else."""
    if not value or len(value) > 300:
        return None
    host, port = value, None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        host, rest = value[: end + 1], value[end + 1 :]
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return None
        if rest:
            if not rest.startswith(":"):
                return None
            port = rest[1:]
    elif ":" in value:
        host, _, port = value.partition(":")
    if port is not None and not _valid_port(port):
        return None
    if not host.startswith("[") and (not _DNS_NAME.match(host) or ".." in host):
        return None
    return host.lower(), port


def _client(value: str | None, trusted: Any) -> str | None:
    """REMOTE_ADDR from X-Forwarded-For: walk right to left past trusted proxies; None on a malformed entry."""
    if not value:
        return None
    entries = [entry.strip() for entry in value.split(",")]
    for entry in reversed(entries):
        if parse_ip(entry) is None:
            return None
        if trusted is not None and not trusted.contains(entry):
            return entry
    return entries[0]


def apply_forwarded(environ: Environ, trusted: Any = None, prefix_header: str = "X-Forwarded-Prefix") -> None:
    """Apply a trusted proxy's X-Forwarded-* to `environ` in place (the caller checked the peer).
    `trusted` (an IPChecker, None for "every address") decides how far X-Forwarded-For is walked back."""
    environ[ORIGINAL] = {key: environ.get(key) for key in _KEPT}
    get = environ.get

    prefix = script_name(get(_environ_key(prefix_header)))
    if prefix:
        path = get("PATH_INFO", "")
        if path == prefix or path.startswith(prefix + "/"):
            environ["PATH_INFO"] = path[len(prefix) :]
        environ["SCRIPT_NAME"] = prefix + get("SCRIPT_NAME", "")

    proto = _last(get("HTTP_X_FORWARDED_PROTO"))
    if proto is not None and proto.lower() in _DEFAULT_PORTS:
        environ["wsgi.url_scheme"] = proto.lower()
    scheme = get("wsgi.url_scheme", "http")
    default_port = _DEFAULT_PORTS.get(scheme, "80")

    host_port = forwarded_host(_last(get("HTTP_X_FORWARDED_HOST")))
    port = _last(get("HTTP_X_FORWARDED_PORT"))
    if port is not None and not _valid_port(port):
        port = None
    if host_port is not None:
        host, host_port_part = host_port
        port = port or host_port_part or default_port
        environ["SERVER_NAME"] = host
    elif port is not None:
        host = _host_without_port(get("HTTP_HOST") or get("SERVER_NAME", ""))
    else:
        host = None
    if port is not None:
        environ["SERVER_PORT"] = port
        if host:
            environ["HTTP_HOST"] = host if port == default_port else f"{host}:{port}"

    client = _client(get("HTTP_X_FORWARDED_FOR"), trusted)
    if client is not None:
        environ["REMOTE_ADDR"] = client


def _host_without_port(host: str) -> str:
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.partition(":")[0]


class ForwardedPrefixMiddleware:
    """Applies a trusted proxy's X-Forwarded-Prefix (SCRIPT_NAME) and other X-Forwarded-* (see the module
    docstring). `trusted`: addresses and CIDR networks, or `"*"` for every peer; `header`: the prefix header."""

    def __init__(
        self, app: WSGIApp, trusted: str | Iterable[str] = DEFAULT_TRUSTED, header: str = "X-Forwarded-Prefix"
    ) -> None:
        self.app = app
        self.trusted = parse_trusted(trusted)
        self.header = header

    def is_trusted(self, remote_addr: str | None) -> bool:
        if self.trusted is None:
            return True
        if not remote_addr:
            return False
        return self.trusted.contains(remote_addr)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if self.is_trusted(environ.get("REMOTE_ADDR")):
            apply_forwarded(environ, self.trusted, self.header)
        return self.app(environ, start_response)
