"""redirectScheme: Traefik v3 `pkg/middlewares/redirect/redirect_scheme.go`.

The request URL is rebuilt as `scheme://host[:port]` + the current request-target, where the scheme is
`https` for TLS connections and otherwise taken from X-Forwarded-Proto (http/ws -> http, https/wss -> https;
the entry point has already replaced an untrusted client's value with the real one, so a trusted
`X-Forwarded-Proto: https` means "already secure"), and :80 on http / :443 on https are dropped. It is then
rewritten to the configured scheme and port (port 80 for http and 443 for https are omitted; no port
configured means none). Same URL -> forwarded; otherwise 302/307, or 301/308 with `permanent`.
The host comes from Go's net.SplitHostPort on the Host header, which drops IPv6 brackets when a port is
present; Traefik then produces odd Locations for `[::1]:port` hosts, and so do we.
"""

from __future__ import annotations

from proxy.message import RequestHead
from proxy.middlewares.redirectregex import RedirectRegex, split_target
from proxy.netutil import split_host_port

_URI_PATTERN = r"^(https?:\/\/)?(\[[\w:.]+\]|[\w\._-]+)?(:\d+)?(.*)$"


def _forwarded_scheme(value: str) -> str | None:
    lowered = value.lower()
    if lowered in ("http", "ws"):
        return "http"
    if lowered in ("https", "wss"):
        return "https"
    return None  # Traefik logs and ignores any other value


class RedirectScheme(RedirectRegex):
    def __init__(
        self, scheme: str, port: str | int = "", permanent: bool = False, force_permanent_redirect: bool = False
    ) -> None:
        if not scheme:
            raise ValueError("redirectScheme: you must provide a target scheme")
        port = str(port)  # not validated: Traefik takes any string (a bad one ends as a 502 per request)
        default_port = (scheme == "http" and port == "80") or (scheme == "https" and port == "443")
        suffix = f":{port}" if port and not default_port else ""
        super().__init__(
            _URI_PATTERN, f"{scheme}://${{2}}{suffix}${{4}}", permanent, 308 if force_permanent_redirect else None
        )
        self.scheme = scheme
        self.port = port

    def request_url(self, req: RequestHead) -> str:
        """Traefik's clientRequestURL."""
        scheme, uri = "http", req.target
        split = split_host_port(req.host)
        host, port = (req.host, "") if split is None else (split[0], ":" + split[1])
        parts = split_target(req)
        if parts is not None:
            scheme, host, port, uri = parts[0], parts[1] or host, parts[2] or port, parts[3]
        if req.scheme == "https":
            scheme = "https"
        forwarded = req.headers.get("X-Forwarded-Proto")
        if forwarded:
            scheme = _forwarded_scheme(forwarded) or scheme
        if (scheme, port) in (("http", ":80"), ("https", ":443")):
            port = ""
        return f"{scheme}://{host}{port}{uri}"
