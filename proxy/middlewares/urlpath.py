"""Go's net/url path model, which Traefik's path middlewares are written against.

Go keeps two views of a request path: `Path` (percent-decoded) and `RawPath` (the original encoding, kept only
when it differs from Go's default encoding of `Path`). Traefik's middlewares edit both and the upstream receives
`EscapedPath()`. Our RequestHead.path is the raw path, so each path middleware converts raw -> (Path, RawPath),
edits, and converts back with `request_uri_path`. Strings here are "wire strings": one char per byte (latin-1),
so byte lengths, which Traefik's code counts, are string lengths.
"""

from __future__ import annotations

from proxy.message import Reply

_HEX = "0123456789ABCDEF"
_UNRESERVED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~")
# Characters Go's escape() leaves alone in a path (encodePath mode).
_PATH_SAFE = _UNRESERVED | frozenset("$&+,/:;=@")
# Characters Go's validEncoded() accepts in a RawPath besides the above and '%'.
_RAW_PATH_OK = _PATH_SAFE | frozenset("!'()*[]%")
_FRAGMENT_SAFE = _PATH_SAFE | frozenset("?!()*")
_FRAGMENT_OK = _FRAGMENT_SAFE | frozenset("'[]%")
_HOST_SAFE = _UNRESERVED | frozenset("!$&'()*+,;=:[]<>\"")


def wire(text: str) -> str:
    """A config string (any Unicode) as the one-char-per-byte form header and path strings use."""
    return text.encode("utf-8").decode("latin-1")


def to_text(wire_str: str) -> str:
    """Wire string -> Unicode (UTF-8, undecodable bytes kept as surrogates) so regexes see runes like Go."""
    return wire_str.encode("latin-1").decode("utf-8", "surrogateescape")


def from_text(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("latin-1")


def _is_hex(ch: str) -> bool:
    return ch in "0123456789abcdefABCDEF"


def unescape(text: str, host: bool = False) -> str:
    """Go's unescape (path, segment, fragment or host mode); ValueError with Go's message on a bad escape."""
    if "%" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        if i + 2 >= n or not _is_hex(text[i + 1]) or not _is_hex(text[i + 2]):
            raise ValueError(f'invalid URL escape "{text[i:i + 3]}"')
        # A host may only percent-encode non-ASCII bytes (and %25, for zones).
        if host and int(text[i + 1], 16) < 8 and text[i:i + 3] != "%25":
            raise ValueError(f'invalid URL escape "{text[i:i + 3]}"')
        out.append(chr(int(text[i + 1:i + 3], 16)))
        i += 3
    return "".join(out)


def _escape(text: str, safe: frozenset[str]) -> str:
    if all(ch in safe for ch in text):
        return text
    return "".join(ch if ch in safe else f"%{_HEX[ord(ch) >> 4]}{_HEX[ord(ch) & 15]}" for ch in text)


def escape_path(path: str) -> str:
    """Go's escape(path, encodePath)."""
    return _escape(path, _PATH_SAFE)


def _valid_encoded(raw: str, allowed: frozenset[str]) -> bool:
    return all(ch in allowed for ch in raw)


def parse_raw_path(raw: str) -> tuple[str, str]:
    """Go's URL.setPath: raw path -> (Path, RawPath); RawPath is '' when the default encoding gives it back."""
    path = unescape(raw)
    return path, ("" if escape_path(path) == raw else raw)


def escaped_path(path: str, raw_path: str) -> str:
    """Go's URL.EscapedPath: RawPath when it is a valid encoding of Path, else Go's own encoding."""
    if raw_path and _valid_encoded(raw_path, _RAW_PATH_OK):
        try:
            if unescape(raw_path) == path:
                return raw_path
        except ValueError:
            pass
    if path == "*":
        return "*"
    return escape_path(path)


def request_uri_path(path: str, raw_path: str) -> str:
    """The path part of Go's URL.RequestURI(): an empty path is sent as '/'."""
    return escaped_path(path, raw_path) or "/"


def clean(path: str) -> str:
    """Go's path.Clean (unlike posixpath.normpath, a leading '//' collapses too)."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(seg)
    out = ("/" if rooted else "") + "/".join(parts)
    return out or "."


def join_path(path: str, raw_path: str) -> tuple[str, str]:
    """Go's URL.JoinPath() with no elements: clean the escaped path, keep one trailing slash."""
    esc = escaped_path(path, raw_path)
    joined = clean("/" + esc)[1:] if not esc.startswith("/") else clean(esc)
    if esc.endswith("/") and not joined.endswith("/"):
        joined += "/"
    try:
        return parse_raw_path(joined)
    except ValueError:  # Go ignores the error and keeps the URL as it was
        return path, raw_path


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
    new_path, new_raw = join_path(path, raw_path)
    return (new_path, new_raw) if new_path == path else None


# --- whole URLs, for redirect Locations (Go's url.Parse followed by URL.String) ---------------------------


def _split_scheme(url: str) -> tuple[str, str]:
    for i, ch in enumerate(url):
        if ch.isascii() and ch.isalpha():
            continue
        if ch.isascii() and (ch.isdigit() or ch in "+-."):
            if i == 0:
                return "", url
            continue
        if ch == ":":
            if i == 0:
                raise ValueError("missing protocol scheme")
            return url[:i], url[i + 1:]
        return "", url
    return "", url


def _valid_optional_port(port: str) -> bool:
    return port == "" or (port.startswith(":") and all(c in "0123456789" for c in port[1:]))


def _check_host(host: str) -> str:
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            raise ValueError("missing ']' in host")
        if not _valid_optional_port(host[end + 1:]):
            raise ValueError(f'invalid port "{host[end + 1:]}" after host')
    else:
        colon = host.rfind(":")
        if colon != -1 and not _valid_optional_port(host[colon:]):
            raise ValueError(f'invalid port "{host[colon:]}" after host')
    return _escape(unescape(host, host=True), _HOST_SAFE)


def normalize_url(url: str) -> str:
    """Parse `url` the way Go's url.Parse does and print it back as URL.String(); ValueError if Go rejects it."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise ValueError("net/url: invalid control character in URL")
    rest, sep, fragment = url.partition("#")
    raw_fragment = fragment
    fragment = unescape(fragment)
    scheme, rest = _split_scheme(rest)
    scheme = scheme.lower()
    rest, qmark, query = rest.partition("?")
    out = f"{scheme}:" if scheme else ""
    if not rest.startswith("/") and scheme:
        out += rest  # opaque URL (mailto:x)
    else:
        host = None
        if rest.startswith("//") and (scheme or not rest.startswith("///")):
            authority, slash, rest = rest[2:].partition("/")
            rest = slash + rest
            userinfo, at, hostport = authority.rpartition("@")
            host = (userinfo + at) + _check_host(hostport)
        elif not scheme and ":" in rest.split("/", 1)[0]:
            raise ValueError("first path segment in URL cannot contain colon")
        path, raw_path = parse_raw_path(rest)
        if host is not None and (host or path):
            out += "//" + host
        esc = escaped_path(path, raw_path)
        if esc and not esc.startswith("/") and host:
            out += "/"
        out += esc
    if qmark:
        out += "?" + query
    if sep and fragment:
        ok = raw_fragment if _valid_encoded(raw_fragment, _FRAGMENT_OK) else None
        out += "#" + (ok if ok is not None and unescape(ok) == fragment else _escape(fragment, _FRAGMENT_SAFE))
    return out
