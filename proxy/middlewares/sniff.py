"""Content-Type sniffing as Go's http.DetectContentType does it (the WHATWG MIME Sniffing algorithm, on
at most the first 512 bytes), for the contentType middleware, which turns Go's sniffing back on."""

from __future__ import annotations

SNIFF_LEN = 512
_WS = b"\t\n\x0c\r "
_HTML_TAGS = (
    b"<!DOCTYPE HTML",
    b"<HTML",
    b"<HEAD",
    b"<SCRIPT",
    b"<IFRAME",
    b"<H1",
    b"<DIV",
    b"<FONT",
    b"<TABLE",
    b"<A",
    b"<STYLE",
    b"<TITLE",
    b"<B",
    b"<BODY",
    b"<BR",
    b"<P",
    b"<!--",
)
# (pattern, mask or None for an exact prefix, type): tried in order after the HTML and XML signatures.
_MASKED = (
    (b"%PDF-", None, "application/pdf"),
    (b"%!PS-Adobe-", None, "application/postscript"),
    (b"\xfe\xff\x00\x00", b"\xff\xff\x00\x00", "text/plain; charset=utf-16be"),
    (b"\xff\xfe\x00\x00", b"\xff\xff\x00\x00", "text/plain; charset=utf-16le"),
    (b"\xef\xbb\xbf\x00", b"\xff\xff\xff\x00", "text/plain; charset=utf-8"),
    (b"\x00\x00\x01\x00", None, "image/x-icon"),
    (b"\x00\x00\x02\x00", None, "image/x-icon"),
    (b"BM", None, "image/bmp"),
    (b"GIF87a", None, "image/gif"),
    (b"GIF89a", None, "image/gif"),
    (b"RIFF\x00\x00\x00\x00WEBPVP", b"\xff\xff\xff\xff\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff", "image/webp"),
    (b"\x89PNG\r\n\x1a\n", None, "image/png"),
    (b"\xff\xd8\xff", None, "image/jpeg"),
    (b"FORM\x00\x00\x00\x00AIFF", b"\xff\xff\xff\xff\x00\x00\x00\x00\xff\xff\xff\xff", "audio/aiff"),
    (b"ID3", b"\xff\xff\xff", "audio/mpeg"),
    (b"OggS\x00", b"\xff\xff\xff\xff\xff", "application/ogg"),
    (b"MThd\x00\x00\x00\x06", b"\xff\xff\xff\xff\xff\xff\xff\xff", "audio/midi"),
    (b"RIFF\x00\x00\x00\x00AVI ", b"\xff\xff\xff\xff\x00\x00\x00\x00\xff\xff\xff\xff", "video/avi"),
    (b"RIFF\x00\x00\x00\x00WAVE", b"\xff\xff\xff\xff\x00\x00\x00\x00\xff\xff\xff\xff", "audio/wave"),
)
_AFTER_MP4 = (
    (b"\x1aE\xdf\xa3", None, "video/webm"),
    (
        b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00LP",
        b"\x00" * 34 + b"\xff\xff",
        "application/vnd.ms-fontobject",
    ),
    (b"\x00\x01\x00\x00", None, "font/ttf"),
    (b"OTTO", None, "font/otf"),
    (b"ttcf", None, "font/collection"),
    (b"wOFF", None, "font/woff"),
    (b"wOF2", None, "font/woff2"),
    (b"\x1f\x8b\x08", None, "application/x-gzip"),
    (b"PK\x03\x04", None, "application/zip"),
    (b"Rar!\x1a\x07\x00", None, "application/x-rar-compressed"),
    (b"Rar!\x1a\x07\x01\x00", None, "application/x-rar-compressed"),
    (b"\x00asm", None, "application/wasm"),
)
_BINARY = frozenset(list(range(0x00, 0x09)) + [0x0B] + list(range(0x0E, 0x1B)) + list(range(0x1C, 0x20)))


def detect_content_type(data: bytes) -> str:
    data = data[:SNIFF_LEN]
    start = 0
    while start < len(data) and data[start] in _WS:
        start += 1
    rest = data[start:]
    upper = rest[:16].upper()
    for tag in _HTML_TAGS:
        if upper.startswith(tag) and len(rest) > len(tag) and rest[len(tag)] in b" >":
            return "text/html; charset=utf-8"
    if rest.startswith(b"<?xml"):
        return "text/xml; charset=utf-8"
    found = _table(data, _MASKED) or _mp4(data) or _table(data, _AFTER_MP4)
    if found:
        return found
    if any(byte in _BINARY for byte in data):
        return "application/octet-stream"
    return "text/plain; charset=utf-8"


def _table(data: bytes, table: tuple[tuple[bytes, bytes | None, str], ...]) -> str:
    for pattern, mask, kind in table:
        if mask is None:
            if data.startswith(pattern):
                return kind
        elif len(data) >= len(pattern) and all((d & m) == p for d, m, p in zip(data, mask, pattern, strict=False)):
            return kind
    return ""


def _mp4(data: bytes) -> str:
    if len(data) < 12:
        return ""
    box = int.from_bytes(data[:4], "big")
    if box % 4 or len(data) < box or data[4:8] != b"ftyp":
        return ""
    for at in range(8, box, 4):
        if at != 12 and data[at : at + 3] == b"mp4":
            return "video/mp4"
    return ""
