"""HTML/CSS prefix rewriting speed (proxy/prefixrewrite/markup.py).

`python benchmarks/bench_markup.py [N] [page.html ...]`, first through a whole gateway (in-memory transports,
as bench_hotpath.py): N requests (default 3000) for a 2 KiB JSON answer on a router with prefixRewrite's
html mode on vs off (best of 5 interleaved rounds), and a gzip-encoded HTML page through html mode.
`--only on|off N` runs that router's JSON loop alone, for exact instruction counts: run it under
`valgrind --tool=callgrind` at two N and divide the difference. Then the rewriter alone, in MB/s of body
(64 KiB reads): HtmlRewriter, the stdlib's html.parser fed the same page with handlers that do nothing (a
lower bound of its cost: it would still have to write the page back), the body filter with an identity and
a gzip upstream (decode, rewrite, encode again) next to a gzip decode + encode without rewriting, and
CssRewriter. Pages: a synthetic one (links, srcset, inline styles, scripts, text) and any .html files
given. Reported, not timed in tests.
"""

from __future__ import annotations

import asyncio
import sys
import time
import zlib
from html.parser import HTMLParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_hotpath import MemoryTransport  # noqa: E402

from proxy.forwarder.client import ClientConnection  # noqa: E402
from proxy.forwarder.upstream import UpstreamConnection  # noqa: E402
from proxy.message import HeaderList  # noqa: E402
from proxy.middlewares.compress import _Gzip  # noqa: E402
from proxy.prefixrewrite.markup import CssRewriter, HtmlRewriter, _Urls, encode_prefix, markup_filter  # noqa: E402
from proxy.server.gateway import Gateway  # noqa: E402

PREFIX = "/api/v1"
PIECE = 64 * 1024
BLOCK = """<div class="card" style="background:url(/img/card.png) no-repeat">
  <h2><a href="/items/{i}">Item {i}</a></h2>
  <img src="/img/{i}.png" srcset="/img/{i}.png 1x, /img/{i}@2x.png 2x" alt="item {i}" width="64" height="64">
  <p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore
  magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo.</p>
  <ul><li><a href="details/{i}">relative</a></li><li><a href="https://example.test/{i}">elsewhere</a></li>
  <li><a href="#top" class="nav-link">top</a></li></ul>
  <form action="/cart" method="post"><input type="hidden" name="id" value="{i}"><button>Add</button></form>
</div>
"""
SCRIPT = (
    "<script>window.items = [" + ",".join(f'{{"id": {i}, "url": "/items/{i}"}}' for i in range(200)) + "];</script>\n"
)
CSS_BLOCK = ".c{i} {{ background: url(/img/c{i}.png); color: #333; margin: 0 auto; padding: 4px 8px }}\n"


def synthetic_page(size: int = 1 << 20) -> bytes:
    head = (
        '<!DOCTYPE html><html><head><link rel="stylesheet" href="/static/app.css"><title>Items</title></head><body>\n'
    )
    parts, i = [head], 0
    while sum(map(len, parts)) < size:
        parts.append(BLOCK.format(i=i))
        if i % 50 == 0:
            parts.append(SCRIPT)
        i += 1
    parts.append("</body></html>\n")
    return "".join(parts).encode()


def reads(data: bytes) -> list[bytes]:
    return [data[at : at + PIECE] for at in range(0, len(data), PIECE)]


def rate(label: str, size: int, run: object, rounds: int = 5) -> float:
    run()
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    mbs = size / best / 1e6
    print(f"  {label:58s} {mbs:7.1f} MB/s")
    return mbs


def html_rewriter(pieces: list[bytes]) -> None:
    rewriter = HtmlRewriter(encode_prefix(PREFIX))
    for piece in pieces:
        rewriter.feed(piece)
    rewriter.finish()


def css_rewriter(pieces: list[bytes]) -> None:
    rewriter = CssRewriter(_Urls(encode_prefix(PREFIX)))
    for piece in pieces:
        rewriter.feed(piece)
    rewriter.finish()


class Quiet(HTMLParser):
    pass


def stdlib_parser(pieces: list[bytes]) -> None:
    parser = Quiet(convert_charrefs=False)
    for piece in pieces:
        parser.feed(piece.decode("utf-8", "surrogateescape"))
    parser.close()


class NullSink:
    def head(self, status: int, headers: HeaderList) -> None: ...
    def body(self, data: bytes) -> None: ...
    def end(self, trailers: list[tuple[bytes, bytes]]) -> None: ...
    def flush(self) -> None: ...
    async def wait_writable(self) -> None: ...


def through_filter(pieces: list[bytes], coding: str) -> None:
    headers = HeaderList(
        [("Content-Type", "text/html; charset=utf-8")] + ([("Content-Encoding", coding)] if coding else [])
    )
    found = markup_filter(PREFIX, 200, headers)
    assert found is not None
    found.down = NullSink()
    found.head(200, headers)
    for piece in pieces:
        found.body(piece)
    found.end([])


def gzip_only(pieces: list[bytes]) -> None:
    decoder, encoder = zlib.decompressobj(31), _Gzip()
    for piece in pieces:
        encoder.push(decoder.decompress(piece))
    encoder.finish()


def page_report(name: str, page: bytes) -> None:
    gz = zlib.compressobj(6, zlib.DEFLATED, 31)
    gzipped = gz.compress(page) + gz.flush()
    print(f"{name}: {len(page) / 1e6:.2f} MB, {len(gzipped) / 1e6:.2f} MB gzipped, 64 KiB reads")
    pieces, gz_pieces = reads(page), reads(gzipped)
    ours = rate("HtmlRewriter (ours)", len(page), lambda: html_rewriter(pieces))
    theirs = rate("html.parser.HTMLParser, no-op handlers (stdlib)", len(page), lambda: stdlib_parser(pieces))
    print(f"  {'ours / html.parser':58s} {ours / theirs:7.1f} x")
    rate("body filter, identity upstream", len(page), lambda: through_filter(pieces, ""))
    rate("body filter, gzip upstream (decode, rewrite, encode)", len(page), lambda: through_filter(gz_pieces, "gzip"))
    rate("gzip decode + encode alone (no rewriting)", len(page), lambda: gzip_only(gz_pieces))


def router(name: str, html: bool) -> dict[str, object]:
    return {"rule": f"PathPrefix(`/{name}`)", "service": "s", "middlewares": [f"rw-{name}", f"strip-{name}"]}


def gateway_config(names: tuple[str, ...]) -> dict[str, object]:
    return {
        "http": {
            "routers": {name: router(name, name == "on") for name in names},
            "middlewares": {
                "rw-off": {"prefixRewrite": {}},
                "strip-off": {"stripPrefix": {"prefixes": ["/off"]}},
                "rw-on": {"prefixRewrite": {"html": True}},
                "strip-on": {"stripPrefix": {"prefixes": ["/on"]}},
            },
            "services": {"s": {"loadBalancer": {"servers": [{"url": "http://127.0.0.1:9"}]}}},
        }
    }


JSON_BODY = (b'{"items": [' + b",".join(b'{"id": %d, "url": "/items/%d"}' % (i, i) for i in range(80)))[:2046] + b"]}"


async def gateway_rows(count: int, only: str = "") -> None:
    """Through a whole gateway (bench_hotpath's in-memory transports): a 2 KiB JSON answer on a router with
    prefixRewrite's html mode on vs off (both with the header rewriter), then the HTML page, gzip-encoded
    by the upstream, through html mode."""
    # --only: that router alone (the other's rule is not tried first); else both, interleaved.
    gateway = Gateway(gateway_config((only,) if only else ("off", "on")), free_ports=True, record=0)
    runtime = next(iter(gateway.entry_point_servers.values())).runtime
    client = ClientConnection(runtime)
    client_transport = MemoryTransport()
    client.connection_made(client_transport)
    pool = runtime.table.routes[0].target.service.servers[0].pool
    upstream = UpstreamConnection(pool)
    upstream_transport = MemoryTransport()
    upstream.connection_made(upstream_transport)
    pool.release(upstream)
    json_response = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%b" % (
        len(JSON_BODY),
        JSON_BODY,
    )

    def request(path: str) -> bytes:
        return f"GET {path} HTTP/1.1\r\nHost: bench.test\r\nAccept-Encoding: gzip\r\n\r\n".encode()

    def timed(path: str, response: list[bytes], n: int) -> float:
        data = request(path)
        started = time.perf_counter()
        for i in range(n):
            client.data_received(data)
            for piece in response:
                upstream.data_received(piece)
            if i % 64 == 0:
                client_transport.written.clear()
                upstream_transport.written.clear()
        return (time.perf_counter() - started) / n * 1e6

    if only:  # one router's JSON loop alone, for instruction counts under callgrind
        timed(f"/{only}/items", [json_response], count)
        pool.close()
        return
    timed("/on/items", [json_response], 500)
    out = b"".join(client_transport.written)
    assert out.startswith(b"HTTP/1.1 200 OK") and b"Content-Length: %d" % len(JSON_BODY) in out, out[:300]
    rows: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(5):  # interleaved, best of 5: the machine is shared
        for name in ("off", "on"):
            rows[name].append(timed(f"/{name}/items", [json_response], count))
    off, on = min(rows["off"]), min(rows["on"])
    print(f"gateway, 2 KiB JSON, prefixRewrite html off: {off:6.1f} us per request")
    print(f"gateway, 2 KiB JSON, prefixRewrite html on:  {on:6.1f} us per request ({(on / off - 1) * 100:+.1f}%)")
    page = synthetic_page(256 * 1024)
    gz = zlib.compressobj(6, zlib.DEFLATED, 31)
    body = gz.compress(page) + gz.flush()
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    reads_ = [head] + [body[at : at + 16 * 1024] for at in range(0, len(body), 16 * 1024)]
    timed("/on/page", reads_, 2)
    out = b"".join(client_transport.written)
    assert b"Content-Encoding: gzip" in out and b"Transfer-Encoding: chunked" in out, out[:300]
    best = min(timed("/on/page", reads_, 5) for _ in range(3))
    print(f"gateway, 256 KiB HTML page gzip, html on: {len(page) / best:6.1f} MB/s of (decoded) page")
    pool.close()


def main() -> None:
    count = int(next((a for a in sys.argv[1:] if a.isdigit()), "3000"))
    if "--only" in sys.argv:
        asyncio.run(gateway_rows(count, sys.argv[sys.argv.index("--only") + 1]))
        return
    asyncio.run(gateway_rows(count))
    page_report("synthetic page", synthetic_page())
    sheet = "".join(CSS_BLOCK.format(i=i) for i in range(12000)).encode()
    print(f"synthetic CSS: {len(sheet) / 1e6:.2f} MB")
    rate("CssRewriter (ours)", len(sheet), lambda: css_rewriter(reads(sheet)))
    for name in sys.argv[1:]:
        if not name.isdigit() and name.endswith((".html", ".htm")):
            page_report(name, Path(name).read_bytes())
    json_headers = HeaderList([("Content-Type", "application/json"), ("Content-Length", "2048")])
    count = 200_000
    started = time.perf_counter()
    for _ in range(count):
        markup_filter(PREFIX, 200, json_headers)
    print(f"markup_filter on a JSON answer (the gate alone): {(time.perf_counter() - started) / count * 1e9:.0f} ns")


if __name__ == "__main__":
    main()
