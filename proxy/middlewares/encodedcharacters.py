"""encodedCharacters: Traefik v3.6's middleware that rejects paths holding chosen percent-encoded characters.

Same check as the entry point's `http.encodedCharacters`, but every character is denied unless allowed.
"""

from __future__ import annotations

from proxy.message import Reply, RequestHead
from proxy.middlewares.base import Middleware
from proxy.normalize import ENCODED_FLAGS, PathOptions, denied_encoded_character


class EncodedCharacters(Middleware):
    def __init__(self, **allowed: bool) -> None:
        """`allowed`: PathOptions' allow_encoded_* flags (the config model's fields); unset ones deny."""
        flags = {name: False for name in ENCODED_FLAGS}
        unknown = set(allowed) - set(flags)
        if unknown:
            raise ValueError(f"encodedCharacters: unknown option(s) {', '.join(sorted(unknown))}")
        self.options = PathOptions(**{**flags, **allowed})

    def on_request(self, req: RequestHead) -> Reply | None:
        if denied_encoded_character(req.path, self.options) is not None:
            return Reply(400)
        return None
