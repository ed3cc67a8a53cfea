"""stripPrefixRegex: Traefik v3 `pkg/middlewares/stripprefixregex/strip_prefix_regex.go`.

Regexes (Go syntax, trimmed) are tried in order against the decoded path; the first one with a non-empty match
whose text the path starts with wins (a match in the middle is skipped, so anchoring with `^` is optional).
That text is removed from the path (and its encoding from the raw path), added as an X-Forwarded-Prefix value,
and the result gets the same 400 guard as stripPrefix when cleaning would change it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from proxy.goregex import compile_go_regexp
from proxy.message import Reply, RequestHead
from proxy.middlewares.base import Middleware
from proxy.middlewares.stripprefix import FORWARDED_PREFIX
from proxy.middlewares.urlpath import bad_request, encoded_prefix_len, ensure_leading_slash, sanitized
from proxy.urlpath import escaped_path, from_text, parse_raw_path, to_text


class StripPrefixRegex(Middleware):
    def __init__(self, regex: Sequence[str]) -> None:
        if isinstance(regex, str):
            raise ValueError(f"stripPrefixRegex: regex must be a list of strings, got the string {regex!r}")
        self.regexes: tuple[re.Pattern[str], ...] = tuple(compile_go_regexp(expr.strip(), eager=True) for expr in regex)

    def prefix_of(self, path: str) -> str | None:
        """The text the first matching regex strips from `path` (decoded), or None."""
        text = to_text(path)
        for regex in self.regexes:
            m = regex.search(text)
            if m and m.group(0) and text.startswith(m.group(0)):
                return from_text(m.group(0))
        return None

    def on_request(self, req: RequestHead) -> Reply | None:
        if not self.regexes:
            return None
        try:
            path, raw_path = parse_raw_path(req.path)
        except ValueError:  # Go's server rejects such a target before any middleware runs
            return None
        prefix = self.prefix_of(path)
        if prefix is None:
            return None
        req.headers.add(FORWARDED_PREFIX, prefix)
        path = ensure_leading_slash(path[len(prefix) :])
        if raw_path:
            raw_path = ensure_leading_slash(raw_path[encoded_prefix_len(raw_path, prefix) :])
        clean = sanitized(path, raw_path)
        if clean is None:
            return bad_request()
        req.path = escaped_path(*clean)
        return None
