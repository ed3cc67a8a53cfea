"""CI guard on the forwarder's per-request cost: `python benchmarks/hotpath_guard.py` (about a second).

bench_hotpath.py's loop (the FastAPI guide's stripPrefix route, in-memory transports) is timed for a few
route shapes, and so is a reference loop of plain Python (the same request's head split, decoded,
lower-cased and joined again) in the same run. What is compared is the ratio of the two: a slower or
busier machine slows both, so the ratio stays put while the absolute figures do not. CPU time of this
process (not wall time) and the best of several interleaved rounds keep other processes' load out.

The ratios are checked against `hotpath_baseline.json`; a ratio more than THRESHOLD times its baseline
fails (exit 1) with the figures. The threshold is generous on purpose: it catches a shortcut lost (a plain
route taking the general path, a per-request allocation added to every route), not a 5% drift.
`--write-baseline` measures and rewrites the baseline (commit it with the change that moved it, and say
why in the message). Another Python version has other ratios: the baseline notes the one it was made on.
"""

from __future__ import annotations

import asyncio
import gc
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_hotpath import AUTHORIZATION, GUIDE_ROUTES, REQUEST, RESPONSE, MemoryTransport, routes_with  # noqa: E402

from proxy.forwarder.client import ClientConnection  # noqa: E402
from proxy.forwarder.upstream import UpstreamConnection  # noqa: E402
from proxy.server.gateway import Gateway  # noqa: E402

BASELINE = Path(__file__).resolve().parent / "hotpath_baseline.json"
THRESHOLD = 1.5  # a ratio this many times its baseline fails
ROUNDS = 7  # interleaved; the best of each is kept
REQUESTS = 600  # per round and case
REFERENCE = 600  # reference iterations per round

# name -> (middleware put first on the guide's router, or "", whether the request carries Authorization)
CASES: dict[str, tuple[str, bool]] = {
    "guide route (stripPrefix)": ("", False),
    "+ ipAllowList": ("ipallowlist", False),
    "+ basicAuth ({SHA}, cache hit)": ("basicauth", True),
}


def reference_step() -> None:
    """Plain interpreter work of the forwarder's kind: bytes split, decoded, compared, rebuilt."""
    lines = REQUEST.split(b"\r\n")
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(b":")
            headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
    keys = [name.lower() for name, _ in headers]
    kept = [pair for pair, key in zip(headers, keys, strict=True) if key != "connection"]
    head = "\r\n".join(f"{name}: {value}" for name, value in kept)
    assert head.encode("latin-1") and len(keys) == len(headers)


def forwarder_step(extra: str, authorization: bool, folder: Path) -> tuple[Callable[[], None], Callable[[], None]]:
    """One keep-alive request through the real protocols of a gateway for this case; and a cleanup."""
    request = REQUEST[:-2] + AUTHORIZATION + b"\r\n" if authorization else REQUEST
    gateway = Gateway(routes_with(extra, folder) if extra else GUIDE_ROUTES, record=0)
    runtime = next(iter(gateway.entry_point_servers.values())).runtime
    client, client_transport = ClientConnection(runtime), MemoryTransport()
    client.connection_made(client_transport)
    plan = runtime.table.routes[0].target
    assert not any(m.waits for m in plan.middlewares), "the guard times synchronous routes only"
    pool = plan.service.servers[0].pool
    upstream, upstream_transport = UpstreamConnection(pool), MemoryTransport()
    upstream.connection_made(upstream_transport)
    pool.release(upstream)

    def step() -> None:
        client.data_received(request)
        upstream.data_received(RESPONSE)
        if len(client_transport.written) > 256:
            client_transport.written.clear()
            upstream_transport.written.clear()

    step()
    sent = b"".join(upstream_transport.written)
    assert sent.startswith(b"GET /items?page=2 HTTP/1.1\r\n"), sent  # the route works before it is timed
    assert b"".join(client_transport.written).startswith(b"HTTP/1.1 200 OK"), client_transport.written
    return step, pool.close


def cpu_time_per_call(step: Callable[[], None], count: int) -> float:
    started = time.process_time()
    for _ in range(count):
        step()
    return (time.process_time() - started) / count


async def measure() -> tuple[float, dict[str, float]]:
    """(reference seconds per iteration, {case: seconds per request}), the best of ROUNDS each (in a running
    loop, as the protocols expect, though nothing here waits)."""
    with tempfile.TemporaryDirectory() as folder:
        steps, cleanups = {}, []
        for name, (extra, authorization) in CASES.items():
            case_folder = Path(folder) / str(len(steps))
            case_folder.mkdir()
            steps[name], cleanup = forwarder_step(extra, authorization, case_folder)
            cleanups.append(cleanup)
        for step in (reference_step, *steps.values()):  # warm up
            cpu_time_per_call(step, 200)
        gc.collect()
        gc.freeze()
        reference, cases = float("inf"), dict.fromkeys(steps, float("inf"))
        for _ in range(ROUNDS):
            reference = min(reference, cpu_time_per_call(reference_step, REFERENCE))
            for name, step in steps.items():
                cases[name] = min(cases[name], cpu_time_per_call(step, REQUESTS))
        gc.unfreeze()
        for cleanup in cleanups:
            cleanup()
    return reference, cases


def main(argv: list[str]) -> int:
    reference, cases = asyncio.run(measure())
    ratios = {name: seconds / reference for name, seconds in cases.items()}
    print(f"reference loop: {reference * 1e6:.2f} us (CPU time, best of {ROUNDS})")
    if "--write-baseline" in argv:
        BASELINE.write_text(
            json.dumps(
                {
                    "python": platform.python_version(),
                    "threshold": THRESHOLD,
                    "ratios": {name: round(ratio, 2) for name, ratio in ratios.items()},
                },
                indent=2,
            )
            + "\n"
        )
        for name, ratio in ratios.items():
            print(f"{name:34} {cases[name] * 1e6:7.1f} us  {ratio:6.2f}x the reference")
        print(f"baseline written: {BASELINE}")
        return 0
    baseline = json.loads(BASELINE.read_text())
    failed = []
    for name, ratio in ratios.items():
        expected = baseline["ratios"].get(name)
        if expected is None:
            failed.append(f"{name}: no baseline (run with --write-baseline)")
            verdict = "no baseline"
        else:
            verdict = f"baseline {expected:.2f}x, {ratio / expected:.2f} of it"
            if ratio > expected * THRESHOLD:
                failed.append(f"{name}: {ratio:.2f}x the reference, over {THRESHOLD} x its baseline {expected:.2f}x")
        print(f"{name:34} {cases[name] * 1e6:7.1f} us  {ratio:6.2f}x the reference ({verdict})")
    if baseline.get("python", "").rpartition(".")[0] != platform.python_version().rpartition(".")[0]:
        print(f"note: the baseline was made on Python {baseline.get('python')}, this is {platform.python_version()}")
    for line in failed:
        print(f"hotpath guard FAILED: {line}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
