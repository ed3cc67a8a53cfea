"""stripPrefix: Traefik v3 `pkg/middlewares/stripprefix/strip_prefix.go`.

The first configured prefix (trimmed) that the decoded path starts with is removed, even inside a segment
(`/stat` turns `/status` into `/us`). The raw path loses as many chars as encode that prefix (`%69` counts as
one). A path left empty stays empty for the middlewares after it (`addPrefix` `/v2` then gives `/v2`,
as in Go); the forwarder sends it as `/`. Each strip ADDS an X-Forwarded-Prefix value, so two stripPrefix
middlewares leave two values. If cleaning the stripped path would change it (`/api./foo` with prefix `/api`
leaves `/./foo`; `//x`), Traefik answers 400 instead of forwarding: a path-traversal guard. `forceSlash` is
deprecated in v3 and off by default.
"""

from __future__ import annotations

from collections.abc import Sequence

from proxy.message import Reply, RequestHead
from proxy.middlewares.base import Middleware
from proxy.middlewares.urlpath import bad_request, encoded_prefix_len, ensure_leading_slash, sanitized
from proxy.urlpath import PLAIN_PATH, escaped_path, parse_raw_path, wire

FORWARDED_PREFIX = "X-Forwarded-Prefix"


class StripPrefix(Middleware):
    def __init__(self, prefixes: Sequence[str], force_slash: bool = False) -> None:
        if isinstance(prefixes, str):
            raise ValueError(f"stripPrefix: prefixes must be a list of strings, got the string {prefixes!r}")
        self.prefixes: tuple[str, ...] = tuple(wire(prefix.strip()) for prefix in prefixes)
        self.force_slash = force_slash

    def _strip(self, text: str, cut: int) -> str:
        rest = text[cut:]
        if self.force_slash:  # the deprecated v2 behaviour: always exactly one leading slash
            return "/" + rest.removeprefix("/")
        return ensure_leading_slash(rest)

    def on_request(self, req: RequestHead) -> Reply | None:
        if not self.prefixes:
            return None
        if PLAIN_PATH.fullmatch(req.path):
            return self._strip_plain(req)
        return self._strip_any(req)

    def _strip_any(self, req: RequestHead) -> Reply | None:
        """Go's way for any path: strip the decoded path and its raw form side by side."""
        try:
            path, raw_path = parse_raw_path(req.path)
        except ValueError:  # Go's server rejects such a target before any middleware runs
            return None
        for prefix in self.prefixes:
            if not path.startswith(prefix):
                continue
            path = self._strip(path, len(prefix))
            if raw_path:
                raw_path = self._strip(raw_path, encoded_prefix_len(raw_path, prefix))
            clean = sanitized(path, raw_path)
            if clean is None:
                return bad_request()
            req.headers.add(FORWARDED_PREFIX, prefix)
            req.path = escaped_path(*clean)
            return None
        return None

    def _strip_plain(self, req: RequestHead) -> Reply | None:
        """`on_request` for a path with nothing escaped (the usual case): its decoded and raw forms are the
        same text, and so is anything left after a prefix, so no decoding or re-encoding is needed."""
        path = req.path
        for prefix in self.prefixes:
            if path.startswith(prefix):
                stripped = self._strip(path, len(prefix))
                if sanitized(stripped, "") is None:
                    return bad_request()
                req.headers.add(FORWARDED_PREFIX, prefix)
                req.path = stripped
                return None
        return None
