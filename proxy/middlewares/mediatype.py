"""Media types as Go's mime.ParseMediaType reads them, and the content-type lists compress matches."""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
MediaType = tuple[str, dict[str, str]]


def parse_media_type(value: str) -> MediaType | None:
    """(type lower-cased, params with lower-cased names) or None where Go's parser returns an error."""
    base, _, rest = value.partition(";")
    media = base.strip().lower()
    major, slash, minor = media.partition("/")
    if not _TOKEN.fullmatch(major) or (slash and not _TOKEN.fullmatch(minor)):
        return None
    params: dict[str, str] = {}
    for part in rest.split(";"):
        part = part.strip()
        if not part:
            continue
        name, eq, raw = part.partition("=")
        name = name.strip().lower()
        raw = raw.strip()
        if not eq or not _TOKEN.fullmatch(name):
            return None
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = raw[1:-1].replace('\\"', '"')
        elif not _TOKEN.fullmatch(raw):
            return None
        params[name] = raw
    return media, params


def media_type_only(value: str) -> str:
    """The media type of a header value, "" when it does not parse (as Go's code ignores the error)."""
    parsed = parse_media_type(value)
    return parsed[0] if parsed else ""


def matches(pattern: MediaType, media: str, params: dict[str, str]) -> bool:
    """A configured type matches any params when it has none, else exactly the same params."""
    if pattern[0] != media:
        return False
    return not pattern[1] or pattern[1] == params
