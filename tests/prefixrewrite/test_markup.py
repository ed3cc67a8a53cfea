"""The streaming HTML/CSS rewriter for stripped prefixes (proxy/prefixrewrite/markup.py; ours, issue #14).

Cases are ours (Traefik has no body rewriting); what is rewritten follows nginx's habit for sub_filter users
(absolute paths only) and the HTML spec's tokenizer for where tags, attributes and raw text end. The
property tests feed every document in arbitrary chunks and require the same bytes as in one piece."""

from __future__ import annotations

import zlib

import brotli
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.message import HeaderList
from proxy.prefixrewrite.markup import (
    CARRY_LIMIT,
    DECODE_PIECE,
    CssRewriter,
    HtmlRewriter,
    MarkupFilter,
    _Decoder,
    encode_prefix,
    markup_filter,
    rewrite_css,
    rewrite_html,
)

P = "/api/v1"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param('<a href="/x">', '<a href="/api/v1/x">', id="href double-quoted"),
        pytest.param("<a href='/x'>", "<a href='/api/v1/x'>", id="href single-quoted"),
        pytest.param("<a href=/x>", "<a href=/api/v1/x>", id="href unquoted"),
        pytest.param('<A HREF = "/x">', '<A HREF = "/api/v1/x">', id="case and spaces around ="),
        pytest.param('<a href=" /x">', '<a href=" /api/v1/x">', id="leading whitespace kept"),
        pytest.param('<a href="/">', '<a href="/api/v1/">', id="the root"),
        pytest.param('<a href="/x?a=1&amp;b=2#f">', '<a href="/api/v1/x?a=1&amp;b=2#f">', id="query, entity, fragment"),
        pytest.param('<img src="/i.png" alt="/no">', '<img src="/api/v1/i.png" alt="/no">', id="src, other attrs not"),
        pytest.param(
            '<form action="/p"><button formaction="/q">',
            '<form action="/api/v1/p"><button formaction="/api/v1/q">',
            id="action formaction",
        ),
        pytest.param('<video poster="/p.jpg">', '<video poster="/api/v1/p.jpg">', id="poster"),
        pytest.param('<base href="/">', '<base href="/api/v1/">', id="base href"),
        pytest.param(
            '<link rel="stylesheet" href="/s.css">', '<link rel="stylesheet" href="/api/v1/s.css">', id="link"
        ),
        pytest.param(
            '<svg><use xlink:href="/s.svg#i"/></svg>', '<svg><use xlink:href="/api/v1/s.svg#i"/></svg>', id="xlink:href"
        ),
        pytest.param(
            '<img srcset="/a.png 1x, /b.png 2x,c.png 3x, //cdn/d.png 4x">',
            '<img srcset="/api/v1/a.png 1x, /api/v1/b.png 2x,c.png 3x, //cdn/d.png 4x">',
            id="srcset candidates",
        ),
        pytest.param(
            '<img srcset="/a.png,/b.png">', '<img srcset="/api/v1/a.png,/b.png">', id="srcset: a comma inside a URL"
        ),
        pytest.param(
            '<img srcset="/a.png, /b.png">',
            '<img srcset="/api/v1/a.png, /api/v1/b.png">',
            id="srcset: trailing comma ends",
        ),
        pytest.param(
            '<link rel=preload imagesrcset="/a.png 2x">',
            '<link rel=preload imagesrcset="/api/v1/a.png 2x">',
            id="imagesrcset",
        ),
        pytest.param(
            '<meta http-equiv="refresh" content="0; url=/next">',
            '<meta http-equiv="refresh" content="0; url=/api/v1/next">',
            id="meta refresh",
        ),
        pytest.param(
            "<meta content='5;URL=\"/n\"' http-equiv=Refresh>",
            "<meta content='5;URL=\"/api/v1/n\"' http-equiv=Refresh>",
            id="meta refresh, quoted URL, attribute after",
        ),
        pytest.param('<meta name="x" content="/n">', '<meta name="x" content="/n">', id="meta without refresh: not"),
        pytest.param(
            '<div style="background:url(/b.png)">', '<div style="background:url(/api/v1/b.png)">', id="style attribute"
        ),
        pytest.param(
            '<div style="background:url(&quot;/b.png&quot;)">',
            '<div style="background:url(&quot;/api/v1/b.png&quot;)">',
            id="style attribute, entity quotes",
        ),
        pytest.param("<style>a{b:url(/c.png)}</style>", "<style>a{b:url(/api/v1/c.png)}</style>", id="style block"),
        # Left alone.
        pytest.param('<a href="/api/v1/x">', '<a href="/api/v1/x">', id="already prefixed"),
        pytest.param('<a href="/api/v1">', '<a href="/api/v1">', id="the prefix itself"),
        pytest.param('<a href="/api/v1?x">', '<a href="/api/v1?x">', id="the prefix with a query"),
        pytest.param('<a href="/api/v1x">', '<a href="/api/v1/api/v1x">', id="a sibling of the prefix is not it"),
        pytest.param('<a href="x/y">', '<a href="x/y">', id="relative"),
        pytest.param('<a href="../y">', '<a href="../y">', id="relative up"),
        pytest.param('<a href="//cdn.test/y">', '<a href="//cdn.test/y">', id="protocol-relative"),
        pytest.param('<a href="/\\cdn.test/y">', '<a href="/\\cdn.test/y">', id="slash-backslash (protocol-relative)"),
        pytest.param('<a href="https://other.test/y">', '<a href="https://other.test/y">', id="other origin"),
        pytest.param('<img src="data:image/png;base64,AA/">', '<img src="data:image/png;base64,AA/">', id="data:"),
        pytest.param('<a href="#top">', '<a href="#top">', id="fragment"),
        pytest.param('<a href="">', '<a href="">', id="empty"),
        pytest.param('<a title="/x">/x</a>', '<a title="/x">/x</a>', id="text and other attributes"),
        pytest.param(
            '<script src="/a.js">x = "<a href=\'/no\'>"</script>',
            '<script src="/api/v1/a.js">x = "<a href=\'/no\'>"</script>',
            id="script contents",
        ),
        pytest.param("<!-- <a href='/no'> -->", "<!-- <a href='/no'> -->", id="comment"),
        pytest.param("<!--><a href='/y'>", "<!--><a href='/api/v1/y'>", id="<!--> ends at once"),
        pytest.param("<textarea><a href='/no'></textarea>", "<textarea><a href='/no'></textarea>", id="textarea"),
        pytest.param(
            "<title><a href='/no'></title><a href='/y'>",
            "<title><a href='/no'></title><a href='/api/v1/y'>",
            id="title",
        ),
        pytest.param("<!DOCTYPE html><?xml x='/'?>", "<!DOCTYPE html><?xml x='/'?>", id="declarations"),
        pytest.param('<a title="a > b" href="/x">', '<a title="a > b" href="/api/v1/x">', id="> inside a quoted value"),
        pytest.param("a < b <3 </ x", "a < b <3 </ x", id="stray <"),
        pytest.param('<a href="/x"', '<a href="/x"', id="unfinished tag at the end: through"),
        pytest.param('<p>caf\xe9 <a href="/x">', '<p>caf\xe9 <a href="/api/v1/x">', id="latin-1 byte"),
    ],
)
def test_html(source: str, expected: str) -> None:
    assert rewrite_html(P, source.encode("latin-1")) == expected.encode("latin-1")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("a{b:url(/x.png)}", "a{b:url(/api/v1/x.png)}", id="url unquoted"),
        pytest.param("a{b:url( /x.png )}", "a{b:url( /api/v1/x.png )}", id="url spaces"),
        pytest.param("a{b:url('/x.png')}", "a{b:url('/api/v1/x.png')}", id="url single-quoted"),
        pytest.param('a{b:URL("/x.png")}', 'a{b:URL("/api/v1/x.png")}', id="url double-quoted, upper case"),
        pytest.param("a{b:url(/x?a=1&b=2)}", "a{b:url(/api/v1/x?a=1&b=2)}", id="url with &"),
        pytest.param('@import "/a.css";', '@import "/api/v1/a.css";', id="@import string"),
        pytest.param("@import '/a.css' screen;", "@import '/api/v1/a.css' screen;", id="@import single, media"),
        pytest.param("@import url(/a.css);", "@import url(/api/v1/a.css);", id="@import url"),
        pytest.param(
            "@font-face{src:url(/f.woff2) format('woff2'),url(/f.woff)}",
            "@font-face{src:url(/api/v1/f.woff2) format('woff2'),url(/api/v1/f.woff)}",
            id="font-face list",
        ),
        pytest.param("a{b:url(x.png)}", "a{b:url(x.png)}", id="relative"),
        pytest.param("a{b:url(//cdn/x.png)}", "a{b:url(//cdn/x.png)}", id="protocol-relative"),
        pytest.param("a{b:url(data:image/svg+xml;a/b)}", "a{b:url(data:image/svg+xml;a/b)}", id="data:"),
        pytest.param("a{b:url(/api/v1/x)}", "a{b:url(/api/v1/x)}", id="already prefixed"),
        pytest.param("/* url(/x) @import '/y'; */", "/* url(/x) @import '/y'; */", id="comment"),
        pytest.param("a{content:'url(/x)'}", "a{content:'url(/x)'}", id="a string is not a url()"),
        pytest.param("a{b:url(#f)}", "a{b:url(#f)}", id="fragment (SVG filter)"),
    ],
)
def test_css(source: str, expected: str) -> None:
    assert rewrite_css(P, source.encode()) == expected.encode()


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        pytest.param("/api/v1", b"/api/v1", id="plain"),
        pytest.param("/api/v1/", b"/api/v1", id="trailing slash dropped"),
        pytest.param("api", b"/api", id="leading slash added"),
        pytest.param("/", b"", id="root: nothing to do"),
        pytest.param('/a b"<&', b"/a%20b%22%3C%26", id="unsafe bytes percent-encoded"),
        pytest.param("/caf\xe9", b"/caf%C3%A9", id="non-ASCII as UTF-8 percent-encoded"),
    ],
)
def test_encode_prefix(prefix: str, expected: bytes) -> None:
    assert encode_prefix(prefix) == expected


# -- any chunking gives the same bytes --------------------------------------------------------------------
HTML_PIECES = [
    '<a href="/x">',
    "<a href='/y'>",
    "<a href=/z>",
    "<A HREF = '/w'>",
    '<img srcset="/a.png 1x, /b.png 2x">',
    '<meta http-equiv="refresh" content="0; url=/n">',
    '<base href="/">',
    '<div style="b:url(/s.png)">',
    "<style>a{b:url(/c.png)} @import '/i.css'; /* url(/no) */ s{c:'url(/no)'}</style>",
    "<STYLE>x{y:url( /d )}</STYLE >",
    "<script>var s = '<a href=\"/no\">'; if (a < b) {}</script>",
    "<script src=/j.js></script>",
    "<!-- <a href='/no'> -->",
    "<!-->",
    "<!--->",
    "<!DOCTYPE html>",
    "<?pi x?>",
    "</a>",
    "</p >",
    "<textarea><a href='/no'></textarea>",
    '<a title="x > y" href="/t">',
    "text & more text ",
    "caf\xe9 ",
    "a < b ",
    "<3",
    "<",
    ">",
    "/",
    '"',
    "'",
    "<br/>",
    '<input formaction="/f" value=/no>',
    '<a href="/api/v1/ok">',
    '<a href="//cdn/x">',
    "\n",
    "<title>/t <a href='/no'></title>",
    "<scrip",
    "</scrip",
    "<!-",
    "url(/x)",
]
CSS_PIECES = [
    "a{b:url(/x.png)}",
    "b{c:url('/y')}",
    'c{d:url("/z")}',
    "@import '/i.css';",
    '@import "/j.css" screen;',
    "@import url(/k.css);",
    "/* url(/no) */",
    "e{content:'url(/no)'}",
    "f{g:url( /s )}",
    "u",
    "url",
    "url(",
    "/",
    "*",
    "@",
    "@imp",
    "'",
    '"',
    "\\",
    "\n",
    ")",
    "x{y:url(data:a/b)}",
    "z{w:url(//cdn/q)}",
    " ",
    "{",
    "}",
    ";",
]


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for point in points:
        pieces.append(data[last:point])
        last = point
    pieces.append(data[last:])
    return pieces


def run_html(pieces: list[bytes]) -> bytes:
    rewriter = HtmlRewriter(encode_prefix(P))
    return b"".join(rewriter.feed(piece) for piece in pieces) + rewriter.finish()


def run_css(pieces: list[bytes]) -> bytes:
    rewriter = CssRewriter(HtmlRewriter(encode_prefix(P)).urls)
    return b"".join(rewriter.feed(piece) for piece in pieces) + rewriter.finish()


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(HTML_PIECES), max_size=30), st.lists(st.integers(min_value=0), max_size=12))
def test_html_any_chunking_same_output(pieces: list[str], cuts: list[int]) -> None:
    document = "".join(pieces).encode("latin-1")
    assert run_html(chunked(document, cuts)) == run_html([document])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(CSS_PIECES), max_size=30), st.lists(st.integers(min_value=0), max_size=12))
def test_css_any_chunking_same_output(pieces: list[str], cuts: list[int]) -> None:
    sheet = "".join(pieces).encode()
    assert run_css(chunked(sheet, cuts)) == run_css([sheet])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.lists(st.integers(min_value=0), max_size=8))
def test_html_any_bytes_any_chunking(document: bytes, cuts: list[int]) -> None:
    """Garbage in: never an exception, the same output for any chunking, nothing lost (only inserted)."""
    whole = run_html([document])
    assert run_html(chunked(document, cuts)) == whole
    assert whole.replace(b"/api/v1", b"") == document.replace(b"/api/v1", b"")


PAGE = b"".join(piece.encode("latin-1") for piece in HTML_PIECES)


def test_page_split_at_every_byte() -> None:
    whole = run_html([PAGE])
    assert whole.count(b"/api/v1/") > 15
    for cut in range(len(PAGE) + 1):
        assert run_html([PAGE[:cut], PAGE[cut:]]) == whole, cut
    assert run_html([PAGE[i : i + 1] for i in range(len(PAGE))]) == whole  # one byte at a time


# -- bounded memory ------------------------------------------------------------------------------------------
def test_unfinished_tag_carry_is_bounded() -> None:
    """A tag that never closes (an unclosed quote) is held only up to CARRY_LIMIT, then let through as it is."""
    rewriter = HtmlRewriter(encode_prefix(P))
    out = [rewriter.feed(b'<p>ok</p><a title="never closed ')]
    held = []
    for _ in range(40):
        out.append(rewriter.feed(b"x" * 4096))
        held.append(len(rewriter.carry))
    out.append(rewriter.finish())
    assert max(held) <= CARRY_LIMIT + 4096
    assert sum(map(len, out)) == len(b'<p>ok</p><a title="never closed ') + 40 * 4096  # nothing lost
    assert b"".join(out).startswith(b"<p>ok</p><a title=")


@pytest.mark.parametrize(
    "opening",
    [pytest.param(b"<script>", id="script"), pytest.param(b"<!--", id="comment"), pytest.param(b"<style>", id="style")],
)
def test_long_raw_text_streams(opening: bytes) -> None:
    """A long script, comment or style block flows out as it comes: only a few bytes held back."""
    rewriter = HtmlRewriter(encode_prefix(P))
    rewriter.feed(opening)
    for _ in range(100):
        assert len(rewriter.feed(b"a = 1; /* x */ " * 1000)) >= 14000
        assert len(rewriter.carry) <= 16


# -- the body filter ---------------------------------------------------------------------------------------
class Sink:
    """Collects what a filter pushes toward the client (a test double of the forwarder's stage)."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: HeaderList | None = None
        self.parts: list[bytes] = []
        self.ended = False

    def head(self, status: int, headers: HeaderList) -> None:
        self.status, self.headers = status, headers

    def body(self, data: bytes) -> None:
        assert data, "empty pushes are noise on the wire"
        self.parts.append(data)

    def end(self, trailers: list[tuple[bytes, bytes]]) -> None:
        self.ended = True

    def flush(self) -> None: ...

    async def wait_writable(self) -> None: ...


def headers_of(**pairs: str) -> HeaderList:
    return HeaderList([(name.replace("_", "-"), value) for name, value in pairs.items()])


@pytest.mark.parametrize(
    ("status", "headers", "applies"),
    [
        pytest.param(200, {"Content-Type": "text/html"}, True, id="html"),
        pytest.param(200, {"Content-Type": "text/html; charset=UTF-8"}, True, id="html utf-8"),
        pytest.param(200, {"Content-Type": "text/html; charset=iso-8859-1"}, True, id="html latin-1"),
        pytest.param(200, {"Content-Type": "text/html; charset=windows-1252"}, True, id="html windows-1252"),
        pytest.param(200, {"Content-Type": "TEXT/CSS"}, True, id="css, case"),
        pytest.param(404, {"Content-Type": "text/html"}, True, id="404 page"),
        pytest.param(503, {"Content-Type": "text/html"}, True, id="503 page"),
        pytest.param(200, {"Content-Type": "text/html; charset=utf-16"}, False, id="utf-16: through"),
        pytest.param(200, {"Content-Type": "text/html; charset=shift_jis"}, False, id="shift_jis: through"),
        pytest.param(200, {"Content-Type": "text/html; charset=nonsense"}, False, id="unknown charset: through"),
        pytest.param(200, {"Content-Type": "application/json"}, False, id="json"),
        pytest.param(200, {"Content-Type": "text/htmlx"}, False, id="not quite html"),
        pytest.param(200, {"Content-Type": "application/javascript"}, False, id="javascript"),
        pytest.param(200, {}, False, id="no content type"),
        pytest.param(204, {"Content-Type": "text/html"}, False, id="204"),
        pytest.param(206, {"Content-Type": "text/html"}, False, id="206"),
        pytest.param(302, {"Content-Type": "text/html"}, False, id="302"),
        pytest.param(304, {"Content-Type": "text/html"}, False, id="304"),
        pytest.param(101, {"Content-Type": "text/html"}, False, id="101"),
        pytest.param(200, {"Content-Type": "text/html", "Content-Range": "bytes 0-1/2"}, False, id="a range"),
        pytest.param(200, {"Content-Type": "text/html", "Content-Encoding": "gzip"}, True, id="gzip"),
        pytest.param(200, {"Content-Type": "text/html", "Content-Encoding": "x-gzip"}, True, id="x-gzip"),
        pytest.param(200, {"Content-Type": "text/html", "Content-Encoding": "br"}, True, id="br"),
        pytest.param(200, {"Content-Type": "text/html", "Content-Encoding": "zstd"}, True, id="zstd"),
        pytest.param(200, {"Content-Type": "text/html", "Content-Encoding": "identity"}, True, id="identity"),
        pytest.param(200, {"Content-Type": "text/html", "Content-Encoding": "deflate"}, False, id="deflate: through"),
        pytest.param(200, {"Content-Type": "text/html", "Content-Encoding": "gzip, br"}, False, id="two codings"),
    ],
)
def test_filter_applies(status: int, headers: dict[str, str], applies: bool) -> None:
    assert (markup_filter(P, status, HeaderList(list(headers.items()))) is not None) is applies


def test_filter_root_prefix_does_nothing() -> None:
    assert markup_filter("/", 200, headers_of(Content_Type="text/html")) is None


def run_filter(headers: HeaderList, pieces: list[bytes], status: int = 200) -> tuple[Sink, MarkupFilter]:
    counts: list[int] = []
    found = markup_filter(P, status, headers, report=counts.append)
    assert found is not None
    sink = Sink()
    found.down = sink
    found.head(status, headers)
    for piece in pieces:
        found.body(piece)
    found.end([])
    assert sink.ended and counts == [found.rewritten]
    return sink, found


def test_filter_headers() -> None:
    headers = headers_of(
        Content_Type="text/html",
        Content_Length="12",
        ETag='"abc"',
        Last_Modified="Mon, 07 Dec 2026 00:00:00 GMT",
        Accept_Ranges="bytes",
        Cache_Control="no-cache",
    )
    sink, found = run_filter(headers, [b'<a href="/x">'])
    assert sink.headers is not None
    assert dict(list(sink.headers)) == {"Content-Type": "text/html", "ETag": 'W/"abc"', "Cache-Control": "no-cache"}
    assert b"".join(sink.parts) == b'<a href="/api/v1/x">' and found.rewritten == 1


def test_filter_weak_etag_stays() -> None:
    sink, _ = run_filter(headers_of(Content_Type="text/css", ETag='W/"x"'), [b"a{b:url(/c)}"])
    assert sink.headers is not None and sink.headers.get("etag") == 'W/"x"'
    assert b"".join(sink.parts) == b"a{b:url(/api/v1/c)}"


def compressed(coding: str, data: bytes) -> bytes:
    if coding == "gzip":
        c = zlib.compressobj(9, zlib.DEFLATED, 31)
        return c.compress(data) + c.flush()
    if coding == "br":
        return brotli.compress(data)
    return zstandard.ZstdCompressor().compress(data)


def decompressed(coding: str, data: bytes) -> bytes:
    if coding == "gzip":
        return zlib.decompress(data, 31)
    if coding == "br":
        return brotli.decompress(data)
    return zstandard.ZstdDecompressor().decompressobj().decompress(data)


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_filter_compressed_bodies(coding: str) -> None:
    """Decoded, rewritten and encoded again with the same coding, whatever the read sizes."""
    page = PAGE * 50
    body = compressed(coding, page)
    pieces = [body[i : i + 777] for i in range(0, len(body), 777)]
    sink, found = run_filter(headers_of(Content_Type="text/html", Content_Encoding=coding), pieces)
    assert sink.headers is not None and sink.headers.get("content-encoding") == coding
    assert decompressed(coding, b"".join(sink.parts)) == run_html([page])
    assert found.rewritten == run_html([PAGE]).count(b"/api/v1") * 50 - PAGE.count(b"/api/v1") * 50


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_decoder_pieces_are_bounded(coding: str) -> None:
    """A highly compressible body (a 5-piece run of spaces in a few KiB) comes out in bounded pieces."""
    big = b"<p>" + b" " * (5 * DECODE_PIECE) + b'<a href="/x">'
    body = compressed(coding, big)
    assert len(body) < 64 * 1024
    pieces = list(_Decoder(coding).feed(body))
    assert max(map(len, pieces)) <= DECODE_PIECE and b"".join(pieces) == big


def test_filter_gzip_members() -> None:
    """Two gzip members one after the other (as `cat a.gz b.gz` makes): both decoded."""
    body = compressed("gzip", b'<a href="/a">') + compressed("gzip", b'<a href="/b">')
    sink, found = run_filter(headers_of(Content_Type="text/html", Content_Encoding="gzip"), [body[:30], body[30:]])
    assert decompressed("gzip", b"".join(sink.parts)) == b'<a href="/api/v1/a"><a href="/api/v1/b">'
    assert found.rewritten == 2


def test_filter_corrupt_gzip_ends_cleanly() -> None:
    good = compressed("gzip", b'<a href="/x">' * 100)
    sink, _ = run_filter(
        headers_of(Content_Type="text/html", Content_Encoding="gzip"), [good[:40], b"\x00garbage" * 10]
    )
    assert zlib.decompressobj(31).decompress(b"".join(sink.parts)).startswith(b'<a href="/api/v1/x">')


def test_filter_utf16_bom_passes_through() -> None:
    page = '<a href="/x">'.encode("utf-16")
    sink, found = run_filter(headers_of(Content_Type="text/html"), [page])
    assert b"".join(sink.parts) == page and found.rewritten == 0


def test_filter_empty_body() -> None:
    sink, _ = run_filter(headers_of(Content_Type="text/html", Content_Encoding="gzip"), [])
    assert decompressed("gzip", b"".join(sink.parts)) == b""


@pytest.mark.parametrize("coding", ["", "gzip", "br", "zstd"])
def test_filter_streams(coding: str) -> None:
    """Each upstream read leaves at once (a sync flush of the encoder): nothing waits for the end."""
    headers = headers_of(Content_Type="text/html", **({"Content_Encoding": coding} if coding else {}))
    found = markup_filter(P, 200, headers)
    assert found is not None
    sink = Sink()
    found.down = sink
    found.head(200, headers)
    encoder = {"": None, "gzip": zlib.compressobj(6, zlib.DEFLATED, 31)}.get(coding)
    first = b'<a href="/x">first</a>'
    if coding == "":
        found.body(first)
    elif coding == "gzip":
        assert encoder is not None
        found.body(encoder.compress(first) + encoder.flush(zlib.Z_SYNC_FLUSH))
    elif coding == "br":
        brotli_encoder = brotli.Compressor()
        found.body(brotli_encoder.process(first) + brotli_encoder.flush())
    else:
        zstd_encoder = zstandard.ZstdCompressor().compressobj()
        found.body(zstd_encoder.compress(first) + zstd_encoder.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK))
    sent = b"".join(sink.parts)
    assert sent, "the first read must leave before the end"
    if coding == "gzip":
        assert zlib.decompressobj(31).decompress(sent) == b'<a href="/api/v1/x">first</a>'
    elif coding == "":
        assert sent == b'<a href="/api/v1/x">first</a>'
    found.close()
