"""addPrefix: Traefik v3 `pkg/middlewares/addprefix/add_prefix.go`.

The prefix is put, as written, in front of both the decoded and the raw path; a prefix without a leading slash
gets one (`a` + `/` -> `/a/`). No slash is inserted or removed between them (`/api/` + `/b` -> `/api//b`).
An empty prefix is a configuration error.
"""

from __future__ import annotations

from proxy.message import Reply, RequestHead
from proxy.middlewares.base import Middleware
from proxy.middlewares.urlpath import ensure_leading_slash
from proxy.urlpath import escaped_path, parse_raw_path, wire


class AddPrefix(Middleware):
    def __init__(self, prefix: str) -> None:
        if not prefix:
            raise ValueError("addPrefix: prefix cannot be empty")
        self.prefix = wire(prefix)

    def on_request(self, req: RequestHead) -> Reply | None:
        try:
            path, raw_path = parse_raw_path(req.path)
        except ValueError:  # Go's server rejects such a target before any middleware runs
            return None
        path = ensure_leading_slash(self.prefix + path)
        if raw_path:
            raw_path = ensure_leading_slash(self.prefix + raw_path)
        req.path = escaped_path(path, raw_path)
        return None
