"""Putting a stripped path prefix back into what an app answers (not Traefik: see README, "Apps that do not
know their prefix (stripproxy only)"). `headers` rewrites response headers; the middleware that applies it is
`proxy/middlewares/prefixrewrite.py`."""

from __future__ import annotations

from proxy.message import RequestHead

# RequestHead.notes keys: what the route's strips removed for this request (concatenated, no trailing
# slash), and what the rewriter changed ("name\0before\0after" records joined by "\n").
STRIPPED_NOTE = "prefixRewrite.stripped"
CHANGES_NOTE = "prefixRewrite.changes"


def note_stripped(req: RequestHead, prefix: str) -> None:
    """Called by stripPrefix, stripPrefixRegex and an invertible replacePathRegex when they strip, once a
    rewriter is bound to one of their routes (their `notes_strip`): strips elsewhere pay nothing."""
    prefix = prefix.rstrip("/")
    if prefix:
        notes = req.notes
        notes[STRIPPED_NOTE] = notes.get(STRIPPED_NOTE, "") + prefix


def note_changes(req: RequestHead, changes: list[tuple[str, str, str]]) -> None:
    text = "\n".join("\0".join(change) for change in changes)
    previous = req.notes.get(CHANGES_NOTE)
    req.notes[CHANGES_NOTE] = text if previous is None else f"{previous}\n{text}"


def noted_changes(notes: dict[str, str]) -> tuple[tuple[str, str, str], ...]:
    """The (header, before, after) changes `note_changes` recorded, for the exchange record."""
    text = notes.get(CHANGES_NOTE)
    if not text:
        return ()
    return tuple((parts[0], parts[1], parts[2]) for parts in (line.split("\0") for line in text.split("\n")))
