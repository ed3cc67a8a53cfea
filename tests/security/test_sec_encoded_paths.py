"""Encoded separators against the path middlewares, through a live gateway, with raw sockets.

The rule is Traefik's code (v3.7, with its 2026 fixes), not a guess at what is dangerous:

- The entry point first decodes escapes of unreserved characters and upper-cases the others
  (`normalizePath`: `%2e` -> `.`, `%2f` -> `%2F`), then, with `sanitizePath` (default on), cleans dot
  segments and `//` of the escaped path (`URL.JoinPath`). `%2F`, `%5C` and `%25` are never decoded, so
  they stay data: `..%2F` is not a dot segment for Traefik, nor for us.
- `encodedCharacters.allowEncoded*` (all true by default since v3.6.7) reject a path holding the chosen
  escapes with an empty 400, before any middleware.
- stripPrefix and stripPrefixRegex (2026-04/05, "Reject requests with different paths after StripPrefix
  and StripPrefixRegex normalisation") and replacePathRegex (2026-07, "Sanitize replaced path in
  ReplacePathRegex middleware") answer 400 "Bad Request" when cleaning the escaped path they produced
  would change it (`/api./foo` stripped of `/api` is `/./foo`). replacePath and addPrefix have no such
  check in Traefik: the configured text is the operator's.
- What goes upstream is the escaped path as it stands (`URL.RequestURI()`): an encoded separator is sent
  encoded, never decoded by the proxy.

The expected answers below are computed by a small model of exactly those steps, written from Traefik's
code (pkg/server/server_entrypoint_tcp.go normalizePath/sanitizePath, the middlewares' ServeHTTP), and
compared with what a raw upstream receives for every combination of encoded `/`, `\\`, `.` and `%`.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import string

import pytest
from rawhttp import read_answer

from proxy.config.dynamic import DynamicConfig
from proxy.config.static import EntryPointConfig, StaticConfig
from proxy.server.gateway import Gateway

# --- the model, from Go's net/url and Traefik's code ------------------------------------------------------

UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
PATH_SAFE = UNRESERVED | frozenset("$&+,/:;=@")  # what Go's escape(s, encodePath) leaves alone
VALID_ENCODED = PATH_SAFE | frozenset("!'()*[]%")  # what Go's validEncoded accepts
ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


def go_unescape(text: str) -> str:
    if re.search(r"%(?![0-9A-Fa-f]{2})", text):
        raise ValueError(text)
    return ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def go_escape(path: str) -> str:
    return "".join(c if c in PATH_SAFE else f"%{ord(c):02X}" for c in path)


class URL:
    """Go's url.URL reduced to its path: Path (decoded) and RawPath (a spelling, '' for the default)."""

    def __init__(self, raw: str) -> None:
        self.set_path(raw)

    def set_path(self, raw: str) -> None:
        self.path = go_unescape(raw)
        self.raw_path = "" if go_escape(self.path) == raw else raw

    def escaped_path(self) -> str:
        raw = self.raw_path
        if raw and all(c in VALID_ENCODED for c in raw):
            try:
                if go_unescape(raw) == self.path:
                    return raw
            except ValueError:
                pass
        return go_escape(self.path)

    def join_path(self) -> None:
        """URL.JoinPath() with no elements: path.Join of the escaped path, one trailing slash kept."""
        escaped = self.escaped_path()
        joined = go_clean(escaped)
        if escaped.endswith("/") and not joined.endswith("/"):
            joined += "/"
        self.set_path(joined)

    def request_uri(self) -> str:
        return self.escaped_path() or "/"


def normalize(raw: str) -> str:
    """normalizePath: decode escapes of unreserved characters, upper-case the hex of the rest."""

    def one(m: re.Match[str]) -> str:
        char = chr(int(m.group(1), 16))
        return char if char in UNRESERVED else "%" + m.group(1).upper()

    return ESCAPE.sub(one, raw)


def go_clean(path: str) -> str:
    """path.Clean of a rooted path."""
    out: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if out:
                out.pop()
            continue
        out.append(segment)
    return "/" + "/".join(out)


def entry(raw: str, sanitize: bool, denied: tuple[str, ...]) -> URL | None:
    """The URL routing and middlewares see; None: the entry point answers 400 (encodedCharacters)."""
    url = URL(raw)
    if url.raw_path:  # normalizePath
        url.raw_path = normalize(url.raw_path)
    if sanitize:  # sanitizePath
        url.join_path()
    escaped = url.escaped_path()
    if any(code in escaped for code in denied):
        return None
    return url


def ensure_leading_slash(text: str) -> str:
    return text if text == "" or text.startswith("/") else "/" + text


def encoded_prefix_len(raw_path: str, prefix: str) -> int:
    decoded = i = 0
    while i < len(raw_path) and decoded < len(prefix):
        i += 3 if raw_path[i] == "%" and i + 2 < len(raw_path) else 1
        decoded += 1
    return i


def strip_api(url: URL) -> tuple[int, str, str | None]:
    """stripPrefix `/api` (and stripPrefixRegex `^/api`): (status, path sent, X-Forwarded-Prefix)."""
    if not url.path.startswith("/api"):
        return 200, url.request_uri(), None
    url.path = ensure_leading_slash(url.path[4:])
    if url.raw_path:
        url.raw_path = ensure_leading_slash(url.raw_path[encoded_prefix_len(url.raw_path, "/api") :])
    stripped = url.path
    if stripped:
        url.join_path()
    if stripped != url.path:
        return 400, "", None
    return 200, url.request_uri(), "/api"


def replace_regex(url: URL) -> tuple[int, str, str | None]:
    """replacePathRegex `^/api(.*)` -> `/$1` (matched on RawPath, else EscapedPath): (status, sent,
    X-Replaced-Path)."""
    current = url.raw_path or url.escaped_path()
    if not current.startswith("/api"):
        return 200, url.request_uri(), None
    url.raw_path = "/" + current[4:]
    url.path = go_unescape(url.raw_path)
    sent = url.request_uri()  # RequestURI is taken before the check
    replaced = url.path
    url.join_path()
    if replaced != url.path:
        return 400, "", None
    return 200, sent, current


def replace_path(url: URL) -> tuple[int, str, str | None]:
    return 200, "/fixed", url.raw_path or url.escaped_path()


def add_prefix(url: URL) -> tuple[int, str, str | None]:
    url.path = ensure_leading_slash("/pre" + url.path)
    if url.raw_path:
        url.raw_path = ensure_leading_slash("/pre" + url.raw_path)
    return 200, url.request_uri(), None


MIDDLEWARES = {  # host -> (middleware config, model, header the model's third value is compared with)
    "strip.test": ({"stripPrefix": {"prefixes": ["/api"]}}, strip_api, "x-forwarded-prefix"),
    "stripregex.test": ({"stripPrefixRegex": {"regex": ["^/api"]}}, strip_api, "x-forwarded-prefix"),
    "replaceregex.test": (
        {"replacePathRegex": {"regex": "^/api(.*)", "replacement": "/$1"}},
        replace_regex,
        "x-replaced-path",
    ),
    "replace.test": ({"replacePath": {"path": "/fixed"}}, replace_path, "x-replaced-path"),
    "addprefix.test": ({"addPrefix": {"prefix": "/pre"}}, add_prefix, None),
}

# --- the inputs ---------------------------------------------------------------------------------------------

ATOMS = ["%2F", "%2f", "%5C", "%5c", "%2E", "%2e", "%25", "%252F", "%252e", ".", "..", "\\"]
SHAPES = ["/api{}{}", "/api{}{}/x", "/api/{}{}", "/api/{}{}/x", "/api{}/{}/x", "/x/{}{}/api"]
CLASSIC = [  # traversal spellings from the usual lists, whole
    "/api/..%2Fadmin",
    "/api/..%2fadmin",
    "/api%2F..%2Fadmin",
    "/api/%2F..%2F/admin",
    "/api/%2e%2e/admin",
    "/api/%2e%2e%2fadmin",
    "/api/.%2e/admin",
    "/api/%2e./admin",
    "/api/..%5Cadmin",
    "/api/%5C..%5Cadmin",
    "/api/%252e%252e%252fadmin",
    "/api/%252e%252e/admin",
    "/api..%2Fadmin",
    "/api%2e%2e/admin",
    "/api%2e/admin",
    "/api./admin",
    "/api../admin",
    "/api/../admin",
    "/api/./admin",
    "/api//admin",
    "/api%2F/admin",
    "/api/%2F/admin",
    "/api%5C/admin",
    "/api%25/admin",
    "/api%252F/admin",
    "/ap%69/..%2Fadmin",
    "/%61pi/%2e%2e/admin",
    "/api",
]
PATHS = sorted({shape.format(a, b) for shape in SHAPES for a, b in itertools.product(ATOMS, repeat=2)} | set(CLASSIC))

HARDENED = ("%2F", "%5C", "%25")  # allowEncodedSlash, allowEncodedBackSlash, allowEncodedPercent = false
ENTRY_POINTS = {  # name -> (sanitizePath, denied escapes)
    "plain": (True, ()),
    "unsanitized": (False, ()),
    "hardened": (True, HARDENED),
}


def expected(path: str, entry_point: str, host: str) -> tuple[int, str, str | None]:
    sanitize, denied = ENTRY_POINTS[entry_point]
    url = entry(path, sanitize, denied)
    if url is None:
        return 400, "", None
    return MIDDLEWARES[host][1](url)


# --- the live gateway ---------------------------------------------------------------------------------------


async def recording_upstream(seen: list[tuple[str, dict[str, str]]]) -> asyncio.Server:
    """Answers every request 200 and records its request-target and headers, as they came."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                lines = head.split("\r\n")
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                seen.append((lines[0].split(" ")[1], headers))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


def dynamic_config(upstream_url: str) -> DynamicConfig:
    routers, middlewares = {}, {}
    for index, (host, (middleware, _, _)) in enumerate(MIDDLEWARES.items()):
        name = f"m{index}"
        middlewares[name] = middleware
        routers[name] = {"rule": f"Host(`{host}`)", "service": "s", "middlewares": [name]}
    return DynamicConfig.model_validate(
        {
            "http": {
                "routers": routers,
                "middlewares": middlewares,
                "services": {"s": {"loadBalancer": {"servers": [{"url": upstream_url}]}}},
            }
        }
    )


@pytest.fixture
async def live():
    seen: list[tuple[str, dict[str, str]]] = []
    upstream = await recording_upstream(seen)
    port = upstream.sockets[0].getsockname()[1]
    entry_points = {}
    for name, (sanitize, denied) in ENTRY_POINTS.items():
        flags = {
            "allowEncodedSlash": "%2F" not in denied,
            "allowEncodedBackSlash": "%5C" not in denied,
            "allowEncodedPercent": "%25" not in denied,
        }
        entry_points[name] = EntryPointConfig.model_validate(
            {"address": "127.0.0.1:0", "http": {"sanitizePath": sanitize, "encodedCharacters": flags}}
        )
    gateway = Gateway(StaticConfig(entry_points=entry_points))
    gateway.apply(dynamic_config(f"http://127.0.0.1:{port}"))
    await gateway.start()
    yield gateway, seen
    await gateway.stop()
    upstream.close()


async def ask(port: int, requests: list[tuple[str, str]]) -> list[tuple[int, bytes]]:
    """Send GET `path` with `Host: host` for each pair on one keep-alive connection (a new one when the
    gateway closes), raw bytes as written; (status, body) of each answer."""
    answers = []
    reader = writer = None
    for host, path in requests:
        if writer is None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode("latin-1"))
        answer = await asyncio.wait_for(read_answer(reader), 10)
        answers.append((answer.status, answer.body))
        if (answer.header("connection") or "").lower() == "close":
            writer.close()
            writer = None
    if writer is not None:
        writer.close()
    return answers


def known_header_difference(path: str, entry_point: str) -> bool:
    """A literal `\\` with sanitizePath off: Go keeps the spelling the client sent as URL.RawPath (which
    Go itself never sends on: it is not a valid encoding), and X-Replaced-Path shows it; our request head
    holds only the escaped path, so the header shows `%5C` (and `%2F` decoded as Go's EscapedPath does).
    The path sent upstream and the status are the same. See test_known_difference_backslash_raw_path."""
    return "\\" in path and not ENTRY_POINTS[entry_point][0]


@pytest.mark.parametrize("host", list(MIDDLEWARES))
@pytest.mark.parametrize("entry_point", list(ENTRY_POINTS))
async def test_every_encoded_separator_combination(live, entry_point, host):
    gateway, seen = live
    port = int(gateway.urls[entry_point].rsplit(":", 1)[1])
    answers = await ask(port, [(host, path) for path in PATHS])
    header = MIDDLEWARES[host][2]
    wrong = []
    forwarded = iter(seen)
    for path, (status, body) in zip(PATHS, answers, strict=True):
        want_status, want_path, want_header = expected(path, entry_point, host)
        if status != want_status:
            wrong.append(f"{path}: status {status}, Traefik's code gives {want_status}")
            if status == 200:
                next(forwarded)
            continue
        if status == 400:
            # The entry point's encodedCharacters check answers with no body; the middlewares with Go's
            # http.Error text.
            want_body = b"" if entry(path, *ENTRY_POINTS[entry_point]) is None else b"Bad Request\n"
            if body != want_body:
                wrong.append(f"{path}: 400 with body {body!r}, expected {want_body!r}")
            continue
        target, headers = next(forwarded)
        if target != want_path:
            wrong.append(f"{path}: sent upstream as {target}, Traefik's code sends {want_path}")
        if header and headers.get(header) != want_header and not known_header_difference(path, entry_point):
            wrong.append(f"{path}: {header} {headers.get(header)!r}, expected {want_header!r}")
    assert not wrong, f"{len(wrong)} of {len(PATHS)} differ:\n" + "\n".join(wrong[:40])
    assert len(seen) == sum(1 for status, _ in answers if status == 200)


@pytest.mark.parametrize(
    "path,status,sent",
    [
        # Traefik's own cases (strip_prefix_test.go, strip_prefix_regex_test.go, replace_path_regex_test.go)
        pytest.param("/api./foo", 400, None, id="traefik-dot-after-prefix"),
        pytest.param("/api../foo", 400, None, id="traefik-dots-after-prefix"),
        pytest.param("/ap%69/a%2Fb", 200, "/a%2Fb", id="traefik-encoded-char-in-prefix"),
        # The classic spellings: data, not separators, so they are sent on encoded.
        pytest.param("/api/..%2Fadmin", 200, "/..%2Fadmin", id="dotdot-encoded-slash"),
        pytest.param("/api/..%2fadmin", 200, "/..%2Fadmin", id="dotdot-encoded-slash-lower"),
        # Stripped of `/api`, Path `/../admin` no longer matches RawPath `/%2F..%2Fadmin`: Go cleans its own
        # encoding of Path, where the decoded slash is a separator, and the path changes: 400.
        pytest.param("/api%2F..%2Fadmin", 400, None, id="encoded-slash-dotdot-encoded-slash"),
        pytest.param("/api%2F/admin", 400, None, id="encoded-slash-after-prefix-then-slash"),
        pytest.param("/api%2Fadmin", 200, "/admin", id="encoded-slash-after-prefix"),
        pytest.param("/api/..%5Cadmin", 200, "/..%5Cadmin", id="dotdot-encoded-backslash"),
        pytest.param("/api/%252e%252e%252fadmin", 200, "/%252e%252e%252fadmin", id="double-encoded"),
        # `%2e` is unreserved: decoded at the entry point, then the dot segments are cleaned before routing.
        pytest.param("/api/%2e%2e/admin", 200, "/admin", id="encoded-dots-cleaned-at-entry"),
        pytest.param("/api%2e%2e/admin", 400, None, id="encoded-dots-after-prefix"),
        pytest.param("/api%2e/admin", 400, None, id="encoded-dot-after-prefix"),
        pytest.param("/api//admin", 200, "/admin", id="double-slash-cleaned-at-entry"),
    ],
)
async def test_strip_prefix_table(live, path, status, sent):
    gateway, seen = live
    port = int(gateway.urls["plain"].rsplit(":", 1)[1])
    [(got, body)] = await ask(port, [("strip.test", path)])
    assert got == status
    assert (seen[-1][0] if status == 200 else body) == (sent if status == 200 else b"Bad Request\n")


@pytest.mark.parametrize("path", ["/api/%%32%66", "/api/%", "/api/%zz", "/api/%2"])
async def test_bad_escapes_are_400_before_any_middleware(live, path):
    """Go's server rejects a target with a bad escape; nothing reaches the upstream."""
    gateway, seen = live
    port = int(gateway.urls["plain"].rsplit(":", 1)[1])
    for host in MIDDLEWARES:
        [(status, _)] = await ask(port, [(host, path)])
        assert status == 400
    assert seen == []


@pytest.mark.xfail(
    strict=True,
    reason="known difference: the raw spelling of a path holding a literal backslash is not kept (sanitizePath off)",
)
async def test_known_difference_backslash_raw_path(live):
    gateway, seen = live
    port = int(gateway.urls["unsanitized"].rsplit(":", 1)[1])
    await ask(port, [("replace.test", "/api\\x")])
    assert seen[-1][1]["x-replaced-path"] == "/api\\x"  # Traefik: URL.RawPath as the client sent it
