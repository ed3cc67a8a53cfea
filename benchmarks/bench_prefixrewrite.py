"""What stripproxy's prefixRewrite costs a route with nothing to rewrite: `python benchmarks/bench_prefixrewrite.py`.

The FastAPI guide's stripPrefix route (config/routes.toml) driven as benchmarks/bench_hotpath.py does (real
client and upstream protocols, in-memory transports), twice in one process: a gateway without the rewriter
and one with `rewrite_prefix=True`. The canned response has no Location, Set-Cookie, Refresh, Link or
Content-Location, so the rewriter only looks and finds nothing. Rounds alternate between the two gateways
(so machine noise hits both alike), each timed in CPU time of the process; the best round of each is
compared (`--rounds=N`, default 9). `--with-location` makes the
response carry `Location: /login` instead: what a rewrite costs when there is one to do.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_hotpath import GUIDE_ROUTES, REQUEST, RESPONSE, MemoryTransport  # noqa: E402

from proxy.forwarder.client import ClientConnection  # noqa: E402
from proxy.forwarder.upstream import UpstreamConnection  # noqa: E402
from proxy.server.gateway import Gateway  # noqa: E402

LOCATION_RESPONSE = RESPONSE.replace(b"Server: origin\r\n", b"Server: origin\r\nLocation: /login\r\n")


def driver(rewrite: bool, response: bytes) -> tuple[Callable[[], None], Callable[[], None], Gateway]:
    gateway = Gateway(GUIDE_ROUTES, record=0, rewrite_prefix=rewrite)
    runtime = next(iter(gateway.servers.values())).runtime
    client = ClientConnection(runtime)
    client_transport = MemoryTransport()
    client.connection_made(client_transport)  # type: ignore[arg-type]
    plan = runtime.table.routes[0].target
    assert plan.relays_as_is is not rewrite, plan  # the rewriter is on the plan exactly when asked for
    pool = plan.service.servers[0].pool
    upstream = UpstreamConnection(pool)
    upstream_transport = MemoryTransport()
    upstream.connection_made(upstream_transport)  # type: ignore[arg-type]
    pool.release(upstream)

    def one() -> None:
        client.data_received(REQUEST)
        upstream.data_received(response)

    def clear() -> None:
        client_transport.written.clear()
        upstream_transport.written.clear()

    one()
    answer = b"".join(client_transport.written)
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer
    if b"Location" in response:
        assert (b"Location: /api/v1/login\r\n" in answer) is rewrite, answer
    return one, clear, gateway


def timed(one: Callable[[], None], clear: Callable[[], None], count: int) -> float:
    started = time.process_time()  # CPU time of this process: other load on the machine does not count
    for i in range(count):
        one()
        if i % 1024 == 0:
            clear()
    return (time.process_time() - started) / count


async def main() -> None:
    count = int(next((a for a in sys.argv[1:] if a.isdigit()), "20000"))
    rounds = int(next((a[9:] for a in sys.argv if a.startswith("--rounds=")), "9"))
    response = LOCATION_RESPONSE if "--with-location" in sys.argv else RESPONSE
    off = driver(False, response)
    on = driver(True, response)
    for one, _, _ in (off, on):
        for _ in range(2000):
            one()
    gc.collect()
    gc.freeze()
    results: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(rounds):
        for name, (one, clear, _) in (("off", off), ("on", on)):
            results[name].append(timed(one, clear, count))
    best_off, best_on = min(results["off"]), min(results["on"])
    what = "Location: /login rewritten" if response is LOCATION_RESPONSE else "nothing to rewrite"
    print(f"guide route, {count} requests x {rounds} rounds each, alternating ({what}):")
    for name, values in results.items():
        print(f"  rewriter {name:3}: best {min(values) * 1e6:.2f} us, median {statistics.median(values) * 1e6:.2f} us")
    print(f"  cost of the rewriter: {(best_on / best_off - 1) * 100:+.1f}% (best rounds)")


if __name__ == "__main__":
    asyncio.run(main())
