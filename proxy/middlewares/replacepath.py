"""replacePath: Traefik v3 `pkg/middlewares/replacepath/replace_path.go`.

The path becomes the configured one, taken as an already-encoded raw path (`/foo%2Fbar` is sent as is). The
previous raw path is added as an X-Replaced-Path value. A configured path with a bad percent-escape makes
Traefik answer 500 with Go's error text on every request (not a config error), and so do we.
"""

from __future__ import annotations

from proxy.message import Reply, RequestHead
from proxy.middlewares.base import Middleware
from proxy.middlewares.urlpath import go_error
from proxy.urlpath import escaped_path, parse_raw_path, unescape, wire

REPLACED_PATH = "X-Replaced-Path"


def current_raw_path(raw: str) -> str:
    """What Traefik records in X-Replaced-Path: URL.RawPath, or EscapedPath() when that is empty."""
    path, raw_path = parse_raw_path(raw)
    return raw_path or escaped_path(path, raw_path)


class ReplacePath(Middleware):
    def __init__(self, path: str) -> None:
        self.raw_path = wire(path)
        self.error: str | None = None
        self.path = ""
        try:
            self.path = unescape(self.raw_path)
        except ValueError as exc:
            self.error = str(exc)
        self.target_path = "" if self.error else escaped_path(self.path, self.raw_path)

    def on_request(self, req: RequestHead) -> Reply | None:
        try:
            current = current_raw_path(req.path)
        except ValueError:  # Go's server rejects such a target before any middleware runs
            return None
        req.headers.add(REPLACED_PATH, current)
        if self.error is not None:
            return go_error(500, self.error)
        req.path = self.target_path
        return None
