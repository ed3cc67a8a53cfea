"""Soak: the real gateway under mixed traffic and config reloads for a few minutes, losing nothing.

    .venv/bin/python benchmarks/soak.py [--seconds 180] [--seed 1] [--clients 8] [--reload-every 3]

Runs `python -m proxy --config traefik.yaml` (a generated static file with a watched file provider, in a
temporary folder) in front of two aiohttp upstreams served by this process on loopback, and drives it with
`--clients` concurrent clients for `--seconds` (it stops by itself), each picking, from its own seeded
random stream, one of:

- GETs and POSTs with small to several-MiB bodies, sent with Content-Length or chunked, answered with
  Content-Length or chunked bodies, or streamed by the upstream in pieces with pauses between them;
- a route with compress (gzip, br, zstd or identity asked for; the body is decompressed before checking);
- a route with retry in front of a service whose second server refuses connections, and whose upstream
  answers 503 to the first attempt of some requests (GETs, and PUTs whose body must be sent again);
- client aborts mid-request (raw socket: Content-Length or chunked, closed or reset) and mid-response;
- upstream aborts mid-response (Content-Length or chunked) and before any response;
- websockets (echo, every message checked, some connections cut mid-way);
- a router that a reload adds and the next removes.

Every few seconds the dynamic file is rewritten (atomically): the extra router comes or goes and the
headers middleware on the routes under test changes the value it adds (the routes themselves stay).

Checks (the exit status is 1 when one fails):

- every completed exchange: the request body the upstream read has the sha256 and length the client sent,
  and the response body the client read (decompressed when compress applied) has the sha256 and length
  the upstream wrote; the upstream saw the stripped path, the X-Forwarded-Prefix and the headers
  middleware's request header; only the retry route may send a request more than once; the headers
  middleware's generation never goes back for a client (a reload never serves an older table);
- an aborted exchange is counted, not judged, except that a truncated upstream answer must never reach
  the client as a complete one, and a request the client abandoned must never reach the upstream as a
  complete one;
- zero unexplained failures (an unexpected status, a client error, a timeout) and no traceback in the
  gateway's log;
- no leaks, once the clients have gone and the upstreams have closed their keep-alive connections: the
  gateway's open fds (/proc/<pid>/fd) back to the count before the traffic (within FD_TOLERANCE), no
  socket left in CLOSE_WAIT, asyncio tasks back to the count before the traffic (within TASK_TOLERANCE;
  read through a test-only probe, benchmarks/soak_probe/sitecustomize.py, put on the gateway's
  PYTHONPATH: a SIGUSR2 handler, nothing in the product), live objects of the proxy's classes back to
  what they were after warm-up (within CENSUS_TOLERANCE);
- RSS (VmRSS, sampled every second) flat after warm-up: the end (the median of the last 10 samples) at
  most RSS_TOLERANCE_MIB above the warm-up figure (the median of 10 samples at the end of the first
  WARMUP_FRACTION of the run); the least-squares slope after warm-up is reported.

Everything listens on 127.0.0.1 ports the kernel picks; the gateway is started and stopped by its pid.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from proxy.testing.process import GatewayProcess  # noqa: E402
from proxy.testing.upstreams import bound_socket  # noqa: E402

PROBE_DIR = Path(__file__).resolve().parent / "soak_probe"
FD_TOLERANCE = 2
TASK_TOLERANCE = 2
CENSUS_TOLERANCE = 20  # live objects per proxy class, end against after warm-up
RSS_TOLERANCE_MIB = 8.0
WARMUP_FRACTION = 0.25
EXCHANGE_TIMEOUT = 60.0
MiB = 1024 * 1024

# The bytes every body is cut from: random (incompressible) and hex text of random bytes (compressible).
BLOB_SIZE = 10 * MiB


def make_blobs(seed: int) -> tuple[bytes, bytes]:
    raw = random.Random(seed).randbytes(BLOB_SIZE)
    return raw, raw[: BLOB_SIZE // 2].hex().encode()


def sha(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


# -- the upstreams ---------------------------------------------------------------------------------------


@dataclass
class Seen:
    """What an upstream read and wrote for one request id (the last attempt when there were several)."""

    attempts: int = 0
    path: str = ""
    prefix: str | None = None
    soak_header: str | None = None
    req_len: int = 0
    req_sha: str = ""
    req_complete: bool = False
    resp_len: int = 0
    resp_sha: str = ""
    resp_complete: bool = False
    ws_in: str = ""
    ws_out: str = ""
    ws_messages: int = 0


class Upstreams:
    """Two aiohttp servers sharing one ledger: request id -> Seen."""

    def __init__(self, raw: bytes, text: bytes) -> None:
        self.raw, self.text = raw, text
        self.ledger: dict[str, Seen] = {}
        self.runners: list[web.AppRunner] = []
        self.urls: list[str] = []
        self.ports: set[int] = set()
        self.dead = bound_socket()  # bound, never listening: connections to it are refused
        self.ports.add(self.dead.getsockname()[1])
        self.dead_url = f"http://127.0.0.1:{self.dead.getsockname()[1]}"
        self.ws_open = 0

    async def start(self, count: int = 2) -> None:
        for _ in range(count):
            app = web.Application(client_max_size=1 << 30)
            app.router.add_route("*", "/{tail:.*}", self.handle)
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            sock = bound_socket()
            await web.SockSite(runner, sock).start()
            self.runners.append(runner)
            port = sock.getsockname()[1]
            self.ports.add(port)
            self.urls.append(f"http://127.0.0.1:{port}")

    async def stop(self) -> None:
        for runner in self.runners:
            await runner.cleanup()  # closes the gateway's keep-alive connections to us
        self.dead.close()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        parts = request.path.split("/")  # "", "x" or "ws", rid
        rid = parts[2] if len(parts) == 3 else ""
        seen = self.ledger.setdefault(rid, Seen())
        seen.attempts += 1
        seen.path = request.path
        seen.prefix = request.headers.get("X-Forwarded-Prefix")
        seen.soak_header = request.headers.get("X-Soak")
        if parts[1] == "ws":
            return await self.websocket(request, seen)
        query = request.query
        digest, length = hashlib.sha256(), 0
        seen.req_complete = False
        try:
            async for chunk in request.content.iter_any():
                digest.update(chunk)
                length += len(chunk)
        except (ConnectionError, aiohttp.ClientPayloadError, aiohttp.web.HTTPException):
            seen.req_len, seen.req_sha = length, digest.hexdigest()  # the body never came whole
            return web.Response(status=400)
        seen.req_len, seen.req_sha, seen.req_complete = length, digest.hexdigest(), True
        if query.get("f") == "1" and seen.attempts == 1:
            return web.Response(status=503, text="first attempt refused")
        abort = int(query.get("ab", "-2"))
        if abort == -1:  # no answer at all
            assert request.transport is not None
            request.transport.abort()
            return web.Response()
        size, offset = int(query.get("n", "0")), int(query.get("o", "0"))
        blob = self.text if query.get("t") == "1" else self.raw
        body = memoryview(blob)[offset : offset + size]
        mode = query.get("m", "cl")
        response = web.StreamResponse(
            headers={
                "X-Req-Sha": seen.req_sha,
                "X-Req-Len": str(length),
                "Content-Type": "text/plain" if query.get("t") == "1" else "application/octet-stream",
            }
        )
        if mode == "ch":
            response.enable_chunked_encoding()
        else:
            response.content_length = size
        try:
            await response.prepare(request)
            pieces = max(1, int(query.get("pc", "1")))
            pause = int(query.get("ps", "0")) / 1000
            step = max(1, -(-size // pieces)) if mode == "st" else 256 * 1024
            out, sent = hashlib.sha256(), 0
            seen.resp_complete = False
            while sent < size:
                piece = body[sent : sent + step]
                if 0 <= abort < sent + len(piece):  # the upstream dies mid-answer
                    piece = piece[: abort - sent]
                    out.update(piece)
                    seen.resp_len, seen.resp_sha = sent + len(piece), out.hexdigest()
                    await response.write(bytes(piece))
                    await asyncio.sleep(0.01)
                    assert request.transport is not None
                    request.transport.abort()
                    return response
                out.update(piece)  # before the write: the client may have it before this handler resumes
                sent += len(piece)
                seen.resp_len, seen.resp_sha, seen.resp_complete = sent, out.hexdigest(), sent == size
                await response.write(bytes(piece))
                if mode == "st" and pause:
                    await asyncio.sleep(pause)
            seen.resp_len, seen.resp_sha, seen.resp_complete = sent, out.hexdigest(), True
            await response.write_eof()
            return response
        except ConnectionError:  # the gateway dropped the connection: a client went away mid-answer
            return response

    async def websocket(self, request: web.Request, seen: Seen) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0, compress=False, autoping=True)
        await ws.prepare(request)
        self.ws_open += 1
        into, back = hashlib.sha256(), hashlib.sha256()
        try:
            async for message in ws:
                if message.type == aiohttp.WSMsgType.BINARY:
                    data = message.data
                elif message.type == aiohttp.WSMsgType.TEXT:
                    data = message.data.encode()
                else:
                    break
                into.update(data)
                seen.ws_in = into.hexdigest()
                back.update(data)
                seen.ws_out = back.hexdigest()
                seen.ws_messages += 1
                if message.type == aiohttp.WSMsgType.BINARY:
                    await ws.send_bytes(data)
                else:
                    await ws.send_str(message.data)
        finally:
            self.ws_open -= 1
        return ws


# -- the dynamic config ----------------------------------------------------------------------------------


ROUTES = {"plain": "/plain", "gz": "/gz", "retry": "/retry", "extra": "/extra"}


def dynamic_config(generation: int, upstreams: Upstreams) -> dict[str, Any]:
    servers = [{"url": url} for url in upstreams.urls]
    middlewares: dict[str, Any] = {
        f"strip-{name}": {"stripPrefix": {"prefixes": [prefix]}} for name, prefix in ROUTES.items()
    }
    middlewares["hdr"] = {
        "headers": {"customRequestHeaders": {"X-Soak": "on"}, "customResponseHeaders": {"X-Soak-Gen": str(generation)}}
    }
    middlewares["gz"] = {"compress": {"minResponseBodyBytes": 1024 if generation % 3 else 512}}
    middlewares["retry"] = {"retry": {"attempts": 16, "status": ["503"]}}
    routers: dict[str, Any] = {
        "plain": {"rule": "PathPrefix(`/plain`)", "service": "app", "middlewares": ["strip-plain", "hdr"]},
        "gz": {"rule": "PathPrefix(`/gz`)", "service": "app", "middlewares": ["strip-gz", "hdr", "gz"]},
        "retry": {"rule": "PathPrefix(`/retry`)", "service": "flaky", "middlewares": ["strip-retry", "retry"]},
    }
    if generation % 2 == 0:
        routers[f"extra-{generation}"] = {
            "rule": "PathPrefix(`/extra`)",
            "service": "app",
            "middlewares": ["strip-extra"],
        }
    for router in routers.values():
        router["entryPoints"] = ["web"]
    services = {
        "app": {"loadBalancer": {"servers": servers}},
        "flaky": {"loadBalancer": {"servers": [{"url": upstreams.dead_url}, servers[0]]}},
    }
    return {"http": {"routers": routers, "middlewares": middlewares, "services": services}}


def write_atomically(path: Path, data: dict[str, Any]) -> None:
    scratch = path.with_suffix(".tmp")
    scratch.write_text(yaml.safe_dump(data), encoding="utf-8")
    os.replace(scratch, path)


# -- watching the gateway process ------------------------------------------------------------------------


TCP_STATES = {
    "01": "ESTABLISHED",
    "02": "SYN_SENT",
    "03": "SYN_RECV",
    "04": "FIN_WAIT1",
    "05": "FIN_WAIT2",
    "06": "TIME_WAIT",
    "07": "CLOSE",
    "08": "CLOSE_WAIT",
    "09": "LAST_ACK",
    "0A": "LISTEN",
    "0B": "CLOSING",
}


def fd_targets(pid: int) -> list[str]:
    folder = f"/proc/{pid}/fd"
    found = []
    for name in os.listdir(folder):
        with contextlib.suppress(OSError):
            found.append(os.readlink(f"{folder}/{name}"))
    return found


def sockets_of(pid: int, gateway_port: int, upstream_ports: set[int]) -> dict[str, int]:
    """The gateway's TCP sockets by side and state ("client ESTABLISHED", "upstream CLOSE_WAIT", ...)."""
    inodes = {target[8:-1] for target in fd_targets(pid) if target.startswith("socket:[")}
    counts: dict[str, int] = {}
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/net/{table}") as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                if fields[9] not in inodes:
                    continue
                local, remote = int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16)
                state = TCP_STATES.get(fields[3], fields[3])
                side = (
                    "listen"
                    if state == "LISTEN"
                    else "client"
                    if local == gateway_port
                    else "upstream"
                    if remote in upstream_ports
                    else "other"
                )
                key = f"{side} {state}"
                counts[key] = counts.get(key, 0) + 1
    return counts


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Probe:
    """Asks the gateway's test-only SIGUSR2 handler (benchmarks/soak_probe) for its tasks and objects."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "probe.json"

    async def read(self, pid: int, census: bool = False) -> dict[str, Any]:
        flag = Path(str(self.path) + ".census")
        if census:
            flag.touch()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.kill(pid, signal.SIGUSR2)
        try:
            for _ in range(200):
                await asyncio.sleep(0.025)
                if self.path.exists():
                    return dict(json.loads(self.path.read_text()))
            return {}
        finally:
            if census:
                flag.unlink()


@dataclass
class Sample:
    at: float
    fds: int
    rss_kib: int
    tasks: int


# -- the clients -----------------------------------------------------------------------------------------

KINDS = {  # kind: weight
    "get": 14,
    "post_cl": 10,
    "post_chunked": 8,
    "stream": 8,
    "gz": 10,
    "retry": 6,
    "retry_put": 4,
    "extra": 4,
    "abort_request": 5,
    "abort_response": 5,
    "upstream_abort": 5,
    "upstream_no_answer": 2,
    "ws": 6,
}
ABORTED_KINDS = {"abort_request", "abort_response", "upstream_abort", "upstream_no_answer"}


@dataclass
class KindStats:
    started: int = 0
    completed: int = 0
    aborted: int = 0
    failed: int = 0
    bytes_up: int = 0
    bytes_down: int = 0


@dataclass
class Totals:
    kinds: dict[str, KindStats] = field(default_factory=lambda: {kind: KindStats() for kind in KINDS})
    failures: list[str] = field(default_factory=list)
    abandoned_requests: list[str] = field(default_factory=list)  # request ids the client gave up mid-body
    compressed: dict[str, int] = field(default_factory=dict)
    connections: int = 0
    http_requests: int = 0
    ws_messages: int = 0
    retried: int = 0

    def fail(self, kind: str, rid: str, why: str) -> None:
        self.kinds[kind].failed += 1
        self.failures.append(f"{kind} {rid}: {why}")


def body_size(rng: random.Random, large: int = 6 * MiB) -> int:
    pick = rng.random()
    if pick < 0.5:
        return rng.randrange(0, 16 * 1024)
    if pick < 0.85:
        return rng.randrange(16 * 1024, 512 * 1024)
    return rng.randrange(512 * 1024, large)


async def chunks_of(data: memoryview, rng: random.Random) -> AsyncIterator[bytes]:
    sent = 0
    while sent < len(data):
        step = rng.choice((1, 100, 4096, 65536, 300_000))
        yield bytes(data[sent : sent + step])
        sent += step
        if rng.random() < 0.05:
            await asyncio.sleep(0.005)


def decompress(encoding: str, data: bytes) -> bytes:
    if encoding == "gzip":
        return zlib.decompress(data, wbits=31)
    if encoding == "br":
        import brotli

        return bytes(brotli.decompress(data))
    if encoding == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    raise ValueError(f"unexpected Content-Encoding {encoding!r}")


class Client:
    def __init__(
        self, number: int, seed: int, base: str, port: int, upstreams: Upstreams, totals: Totals, deadline: float
    ) -> None:
        self.number = number
        self.rng = random.Random(seed * 1000 + number)
        self.base, self.port = base, port
        self.up, self.totals = upstreams, totals
        self.deadline = deadline
        self.count = 0
        self.generation = -1
        self.session: aiohttp.ClientSession | None = None

    def rid(self) -> str:
        self.count += 1
        return f"c{self.number}n{self.count}"

    async def run(self) -> None:
        trace = aiohttp.TraceConfig()

        async def created(*_: Any) -> None:
            self.totals.connections += 1

        trace.on_connection_create_end.append(created)
        connector = aiohttp.TCPConnector(limit=4, force_close=False)
        timeout = aiohttp.ClientTimeout(total=EXCHANGE_TIMEOUT)
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, auto_decompress=False, trace_configs=[trace]
        ) as self.session:
            kinds, weights = list(KINDS), list(KINDS.values())
            while time.monotonic() < self.deadline:
                kind = self.rng.choices(kinds, weights)[0]
                rid = self.rid()
                self.totals.kinds[kind].started += 1
                try:
                    await asyncio.wait_for(getattr(self, kind)(kind, rid), EXCHANGE_TIMEOUT + 5)
                except TimeoutError:
                    self.totals.fail(kind, rid, "timed out")
                except Exception as exc:  # noqa: BLE001 - every unexpected error is a finding
                    self.totals.fail(kind, rid, f"{type(exc).__name__}: {exc}")

    # Plain exchanges: judged in full ------------------------------------------------------------------
    async def exchange(
        self,
        kind: str,
        rid: str,
        route: str,
        *,
        method: str = "GET",
        send: int = 0,
        chunked: bool = False,
        size: int | None = None,
        mode: str = "cl",
        pieces: int = 1,
        pause: int = 0,
        text: bool = False,
        fail_first: bool = False,
        encoding: str | None = None,
        accept: tuple[int, ...] = (200,),
    ) -> None:
        assert self.session is not None
        rng = self.rng
        size = body_size(rng) if size is None else size
        offset = rng.randrange(0, BLOB_SIZE - size)
        query = f"n={size}&o={offset}&m={mode}&pc={pieces}&ps={pause}&t={int(text)}&f={int(fail_first)}"
        body = memoryview(self.up.raw)[rng.randrange(0, BLOB_SIZE - send) :][:send]
        sent_sha = sha(body)
        data: Any = None
        if method != "GET":
            data = chunks_of(body, rng) if chunked else bytes(body)
        headers = {"Accept-Encoding": encoding or "identity"}
        self.totals.http_requests += 1
        async with self.session.request(
            method, f"{self.base}{route}/x/{rid}?{query}", data=data, headers=headers
        ) as response:
            received, digest, length = bytearray(), hashlib.sha256(), 0
            async for chunk in response.content.iter_any():
                received += chunk
            status = response.status
            content_encoding = response.headers.get("Content-Encoding", "")
            generation = response.headers.get("X-Soak-Gen")
        stats = self.totals.kinds[kind]
        stats.bytes_up += send
        stats.bytes_down += len(received)
        if status not in accept:
            seen = self.up.ledger.get(rid)
            self.totals.fail(
                kind,
                rid,
                f"status {status}: {bytes(received[:200])!r} "
                f"(the upstream saw {seen.attempts if seen else 0} attempt(s))",
            )
            return
        if status == 404:  # the extra router, between a reload that removed it and one that adds it back
            stats.completed += 1
            return
        if content_encoding:
            self.totals.compressed[content_encoding] = self.totals.compressed.get(content_encoding, 0) + 1
            received = bytearray(decompress(content_encoding, bytes(received)))
        digest.update(received)
        length = len(received)
        seen = self.up.ledger.get(rid)
        expected = memoryview(self.up.text if text else self.up.raw)[offset : offset + size]
        problems = []
        if seen is None:
            problems.append("the upstream never saw it")
        else:
            if seen.attempts > 1:
                if route != "/retry":
                    problems.append(f"sent upstream {seen.attempts} times")
                self.totals.retried += 1
            if (seen.req_len, seen.req_sha) != (send, sent_sha):
                problems.append(
                    f"request body: sent {send} bytes, upstream read {seen.req_len} "
                    f"({'same' if seen.req_sha == sent_sha else 'different'} sha256)"
                )
            if not seen.resp_complete or (seen.resp_len, seen.resp_sha) != (length, digest.hexdigest()):
                problems.append(
                    f"response body: upstream wrote {seen.resp_len}, client read {length} "
                    f"({'same' if seen.resp_sha == digest.hexdigest() else 'different'} sha256)"
                )
            if seen.path != f"/x/{rid}":
                problems.append(f"upstream path {seen.path!r}")
            if seen.prefix != route:
                problems.append(f"X-Forwarded-Prefix {seen.prefix!r}")
            if route in ("/plain", "/gz") and seen.soak_header != "on":
                problems.append("the headers middleware's request header is missing")
        if length != size or sha(expected) != digest.hexdigest():
            problems.append(f"response differs from the {size} bytes expected")
        if route in ("/plain", "/gz"):
            if generation is None:
                problems.append("X-Soak-Gen missing")
            elif int(generation) < self.generation:
                problems.append(f"config generation went back: {generation} after {self.generation}")
            else:
                self.generation = int(generation)
        if problems:
            self.totals.fail(kind, rid, "; ".join(problems))
        else:
            stats.completed += 1

    async def get(self, kind: str, rid: str) -> None:
        await self.exchange(kind, rid, "/plain", mode=self.rng.choice(("cl", "ch")))

    async def post_cl(self, kind: str, rid: str) -> None:
        await self.exchange(
            kind, rid, "/plain", method="POST", send=body_size(self.rng), mode=self.rng.choice(("cl", "ch"))
        )

    async def post_chunked(self, kind: str, rid: str) -> None:
        await self.exchange(
            kind,
            rid,
            "/plain",
            method="POST",
            send=body_size(self.rng),
            chunked=True,
            mode=self.rng.choice(("cl", "ch")),
        )

    async def stream(self, kind: str, rid: str) -> None:
        rng = self.rng
        await self.exchange(
            kind,
            rid,
            rng.choice(("/plain", "/gz")),
            mode="st",
            pieces=rng.randrange(2, 12),
            pause=rng.randrange(5, 60),
            text=rng.random() < 0.5,
            encoding=rng.choice(("gzip", "identity")),
        )

    async def gz(self, kind: str, rid: str) -> None:
        rng = self.rng
        method = rng.choice(("GET", "POST"))
        await self.exchange(
            kind,
            rid,
            "/gz",
            method=method,
            send=body_size(rng) if method == "POST" else 0,
            size=rng.choice((0, 100, 600, 2000, body_size(rng, 4 * MiB))),
            mode=rng.choice(("cl", "ch", "st")),
            pieces=4,
            pause=5,
            text=rng.random() < 0.8,
            encoding=rng.choice(("gzip", "br", "zstd", "identity", "gzip, br;q=0.5")),
        )

    async def retry(self, kind: str, rid: str) -> None:
        await self.exchange(kind, rid, "/retry", fail_first=self.rng.random() < 0.5, mode=self.rng.choice(("cl", "ch")))

    async def retry_put(self, kind: str, rid: str) -> None:
        rng = self.rng
        await self.exchange(
            kind,
            rid,
            "/retry",
            method="PUT",
            send=rng.randrange(0, MiB),
            chunked=rng.random() < 0.5,
            fail_first=rng.random() < 0.5,
            size=rng.randrange(0, 64 * 1024),
        )

    async def extra(self, kind: str, rid: str) -> None:
        await self.exchange(kind, rid, "/extra", accept=(200, 404), size=self.rng.randrange(0, 64 * 1024))

    # Aborted exchanges: counted -----------------------------------------------------------------------
    async def abort_request(self, kind: str, rid: str) -> None:
        """A raw client sends a head announcing a body, part of the body, then closes or resets."""
        rng = self.rng
        chunked = rng.random() < 0.5
        total = body_size(rng) + 1
        part = rng.randrange(0, total)
        body = self.up.raw[:total]
        head = (
            f"POST /plain/x/{rid}?n=10 HTTP/1.1\r\nHost: soak\r\n"
            + ("Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {total}\r\n")
            + "\r\n"
        ).encode()
        payload = body[:part]
        if chunked and payload:
            payload = b"%x\r\n" % len(payload) + payload + b"\r\n"  # a chunk, and never the last one
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(head + payload)
            await writer.drain()
            await asyncio.sleep(rng.choice((0, 0.01, 0.05)))
        finally:
            if rng.random() < 0.5:
                writer.transport.abort()
            else:
                writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        self.totals.abandoned_requests.append(rid)
        self.totals.kinds[kind].aborted += 1
        self.totals.kinds[kind].bytes_up += part

    async def abort_response(self, kind: str, rid: str) -> None:
        """A client that stops reading a large or streamed answer part-way and drops the connection."""
        assert self.session is not None
        rng = self.rng
        size = rng.randrange(256 * 1024, 6 * MiB)
        route = rng.choice(("/plain", "/gz"))
        mode = rng.choice(("cl", "ch", "st"))
        url = f"{self.base}{route}/x/{rid}?n={size}&o=0&m={mode}&pc=8&ps=20&t={int(route == '/gz')}"
        self.totals.http_requests += 1
        async with self.session.get(
            url, headers={"Accept-Encoding": "gzip" if route == "/gz" else "identity"}
        ) as response:
            want = rng.randrange(0, size // 2)
            got = 0
            async for chunk in response.content.iter_any():
                got += len(chunk)
                if got >= want:
                    break
            response.close()  # drops the connection instead of handing it back
        self.totals.kinds[kind].aborted += 1
        self.totals.kinds[kind].bytes_down += got

    async def upstream_abort(self, kind: str, rid: str) -> None:
        """The upstream dies part-way through its answer: the client must see an incomplete one."""
        assert self.session is not None
        rng = self.rng
        size = rng.randrange(1024, 2 * MiB)
        cut = rng.randrange(0, size)
        mode = rng.choice(("cl", "ch", "st"))
        self.totals.http_requests += 1
        got = 0
        try:
            async with self.session.get(
                f"{self.base}/plain/x/{rid}?n={size}&o=0&m={mode}&pc=4&ps=10&ab={cut}"
            ) as response:
                async for chunk in response.content.iter_any():
                    got += len(chunk)
        except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
            self.totals.kinds[kind].aborted += 1
        else:
            if response.status == 502 and cut == 0:  # nothing reached the client before the upstream died
                self.totals.kinds[kind].aborted += 1
            else:
                self.totals.fail(
                    kind,
                    rid,
                    f"status {response.status}, {got} of {size} bytes (the upstream "
                    f"sent {cut}) and the answer looked complete",
                )
        self.totals.kinds[kind].bytes_down += got

    async def upstream_no_answer(self, kind: str, rid: str) -> None:
        assert self.session is not None
        self.totals.http_requests += 1
        async with self.session.get(f"{self.base}/plain/x/{rid}?ab=-1") as response:
            await response.read()
        if response.status == 502:
            self.totals.kinds[kind].aborted += 1
        else:
            self.totals.fail(kind, rid, f"status {response.status} from an upstream that closed without answering")

    async def ws(self, kind: str, rid: str) -> None:
        assert self.session is not None
        rng = self.rng
        route = rng.choice(("/plain", "/plain", "/gz"))
        messages = rng.randrange(1, 20)
        cut = rng.randrange(0, messages) if rng.random() < 0.2 else None
        into, back = hashlib.sha256(), hashlib.sha256()
        stats = self.totals.kinds[kind]
        ws = await self.session.ws_connect(f"{self.base}{route}/ws/{rid}", max_msg_size=0, compress=0, autoping=True)
        try:
            for number in range(messages):
                if number == cut:
                    conn = ws._conn  # noqa: SLF001 - cut the TCP connection, no close frame
                    transport = conn.transport if conn is not None else None
                    if transport is not None:
                        transport.abort()
                    stats.aborted += 1
                    return
                size = rng.choice((0, 1, 125, 126, 65535, 65536, rng.randrange(0, 256 * 1024)))
                start = rng.randrange(0, BLOB_SIZE - size)
                binary = rng.random() < 0.5
                data = self.up.raw[start : start + size] if binary else self.up.text[start // 2 : start // 2 + size]
                into.update(data)
                if binary:
                    await ws.send_bytes(data)
                else:
                    await ws.send_str(data.decode())
                message = await ws.receive()
                echoed = (
                    message.data
                    if message.type == aiohttp.WSMsgType.BINARY
                    else message.data.encode()
                    if message.type == aiohttp.WSMsgType.TEXT
                    else None
                )
                if echoed is None:
                    self.totals.fail(kind, rid, f"message {number}: got {message.type!r} {message.data!r}")
                    return
                back.update(echoed)
                stats.bytes_up += size
                stats.bytes_down += len(echoed)
                self.totals.ws_messages += 1
                if echoed != data:
                    self.totals.fail(kind, rid, f"message {number} of {size} bytes came back different")
                    return
        finally:
            await ws.close()
        seen = self.up.ledger.get(rid)
        if seen is None or seen.ws_in != into.hexdigest() or seen.ws_messages != messages:
            self.totals.fail(
                kind, rid, f"the upstream saw {seen.ws_messages if seen else 0} of {messages} messages or other bytes"
            )
        elif into.hexdigest() != back.hexdigest():
            self.totals.fail(kind, rid, "echoed bytes differ")
        else:
            stats.completed += 1


# -- the run ---------------------------------------------------------------------------------------------


STATIC = {"entryPoints": {"web": {"address": "127.0.0.1:0"}}, "log": {"level": "INFO"}}


def slope_mib_per_minute(samples: list[Sample]) -> float:
    if len(samples) < 3:
        return 0.0
    xs = [s.at for s in samples]
    ys = [s.rss_kib / 1024 for s in samples]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    return 60 * sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


async def soak(args: argparse.Namespace) -> int:
    raw, text = make_blobs(args.seed)
    upstreams = Upstreams(raw, text)
    await upstreams.start()
    totals = Totals()
    with tempfile.TemporaryDirectory(prefix="stripproxy-soak-") as scratch:
        folder = Path(scratch)
        routes = folder / "routes.yaml"
        generation = 0
        write_atomically(routes, dynamic_config(generation, upstreams))
        static = {**STATIC, "providers": {"file": {"filename": str(routes), "watch": True}}}
        (folder / "traefik.yaml").write_text(yaml.safe_dump(static), encoding="utf-8")
        os.environ["SOAK_PROBE"] = str(folder / "probe.json")
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROBE_DIR), os.environ.get("PYTHONPATH")]))
        gateway = GatewayProcess(folder / "traefik.yaml", workdir=folder / "gateway")
        gateway.start()
        pid = gateway.pid
        assert pid is not None
        base = gateway.urls["web"]
        port = int(base.rsplit(":", 1)[1])
        probe = Probe(folder)
        try:
            await asyncio.sleep(1.0)
            start_fds, start_rss = len(fd_targets(pid)), rss_kib(pid)
            start_tasks = (await probe.read(pid)).get("tasks", -1)
            print(
                f"gateway pid {pid} on {base}: {start_fds} fds, {start_rss / 1024:.1f} MiB RSS, "
                f"{start_tasks} tasks before traffic; soaking for {args.seconds:.0f} s",
                flush=True,
            )
            began = time.monotonic()
            deadline = began + args.seconds
            samples: list[Sample] = []
            warm_census: dict[str, int] = {}
            writes = 0

            async def rewrite() -> None:
                nonlocal generation, writes
                while time.monotonic() < deadline:
                    await asyncio.sleep(args.reload_every)
                    generation += 1
                    write_atomically(routes, dynamic_config(generation, upstreams))
                    writes += 1

            async def watch() -> None:
                nonlocal warm_census
                warm_at = began + args.seconds * WARMUP_FRACTION
                while time.monotonic() < deadline:
                    census = not warm_census and time.monotonic() >= warm_at
                    found = await probe.read(pid, census=census)
                    if census:
                        warm_census = found.get("census", {})
                    samples.append(
                        Sample(
                            time.monotonic() - began, len(fd_targets(pid)), rss_kib(pid), int(found.get("tasks", -1))
                        )
                    )
                    if gateway._process is None or gateway._process.poll() is not None:  # noqa: SLF001
                        totals.failures.append("the gateway process ended during the soak")
                        return
                    await asyncio.sleep(1.0)

            clients = [Client(n, args.seed, base, port, upstreams, totals, deadline) for n in range(args.clients)]
            await asyncio.gather(rewrite(), watch(), *(client.run() for client in clients))
            traffic_seconds = time.monotonic() - began
            await asyncio.sleep(2.0)  # the gateway notices the clients have gone
            after_clients = sockets_of(pid, port, upstreams.ports)
            end_census = (await probe.read(pid, census=True)).get("census", {})
            await upstreams.stop()
            await asyncio.sleep(2.5)  # and that the upstreams closed their keep-alive connections
            end_fds, end_rss = len(fd_targets(pid)), rss_kib(pid)
            end_probe = await probe.read(pid)
            end_tasks = end_probe.get("tasks", -1)
            end_sockets = sockets_of(pid, port, upstreams.ports)
        finally:
            status = gateway.stop()
        log = gateway.output

    # The verdict ------------------------------------------------------------------------------------------
    for rid in totals.abandoned_requests:
        seen = upstreams.ledger.get(rid)
        if seen is not None and seen.req_complete:
            totals.fail(
                "abort_request",
                rid,
                f"the client abandoned its body, the upstream read a complete one of {seen.req_len} bytes",
            )
    reloads = sum("configuration reloaded" in line for line in log)
    failed_reloads = sum("configuration not reloaded" in line for line in log)
    tracebacks = [line for line in log if line.startswith("Traceback")]
    problems = list(totals.failures)
    if tracebacks:
        problems.append(f"{len(tracebacks)} traceback(s) in the gateway's log")
    if failed_reloads:
        problems.append(f"{failed_reloads} reload(s) refused")
    if status not in (0, None):
        problems.append(f"the gateway exited with status {status}")
    warm_at = traffic_seconds * WARMUP_FRACTION
    during = samples
    warm_window = sorted(during, key=lambda s: abs(s.at - warm_at))[:10]
    rss_warm = statistics.median(s.rss_kib for s in warm_window) / 1024 if warm_window else 0.0
    rss_end = statistics.median(s.rss_kib for s in during[-10:]) / 1024 if during else 0.0
    slope = slope_mib_per_minute([s for s in during if s.at >= warm_at])
    if rss_end - rss_warm > args.rss_tolerance:
        problems.append(f"RSS grew {rss_end - rss_warm:.1f} MiB after warm-up (tolerance {args.rss_tolerance} MiB)")
    if end_fds > start_fds + FD_TOLERANCE:
        problems.append(f"fds: {start_fds} before, {end_fds} after (tolerance {FD_TOLERANCE})")
    leaked_sockets = {key: value for key, value in end_sockets.items() if not key.startswith("listen")}
    if leaked_sockets or any("CLOSE_WAIT" in key for key in after_clients):
        problems.append(f"sockets left: {leaked_sockets} at the end, {after_clients} once the clients had gone")
    if end_tasks < 0 or start_tasks < 0 or end_tasks > start_tasks + TASK_TOLERANCE:
        problems.append(
            f"asyncio tasks: {start_tasks} before, {end_tasks} after (tolerance {TASK_TOLERANCE}): "
            f"{end_probe.get('task_names')}"
        )
    grown = {
        name: (warm_census.get(name, 0), count)
        for name, count in end_census.items()
        if count > warm_census.get(name, 0) + CENSUS_TOLERANCE
    }
    if grown:
        problems.append(f"live objects grew (after warm-up -> end): {grown}")

    # The report -------------------------------------------------------------------------------------------
    print(f"\nsoak: {traffic_seconds:.0f} s, {args.clients} clients, seed {args.seed}")
    print(f"{'kind':<20}{'started':>9}{'completed':>11}{'aborted':>9}{'failed':>8}{'MiB up':>9}{'MiB down':>10}")
    for kind, stats in totals.kinds.items():
        print(
            f"{kind:<20}{stats.started:>9}{stats.completed:>11}{stats.aborted:>9}{stats.failed:>8}"
            f"{stats.bytes_up / MiB:>9.1f}{stats.bytes_down / MiB:>10.1f}"
        )
    all_stats = totals.kinds.values()
    print(
        f"{'total':<20}{sum(s.started for s in all_stats):>9}{sum(s.completed for s in all_stats):>11}"
        f"{sum(s.aborted for s in all_stats):>9}{sum(s.failed for s in all_stats):>8}"
        f"{sum(s.bytes_up for s in all_stats) / MiB:>9.1f}{sum(s.bytes_down for s in all_stats) / MiB:>10.1f}"
    )
    print(
        f"\nHTTP requests {totals.http_requests} over {totals.connections} client connections (keep-alive reuse "
        f"{totals.http_requests / max(totals.connections, 1):.1f} per connection); {totals.ws_messages} websocket "
        f"messages echoed; {totals.retried} requests retried; compressed answers {totals.compressed}"
    )
    print(f"reloads: {writes} config rewrites, {reloads} applied by the gateway, {failed_reloads} refused")
    peak_fds = max((s.fds for s in samples), default=0)
    peak_tasks = max((s.tasks for s in samples), default=0)
    print(
        f"fds: {start_fds} before traffic, peak {peak_fds}, {end_fds} at the end; sockets once the clients had "
        f"gone {after_clients or '{}'}, at the end {end_sockets}"
    )
    print(f"asyncio tasks: {start_tasks} before traffic, peak {peak_tasks}, {end_tasks} at the end")
    peak_rss = max((s.rss_kib for s in samples), default=0) / 1024
    print(
        f"RSS: {start_rss / 1024:.1f} MiB before traffic, {rss_warm:.1f} MiB after warm-up "
        f"({warm_at:.0f} s), {rss_end:.1f} MiB at the end, peak {peak_rss:.1f} MiB, slope after warm-up "
        f"{slope:+.2f} MiB/min; {end_rss / 1024:.1f} MiB once idle"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "seconds": traffic_seconds,
                    "kinds": {k: vars(v) for k, v in totals.kinds.items()},
                    "reloads": reloads,
                    "writes": writes,
                    "fds": [start_fds, peak_fds, end_fds],
                    "tasks": [start_tasks, peak_tasks, end_tasks],
                    "rss_mib": [start_rss / 1024, rss_warm, rss_end],
                    "slope_mib_per_min": slope,
                    "samples": [vars(s) for s in samples],
                    "problems": problems,
                },
                indent=1,
            )
        )
    if problems:
        print(f"\nFAILED: {len(problems)} problem(s)")
        for problem in problems[:40]:
            print(f"  {problem}")
        for line in tracebacks[:3]:
            index = log.index(line)
            print("\n".join(log[index : index + 30]))
        return 1
    print("\nOK: no byte lost or corrupted, no leak beyond the tolerances")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--reload-every", type=float, default=3.0)
    parser.add_argument(
        "--rss-tolerance",
        type=float,
        default=RSS_TOLERANCE_MIB,
        help="MiB of RSS growth allowed after warm-up (a short run has no plateau to judge)",
    )
    parser.add_argument("--json", help="also write the figures and samples to this file")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        return asyncio.run(soak(args))
    return uvloop.run(soak(args))


if __name__ == "__main__":
    sys.exit(main())
