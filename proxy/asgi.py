"""ASGI middleware: an app that knows nothing of its public prefix learns it from a trusted proxy.

A prefix-stripping proxy (Traefik's or stripproxy's `stripPrefix`) forwards `/api/v1/app` as `/app` and adds
`X-Forwarded-Prefix: /api/v1`. When the request comes from a trusted address, this middleware sets the ASGI
`root_path` to that prefix (and prepends it to `path`, as ASGI servers do for `--root-path`), so URLs the app
builds (FastAPI's /docs and its OpenAPI URL, `url_for`) carry the prefix. The same app then works at `/` and
under any stripped prefix. From other addresses the header is ignored: anyone can send it.

    app = FastAPI()
    app.add_middleware(ForwardedPrefixMiddleware, trusted=["127.0.0.1"])

Several prefix values (two stripping hops, or repeated headers) are joined in order: `/api` + `/v1`. A proxy
passes on a client-sent X-Forwarded-Prefix along with its own, so let the proxy drop the client's first if
that matters (a `headers` middleware with `customRequestHeaders: {X-Forwarded-Prefix: ""}` before the strip).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import quote

from proxy.netutil import IPChecker, parse_cidr, parse_ip

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_TRUSTED = ("127.0.0.1", "::1")


def parse_trusted(trusted: str | Iterable[str]) -> IPChecker | None:
    """Addresses and CIDR networks -> a checker; None means every address ("*"). ValueError names a bad one."""
    items = [part.strip() for part in trusted.split(",")] if isinstance(trusted, str) else list(trusted)
    if "*" in items:
        return None
    for item in items:
        if parse_ip(item) is None and parse_cidr(item) is None:
            raise ValueError(f"trusted address {item!r} is neither an IP address nor a CIDR network")
    return IPChecker(items)


def forwarded_prefix(values: Iterable[str]) -> str | None:
    """The prefix several X-Forwarded-Prefix values add up to; None when one is not a plain absolute path."""
    prefix = ""
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not _plain_path(part):
                return None
            prefix += part.rstrip("/")
    return prefix


def _plain_path(text: str) -> bool:
    """An absolute path with no dot segments, backslashes, control characters or leading `//`."""
    return (
        text.startswith("/")
        and not text.startswith("//")
        and "\\" not in text
        and not any(ord(char) < 0x20 or char == "\x7f" for char in text)
        and not any(segment in (".", "..") for segment in text.split("/"))
    )


class ForwardedPrefixMiddleware:
    """Sets `root_path` from X-Forwarded-Prefix sent by a trusted proxy (see the module docstring)."""

    def __init__(
        self, app: ASGIApp, trusted: str | Iterable[str] = DEFAULT_TRUSTED, header: str = "X-Forwarded-Prefix"
    ) -> None:
        self.app = app
        self.trusted = parse_trusted(trusted)
        self.header = header.lower().encode("latin-1")

    def is_trusted(self, client: Any) -> bool:
        if self.trusted is None:
            return True
        if not client:
            return False
        return self.trusted.contains(str(client[0]))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.is_trusted(scope.get("client")):
            prefix = forwarded_prefix(_header_values(scope, self.header))
            if prefix:
                scope = with_prefix(scope, prefix)
        await self.app(scope, receive, send)


def _header_values(scope: Scope, name: bytes) -> list[str]:
    values = []
    for key, value in scope["headers"]:
        if key.lower() == name:
            try:
                values.append(value.decode("utf-8"))
            except UnicodeDecodeError:
                values.append("\x00")  # refused by forwarded_prefix
    return values


def with_prefix(scope: Scope, prefix: str) -> Scope:
    """A copy of `scope` mounted under `prefix`: root_path and path (and raw_path) gain it in front."""
    scope = dict(scope)
    scope["root_path"] = prefix + scope.get("root_path", "")
    scope["path"] = prefix + scope["path"]
    if scope.get("raw_path") is not None:
        scope["raw_path"] = quote(prefix, safe="/!$&'()*+,;=:@%-._~").encode("ascii") + scope["raw_path"]
    return scope
