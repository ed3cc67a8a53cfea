"""replacePathRegex: Traefik v3 `pkg/middlewares/replacepathregex/replace_path_regex.go`.

The regex (Go syntax, trimmed) is matched against the raw (escaped) path; on a match every occurrence is
replaced (Go ReplaceAllString: `$1`, `${1}`, `$name`, `$$`), the old raw path is added as X-Replaced-Path and
the result is taken as the new raw path. A result with a bad escape answers 500; one that cleaning would
change (`/foo../bar` -> `/../bar`) answers 400. No match: nothing changes, no header.
"""

from __future__ import annotations

import re

from proxy.goregex import compile_go_regexp, replace_all
from proxy.message import Reply, RequestHead
from proxy.middlewares.base import Middleware
from proxy.middlewares.replacepath import REPLACED_PATH, current_raw_path
from proxy.middlewares.urlpath import bad_request, go_error, sanitized
from proxy.urlpath import escaped_path, from_text, to_text, unescape

# `^/literal(.*)` (an optional `$`): the shape of a replacePathRegex that only removes a prefix.
_PLAIN_STRIP = re.compile(r"\^(/[A-Za-z0-9_~/-]*)\(\.\*\)\$?")


def plain_strip(regex: str, replacement: str) -> str | None:
    """The prefix `regex` -> `replacement` removes when the pair is nothing but a strip (prefixRewrite can
    put it back), else None: `^/api/v1(.*)` -> `$1`, or `^/api/v1/(.*)` -> `/$1`, give `/api/v1`."""
    match = _PLAIN_STRIP.fullmatch(regex)
    if match is None or "//" in match.group(1):
        return None
    literal = match.group(1)
    if replacement in ("$1", "${1}") and not literal.endswith("/"):
        return literal
    if replacement in ("/$1", "/${1}") and literal.endswith("/") and literal != "/":
        return literal.rstrip("/")
    return None


class ReplacePathRegex(Middleware):
    def __init__(self, regex: str, replacement: str) -> None:
        self.regex: re.Pattern[str] = compile_go_regexp(regex.strip(), eager=True)
        self.replacement = replacement.strip()
        self.strips = plain_strip(regex.strip(), self.replacement)  # the prefix it removes, if only that

    def on_request(self, req: RequestHead) -> Reply | None:
        try:
            current = current_raw_path(req.path)
        except ValueError:  # Go's server rejects such a target before any middleware runs
            return None
        text = to_text(current)
        if not self.regex.search(text):
            return None
        req.headers.add(REPLACED_PATH, current)
        if self.strips is not None:
            req.regex_prefix += self.strips
        raw_path = from_text(replace_all(self.regex, text, self.replacement))
        try:
            path = unescape(raw_path)
        except ValueError as exc:
            return go_error(500, str(exc))
        clean = sanitized(path, raw_path)
        if clean is None:
            return bad_request()
        req.path = escaped_path(*clean)
        return None
