"""compress, from traefik/traefik pkg/middlewares/compress/{acceptencoding,compress}_test.go, end to end through
a live gateway (aiohttp, httpx, curl --compressed), with streaming and hostile upstreams."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import zlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import brotli
import httpx
import pytest
import zstandard
from aiohttp import web
from body_upstream import answer, body_of, one_router

from proxy.middlewares.compress import Compress
from proxy.testing import serve_aiohttp


def decode(encoding: str | None, data: bytes) -> bytes:
    if encoding == "gzip":
        return zlib.decompress(data, 31)
    if encoding == "br":
        return brotli.decompress(data)
    if encoding == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


@pytest.fixture
async def upstream_url() -> AsyncIterator[str]:
    async with serve_aiohttp(answer) as served:
        yield served.url


async def gateway_for(stripproxy: Any, upstream_url: str, **options: Any) -> Any:
    return await stripproxy(one_router(upstream_url, {"c": {"compress": options}}))


async def fetch(
    url: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, aiohttp.typedefs.CIMultiDictProxy[str], bytes]:
    """A raw fetch: no Accept-Encoding unless given, the body as it came (not decompressed)."""
    async with aiohttp.ClientSession(auto_decompress=False, skip_auto_headers=["Accept-Encoding"]) as session:
        async with session.request(method, url, headers=headers or {}) as response:
            return response.status, response.headers, await response.read()


# -- choosing the encoding: Test_getCompressionEncoding ---------------------------------------------------
@pytest.mark.parametrize(
    ("accept", "default", "encodings", "expected"),
    [
        pytest.param([""], "", None, "identity", id="Empty Accept-Encoding"),
        pytest.param(["gzip, br"], "", None, "gzip", id="gzip > br (no weight)"),
        pytest.param(["gzip, br, zstd"], "", None, "gzip", id="gzip > br > zstd (no weight)"),
        pytest.param(["compress, gzip"], "", None, "gzip", id="known compression encoding (no weight)"),
        pytest.param(["compress, rar"], "", None, "", id="unknown compression encoding (no weight), no encoding"),
        pytest.param(["*"], "", None, "gzip", id="wildcard returns the default compression encoding"),
        pytest.param(["*"], "br", None, "br", id="wildcard returns the custom default compression encoding"),
        pytest.param(["br;q=0.8, gzip;q=1.0, *;q=0.1"], "", None, "gzip", id="follows weight"),
        pytest.param(["br;q=0.8, identity;q=1.0"], "", None, "identity", id="identity with higher weight is preferred"),
        pytest.param(["br;q=0.8, identity;q=0.8"], "", None, "br", id="identity with equal weight is not preferred"),
        pytest.param(["compress;q=1.0, gzip;q=0.5"], "", None, "gzip", id="ignore unknown compression encoding"),
        pytest.param(
            ["compress;q=1.0, gzip, identity;q=0"], "", None, "gzip", id="fallback on non-zero compression encoding"
        ),
        pytest.param(["compress;q=1.0, identity;q=0"], "", None, "", id="not acceptable (identity)"),
        pytest.param(["compress;q=1.0, *;q=0"], "", None, "", id="not acceptable (wildcard)"),
        pytest.param(["gzip, *;q=0"], "", None, "gzip", id="non-zero is higher than 0"),
        pytest.param(["zstd, gzip, br"], "", ["br", "gzip"], "br", id="zstd forbidden, brotli first"),
        pytest.param(
            ["br;q=0.8, gzip;q=1.0, *;q=0.1"], "", ["zstd", "br"], "br", id="follows weight, ignores forbidden encoding"
        ),
        pytest.param(["gzip, br;q=0.9"], "", ["gzip", "br"], "gzip", id="mixed weight"),
        pytest.param(["br;q=0, gzip;q=0, zstd;q=0"], "", None, "", id="Zero weights, no compression"),
        pytest.param(
            ["br;q=0, gzip;q=0, zstd;q=0"], "br", None, "", id="Zero weights, default encoding, no compression"
        ),
        pytest.param(
            ["br;q=1.0, gzip;q=1.0, zstd;q=1.0"], "", None, "gzip", id="Same weight, first supported encoding"
        ),
        pytest.param(
            ["br;q=1.0, zstd;q=1.0, gzip;q=1.0"],
            "",
            None,
            "gzip",
            id="Same weight, first supported encoding, order has no effect",
        ),
        pytest.param(
            ["br;q=1.0, zstd;q=1.0, gzip;q=1.0"],
            "br",
            None,
            "gzip",
            id="Same weight, first supported encoding, defaultEncoding has no effect",
        ),
        # Ours, from reading the code: `*` sorts before every encoding at equal weight; names are exact.
        pytest.param(["br, *"], "", None, "gzip", id="wildcard wins a tie"),
        pytest.param(["GZIP"], "", None, "", id="names are case-sensitive"),
        pytest.param(["br", "zstd;q=0.5"], "", None, "br", id="several header lines"),
    ],
)
def test_choose_encoding(accept: list[str], default: str, encodings: list[str] | None, expected: str) -> None:
    kwargs: dict[str, Any] = {"default_encoding": default}
    if encodings is not None:
        kwargs["encodings"] = encodings
    assert Compress(**kwargs).choose(accept) == expected


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(
            {"excluded_content_types": ["text/a"], "included_content_types": ["text/b"]},
            "mutually exclusive",
            id="excluded and included",
        ),
        pytest.param({"encodings": []}, "at least one encoding", id="no encoding"),
        pytest.param({"encodings": ["gzip", "deflate"]}, "unsupported encoding: deflate", id="unknown encoding"),
        pytest.param(
            {"encodings": ["gzip"], "default_encoding": "br"},
            "unsupported default encoding: br",
            id="default not listed",
        ),
        pytest.param({"excluded_content_types": ["text/html;;="]}, "parsing excluded media type", id="bad media type"),
    ],
)
def test_build_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Compress(**options)


# -- TestNegotiation, end to end ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        pytest.param(None, None, id="no accept header"),
        pytest.param("notreal", None, id="unsupported accept header"),
        pytest.param("*", None, id="accept any header (gzhttp does not compress for *)"),
        pytest.param("gzip", "gzip", id="gzip accept header"),
        pytest.param("br", "br", id="br accept header"),
        pytest.param("br;q=0.8, gzip;q=0.6", "br", id="multi accept header, prefer br"),
        pytest.param("gzip;q=1.0, br;q=0.8", "gzip", id="multi accept header, prefer gzip"),
        pytest.param("gzip, br", "gzip", id="multi accept header list, prefer br"),
        pytest.param("zstd", "zstd", id="zstd accept header"),
        pytest.param("zstd;q=0.9, br;q=0.8, gzip;q=0.6", "zstd", id="multi accept header, prefer zstd"),
        pytest.param("gzip;q=0.8, br;q=1.0, zstd;q=0.7", "br", id="multi accept header, prefer brotli"),
        pytest.param("gzip;q=1.0, br;q=0.8, zstd;q=0.7", "gzip", id="multi accept header, prefer gzip (3)"),
        pytest.param("gzip, br, zstd", "gzip", id="multi accept header list, prefer best"),
    ],
)
@pytest.mark.parametrize("framing", ["length", "chunked"])
async def test_negotiation(
    stripproxy: Any, upstream_url: str, accept: str | None, expected: str | None, framing: str
) -> None:
    gateway = await gateway_for(stripproxy, upstream_url, minResponseBodyBytes=1)
    query = "size=10" if framing == "length" else "size=10&stream=1"
    status, headers, body = await fetch(f"{gateway.url}/?{query}", {"Accept-Encoding": accept} if accept else {})
    assert status == 200
    assert headers.get("Content-Encoding") == expected
    assert decode(expected, body) == body_of(10)
    if expected:
        assert "Content-Length" not in headers and headers["Transfer-Encoding"] == "chunked"


@pytest.mark.parametrize(
    ("options", "accept", "expected", "vary"),
    [
        pytest.param({"defaultEncoding": "br"}, None, "br", True, id="no header: defaultEncoding br compresses"),
        pytest.param(
            {"defaultEncoding": "gzip"},
            None,
            None,
            True,
            id="no header: defaultEncoding gzip does not (gzhttp reads the header again)",
        ),
        pytest.param({}, None, None, False, id="no header, no default: untouched, no Vary"),
        pytest.param({}, "", None, False, id="empty header: identity, no Vary"),
        pytest.param({}, "identity", None, False, id="identity: no Vary"),
        pytest.param({"defaultEncoding": "zstd"}, "*", "zstd", True, id="wildcard with defaultEncoding zstd"),
        pytest.param({"encodings": ["br"]}, "gzip", None, False, id="only br offered, gzip asked: not acceptable"),
    ],
)
async def test_default_encoding_and_vary(
    stripproxy: Any, upstream_url: str, options: dict[str, Any], accept: str | None, expected: str | None, vary: bool
) -> None:
    gateway = await gateway_for(stripproxy, upstream_url, **options)
    status, headers, body = await fetch(
        f"{gateway.url}/?size=5000", {"Accept-Encoding": accept} if accept is not None else {}
    )
    assert headers.get("Content-Encoding") == expected
    assert decode(expected, body) == body_of(5000)
    assert (headers.get("Vary") == "Accept-Encoding") is vary


# -- content types: TestShouldNotCompressWhenSpecificContentType / TestShouldCompressWhenSpecificContentType --
@pytest.mark.parametrize(
    ("options", "request_type", "response_type", "compressed"),
    [
        pytest.param(
            {"excludedContentTypes": ["text/event-stream"]},
            "text/event-stream",
            "text/plain",
            False,
            id="Exclude Request Content-Type",
        ),
        pytest.param(
            {"excludedContentTypes": ["text/event-stream"]},
            None,
            "text/event-stream",
            False,
            id="Exclude Response Content-Type",
        ),
        pytest.param(
            {"includedContentTypes": ["text/plain"]},
            None,
            "text/html",
            False,
            id="Include Response Content-Type (not listed)",
        ),
        pytest.param(
            {"excludedContentTypes": ["application/json"]},
            "application/grpc",
            "text/plain",
            False,
            id="Ignoring application/grpc with exclude option",
        ),
        pytest.param(
            {"includedContentTypes": ["application/json"]},
            "application/grpc",
            "application/json",
            False,
            id="Ignoring application/grpc with include option",
        ),
        pytest.param({}, "application/grpc", "text/plain", False, id="Ignoring application/grpc with no option"),
        pytest.param({}, None, "application/grpc", False, id="grpc response always excluded"),
        pytest.param(
            {"includedContentTypes": ["text/html"]}, None, "text/html", True, id="Include Response Content-Type"
        ),
        pytest.param(
            {"includedContentTypes": ["text/html; charset=utf-8"]},
            None,
            "text/html; charset=utf-8",
            True,
            id="included with the same params",
        ),
        pytest.param(
            {"includedContentTypes": ["text/html; charset=utf-8"]},
            None,
            "text/html",
            False,
            id="included with params needs them",
        ),
        pytest.param(
            {"excludedContentTypes": ["text/html"]},
            None,
            "text/html; charset=utf-8",
            False,
            id="excluded without params matches any params",
        ),
        pytest.param({}, None, "none", True, id="no response Content-Type"),
    ],
)
async def test_content_types(
    stripproxy: Any,
    upstream_url: str,
    options: dict[str, Any],
    request_type: str | None,
    response_type: str,
    compressed: bool,
) -> None:
    gateway = await gateway_for(stripproxy, upstream_url, **options)
    headers = {"Accept-Encoding": "gzip"}
    if request_type:
        headers["Content-Type"] = request_type
    status, response_headers, body = await fetch(f"{gateway.url}/?size=2048&ct={quote(response_type)}", headers)
    assert response_headers.get("Content-Encoding") == ("gzip" if compressed else None)
    assert decode(response_headers.get("Content-Encoding"), body) == body_of(2048)


# -- what is never compressed ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "method", "vary"),
    [
        pytest.param("size=100000&ce=gzip", "GET", True, id="when content already compressed"),
        pytest.param(
            "size=100000&ce=gzip&status=201", "GET", True, id="when content already compressed and status code Created"
        ),
        pytest.param("size=100000", "HEAD", False, id="HEAD request (TestShouldNotCompressHeadRequest)"),
        pytest.param(
            "size=100000&status=206&h=Content-Range:bytes 0-99999/200000", "GET", True, id="a range (Content-Range)"
        ),
        pytest.param("status=204", "GET", True, id="204 has no body"),
        pytest.param("status=304", "GET", True, id="304 has no body"),
        pytest.param("size=1023", "GET", True, id="under minResponseBodyBytes"),
        pytest.param("size=0&stream=0", "GET", True, id="empty chunked body"),
    ],
)
async def test_not_compressed(stripproxy: Any, upstream_url: str, query: str, method: str, vary: bool) -> None:
    gateway = await gateway_for(stripproxy, upstream_url)
    status, headers, body = await fetch(f"{gateway.url}/?{query}", {"Accept-Encoding": "gzip, br, zstd"}, method)
    assert headers.get("Content-Encoding") == ("gzip" if "ce=gzip" in query else None)
    if method == "GET" and status not in (204, 304):
        size = int(query.split("size=")[1].split("&")[0])
        assert body == body_of(size)  # exactly as the upstream sent it
    assert ("Accept-Encoding" in headers.getall("Vary", [])) is vary


@pytest.mark.parametrize(
    ("min_size", "compressed"),
    [
        pytest.param(0, True, id="should compress"),
        pytest.param(100001, False, id="should not compress"),
        pytest.param(100000, True, id="exactly the minimum compresses"),
    ],
)
async def test_min_response_body_bytes(stripproxy: Any, upstream_url: str, min_size: int, compressed: bool) -> None:
    gateway = await gateway_for(stripproxy, upstream_url, minResponseBodyBytes=min_size)
    _, headers, body = await fetch(f"{gateway.url}/?size=100000", {"Accept-Encoding": "gzip"})
    assert headers.get("Content-Encoding") == ("gzip" if compressed else None)
    assert decode(headers.get("Content-Encoding"), body) == body_of(100000)
    if compressed:
        assert len(body) < 10000


async def test_never_twice(stripproxy: Any, upstream_url: str) -> None:
    """Two compress middlewares on one route: the inner one compresses, the outer sees Content-Encoding."""
    gateway = await stripproxy(one_router(upstream_url, {"outer": {"compress": {}}, "inner": {"compress": {}}}))
    _, headers, body = await fetch(f"{gateway.url}/?size=50000", {"Accept-Encoding": "br, gzip;q=0.5"})
    assert headers["Content-Encoding"] == "br"
    assert brotli.decompress(body) == body_of(50000)


async def test_vary_goes_first_and_accept_ranges_dropped_for_gzip(stripproxy: Any, upstream_url: str) -> None:
    gateway = await gateway_for(stripproxy, upstream_url)
    query = "size=5000&h=Vary:Origin&h=Accept-Ranges:bytes&h=No-Gzip-Compression:1"
    _, headers, body = await fetch(f"{gateway.url}/?{query}", {"Accept-Encoding": "gzip"})
    assert headers.getall("Vary") == ["Accept-Encoding", "Origin"]
    assert headers.get("Content-Encoding") is None and "No-Gzip-Compression" not in headers  # gzhttp's opt-out
    _, headers, body = await fetch(f"{gateway.url}/?size=5000&h=Accept-Ranges:bytes", {"Accept-Encoding": "gzip"})
    assert headers["Content-Encoding"] == "gzip" and "Accept-Ranges" not in headers
    _, headers, body = await fetch(f"{gateway.url}/?size=5000&h=Accept-Ranges:bytes", {"Accept-Encoding": "br"})
    assert headers["Content-Encoding"] == "br" and headers["Accept-Ranges"] == "bytes"  # Traefik's own writer


# -- real clients ------------------------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
async def test_curl_compressed(stripproxy: Any, upstream_url: str, encoding: str) -> None:
    gateway = await gateway_for(stripproxy, upstream_url)
    result = await asyncio.to_thread(
        subprocess.run,
        [
            "curl",
            "-sS",
            "--compressed",
            "-H",
            f"Accept-Encoding: {encoding}",
            "-D",
            "-",
            f"{gateway.url}/?size=30000&stream=3",
        ],
        capture_output=True,
        timeout=30,
    )
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    assert f"content-encoding: {encoding}".encode() in head.lower()
    assert body == body_of(30000) * 3


async def test_httpx_decodes(stripproxy: Any, upstream_url: str) -> None:
    gateway = await gateway_for(stripproxy, upstream_url)
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{gateway.url}/?size=70000", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip" and response.content == body_of(70000)


# -- streaming and hostile upstreams ---------------------------------------------------------------------------
async def test_slow_stream_arrives_compressed_chunk_by_chunk(stripproxy: Any) -> None:
    """The upstream sends its second piece only once the client has decoded the first: a compressor that
    waited for more (or for the end) would deadlock here."""
    got_first = asyncio.Event()

    async def slow(request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b"first piece\n")
        await asyncio.wait_for(got_first.wait(), 10)
        await response.write(b"second piece\n")
        await response.write_eof()
        return response

    async with serve_aiohttp(slow) as served:
        gateway = await stripproxy(one_router(served.url, {"c": {"compress": {}}}))
        for encoding in ("gzip", "br", "zstd"):
            got_first.clear()
            decoder: Any = (
                zlib.decompressobj(31)
                if encoding == "gzip"
                else brotli.Decompressor()
                if encoding == "br"
                else zstandard.ZstdDecompressor().decompressobj()
            )
            feed = decoder.decompress if encoding != "br" else decoder.process
            text = b""
            async with httpx.AsyncClient() as client:
                async with client.stream("GET", gateway.url, headers={"Accept-Encoding": encoding}) as response:
                    assert response.headers["content-encoding"] == encoding
                    async for raw in response.aiter_raw():
                        text += feed(raw)
                        if text == b"first piece\n":
                            got_first.set()
            assert text == b"first piece\nsecond piece\n"


async def test_memory_bounded_when_client_does_not_read(stripproxy: Any) -> None:
    """Incompressible bytes from a fast upstream to a client that stops reading: the proxy's back-pressure
    stops the upstream, so what it could write stays a few socket buffers, not the whole body."""
    written = 0
    total = 64 * 1024 * 1024
    piece = os.urandom(256 * 1024)

    async def flood(request: web.BaseRequest) -> web.StreamResponse:
        nonlocal written
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            while written < total:
                await response.write(piece)
                written += len(piece)
        except (ConnectionError, asyncio.CancelledError):
            pass
        return response

    async with serve_aiohttp(flood) as served:
        gateway = await stripproxy(one_router(served.url, {"c": {"compress": {}}}))
        host, port = gateway.url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        assert b"content-encoding: gzip" in head.lower()
        await asyncio.sleep(1.5)  # not reading
        assert written < 24 * 1024 * 1024, written
        writer.close()


async def test_zstd_streams_at_once_do_not_share_a_compressor(stripproxy: Any) -> None:
    """Found by benchmarks/soak.py: zstd streams of one router shared one ZstdCompressor, whose context every
    compressobj() uses, so two answers compressed at the same time corrupted each other ("Data corruption
    detected" on the client). Two streamed answers go piece by piece in step through the same router."""
    pieces = [os.urandom(20_000).hex().encode() for _ in range(16)]
    in_step = asyncio.Barrier(2)

    async def stepped(request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for piece in pieces:
            await response.write(piece)
            await asyncio.wait_for(in_step.wait(), 10)
            await asyncio.sleep(0.005)
        await response.write_eof()
        return response

    async with serve_aiohttp(stepped) as served:
        gateway = await stripproxy(one_router(served.url, {"c": {"compress": {}}}))
        answers = await asyncio.gather(*(fetch(gateway.url, {"Accept-Encoding": "zstd"}) for _ in range(2)))
    for status, headers, body in answers:
        assert (status, headers["Content-Encoding"]) == (200, "zstd")
        assert decode("zstd", body) == b"".join(pieces)
