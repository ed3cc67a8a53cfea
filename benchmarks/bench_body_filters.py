"""What a compress middleware costs: `python benchmarks/bench_body_filters.py [requests]`.

Like bench_hotpath.py (the real client and upstream protocols, in-memory transports, only the proxy's
Python work timed), on two routers of one gateway that differ only by a compress middleware: per request,
a 2 KiB JSON answer with Content-Length, asked for with `Accept-Encoding: gzip` (and br, zstd); then the
compression rate through the filter chain for a 4 MiB body arriving in 64 KiB reads.
`--only /compressed gzip` runs one case alone (for instruction counts under callgrind, as
count_instructions.sh does for the hot path).
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_hotpath import MemoryTransport  # noqa: E402

from proxy.forwarder.client import ClientConnection  # noqa: E402
from proxy.forwarder.upstream import UpstreamConnection  # noqa: E402
from proxy.server.gateway import Gateway  # noqa: E402

CONFIG = {
    "http": {
        "routers": {
            "plain": {"rule": "PathPrefix(`/plain`)", "service": "s"},
            "compressed": {"rule": "PathPrefix(`/compressed`)", "service": "s", "middlewares": ["c"]},
        },
        "middlewares": {"c": {"compress": {}}},
        "services": {"s": {"loadBalancer": {"servers": [{"url": "http://127.0.0.1:9"}]}}},
    }
}
ITEMS = json.dumps([{"id": i, "name": f"item {i}", "tags": ["a", "b"], "price": i * 1.5} for i in range(40)])
BODY = ITEMS.encode()[:2048]
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%b" % (len(BODY), BODY)


def request(path: str, encoding: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: api.example.test\r\nAccept: application/json\r\n"
        f"Accept-Encoding: {encoding}\r\n\r\n"
    ).encode()


async def run(count: int, only: tuple[str, str] | None = None) -> None:
    gateway = Gateway(CONFIG, free_ports=True, record=0)
    runtime = next(iter(gateway.entry_point_servers.values())).runtime
    client = ClientConnection(runtime)
    client_transport = MemoryTransport()
    client.connection_made(client_transport)
    pool = runtime.table.routes[0].target.service.servers[0].pool
    upstream = UpstreamConnection(pool)
    upstream_transport = MemoryTransport()
    upstream.connection_made(upstream_transport)
    pool.release(upstream)

    def timed(path: str, encoding: str, response: bytes, n: int) -> float:
        data = request(path, encoding)
        for _ in range(200):
            client.data_received(data)
            upstream.data_received(response)
        out = b"".join(client_transport.written)
        assert out.startswith(b"HTTP/1.1 200 OK"), out[:200]
        if path.startswith("/compressed") and encoding != "identity":
            assert f"Content-Encoding: {encoding}".encode() in out, out[:300]
        gc.collect()
        started = time.perf_counter()
        for i in range(n):
            client.data_received(data)
            upstream.data_received(response)
            if i % 256 == 0:
                client_transport.written.clear()
                upstream_transport.written.clear()
        return (time.perf_counter() - started) / n * 1e6

    if only:  # one scenario, for count_instructions-style runs under callgrind
        path, encoding = only
        print(f"{path} {encoding}: {timed(path, encoding, RESPONSE, count):.1f} us per request")
        pool.close()
        return
    plain = timed("/plain", "gzip", RESPONSE, count)
    print(f"plain route, 2 KiB JSON:                  {plain:6.1f} us per request")
    for encoding in ("identity", "gzip", "br", "zstd"):
        cost = timed("/compressed", encoding, RESPONSE, count)
        print(f"compress route, Accept-Encoding {encoding:8s}: {cost:6.1f} us per request ({cost / plain:.2f}x plain)")

    size, piece = 4 * 1024 * 1024, 64 * 1024
    text = (ITEMS.encode() * (size // len(ITEMS) + 1))[:size]
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % size
    reads = [head] + [text[at : at + piece] for at in range(0, size, piece)]
    for path, encoding in (("/plain", "gzip"), ("/compressed", "gzip"), ("/compressed", "br"), ("/compressed", "zstd")):
        data = request(path, encoding)
        started = time.perf_counter()
        rounds = 3
        for _ in range(rounds):
            client.data_received(data)
            for chunk in reads:
                upstream.data_received(chunk)
            client_transport.written.clear()
            upstream_transport.written.clear()
        elapsed = time.perf_counter() - started
        label = "plain route" if path == "/plain" else f"compress {encoding}"
        print(f"{label:14s} 4 MiB JSON in 64 KiB reads: {rounds * size / elapsed / 1e6:7.1f} MB/s of body")
    pool.close()


if __name__ == "__main__":
    only = sys.argv[sys.argv.index("--only") + 1 : sys.argv.index("--only") + 3] if "--only" in sys.argv else None
    asyncio.run(run(int(next((a for a in sys.argv[1:] if a.isdigit()), "5000")), (only[0], only[1]) if only else None))
