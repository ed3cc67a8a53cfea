"""Property tests of the entry point's path normalisation and every path middleware.

Inputs are request-targets built from the pieces path attacks are made of (dot segments, encoded `/`, `\\`,
`.`, `%`, doubled slashes, non-ASCII), put through the entry point first, as a live request would be.

- normalisation (proxy/normalize.py) is idempotent, with sanitizePath on or off;
- stripPrefix / stripPrefixRegex then addPrefix of the same prefix gives the path back (prefix on a
  segment boundary);
- no output escapes its prefix once an upstream cleans it: after strip `/api` + addPrefix `/internal`,
  or replacePathRegex `^/api/(.*)` -> `/internal/$1`, an upstream that cleans dot segments (RFC 3986)
  stays under `/internal`; on a hardened entry point (allowEncodedSlash, allowEncodedBackSlash,
  allowEncodedPercent false) so does an upstream that first decodes everything and takes `\\` for `/`.
  (With Traefik's defaults an upstream that decodes %2F before cleaning can climb: that is why the README's
  Security section says to harden the entry point for such backends.)
- replacePath always sends its configured path and records the one it replaced.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from prop_settings import budget

from proxy.message import HeaderList, Reply, RequestHead
from proxy.middlewares.addprefix import AddPrefix
from proxy.middlewares.replacepath import ReplacePath
from proxy.middlewares.replacepathregex import ReplacePathRegex
from proxy.middlewares.stripprefix import StripPrefix
from proxy.middlewares.stripprefixregex import StripPrefixRegex
from proxy.normalize import BadRequest, PathOptions, denied_encoded_character, parse_target
from proxy.urlpath import clean, join_escaped, unescape

PIECES = [
    "/",
    "/",
    "/",
    "api",
    "x",
    "a.b",
    ".",
    "..",
    "%2e",
    "%2E",
    "%2F",
    "%2f",
    "%5C",
    "%5c",
    "%25",
    "%252F",
    "\\",
    "%41",
    "~",
    "%7E",
    ";",
    "é",
    "%C3%A9",
    "%00",
    "%3F",
    "//",
    "/api",
    "/api/",
    "internal",
]
TARGETS = st.lists(st.sampled_from(PIECES), max_size=10).map(lambda parts: "/" + "".join(parts))
SANITIZED = PathOptions()
UNSANITIZED = PathOptions(sanitize_path=False)
HARDENED = PathOptions(allow_encoded_slash=False, allow_encoded_back_slash=False, allow_encoded_percent=False)


def entry(target: str, options: PathOptions) -> str | None:
    """The path routing and middlewares see, or None when the entry point answers 400."""
    try:
        path, _ = parse_target(target, options)
    except BadRequest:
        return None
    return None if denied_encoded_character(path, options) else path


def run(middleware: object, path: str) -> tuple[str | None, RequestHead]:
    """(path after the middleware, or None for a Reply; the request)."""
    req = RequestHead(method="GET", path=path, query=None, headers=HeaderList())
    reply = middleware.on_request(req)
    assert reply is None or isinstance(reply, Reply)
    if reply is not None:
        assert reply.status == 400, (path, reply.status)
        return None, req
    return req.path, req


def under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def decoded_clean(path: str) -> str:
    """What a sloppy upstream routes on: everything decoded, `\\` taken for `/`, then dot segments cleaned."""
    text = path
    for _ in range(3):  # double encodings too
        try:
            text = unescape(text)
        except ValueError:
            break
    return clean(text.replace("\\", "/"))


@budget(300)
@given(target=TARGETS, query=st.none() | st.sampled_from(["", "a=1", "a;b", "%zz"]))
def test_normalisation_is_idempotent(target: str, query: str | None) -> None:
    raw = target if query is None else f"{target}?{query}"
    for options in (SANITIZED, UNSANITIZED):
        try:
            path, q = parse_target(raw, options)
        except BadRequest:
            continue
        again = path if q is None else f"{path}?{q}"
        assert parse_target(again, options) == (path, q), (raw, options.sanitize_path)
        if options.sanitize_path:
            assert join_escaped(path) == path or path == "/", raw


@budget(300)
@given(target=TARGETS)
def test_strip_then_add_gives_the_path_back(target: str) -> None:
    path = entry(target, SANITIZED)
    if path is None:
        return
    for strip in (StripPrefix(["/api"]), StripPrefixRegex(["^/api"])):
        stripped, req = run(strip, path)
        if stripped is None or stripped == path:
            continue  # refused (400), or the prefix did not match
        if not (path == "/api" or path.startswith("/api/")):
            continue  # a prefix inside a segment (`/apix` -> `/x`) cannot be added back as it was
        assert req.headers.get_all("X-Forwarded-Prefix") == ["/api"]
        added, _ = run(AddPrefix("/api"), stripped)
        assert added == path, (target, path, stripped)


@budget(300)
@given(target=TARGETS)
def test_no_output_climbs_out_of_its_prefix(target: str) -> None:
    chains = {
        "strip+add": [StripPrefix(["/api"]), AddPrefix("/internal")],
        "stripregex+add": [StripPrefixRegex(["^/api"]), AddPrefix("/internal")],
        "replaceregex": [ReplacePathRegex("^/api/(.*)", "/internal/$1")],
        "add": [AddPrefix("/internal")],
    }
    for options, sloppy in ((SANITIZED, False), (HARDENED, True)):
        path = entry(target, options)
        if path is None:
            continue
        for name, chain in chains.items():
            out: str | None = path
            for middleware in chain:
                assert out is not None
                out, _ = run(middleware, out)
                if out is None:
                    break
            if out is None or out == path:
                continue  # refused, or not rewritten (no match)
            out = out or "/"
            assert under(join_escaped(out), "/internal"), (name, target, path, out)
            if sloppy:
                assert under(decoded_clean(out), "/internal"), (name, target, path, out)


@budget(200)
@given(target=TARGETS)
def test_replace_path_sends_its_path_and_records_the_old_one(target: str) -> None:
    path = entry(target, SANITIZED)
    if path is None:
        return
    out, req = run(ReplacePath("/fixed%2Fx"), path)
    assert out == "/fixed%2Fx"
    assert req.headers.get_all("X-Replaced-Path") == [path]


def test_the_default_entry_point_lets_a_decoding_upstream_climb() -> None:
    """Why the hardened entry point is needed for such backends (and proof the property above can fail)."""
    path = entry("/api/..%2Fadmin", SANITIZED)
    assert path == "/api/..%2Fadmin"
    out, _ = run(StripPrefix(["/api"]), path)
    out, _ = run(AddPrefix("/internal"), out or "")
    assert out == "/internal/..%2Fadmin"
    assert under(join_escaped(out), "/internal")
    assert not under(decoded_clean(out), "/internal")
    assert entry("/api/..%2Fadmin", HARDENED) is None
