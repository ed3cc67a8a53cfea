"""A raw-bytes fuzz of the request line through a live gateway on loopback (tests/security and
benchmarks/fuzz_paths.py share it).

Seeded (`random.Random(seed)`), bounded (`count` requests): each request line is built from a method, a
request-target and a version mutated at the byte level (every byte 0-255 may appear), sent alone on a fresh
connection with `Connection: close`, and the answer read until the gateway closes. The oracle:

- every request gets a well-formed HTTP/1.1 answer (status line, a head ending in a blank line); a 5xx
  only when the upstream failed, and the test upstream never fails, so any 5xx is a finding;
- a control request every `control_every` requests is answered 200 within `control_ms` milliseconds;
- what reaches the upstream is a valid origin-form request-target (visible ASCII, valid escapes) under
  `/internal` (the route strips `/api` and adds `/internal`), still under it once cleaned.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any

from proxy.urlpath import join_escaped

PIECES = [
    b"/",
    b"/",
    b"api",
    b"/api",
    b"/api/",
    b"x",
    b".",
    b"..",
    b"%2e",
    b"%2F",
    b"%5C",
    b"%25",
    b"%",
    b"%zz",
    b"\\",
    b"?",
    b"#",
    b"*",
    b"//",
    b";",
    b"%00",
    b"%C3%A9",
    b"\xc3\xa9",
    b"\xff",
    b" ",
    b"\t",
    b"\r",
    b"\n",
    b"http://gw/api/",
    b"HTTP/1.1",
    b"@",
    b":",
    b"[::1]",
    b"%%32%66",
    b"~",
]
METHODS = [b"GET", b"GET", b"POST", b"HEAD", b"OPTIONS", b"CONNECT", b"get", b"G\x00T", b"", b"PRI", b"GE T"]
VERSIONS = [b"HTTP/1.1", b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.10", b"http/1.1", b"HTTP/1.1 ", b""]
VALID_TARGET = re.compile(rb"/[!-~]*")
BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def request_line(rng: random.Random) -> bytes:
    target = b"".join(rng.choice(PIECES) for _ in range(rng.randint(0, 8)))
    if rng.random() < 0.5:
        target = b"/api" + target
    if rng.random() < 0.2:  # byte-level mutation: any byte anywhere
        data = bytearray(target or b"/")
        for _ in range(rng.randint(1, 3)):
            data.insert(rng.randint(0, len(data)), rng.randint(0, 255))
        target = bytes(data)
    if rng.random() < 0.7:  # mostly a well-formed line around the target, so the fuzz reaches the routes
        return b"GET " + target + b" HTTP/1.1"
    return rng.choice(METHODS) + b" " + target + b" " + rng.choice(VERSIONS)


@dataclass
class Findings:
    sent: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    control_ms: list[float] = field(default_factory=list)
    forwarded: int = 0


async def read_all(port: int, data: bytes, timeout: float) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        chunks = []

        async def drain() -> None:
            while chunk := await reader.read(65536):
                chunks.append(chunk)

        try:
            await asyncio.wait_for(drain(), timeout)
        except ConnectionError:
            pass
        return b"".join(chunks)
    finally:
        writer.close()


def check_answer(line: bytes, answer: bytes, findings: Findings) -> None:
    head, sep, _ = answer.partition(b"\r\n\r\n")
    match = re.match(rb"HTTP/1\.1 (\d{3}) ", head)
    if not sep or match is None:
        findings.problems.append(f"{line!r}: no well-formed answer ({answer[:80]!r})")
        return
    status = int(match.group(1))
    findings.statuses[status] = findings.statuses.get(status, 0) + 1
    if status >= 500:
        findings.problems.append(f"{line!r}: {status} from the proxy (the upstream never fails)")


def check_forwarded(targets: list[bytes], findings: Findings) -> None:
    for target in targets:
        findings.forwarded += 1
        path = target.partition(b"?")[0]
        if not VALID_TARGET.fullmatch(target) or BAD_ESCAPE.search(path):
            findings.problems.append(f"upstream got an invalid request-target {target!r}")
            continue
        if path.startswith(b"/control"):
            continue
        text = path.decode("ascii")
        cleaned = join_escaped(text)
        if not (text == "/internal" or text.startswith("/internal/")) or not (
            cleaned == "/internal" or cleaned.startswith("/internal/")
        ):
            findings.problems.append(f"upstream got {target!r}: out of /internal")


async def recording_upstream(targets: list[bytes]) -> asyncio.Server:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                targets.append(head.split(b" ", 2)[1])
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.CancelledError):
            pass  # cancelled: the test's loop ends with the gateway's pooled connection still open
        finally:
            writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


def routes(upstream_url: str) -> dict[str, Any]:
    return {
        "http": {
            "routers": {
                "api": {"rule": "PathPrefix(`/api`)", "service": "s", "middlewares": ["strip", "add"]},
                "control": {"rule": "Path(`/control`)", "service": "s"},
            },
            "middlewares": {
                "strip": {"stripPrefix": {"prefixes": ["/api"]}},
                "add": {"addPrefix": {"prefix": "/internal"}},
            },
            "services": {"s": {"loadBalancer": {"servers": [{"url": upstream_url}]}}},
        }
    }


async def fuzz(
    port: int,
    targets: list[bytes],
    seed: int,
    count: int,
    *,
    control_every: int = 25,
    control_ms: float = 250.0,
    timeout: float = 5.0,
) -> Findings:
    """Send `count` fuzzed requests to the gateway on 127.0.0.1:`port` (see the module docstring)."""
    rng = random.Random(seed)
    findings = Findings()
    for index in range(count):
        line = request_line(rng)
        answer = await read_all(port, line + b"\r\nHost: gw\r\nConnection: close\r\n\r\n", timeout)
        findings.sent += 1
        check_answer(line, answer, findings)
        if index % control_every == 0:
            started = time.perf_counter()
            control = await read_all(port, b"GET /control HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n", timeout)
            elapsed = (time.perf_counter() - started) * 1000
            findings.control_ms.append(elapsed)
            if not control.startswith(b"HTTP/1.1 200 "):
                findings.problems.append(f"control request after {line!r}: {control[:60]!r}")
            elif elapsed > control_ms:
                findings.problems.append(f"control request after {line!r} took {elapsed:.0f} ms")
    await asyncio.sleep(0.05)
    check_forwarded(targets, findings)
    return findings


async def fuzz_live_gateway(seed: int, count: int, *, control_ms: float = 250.0) -> Findings:
    """`fuzz` against an in-process gateway on `routes`, in front of a recording upstream; both on loopback,
    both stopped before it returns. The suite's short form and benchmarks/fuzz_paths.py both run this."""
    from proxy.config.dynamic import DynamicConfig
    from proxy.config.static import EntryPointConfig, StaticConfig
    from proxy.server.gateway import Gateway

    targets: list[bytes] = []
    upstream = await recording_upstream(targets)
    port = upstream.sockets[0].getsockname()[1]
    gateway = Gateway(StaticConfig(entry_points={"web": EntryPointConfig(address="127.0.0.1:0")}))
    gateway.apply(DynamicConfig.model_validate(routes(f"http://127.0.0.1:{port}")))
    await gateway.start()
    try:
        return await fuzz(int(gateway.url.rsplit(":", 1)[1]), targets, seed, count, control_ms=control_ms)
    finally:
        await gateway.stop()
        upstream.close()
