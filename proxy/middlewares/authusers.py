"""The user lists of basicAuth and digestAuth: Traefik v3 `pkg/middlewares/auth/auth.go` (getUsers).

`usersFile` is read first, then `users` is appended, so an inline user replaces a file user of the same
name. The file is read whole when the middleware is built (at start and on every reload); a relative
path is relative to the process's working directory, as Go's os.ReadFile takes it. Lines are trimmed;
blank lines and lines starting with `#` are skipped.

Names and hashes stay bytes (UTF-8 of the config text): credentials are compared as the bytes a client
sent, as Go compares strings. Error messages name the entry, never its hash.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

# Go's unicode.IsSpace, which strings.TrimSpace uses (Python's str.strip() would also take \x1c-\x1f).
_GO_SPACE = (
    " \t\n\v\f\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

Parser = Callable[[bytes], tuple[bytes, bytes] | None]


def file_lines(users_file: str) -> list[bytes]:
    """getLinesFromFile; OSError becomes ValueError naming the file."""
    try:
        data = Path(users_file).read_bytes()
    except OSError as exc:
        raise ValueError(f"usersFile {users_file!r}: {exc.strerror or exc}") from None
    lines = []
    for raw in data.split(b"\n"):
        line = raw.decode("utf-8", "surrogateescape").strip(_GO_SPACE)
        if line and not line.startswith("#"):
            lines.append(line.encode("utf-8", "surrogateescape"))
    return lines


def load_users(users_file: str, users: Sequence[str], parse: Parser, kind: str) -> dict[bytes, bytes]:
    """name (or name:realm) -> hash, file entries first, inline ones after (they win)."""
    entries = file_lines(users_file) if users_file else []
    entries += [user.encode("utf-8", "surrogateescape") for user in users]
    result: dict[bytes, bytes] = {}
    for entry in entries:
        parsed = parse(entry)
        if parsed is None:
            name = entry.split(b":", 1)[0].decode("utf-8", "replace")
            raise ValueError(
                f"error parsing {kind} entry for {name!r}: expected "
                f"{'name:hash' if kind == 'BasicUser' else 'name:realm:hash'}"
            )
        result[parsed[0]] = parsed[1]
    return result
