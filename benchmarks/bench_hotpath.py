"""The forwarder's own CPU cost per request, without the kernel: `python benchmarks/bench_hotpath.py`.

Drives the real client and upstream protocols of a gateway built from a Traefik routes file (the FastAPI
guide's stripPrefix router) with in-memory transports: a request goes in on the client side, the bytes the
proxy writes upstream are checked, a canned response comes back. What is timed is exactly the Python work
the proxy does per keep-alive request (parsing, routing, middlewares, header rewriting, framing), which is
what this repository can change; loopback syscalls come on top in the wrk runs of benchmarks/run.sh.
Add `--profile` for a cProfile summary of the same loop.

`--with=NAME` puts one more middleware first on the guide's router, to price it against the plain route:
`ipallowlist` (sourceRange 127.0.0.1, the peer), `basicauth` ({SHA} user: never waits; every request
after the first is a cache hit), `basicauth-bcrypt` (bcrypt user: the first request is checked in a
thread, the others are cache hits on the synchronous path; the bench drives the loop when a request has
to wait), `headers` (customRequestHeaders `X-Forwarded-For = ""`: no X-Forwarded-For goes upstream).
`--authorization` sends the basicAuth credentials in
every request (implied by the basicauth ones), so that `--authorization` alone is the baseline with the
same request bytes.

`--api-post` sends benchmarks/api_post.lua's request instead (the realistic API POST of the wrk runs:
15 headers, a 2 KiB JSON body) and answers it as the harness's nginx origin does.

`--rewrite-prefix` puts stripproxy's prefixRewrite on the guide's router (its answer has nothing to
rewrite: the price of having it on).

`--access-log` adds Traefik's access log (common format) written to a temporary file, with
`--buffering=N` its bufferingSize (default 0, Traefik's: the lines of a loop pass in one write);
`--metrics` adds the Prometheus metrics observer (Traefik's default labels). Both are the gateway's real
observers. The loop is given a pass every PASS requests, as a loaded gateway's is.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from proxy.forwarder.client import ClientConnection  # noqa: E402
from proxy.forwarder.upstream import UpstreamConnection  # noqa: E402
from proxy.server.gateway import Gateway  # noqa: E402

GUIDE_ROUTES = Path(__file__).resolve().parents[1] / "config" / "routes.toml"  # the FastAPI guide's file
REQUEST = (
    b"GET /api/v1/items?page=2 HTTP/1.1\r\nHost: api.example.test\r\nUser-Agent: bench/1.0\r\n"
    b"Accept: application/json\r\nAccept-Encoding: gzip\r\nConnection: keep-alive\r\n\r\n"
)
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nServer: origin\r\nContent-Type: application/json\r\n"
    b"Content-Length: 17\r\nDate: Wed, 25 Nov 2026 12:00:00 GMT\r\nConnection: keep-alive\r\n\r\n"
    b'{"items": [1, 2]}'
)  # nginx sends Connection: keep-alive


def _api_post() -> bytes:
    """benchmarks/api_post.lua's request: POST with 15 headers (wrk's Host, Content-Length) and a ~2 KiB body."""
    items = ",".join(
        f'{{"sku":"SKU-{i:05d}","name":"widget number {i}","qty":{i % 7 + 1},"price":{i * 3}.99,"tags":["a","b"]}}'
        for i in range(1, 25)
    )
    body = (
        '{"order_id":"0f8fad5b-d9cb-469f-a165-70867728950e","customer":{"id":48213,"tier":"gold"},'
        f'"items":[{items}]}}'
    ).encode()
    headers = {
        "Host": "127.0.0.1:18081",
        "User-Agent": "bench-client/2.3.1 (python-httpx compatible)",
        "Accept": "application/json",
        "Accept-Encoding": "gzip, deflate, br",
        "Accept-Language": "en-US,en;q=0.9",
        "Content-Type": "application/json",
        "Authorization": "Bearer " + "eyJhbGciOiJIUzI1NiJ9" * 9,
        "Cookie": "session=" + "c2Vzc2lvbg" * 8 + "; theme=dark; locale=en_US",
        "X-Request-Id": "7b0d5e4a-6c1f-4a53-9e51-2f3c0e8b9d11",
        "X-Correlation-Id": "corr-5f1c2a9e0b7d4e68",
        "X-Client-Version": "4.18.2",
        "X-Api-Key": "ak_live_" + "9f8e7d6c" * 4,
        "Traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "Tracestate": "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
        "Cache-Control": "no-cache",
        "Content-Length": str(len(body)),
    }
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"POST /api/v1/api/items HTTP/1.1\r\n{head}\r\n".encode() + body


API_REQUEST = _api_post()
API_RESPONSE = (  # what the harness's nginx origin answers to it
    b"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Wed, 25 Nov 2026 12:00:00 GMT\r\n"
    b"Content-Type: application/json\r\nContent-Length: 27\r\nConnection: keep-alive\r\n\r\n"
    b'{"id":1,"status":"created"}'
)

# Requests a loop pass serves under load (wrk -c50 on the 2-core machine: ~20 finish in one pass); the
# loop then runs what they left for the pass's end, such as the access log's write of their lines.
PASS = 16


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


AUTHORIZATION = b"Authorization: Basic dGVzdDp0ZXN0\r\n"  # test:test
EXTRA_MIDDLEWARES = {
    "ipallowlist": '[http.middlewares.extra.ipAllowList]\n  sourceRange = ["127.0.0.1/32"]\n',
    # {SHA} of "test", and bcrypt (cost 10) of "test"
    "basicauth": '[http.middlewares.extra.basicAuth]\n  users = ["test:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M="]\n',
    # customRequestHeaders X-Forwarded-For = "": the forwarder then sends no X-Forwarded-For at all
    "headers": '[http.middlewares.extra.headers.customRequestHeaders]\n  X-Forwarded-For = ""\n',
    "basicauth-bcrypt": "[http.middlewares.extra.basicAuth]\n"
    '  users = ["test:$2y$10$sPNojgR9XoMxkOd8yvQU.OSzGpF.u/07DNnG61P2pjpH89IJLOemG"]\n',
}


def routes_with(extra: str, folder: Path) -> Path:
    """The guide's routes file with middleware `extra` first on its router."""
    text = GUIDE_ROUTES.read_text().replace(
        'middlewares = ["api-stripprefix"]', 'middlewares = ["extra", "api-stripprefix"]'
    )
    path = folder / "routes.toml"
    path.write_text(text + "\n" + EXTRA_MIDDLEWARES[extra])
    return path


def observe(gateway: Gateway, directory: str) -> str:
    """Attach what the flags ask for to the gateway's observers, as the gateway does (their bound __call__,
    see Observability.observers); a description for the output."""
    parts = []
    if "--access-log" in sys.argv:
        from proxy.config.static import AccessLogConfig
        from proxy.observability.accesslog import AccessLog

        buffering = int(next((a[12:] for a in sys.argv if a.startswith("--buffering=")), "0"))
        access_log = AccessLog(AccessLogConfig(file_path=f"{directory}/access.log", buffering_size=buffering))
        gateway.observers.append(access_log.__call__)
        parts.append(f"access log (file, common, bufferingSize {buffering})")
    if "--metrics" in sys.argv:
        from proxy.config.static import PrometheusConfig
        from proxy.observability.metrics import Metrics

        gateway.observers.append(Metrics(PrometheusConfig()).__call__)
        parts.append("prometheus metrics")
    return " with " + " and ".join(parts) if parts else ""


async def run(count: int, profile: bool) -> None:
    extra = next((a[7:] for a in sys.argv if a.startswith("--with=")), "")
    with tempfile.TemporaryDirectory() as folder:
        await _run(count, profile, extra, routes_with(extra, Path(folder)) if extra else GUIDE_ROUTES)


async def _run(count: int, profile: bool, extra: str, routes: Path) -> None:
    request, response, forwarded = REQUEST, RESPONSE, b"GET /items?page=2 HTTP/1.1\r\n"
    if "--api-post" in sys.argv:
        request, response, forwarded = API_REQUEST, API_RESPONSE, b"POST /api/items HTTP/1.1\r\n"
    if "--authorization" in sys.argv or extra.startswith("basicauth"):
        head, _, body = request.partition(b"\r\n\r\n")
        request = head + b"\r\n" + AUTHORIZATION + b"\r\n" + body
    # as the CLI runs: no exchange records; `--rewrite-prefix`: prefixRewrite on the guide's stripping router
    gateway = Gateway(routes, record=0, rewrite_prefix="--rewrite-prefix" in sys.argv)
    directory = tempfile.mkdtemp(prefix="bench-hotpath-")
    label_observed = observe(gateway, directory)
    runtime = next(iter(gateway.entry_point_servers.values())).runtime
    client = ClientConnection(runtime)
    client_transport = MemoryTransport()
    client.connection_made(client_transport)
    plan = runtime.table.routes[0].target
    pool = plan.service.servers[0].pool  # the guide's only server
    upstream = UpstreamConnection(pool)
    upstream_transport = MemoryTransport()
    upstream.connection_made(upstream_transport)
    pool.release(upstream)

    waits = any(m.waits for m in plan.middlewares)

    def one() -> None:
        client.data_received(request)
        upstream.data_received(response)

    async def one_waiting() -> None:  # the request goes upstream once the loop has run its task
        written = len(upstream_transport.written)
        client.data_received(request)
        while len(upstream_transport.written) == written:
            await asyncio.sleep(0)
        upstream.data_received(response)

    await one_waiting()
    sent = b"".join(upstream_transport.written)
    assert sent.startswith(forwarded) and b"X-Forwarded-Prefix: /api/v1" in sent, sent
    assert b"".join(client_transport.written).startswith(b"HTTP/1.1 200 OK"), client_transport.written
    for i in range(2000):
        await one_waiting() if waits else one()
        if i % PASS == PASS - 1:
            await asyncio.sleep(0)
    # As the CLI does once started: the config's objects leave the collector's view, so that a full
    # collection landing inside the timed loop (or not) does not swing the figure.
    gc.collect()
    gc.freeze()
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    started = time.perf_counter()
    for i in range(count):
        if waits:
            await one_waiting()
        else:
            one()
        if i % PASS == PASS - 1:  # the loop runs what the requests left for the end of its pass
            await asyncio.sleep(0)
        if i % 1024 == 0:
            client_transport.written.clear()
            upstream_transport.written.clear()
    elapsed = time.perf_counter() - started
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats(
            next((a[7:] for a in sys.argv if a.startswith("--sort=")), "tottime")
        ).print_stats(30)
    label = " (benchmarks/api_post.lua's POST)" if request is API_REQUEST else ""
    if extra:
        label += f" (+ {extra})"
    elif request not in (REQUEST, API_REQUEST):
        label += " (+ Authorization header)"
    label += label_observed
    shutil.rmtree(directory, ignore_errors=True)
    print(
        f"{count} keep-alive requests through the forwarder{label}: {elapsed / count * 1e6:.1f} us of Python each "
        f"({count / elapsed:,.0f} req/s on one core, before syscalls)"
    )
    pool.close()


if __name__ == "__main__":
    asyncio.run(run(int(next((a for a in sys.argv[1:] if a.isdigit()), "20000")), "--profile" in sys.argv))
