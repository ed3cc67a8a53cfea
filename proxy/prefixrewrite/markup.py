"""Streaming HTML and CSS rewriting for apps behind a stripped prefix (ours, not Traefik's: issue #14).

An app served at `/api/v1` through stripPrefix writes its pages as if it lived at `/`: `href="/static/app.css"`.
`HtmlRewriter` and `CssRewriter` put the prefix back on such absolute paths while the body streams through:
`feed(chunk)` returns what can be let out now, `finish()` the rest. Any chunking of a document gives the same
output as the whole document in one piece (the property tests check it).

What is rewritten (a URL that starts with one `/`, not already carrying the prefix):
- HTML attributes `href` (every element, so `<base href>`, `<link>`, SVG's `<use href>`; also `xlink:href`),
  `src`, `action`, `formaction`, `poster`, `srcset` and `imagesrcset` (each URL of the candidate list),
  `content` of `<meta http-equiv="refresh" content="0; url=/x">`, and `url(...)` inside `style="..."`;
- CSS (a text/css body, a `<style>` block, a style attribute): `url(/x)`, `url('/x')`, `url("/x")` and
  `@import "/x"`.
Left alone: relative URLs (`app.css`, `../x`: they follow the page), protocol-relative `//host/x` (and `/\\x`,
which browsers read the same way), other schemes and origins (`https://...`, `data:`, `mailto:`), fragments
and queries alone (`#top`, `?page=2`), paths already under the prefix (`/api/v1`, `/api/v1/x`, `/api/v1?q`),
the contents of `<script>`, `<textarea>`, `<title>` and the other raw-text elements, HTML comments, CSS
comments, and CSS strings that are not an `@import`. Character references inside a URL are kept as they are
(`&amp;` stays); a URL written with a character reference for its first `/` (`&#47;x`) is not seen.

Why a hand tokenizer and not the stdlib's `html.parser`: HTMLParser is incremental, but it reports parsed
tags and unescaped text, not the bytes it read, so writing the page back unchanged except for the URLs means
rebuilding every tag (quoting and case changes) or tracking offsets it does not give; and even with handlers
that do nothing it ran slower than this module in every measured run but one (`benchmarks/bench_markup.py`
prints both; figures in the README). This tokenizer only
needs what decides where a tag starts and ends: it works on the bytes (for UTF-8, ASCII and the ISO-8859 /
windows-125x family every byte that matters here is ASCII, and no byte of a multi-byte UTF-8 character is), so
nothing is decoded.

Bounded memory: what is kept between two chunks is only an unfinished construct: a tag, `url(`, `@import`, the
few bytes that may start `-->`, `*/` or `</script`. A tag or CSS token still unfinished after `CARRY_LIMIT`
bytes is let through unchanged (browsers would read such a page oddly anyway), so no body is ever held whole.
"""

from __future__ import annotations

import codecs
import re
import zlib
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

from proxy.message import HeaderList
from proxy.middlewares.body import BodyFilter
from proxy.middlewares.compress import _codec_factory
from proxy.middlewares.mediatype import parse_media_type

CARRY_LIMIT = 64 * 1024

# -- URLs ------------------------------------------------------------------------------------------------
_SAFE_PATH = "/._~!$*+,;=:@%-"  # kept as is in the prefix; anything else is percent-encoded, so the prefix
# is safe in any HTML attribute (quoted or not) and in CSS, quoted or not.


def encode_prefix(prefix: str) -> bytes:
    """The prefix as it is inserted: one leading slash, no trailing one, percent-encoded to ASCII."""
    text = "/" + prefix.strip("/")
    return quote(text, safe=_SAFE_PATH).encode("ascii") if text != "/" else b""


class _Urls:
    """Prefixing one URL, shared by the HTML and CSS rewriters."""

    __slots__ = ("prefix", "count")

    def __init__(self, prefix: bytes) -> None:
        self.prefix = prefix
        self.count = 0  # URLs rewritten so far

    def fix(self, value: bytes) -> bytes | None:
        """`value` with the prefix added, or None when it stays as it is (leading whitespace kept)."""
        stripped = value.lstrip(b" \t\n\r\f")
        if stripped[:1] != b"/" or stripped[1:2] in (b"/", b"\\"):
            return None
        prefix = self.prefix
        if stripped.startswith(prefix) and stripped[len(prefix) : len(prefix) + 1] in (b"", b"/", b"?", b"#"):
            return None
        self.count += 1
        lead = len(value) - len(stripped)
        return value[:lead] + prefix + stripped


# -- CSS -------------------------------------------------------------------------------------------------
# One scanner over CSS: a comment, an @import with a string, url( with its argument, or a string. A construct
# that reaches the end of the buffer unfinished matches its `\Z` alternative and is carried to the next chunk.
_CSS_TOKEN = re.compile(
    rb"""
    (?=[/@"'u\\])  # only where a token can start: the engine skips the rest fast (4x the speed)
    (?:
    /\*(?:.*?\*/|.*\Z)                                                 # comment (group none)
  | (@import[\t\n\f\r ]*+)("(?:[^"\\\n]|\\.)*+"|'(?:[^'\\\n]|\\.)*+')   # 1, 2: @import "..."
  | (@import[\t\n\f\r ]*+(?:["'](?:[^"'\\\n]|\\.)*+\\?)?\Z)                # 3: @import unfinished
  | (url\([\t\n\f\r ]*+)                                               # 4: url(
      (?:("[^"\\\n]*+"|'[^'\\\n]*+'|&quot;(?:(?!&quot;)[^"\\\n])*&quot;|&\#39;(?:(?!&\#39;)[^'\\\n])*&\#39;)  # 5
        |([^"'()\t\n\f\r \\]*+)(?=[\t\n\f\r ]*+\)))                          # 6: unquoted
  | (url\([^)]*+\Z)                                                   # 7: url( unfinished
  | "(?:[^"\\\n]|\\.)*+(?:"|\\?\Z) | '(?:[^'\\\n]|\\.)*+(?:'|\\?\Z)  # other strings
  | (/|@[a-zA-Z]{0,6}|(?:u|ur|url)|\\)\Z                               # 8: a token's first bytes at the end
    )
    """,
    re.VERBOSE | re.DOTALL | re.IGNORECASE,
)
_QUOTES = (b"&quot;", b"&#39;")


class CssRewriter:
    """url() and @import in a CSS stream (a text/css body, a `<style>` block's contents)."""

    __slots__ = ("urls", "carry")

    def __init__(self, urls: _Urls) -> None:
        self.urls = urls
        self.carry = b""

    def feed(self, data: bytes) -> bytes:
        if self.carry:
            data = self.carry + data
            self.carry = b""
        return self._run(data, final=False)

    def finish(self) -> bytes:
        data, self.carry = self.carry, b""
        return self._run(data, final=True) if data else b""

    def rewrite_all(self, data: bytes) -> bytes:
        """A complete piece of CSS (a style attribute's value)."""
        return self._run(data, final=True)

    def _run(self, data: bytes, final: bool) -> bytes:
        out: list[bytes] = []
        pos = 0
        fix = self.urls.fix
        for match in _CSS_TOKEN.finditer(data):
            start, end = match.span()
            if end == len(data) and not final and _unfinished(match):
                if end - start <= CARRY_LIMIT:
                    out.append(data[pos:start])
                    self.carry = data[start:]
                    return b"".join(out)
                continue  # too long: through unchanged
            if match.group(2) is not None:
                literal = match.group(2)
                fixed = fix(literal[1:-1])
                if fixed is not None:
                    out.append(data[pos : match.start(2) + 1])
                    out.append(fixed)
                    pos = match.end(2) - 1
            elif match.group(5) is not None:
                literal = match.group(5)
                width = 1 if literal[:1] in (b'"', b"'") else (6 if literal[:6].lower() == b"&quot;" else 5)
                fixed = fix(literal[width:-width])
                if fixed is not None:
                    out.append(data[pos : match.start(5) + width])
                    out.append(fixed)
                    pos = match.end(5) - width
            elif match.group(6) is not None:
                fixed = fix(match.group(6))
                if fixed is not None:
                    out.append(data[pos : match.start(6)])
                    out.append(fixed)
                    pos = match.end(6)
        out.append(data[pos:])
        return b"".join(out)


def _unfinished(match: re.Match[bytes]) -> bool:
    """A match ending at the buffer's end that may continue in the next chunk."""
    text = match.group(0)
    if match.group(3) is not None or match.group(7) is not None or match.group(8) is not None:
        return True
    if text.startswith(b"/*"):
        return not text.endswith(b"*/") or len(text) < 4
    if text[:1] in (b'"', b"'"):
        return len(text) < 2 or text[-1:] != text[:1] or text.endswith(b"\\" + text[:1])
    return False  # url(...) matched whole: its `)` was seen (or its quoted string is complete)


# -- HTML ------------------------------------------------------------------------------------------------
_WS = rb"\t\n\f\r "
# A start or end tag, attributes parsed as the HTML tokenizer does (a value is quoted, or unquoted up to
# whitespace or `>`; an unquoted value never starts with a quote). Possessive: no backtracking on long input.
_ATTRS = (
    rb"(?:[\t\n\f\r /]*+[^\t\n\f\r />][^\t\n\f\r /=>]*+"
    rb"(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+(?:\"[^\"]*+\"|'[^']*+'|(?![\"'])[^\t\n\f\r >]*+)|(?![\t\n\f\r ]*+=)))*+"
)  # a name followed by `=` has a value: a quote still open fails the tag (it may close in the next chunk)
# The next thing in text that matters (lastindex tells which): 3 a whole tag (1 `/` of an end tag, 2 name,
# 3 attributes), 4 `<!--`, 5 `<!` or `<!-` at the end, 6 a tag unfinished (at the buffer's end or never),
# 7 `<!`, `<?`, `</` not before a letter (up to `>`), 8 `<` at the end. Any other `<` is text.
_MARKUP = re.compile(
    rb"<(?:(/?)([A-Za-z][^\t\n\f\r />]*+)(" + _ATTRS + rb")[\t\n\f\r /]*+>|(!--)|(!-?\Z)|(/?[A-Za-z])|([!?/])|(\Z))"
)
_ATTR = re.compile(
    rb"([^\t\n\f\r />][^\t\n\f\r /=>]*+)(?:([\t\n\f\r ]*+=[\t\n\f\r ]*+)"
    rb"(\"[^\"]*+\"|'[^']*+'|(?![\"'])[^\t\n\f\r >]*+))?"
)
_INTERESTING = re.compile(rb"(?:href|src|action|poster|srcset|style|content)[\t\n\f\r ]*+=", re.IGNORECASE)
_URL_ATTRS = frozenset((b"href", b"src", b"action", b"formaction", b"poster", b"xlink:href"))
_SRCSET_ATTRS = frozenset((b"srcset", b"imagesrcset"))
# Elements whose contents are not markup: passed through untouched up to their end tag.
_RAW = frozenset((b"script", b"textarea", b"title", b"xmp", b"noembed", b"noframes", b"iframe"))
_RAW_END = {name: re.compile(rb"</" + name + rb"[\t\n\f\r />]", re.IGNORECASE) for name in _RAW | {b"style"}}
_RAW_FIRST = frozenset(b"stxniSTXNI")
_COMMENT_END = b"-->"
_SRCSET_URL = re.compile(rb"[\t\n\f\r ,]*+([^\t\n\f\r ]*+)")
_SRCSET_DESCRIPTORS = re.compile(rb"[^,]*+")
_REFRESH_URL = re.compile(
    rb"^([\t\n\f\r ]*[0-9.]*[\t\n\f\r ]*[;,]?[\t\n\f\r ]*(?:url[\t\n\f\r ]*=[\t\n\f\r ]*)?)(['\"]?)(.*)$",
    re.IGNORECASE | re.DOTALL,
)

TEXT, COMMENT, RAW, STYLE = 0, 1, 2, 3


class HtmlRewriter:
    """An HTML stream: feed(chunk) -> bytes to let out now; finish() -> the rest."""

    __slots__ = ("urls", "css", "carry", "state", "raw_end", "raw_name")

    def __init__(self, prefix: bytes) -> None:
        self.urls = _Urls(prefix)
        self.css = CssRewriter(self.urls)
        self.carry = b""
        self.state = TEXT
        self.raw_end: re.Pattern[bytes] | None = None
        self.raw_name = b""

    @property
    def count(self) -> int:
        return self.urls.count

    def feed(self, data: bytes) -> bytes:
        if self.carry:
            data = self.carry + data
            self.carry = b""
        return self._run(data, final=False)

    def finish(self) -> bytes:
        data, self.carry = self.carry, b""
        out = self._run(data, final=True) if data else b""
        if self.state == STYLE:
            out += self.css.finish()
        return out

    def _run(self, data: bytes, final: bool) -> bytes:
        out: list[bytes] = []
        pos = 0  # data[:pos] is in `out`
        scan = 0  # where to look next
        size = len(data)
        while scan < size:
            state = self.state
            if state == TEXT:
                # Text and tags needing nothing stay in data[pos:...] and leave in one slice.
                for match in _MARKUP.finditer(data, scan):
                    kind = match.lastindex
                    if kind == 3:  # a whole tag
                        if match.end() - match.start() > CARRY_LIMIT:  # as if unfinished, whatever the chunks
                            scan = match.start() + CARRY_LIMIT
                            break
                        name = match.group(2)
                        if match.group(1):
                            continue  # an end tag
                        attrs = match.group(3)
                        if attrs and _INTERESTING.search(attrs) is not None:
                            fixed = self._tag(name, attrs)
                            if fixed is not None:
                                out.append(data[pos : match.start(3)])
                                out.append(fixed)
                                pos = match.end(3)
                        if name[0] in _RAW_FIRST:
                            lowered = name.lower()
                            if lowered in _RAW_END:
                                self.state = STYLE if lowered == b"style" else RAW
                                self.raw_end = _RAW_END[lowered]
                                self.raw_name = lowered
                                scan = match.end()
                                break
                    elif kind == 4:  # `<!--`: `-->` is looked for from the dashes, so `<!-->` ends at once
                        self.state = COMMENT
                        scan = match.start() + 2
                        break
                    else:
                        start = match.start()
                        if kind == 7:  # `<!`, `<?`, `</` + not a letter: up to the next `>`
                            gt = data.find(b">", start, start + CARRY_LIMIT)
                            if gt >= 0:
                                scan = gt + 1
                                break
                        elif kind not in (5, 6, 8):
                            continue
                        # Unfinished at the buffer's end: wait for more, unless too long or the end.
                        if not final and size - start <= CARRY_LIMIT:
                            out.append(data[pos:start])
                            self.carry = data[start:]
                            return b"".join(out)
                        if kind == 6 or kind == 7:  # never finishes: its window goes through as text
                            scan = min(size, start + CARRY_LIMIT)
                            break
                else:
                    scan = size
            elif state == COMMENT:
                end = data.find(_COMMENT_END, scan)
                if end < 0:
                    keep = 0 if final else min(2, size - scan)
                    out.append(data[pos : size - keep])
                    self.carry = data[size - keep :]
                    return b"".join(out)
                scan = end + 3
                self.state = TEXT
            else:  # RAW or STYLE: up to the end tag
                found = self.raw_end.search(data, scan)  # type: ignore[union-attr]  # set with the RAW/STYLE state
                stop = found.start() if found is not None else size
                if found is None and not final:
                    stop = max(scan, size - len(self.raw_name) - 2)  # `</style` may be cut
                if state == STYLE:
                    out.append(data[pos:scan])
                    out.append(self.css.feed(data[scan:stop]))
                    if found is not None:
                        out.append(self.css.finish())
                    pos = stop
                if found is None:
                    out.append(data[pos:stop])
                    self.carry = data[stop:]
                    return b"".join(out)
                scan = stop
                self.state = TEXT
        out.append(data[pos:])
        return b"".join(out)

    def _tag(self, name: bytes, attrs: bytes) -> bytes | None:
        """The attributes with their URLs rewritten, or None when none is."""
        fix = self.urls.fix
        out: list[bytes] = []
        pos = 0
        refresh = name.lower() == b"meta" and _is_refresh(attrs)
        for attr in _ATTR.finditer(attrs):
            quoted = attr.group(3)
            if quoted is None:
                continue
            key = attr.group(1).lower()
            q = 1 if quoted[:1] in (b'"', b"'") else 0
            value = quoted[q : len(quoted) - q]
            if key in _URL_ATTRS:
                fixed = fix(value)
            elif key in _SRCSET_ATTRS:
                fixed = self._srcset(value)
            elif key == b"style":
                fixed = self.css.rewrite_all(value) if b"url" in value.lower() else None
                if fixed == value:
                    fixed = None
            elif key == b"content" and refresh:
                fixed = self._refresh(value)
            else:
                continue
            if fixed is None:
                continue
            start = attr.start(3) + q
            out.append(attrs[pos:start])
            out.append(fixed)
            pos = attr.end(3) - q
        if not out:
            return None
        out.append(attrs[pos:])
        return b"".join(out)

    def _srcset(self, value: bytes) -> bytes | None:
        """Each candidate's URL: up to whitespace, trailing commas ending the candidate (the HTML spec's
        srcset parsing), then descriptors up to the next comma."""
        fix = self.urls.fix
        out: list[bytes] = []
        pos, size, changed = 0, len(value), False
        while pos < size:
            item = _SRCSET_URL.match(value, pos)
            assert item is not None  # both parts may be empty
            url = item.group(1).rstrip(b",")
            out.append(value[pos : item.start(1)])
            fixed = fix(url) if url else None
            if fixed is not None:
                changed = True
                out.append(fixed)
            else:
                out.append(url)
            out.append(item.group(1)[len(url) :])
            pos = item.end()
            if pos == item.start(1) + len(url):  # no trailing comma: descriptors follow
                descriptors = _SRCSET_DESCRIPTORS.match(value, pos)
                assert descriptors is not None
                out.append(descriptors.group(0))
                pos = descriptors.end()
            if item.end() == item.start() and pos == item.end():
                break
        return b"".join(out) + value[pos:] if changed else None

    def _refresh(self, value: bytes) -> bytes | None:
        match = _REFRESH_URL.match(value)
        if match is None or not match.group(3):
            return None
        fixed = self.urls.fix(match.group(3))
        return None if fixed is None else match.group(1) + match.group(2) + fixed


def _is_refresh(attrs: bytes) -> bool:
    for attr in _ATTR.finditer(attrs):
        if attr.group(1).lower() == b"http-equiv" and attr.group(3) is not None:
            value = attr.group(3).strip(b"\"'").strip().lower()
            return value == b"refresh"
    return False


def rewrite_html(prefix: str, document: bytes) -> bytes:
    """A whole document at once (tests, tools)."""
    rewriter = HtmlRewriter(encode_prefix(prefix))
    return rewriter.feed(document) + rewriter.finish()


def rewrite_css(prefix: str, sheet: bytes) -> bytes:
    rewriter = CssRewriter(_Urls(encode_prefix(prefix)))
    return rewriter.feed(sheet) + rewriter.finish()


# -- the body filter -------------------------------------------------------------------------------------
# Charsets in which every byte below 0x80 is ASCII and no multi-byte character contains one (Python's
# canonical codec names): the rewriter works on their bytes as they are. Any other charset passes through.
_ASCII_COMPATIBLE = frozenset(
    ["utf-8", "ascii"]
    + [f"iso8859-{n}" for n in range(1, 17) if n != 12]
    + [f"cp125{n}" for n in range(9)]
    + ["koi8-r", "koi8-u", "mac-roman"]
)
_CODINGS = ("gzip", "br", "zstd")
DECODE_PIECE = 256 * 1024  # most decoded bytes handled at once (a compressed read can inflate 1000-fold)
_DROPPED = frozenset(("content-length", "accept-ranges", "last-modified", "content-md5", "content-digest"))


def _charset_ok(charset: str | None) -> bool:
    if charset is None:
        return True  # HTML's default is windows-1252 or UTF-8 (or a BOM, checked on the first bytes)
    try:
        return codecs.lookup(charset).name in _ASCII_COMPATIBLE
    except LookupError:
        return False


def might_rewrite(status: int, content_type: str | None) -> bool:
    """The cheap part of markup_filter's test (status and Content-Type's start): False means it would return
    None. prefixRewrite's `body_probe`, so a JSON answer takes the forwarder's plain path."""
    if status < 200 or 300 <= status < 400 or status in (204, 206):
        return False
    if not content_type:
        return False
    return content_type[0] in "tT"


def markup_filter(
    prefix: str, status: int, headers: HeaderList, report: Callable[[int], None] | None = None
) -> MarkupFilter | None:
    """A filter putting `prefix` back on the absolute paths of this response's HTML or CSS body, or None to
    let it pass untouched: only a 2xx (not 204 or 206), 4xx or 5xx answer whose Content-Type is text/html or
    text/css in an ASCII-compatible charset, identity or gzip/br/zstd encoded (decoded, rewritten, encoded
    again with the same coding). `report(count)` is called at the end with the number of URLs rewritten.
    HEAD requests are the caller's to skip (no body to rewrite)."""
    if status < 200 or 300 <= status < 400 or status in (204, 206):
        return None
    content_type = headers.get("content-type")
    if not content_type or content_type[0] not in "tT":
        return None  # the cheap test first: JSON and images pay only this
    kind = content_type[:9].lower()
    if not (kind.startswith("text/html") or kind.startswith("text/css")):
        return None
    parsed = parse_media_type(content_type)
    if parsed is None or parsed[0] not in ("text/html", "text/css") or not _charset_ok(parsed[1].get("charset")):
        return None
    encoded = prefix_bytes(prefix)
    if not encoded or "content-range" in headers.keys:
        return None
    coding = (headers.get("content-encoding") or "").strip().lower()
    if coding in ("", "identity"):
        coding = ""
    elif coding == "x-gzip":
        coding = "gzip"
    elif coding not in _CODINGS:
        return None  # deflate, compress, several codings: passed through as they are
    return MarkupFilter(encoded, parsed[0] == "text/html", coding, report)


def prefix_bytes(prefix: str) -> bytes:
    return encode_prefix(prefix)


class MarkupFilter(BodyFilter):
    """One HTML or CSS response rewritten while it streams."""

    __slots__ = ("rewriter", "coding", "decoder", "encoder", "first", "report", "failed")

    def __init__(self, prefix: bytes, html: bool, coding: str, report: Callable[[int], None] | None) -> None:
        super().__init__()
        self.rewriter: HtmlRewriter | CssRewriter | None = HtmlRewriter(prefix) if html else CssRewriter(_Urls(prefix))
        self.coding = coding
        self.decoder: _Decoder | None = _Decoder(coding) if coding else None
        self.encoder: Any = _codec_factory(coding)() if coding else None
        self.first = True
        self.report = report
        self.failed = False

    @property
    def rewritten(self) -> int:
        rewriter = self.rewriter
        return rewriter.urls.count if rewriter is not None else 0

    def head(self, status: int, headers: HeaderList) -> None:
        headers.remove_many(_DROPPED)  # the length changes; ranges and digests of the upstream's bytes no longer hold
        etag = headers.get("etag")
        if etag is not None and not etag.lstrip().startswith("W/"):
            headers.set("ETag", "W/" + etag.strip())  # as nginx's sub_filter: the same content, not the same bytes
        self.down.head(status, headers)

    def body(self, data: bytes) -> None:
        if not data or self.failed:
            return
        decoder = self.decoder
        if decoder is None:
            self._push(data)
            return
        try:
            for piece in decoder.feed(data):
                self._push(piece)
        except Exception:  # a corrupt upstream stream: what was decoded is sent, encoded, the rest dropped
            self.failed = True

    def _push(self, data: bytes) -> None:
        if self.first:
            self.first = False
            if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 by its BOM: not ours to read
                self.rewriter = None
        rewriter = self.rewriter
        out = rewriter.feed(data) if rewriter is not None else data
        if self.encoder is not None:
            out = self.encoder.push(out) if out else b""
        if out:
            self.down.body(out)

    def end(self, trailers: list[tuple[bytes, bytes]]) -> None:
        if not self.failed and self.decoder is not None:
            try:
                for piece in self.decoder.finish():
                    self._push(piece)
            except Exception:
                self.failed = True
        rewriter = self.rewriter
        out = rewriter.finish() if rewriter is not None else b""
        if self.encoder is not None:
            out = (self.encoder.push(out) if out else b"") + self.encoder.finish()
        if out:
            self.down.body(out)
        self.encoder = self.decoder = None
        if self.report is not None:
            self.report(self.rewritten)
        self.down.end(trailers)

    def close(self) -> None:
        self.encoder = self.decoder = self.rewriter = None


class _Decoder:
    """gzip (several members too), br or zstd, decoded in pieces of at most DECODE_PIECE bytes."""

    __slots__ = ("coding", "d")

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self.d: Any = self._new()

    def _new(self) -> Any:
        if self.coding == "gzip":
            return zlib.decompressobj(31)
        if self.coding == "br":
            import brotli

            return brotli.Decompressor()
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj(read_across_frames=True)

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self.coding == "gzip":
            while data:
                d = self.d
                out = d.decompress(data, DECODE_PIECE)
                if out:
                    yield out
                data = d.unconsumed_tail
                if d.eof:
                    data = d.unused_data
                    if data:
                        self.d = self._new()  # the next gzip member
        elif self.coding == "br":
            d = self.d
            out = d.process(data, output_buffer_limit=DECODE_PIECE)
            while True:
                for start in range(0, len(out), DECODE_PIECE):  # the limit stops growth, a step past it
                    yield out[start : start + DECODE_PIECE]
                if not out or d.is_finished():
                    break  # (can_accept_more_data() says True while output is still pending)
                out = d.process(b"", output_buffer_limit=DECODE_PIECE)
        else:
            out = self.d.decompress(data)  # zstandard: one read's output at once (a bounded frame window)
            for start in range(0, len(out), DECODE_PIECE):
                yield out[start : start + DECODE_PIECE]

    def finish(self) -> Iterator[bytes]:
        if self.coding == "gzip":
            out = self.d.flush()
            if out:
                yield out
