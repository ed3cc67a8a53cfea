"""Path-editing helpers the path middlewares share, on top of Go's URL path model in proxy.urlpath.

Traefik's middlewares edit Go's (Path, RawPath) pair; our RequestHead.path is the raw path, so each path
middleware converts raw -> (Path, RawPath) with proxy.urlpath.parse_raw_path, edits, and converts back with
request_uri_path. What is here is middleware-only: prefix arithmetic, Traefik's post-rewrite guard, Go's
http.Error replies.
"""

from __future__ import annotations

from proxy.message import Reply
from proxy.urlpath import escaped_path, join_path


def encoded_prefix_len(raw_path: str, decoded_prefix: str) -> int:
    """How many chars of raw_path encode the first len(decoded_prefix) decoded chars (%XX counts as one)."""
    decoded = i = 0
    n = len(raw_path)
    while i < n and decoded < len(decoded_prefix):
        i += 3 if raw_path[i] == "%" and i + 2 < n else 1
        decoded += 1
    return i


def ensure_leading_slash(text: str) -> str:
    return text if text == "" or text.startswith("/") else "/" + text


def bad_request() -> Reply:
    """What Go's http.Error(rw, "Bad Request", 400) sends."""
    return go_error(400, "Bad Request")


def go_error(status: int, message: str) -> Reply:
    return Reply.text(status, message + "\n", [("X-Content-Type-Options", "nosniff")])


def sanitized(path: str, raw_path: str) -> tuple[str, str] | None:
    """Traefik's post-rewrite check: a non-empty path must survive JoinPath() unchanged, else None (-> 400)."""
    if path == "":
        return path, raw_path
    # JoinPath cleans URL.EscapedPath(): the raw path only when it still spells the path. After a strip it
    # may not (`/api%2F..%2Fx` less `/api` is Path `/../x`, RawPath `/%2F..%2Fx`), and then Go cleans its
    # own encoding of Path, where the decoded `/` is a separator. Without a raw path, Path and its encoding
    # have the same slashes and dots.
    escaped = escaped_path(path, raw_path) if raw_path else path
    if "//" not in escaped and "/." not in escaped:  # nothing for JoinPath's Clean to change
        return path, raw_path
    new_path, new_raw = join_path(path, raw_path)
    return (new_path, new_raw) if new_path == path else None
