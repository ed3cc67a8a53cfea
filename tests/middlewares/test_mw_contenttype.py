"""contentType, from traefik/traefik pkg/middlewares/contenttype/content_type_test.go (auto-detection on with the
middleware, off by default and with the deprecated autoDetect=false), and Go's net/http sniff_test.go table
for what is detected; end to end through a live gateway."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from body_upstream import one_router

from proxy.middlewares.sniff import detect_content_type
from proxy.testing import serve_aiohttp

HTML = b"<html><body>hi</body></html>"


WRITERS: list[asyncio.StreamWriter] = []


async def untyped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Raw answers with no Content-Type (aiohttp's server would add one); the path picks the body."""
    WRITERS.append(writer)
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            query = head.split(b" ", 2)[1].partition(b"?")[2].decode()
            kind = dict(part.split("=") for part in query.split("&") if "=" in part).get("kind", "html")
            body = {"html": HTML, "empty": b"", "png": b"\x89PNG\r\n\x1a\nrest", "gz": gzip.compress(HTML)}[kind]
            extra = b"Content-Encoding: gzip\r\n" if kind == "gz" else b""
            writer.write(b"HTTP/1.1 200 OK\r\n%bContent-Length: %d\r\n\r\n%b" % (extra, len(body), body))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


@pytest.fixture
async def upstream_url() -> AsyncIterator[str]:
    server = await asyncio.start_server(untyped, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    server.close()
    while WRITERS:
        WRITERS.pop().close()
    await asyncio.sleep(0.01)


@pytest.mark.parametrize(
    ("middlewares", "query", "expected"),
    [
        pytest.param({}, "kind=html", None, id="no middleware: Traefik does not sniff"),
        pytest.param(
            {"ct": {"contentType": {}}}, "kind=html", "text/html; charset=utf-8", id="the middleware turns sniffing on"
        ),
        pytest.param({"ct": {"contentType": {"autoDetect": True}}}, "kind=png", "image/png", id="autoDetect true"),
        pytest.param(
            {"ct": {"contentType": {"autoDetect": False}}},
            "kind=html",
            None,
            id="deprecated autoDetect false: nothing happens",
        ),
        pytest.param({"ct": {"contentType": {}}}, "kind=empty", None, id="an empty body is not sniffed"),
        pytest.param({"ct": {"contentType": {}}}, "kind=gz", None, id="not with a Content-Encoding"),
    ],
)
async def test_detection(
    stripproxy: Any, upstream_url: str, middlewares: dict[str, Any], query: str, expected: str | None
) -> None:
    gateway = await stripproxy(one_router(upstream_url, middlewares))
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{gateway.url}/?{query}", headers={"Accept-Encoding": "identity"})
    assert response.headers.get("content-type") == expected


async def test_an_upstream_type_is_kept(stripproxy: Any) -> None:
    async def typed(request: web.BaseRequest) -> web.Response:
        return web.Response(body=HTML, content_type="application/x-mine")

    async with serve_aiohttp(typed) as served:
        gateway = await stripproxy(one_router(served.url, {"ct": {"contentType": {}}}))
        async with httpx.AsyncClient() as client:
            response = await client.get(gateway.url)
    assert response.headers["content-type"] == "application/x-mine" and response.content == HTML


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # Go's net/http sniff_test.go sniffTests
        pytest.param(b"", "text/plain; charset=utf-8", id="Empty"),
        pytest.param(b"\x00\x01\x02", "application/octet-stream", id="Binary"),
        pytest.param(b"\n<html>blah</html>", "text/html; charset=utf-8", id="HTML document #1"),
        pytest.param(b"<HTML></HTML>", "text/html; charset=utf-8", id="HTML document #2"),
        pytest.param(b"   <!DOCTYPE HTML>...", "text/html; charset=utf-8", id="HTML document #3 (leading whitespace)"),
        pytest.param(b"\n<?xml!", "text/xml; charset=utf-8", id="XML"),
        pytest.param(b"\xfe\xff\x00\x00", "text/plain; charset=utf-16be", id="UTF-16 BE BOM"),
        pytest.param(b"\xff\xfe\x00\x00", "text/plain; charset=utf-16le", id="UTF-16 LE BOM"),
        pytest.param(b"\xef\xbb\xbf\x00", "text/plain; charset=utf-8", id="UTF-8 BOM"),
        pytest.param(b"GIF87a", "image/gif", id="GIF 87a"),
        pytest.param(b"GIF89a...", "image/gif", id="GIF 89a"),
        pytest.param(b"RIFF\x00\x00\x00\x00WEBPVP", "image/webp", id="WEBP image"),
        pytest.param(b"\x00\x00\x01\x00", "image/x-icon", id="ICO"),
        pytest.param(b"ID3\x03\x00\x00\x00\x00\x0f", "audio/mpeg", id="MP3 v1 with ID3"),
        pytest.param(b"OggS\x00\x02", "application/ogg", id="OGG"),
        pytest.param(b"\x1aE\xdf\xa3", "video/webm", id="WebM"),
        pytest.param(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom<\x06t\xbfmdat", "video/mp4", id="MP4 video"),
        pytest.param(b"\x1f\x8b\x08", "application/x-gzip", id="gzip"),
        pytest.param(b"PK\x03\x04", "application/zip", id="zip"),
        pytest.param(b"\x00asm\x01\x00", "application/wasm", id="Wasm"),
        pytest.param(b"wOFF\x00\x01\x00\x00", "font/woff", id="woff"),
        pytest.param(b"%PDF-1.7", "application/pdf", id="PDF"),
        pytest.param(b"plain text", "text/plain; charset=utf-8", id="text"),
    ],
)
def test_detect_content_type(data: bytes, expected: str) -> None:
    assert detect_content_type(data) == expected
