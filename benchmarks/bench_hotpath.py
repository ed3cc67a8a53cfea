"""The forwarder's own CPU cost per request, without the kernel: `python benchmarks/bench_hotpath.py`.

Drives the real client and upstream protocols of a gateway built from a Traefik routes file (the FastAPI
guide's stripPrefix router) with in-memory transports: a request goes in on the client side, the bytes the
proxy writes upstream are checked, a canned response comes back. What is timed is exactly the Python work
the proxy does per keep-alive request (parsing, routing, middlewares, header rewriting, framing), which is
what this repository can change; loopback syscalls come on top in the wrk runs of benchmarks/run.sh.
Add `--profile` for a cProfile summary of the same loop.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from proxy.forwarder.client import ClientConnection  # noqa: E402
from proxy.forwarder.upstream import UpstreamConnection  # noqa: E402
from proxy.server.gateway import Gateway  # noqa: E402

GUIDE_ROUTES = Path(__file__).resolve().parents[1] / "config" / "routes.toml"  # the FastAPI guide's file
REQUEST = (b"GET /api/v1/items?page=2 HTTP/1.1\r\nHost: api.example.test\r\nUser-Agent: bench/1.0\r\n"
           b"Accept: application/json\r\nAccept-Encoding: gzip\r\nConnection: keep-alive\r\n\r\n")
RESPONSE = (b"HTTP/1.1 200 OK\r\nServer: origin\r\nContent-Type: application/json\r\n"
            b"Content-Length: 17\r\nDate: Wed, 25 Nov 2026 12:00:00 GMT\r\nConnection: keep-alive\r\n\r\n"
            b"{\"items\": [1, 2]}")  # nginx sends Connection: keep-alive


class MemoryTransport:
    """Just enough of asyncio.Transport for the protocols; keeps what was written."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


async def run(count: int, profile: bool) -> None:
    gateway = Gateway(GUIDE_ROUTES, record=0)  # as the CLI runs: no exchange records
    runtime = next(iter(gateway.servers.values())).runtime
    client = ClientConnection(runtime)
    client_transport = MemoryTransport()
    client.connection_made(client_transport)  # type: ignore[arg-type]
    plan = runtime.table.routes[0].target
    pool = plan.service.servers[0].pool  # the guide's only server
    upstream = UpstreamConnection(pool)
    upstream_transport = MemoryTransport()
    upstream.connection_made(upstream_transport)  # type: ignore[arg-type]
    pool.release(upstream)

    def one() -> None:
        client.data_received(REQUEST)
        upstream.data_received(RESPONSE)

    one()
    sent = b"".join(upstream_transport.written)
    assert sent.startswith(b"GET /items?page=2 HTTP/1.1\r\n") and b"X-Forwarded-Prefix: /api/v1" in sent, sent
    assert b"".join(client_transport.written).startswith(b"HTTP/1.1 200 OK"), client_transport.written
    for _ in range(2000):
        one()
    # As the CLI does once started: the config's objects leave the collector's view, so that a full
    # collection landing inside the timed loop (or not) does not swing the figure.
    gc.collect()
    gc.freeze()
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    started = time.perf_counter()
    for i in range(count):
        one()
        if i % 1024 == 0:
            client_transport.written.clear()
            upstream_transport.written.clear()
    elapsed = time.perf_counter() - started
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats(next((a[7:] for a in sys.argv if a.startswith("--sort=")), "tottime")).print_stats(30)
    print(f"{count} keep-alive requests through the forwarder: {elapsed / count * 1e6:.1f} us of Python each "
          f"({count / elapsed:,.0f} req/s on one core, before syscalls)")
    pool.close()


if __name__ == "__main__":
    asyncio.run(run(int(next((a for a in sys.argv[1:] if a.isdigit()), "20000")), "--profile" in sys.argv))
