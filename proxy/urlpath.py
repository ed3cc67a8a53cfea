"""Go's net/url model of request paths, shared by the entry point, the rule matchers and the path middlewares.

Go keeps two views of a path: `Path` (percent-decoded) and `RawPath` (the original spelling, kept only when it
differs from Go's own encoding of Path). Traefik routes on and forwards URL.EscapedPath(): the raw spelling when
Go accepts it (`valid_encoded`) and it decodes to Path, else Go's re-encoding of Path (which then also decodes
reserved escapes such as %2F). Strings are "wire strings": one char per byte (latin-1), so the byte counts
Traefik's code works with are string lengths.
"""

from __future__ import annotations

import re

ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
# RFC 3986 unreserved characters: Traefik's normalizePath decodes their %XX form.
UNRESERVED = ALNUM | frozenset("-._~")
# Characters Go's escape(s, encodePath) leaves alone.
PATH_SAFE = UNRESERVED | frozenset("$&+,/:;=@")
# Characters Go's validEncoded accepts in a RawPath (besides PATH_SAFE).
_VALID_ENCODED = PATH_SAFE | frozenset("!'()*[]%")
_FRAGMENT_SAFE = PATH_SAFE | frozenset("?!()*")
_FRAGMENT_OK = _FRAGMENT_SAFE | frozenset("'[]%")
_HOST_SAFE = UNRESERVED | frozenset("!$&'()*+,;=:[]<>\"")
_HEX = "0123456789ABCDEF"

_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_VALID_ENCODED_PATH = re.compile(r"[A-Za-z0-9\-._~$&+,/:;=@!'()*\[\]%]*")
_PATH_SAFE_RUN = re.compile(r"[A-Za-z0-9\-._~$&+,/:;=@]*")


# --- wire strings ------------------------------------------------------------------------------------------


def wire(text: str) -> str:
    """A config string (any Unicode) as the one-char-per-byte form header and path strings use."""
    return text.encode("utf-8").decode("latin-1")


def to_text(wire_str: str) -> str:
    """Wire string -> Unicode (UTF-8, undecodable bytes kept as surrogates) so regexes see runes like Go."""
    return wire_str.encode("latin-1").decode("utf-8", "surrogateescape")


def from_text(text: str) -> str:
    """Inverse of to_text; also turns Go source text (rule arguments) into a wire string."""
    return text.encode("utf-8", "surrogateescape").decode("latin-1")


# --- escaping ----------------------------------------------------------------------------------------------


def check_escapes(text: str) -> None:
    """Raise ValueError with Go's message at the first '%' not followed by two hex digits."""
    bad = _BAD_ESCAPE.search(text) if "%" in text else None
    if bad is not None:
        raise ValueError(f'invalid URL escape "{text[bad.start() : bad.start() + 3]}"')


def unescape(text: str, host: bool = False) -> str:
    """Go's unescape (path mode, or host mode); ValueError with Go's message on a bad escape."""
    if "%" not in text:
        return text
    check_escapes(text)
    # A host may only percent-encode non-ASCII bytes (and %25, for IPv6 zones).
    if host:
        for code in _ESCAPE.finditer(text):
            if int(code.group(1)[0], 16) < 8 and code.group() != "%25":
                raise ValueError(f'invalid URL escape "{code.group()}"')
    return _ESCAPE.sub(lambda code: chr(int(code.group(1), 16)), text)


def _escape(text: str, safe: frozenset[str]) -> str:
    return "".join(ch if ch in safe else f"%{_HEX[ord(ch) >> 4]}{_HEX[ord(ch) & 15]}" for ch in text)


def escape_path(path: str) -> str:
    """Go's escape(path, encodePath): upper-case %XX for everything outside PATH_SAFE."""
    return path if _PATH_SAFE_RUN.fullmatch(path) else _escape(path, PATH_SAFE)


def recode_escapes(escaped: str, decoded: frozenset[str]) -> str:
    """Decode the (valid) %XX escapes of characters in `decoded`, upper-case the hex of all others."""
    if "%" not in escaped:
        return escaped

    def recode(code: re.Match[str]) -> str:
        char = chr(int(code.group(1), 16))
        return char if char in decoded else "%" + code.group(1).upper()

    return _ESCAPE.sub(recode, escaped)


def normalize_percent_encoding(raw_path: str) -> str:
    """Traefik's normalizePath: decode %XX of unreserved characters, upper-case the hex of all others."""
    return recode_escapes(raw_path, UNRESERVED)


# --- Path / RawPath / EscapedPath ---------------------------------------------------------------------------


# A path of characters Go never escapes, with no `%`: decoding, re-escaping and EscapedPath all give it
# back unchanged, so the hot path can skip them. (Most request paths look like this.)
PLAIN_PATH = re.compile(r"/[A-Za-z0-9\-._~/$&+,;=:@]*")


def parse_raw_path(raw: str) -> tuple[str, str]:
    """Go's URL.setPath: raw path -> (Path, RawPath); RawPath is '' when the default encoding gives it back."""
    if PLAIN_PATH.fullmatch(raw):
        return raw, ""
    path = unescape(raw)
    return path, ("" if escape_path(path) == raw else raw)


def escaped_path(path: str, raw_path: str) -> str:
    """Go's URL.EscapedPath: RawPath when it is a valid encoding of Path, else Go's own encoding."""
    if not raw_path and PLAIN_PATH.fullmatch(path):
        return path
    if raw_path and _VALID_ENCODED_PATH.fullmatch(raw_path):
        try:
            if unescape(raw_path) == path:
                return raw_path
        except ValueError:
            pass
    if path == "*":
        return "*"
    return escape_path(path)


def parsed_escaped_path(raw: str) -> str:
    """URL.EscapedPath() right after Go parsed the raw path `raw` (ValueError on a bad escape).

    Same as escaped_path(*parse_raw_path(raw)), without building what is not needed: the raw spelling
    when every char is one Go accepts unescaped, else Go's re-encoding of the decoded path.
    """
    if _VALID_ENCODED_PATH.fullmatch(raw):
        check_escapes(raw)
        return raw
    return escape_path(unescape(raw))


def request_uri_path(path: str, raw_path: str) -> str:
    """The path part of Go's URL.RequestURI(): an empty path is sent as '/'."""
    return escaped_path(path, raw_path) or "/"


# --- cleaning ----------------------------------------------------------------------------------------------


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


def join_escaped(escaped: str) -> str:
    """The path Go's URL.JoinPath() (no elements) builds from an escaped path: cleaned, one trailing slash kept.

    A relative path is cleaned as if rooted (so it keeps no '..') and given back relative.
    """
    relative = not escaped.startswith("/")
    rooted = "/" + escaped if relative else escaped
    joined = clean(rooted)[1:] if relative else clean(rooted)
    if rooted.endswith("/") and not joined.endswith("/"):
        joined += "/"
    return joined


def join_path(path: str, raw_path: str) -> tuple[str, str]:
    """Go's URL.JoinPath() with no elements, on (Path, RawPath)."""
    try:
        return parse_raw_path(join_escaped(escaped_path(path, raw_path)))
    except ValueError:  # Go ignores the error and keeps the URL as it was
        return path, raw_path


# --- whole URLs (Go's url.Parse followed by URL.String, for redirect Locations) ----------------------------


def split_scheme(url: str) -> tuple[str, str]:
    """Go's getScheme: (scheme as written, rest); no scheme when the text before ':' is not one."""
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
            return url[:i], url[i + 1 :]
        return "", url
    return "", url


def valid_optional_port(port: str) -> bool:
    """Go's validOptionalPort: '' or ':' followed by digits only."""
    return port == "" or (port.startswith(":") and all(c in "0123456789" for c in port[1:]))


def _check_host(host: str) -> str:
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            raise ValueError("missing ']' in host")
        if not valid_optional_port(host[end + 1 :]):
            raise ValueError(f'invalid port "{host[end + 1 :]}" after host')
    else:
        colon = host.rfind(":")
        if colon != -1 and not valid_optional_port(host[colon:]):
            raise ValueError(f'invalid port "{host[colon:]}" after host')
    return _escape(unescape(host, host=True), _HOST_SAFE)


def _fragment(raw_fragment: str) -> str:
    """Go's URL.EscapedFragment of a parsed fragment: the raw spelling when valid, else Go's encoding."""
    fragment = unescape(raw_fragment)
    return raw_fragment if all(ch in _FRAGMENT_OK for ch in raw_fragment) else _escape(fragment, _FRAGMENT_SAFE)


def normalize_url(url: str) -> str:
    """Parse `url` the way Go's url.Parse does and print it back as URL.String(); ValueError if Go rejects it."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise ValueError("net/url: invalid control character in URL")
    rest, sep, raw_fragment = url.partition("#")
    fragment = _fragment(raw_fragment)
    scheme, rest = split_scheme(rest)
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
        out += "#" + fragment
    return out
