"""compress: Traefik v3 `pkg/middlewares/compress` (compress.go, acceptencoding.go, compression_handler.go).

Choosing the encoding (Traefik's code): the request's Accept-Encoding values, split on commas with spaces
removed; names are matched exactly (`GZIP` is unknown), `q=0` or an unparseable q drops an entry, the rest
sort by weight, ties by the configured order with `*` before every encoding and `identity` after. `*`
first gives defaultEncoding (or the first configured encoding); `identity` first, no usable entry or an
empty header: no compression. No Accept-Encoding header: defaultEncoding if set, else no compression. HEAD
requests and requests whose own Content-Type is excluded (`application/grpc` always is) are never touched.

Once an encoding is chosen, `Vary: Accept-Encoding` is added, then Traefik hands over to two different
writers, whose rules we keep:
- gzip goes through klauspost's gzhttp, which looks at Accept-Encoding again on its own: it compresses only
  when the first Accept-Encoding header names `gzip` with q > 0 (so `*` alone, or defaultEncoding gzip
  without a header, gives no compression), honours a `No-Gzip-Compression` response header (removed), drops
  Accept-Ranges, and an unparseable response Content-Type passes its exclude list.
- br and zstd go through Traefik's own writer: an unparseable response Content-Type is never compressed.
Both: no compression when the response already has a Content-Encoding (never twice) or a Content-Range;
includedContentTypes / excludedContentTypes (mutually exclusive) are matched on the response's
Content-Type; a body under minResponseBodyBytes (default 1024) is sent as is. Traefik's proxy flushes a
response of unknown length after every write, which makes both writers start compressing at the first
body bytes whatever their size; we do the same, and decide at the head when Content-Length is known.
Compressed bodies lose Content-Length (chunked) and stream: every upstream read is compressed and flushed
at once (a sync flush), so a slow stream arrives chunk by chunk; memory is the compressor's window.

Differences: Traefik's br/zstd writer would compress a 206 with Content-Range (a TODO in its code); we never
do. gzhttp sniffs a missing response Content-Type to match it against its lists; we match "" (nothing is
excluded by a type the upstream did not send).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

from proxy.message import HeaderList, RequestHead
from proxy.middlewares.base import Middleware
from proxy.middlewares.body import BodyFilter
from proxy.middlewares.mediatype import MediaType, matches, media_type_only, parse_media_type

GZIP, BROTLI, ZSTD, IDENTITY, WILDCARD = "gzip", "br", "zstd", "identity", "*"
SUPPORTED = (GZIP, BROTLI, ZSTD)
DEFAULT_MIN_SIZE = 1024
GZIP_LEVEL, BROTLI_QUALITY, ZSTD_LEVEL = 6, 6, 3  # the Go libraries' defaults
NO_GZIP = "no-gzip-compression"
CHOICE_CACHE = 256  # distinct Accept-Encoding values remembered per middleware


class Compress(Middleware):
    has_request_hook = False
    filters_response = True

    def __init__(
        self,
        excluded_content_types: Sequence[str] = (),
        included_content_types: Sequence[str] = (),
        min_response_body_bytes: int = 0,
        encodings: Sequence[str] = SUPPORTED,
        default_encoding: str = "",
    ) -> None:
        if excluded_content_types and included_content_types:
            raise ValueError("excludedContentTypes and includedContentTypes options are mutually exclusive")
        self.excludes: list[MediaType] = [("application/grpc", {})]
        self.excludes += [_parsed(v, "excluded") for v in excluded_content_types]
        self.includes = [_parsed(v, "included") for v in included_content_types]
        self.request_excludes = frozenset(media for media, _ in self.excludes)
        self.min_size = min_response_body_bytes if min_response_body_bytes > 0 else DEFAULT_MIN_SIZE
        if not encodings:
            raise ValueError("at least one encoding must be specified")
        for encoding in encodings:
            if encoding not in SUPPORTED:
                raise ValueError(f"unsupported encoding: {encoding}")
        if default_encoding and default_encoding not in encodings:
            raise ValueError(f"unsupported default encoding: {default_encoding}")
        self.encodings = tuple(encodings)
        self.default_encoding = default_encoding
        self.priority = {WILDCARD: -1, IDENTITY: len(encodings), **{e: i for i, e in enumerate(encodings)}}
        self._codecs = {encoding: _codec_factory(encoding) for encoding in self.encodings}
        self._chosen: dict[str, str] = {}  # Accept-Encoding value -> choice: clients send few distinct ones

    # -- choosing ------------------------------------------------------------------------------------
    def choose(self, accept_encoding: list[str]) -> str:
        """Traefik's getCompressionEncoding over every Accept-Encoding value: an encoding, `identity`, or ""
        (nothing acceptable)."""
        if len(accept_encoding) == 1 and accept_encoding[0] == "":
            return IDENTITY
        priority = self.priority
        found: list[tuple[float, int, str]] = []
        for line in accept_encoding:
            for item in line.replace(" ", "").split(","):
                name, semi, param = item.partition(";")
                if name not in priority:
                    continue
                weight = 1.0
                if semi and param.startswith("q="):
                    weight = _go_float(param[2:])
                    if weight == 0:
                        continue
                found.append((-weight, priority[name], name))
        if not found:
            return ""
        best = min(found)[2]
        if best == WILDCARD:
            return self.default_encoding or self.encodings[0]
        return best

    def response_filter(self, req: RequestHead, status: int, headers: HeaderList) -> BodyFilter | None:
        if req.method == "HEAD":
            return None
        request_headers = req.headers
        if (
            "content-type" in request_headers.keys
            and media_type_only(request_headers.get("content-type") or "") in self.request_excludes
        ):
            return None
        if "accept-encoding" in request_headers.keys:
            values = request_headers.get_all("accept-encoding")
            if len(values) == 1:
                encoding = self._chosen.get(values[0])
                if encoding is None:
                    if len(self._chosen) >= CHOICE_CACHE:
                        self._chosen.clear()
                    encoding = self._chosen[values[0]] = self.choose(values)
            else:
                encoding = self.choose(values)
        elif self.default_encoding:
            encoding = self.default_encoding
        else:
            return None
        if encoding not in self._codecs:
            return None  # identity, or nothing acceptable
        _add_vary(headers)
        if encoding == GZIP:
            if NO_GZIP in headers.keys:
                headers.remove(NO_GZIP)
                return None
            if _gzip_q(request_headers.get("accept-encoding") or "") <= 0:
                return None  # gzhttp's own look at the header
        if status in (204, 304) or status < 200:
            return None
        if headers.get("content-encoding") or "content-range" in headers.keys:
            return None
        if not self._type_allowed(encoding, headers.get("content-type")):
            return None
        length = headers.get("content-length")
        if length is not None:
            length = length.strip()
            if not length.isdigit() or int(length) < self.min_size:
                return None
            return CompressFilter(encoding, self._codecs[encoding](), start_at_head=True)
        return CompressFilter(encoding, self._codecs[encoding](), start_at_head=False)

    def _type_allowed(self, encoding: str, content_type: str | None) -> bool:
        if not content_type:
            return True
        parsed = parse_media_type(content_type)
        if parsed is None:
            return encoding == GZIP and not self.includes  # gzhttp: an unparseable type passes an exclude list
        media, params = parsed
        if self.includes:
            return any(matches(p, media, params) for p in self.includes)
        return not any(matches(p, media, params) for p in self.excludes)


class CompressFilter(BodyFilter):
    """One compressed response: headers changed when the first bytes (or a known length) say so."""

    __slots__ = ("encoding", "codec", "held", "started")

    def __init__(self, encoding: str, codec: Any, start_at_head: bool) -> None:
        super().__init__()
        self.encoding = encoding
        self.codec = codec
        self.held: tuple[int, HeaderList] | None = None
        self.started = start_at_head

    def head(self, status: int, headers: HeaderList) -> None:
        if self.started:
            self._mark(headers)
            self.down.head(status, headers)
        else:
            self.held = (status, headers)  # length unknown: compress if any byte comes

    def _mark(self, headers: HeaderList) -> None:
        headers.remove("Content-Length")
        headers.set("Content-Encoding", self.encoding)
        if self.encoding == GZIP:
            headers.remove("Accept-Ranges")

    def body(self, data: bytes) -> None:
        if not data:
            return
        if not self.started:
            self.started = True
            status, headers = self.held  # type: ignore[misc]  # head() held it: started is False
            self.held = None
            self._mark(headers)
            self.down.head(status, headers)
        self.down.body(self.codec.push(data))

    def end(self, trailers: list[tuple[bytes, bytes]]) -> None:
        if self.held is not None:  # no body at all: the head goes as it came
            status, headers = self.held
            self.held = None
            self.down.head(status, headers)
        elif self.started:
            self.down.body(self.codec.finish())
        self.codec = None
        self.down.end(trailers)

    def close(self) -> None:
        self.codec = None
        self.held = None


# -- codecs: push(bytes) -> compressed bytes flushed so far; finish() -> the stream's end ------------------
class _Gzip:
    __slots__ = ("c",)

    def __init__(self) -> None:
        self.c = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)

    def push(self, data: bytes) -> bytes:
        return self.c.compress(data) + self.c.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        return self.c.flush()


def _codec_factory(encoding: str) -> Any:
    if encoding == GZIP:
        return _Gzip
    if encoding == BROTLI:
        import brotli

        class _Brotli:
            __slots__ = ("c",)

            def __init__(self) -> None:
                self.c = brotli.Compressor(quality=BROTLI_QUALITY)

            def push(self, data: bytes) -> bytes:
                out: bytes = self.c.process(data) + self.c.flush()  # brotli ships no type hints
                return out

            def finish(self) -> bytes:
                out: bytes = self.c.finish()
                return out

        return _Brotli
    import zstandard

    new_compressor = zstandard.ZstdCompressor
    flush_block = zstandard.COMPRESSOBJ_FLUSH_BLOCK

    class _Zstd:
        __slots__ = ("c",)

        def __init__(self) -> None:
            # A compressor per stream: every compressobj() of one ZstdCompressor works in that compressor's
            # single context, so two answers compressed at once would corrupt each other.
            self.c = new_compressor(level=ZSTD_LEVEL).compressobj()

        def push(self, data: bytes) -> bytes:
            return self.c.compress(data) + self.c.flush(flush_block)

        def finish(self) -> bytes:
            return self.c.flush()

    return _Zstd


# -- helpers ------------------------------------------------------------------------------------------
def _parsed(value: str, which: str) -> MediaType:
    parsed = parse_media_type(value)
    if parsed is None:
        raise ValueError(f"parsing {which} media type: {value!r} is not a media type")
    return parsed


def _go_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def _gzip_q(accept_encoding: str) -> float:
    """gzhttp's q-value of gzip in the first Accept-Encoding header (0 when absent)."""
    for item in accept_encoding.strip().split(","):
        coding, semi, params = item.partition(";")
        if coding.strip().lower() != GZIP:
            continue
        q = 1.0
        for part in params.split(";") if semi else ():
            part = part.strip()
            if part.startswith("q="):
                q = min(max(_go_float(part[2:]), 0.0), 1.0)
        return q
    return 0.0


def _add_vary(headers: HeaderList) -> None:
    """`Vary: Accept-Encoding` first among the Vary values, as Traefik adds it before the upstream's."""
    keys = headers.keys
    if "vary" not in keys:
        headers.add("Vary", "Accept-Encoding")
        return
    at = keys.index("vary")
    items = list(headers.items)
    items.insert(at, ("Vary", "Accept-Encoding"))
    headers.items = items
