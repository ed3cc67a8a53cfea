"""encodedCharacters: Traefik v3.6's middleware that rejects paths holding chosen percent-encoded characters.

Same check as the entry point's `http.encodedCharacters`, but every character is denied unless allowed.
"""

from __future__ import annotations

from proxy.message import Reply, RequestHead
from proxy.middlewares.base import Middleware
from proxy.server.normalize import PathOptions, denied_encoded_character


class EncodedCharacters(Middleware):
    def __init__(self, *, allow_encoded_slash: bool = False, allow_encoded_back_slash: bool = False,
                 allow_encoded_null_character: bool = False, allow_encoded_semicolon: bool = False,
                 allow_encoded_percent: bool = False, allow_encoded_question_mark: bool = False,
                 allow_encoded_hash: bool = False) -> None:
        self.options = PathOptions(
            allow_encoded_slash=allow_encoded_slash, allow_encoded_back_slash=allow_encoded_back_slash,
            allow_encoded_null_character=allow_encoded_null_character,
            allow_encoded_semicolon=allow_encoded_semicolon, allow_encoded_percent=allow_encoded_percent,
            allow_encoded_question_mark=allow_encoded_question_mark, allow_encoded_hash=allow_encoded_hash)

    def on_request(self, req: RequestHead) -> Reply | None:
        if denied_encoded_character(req.path, self.options) is not None:
            return Reply(400)
        return None
