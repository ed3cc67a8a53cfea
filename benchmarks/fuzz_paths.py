"""The long form of the raw-bytes request-line fuzz (proxy/testing/pathfuzz.py; the short form runs in
tests/security/test_sec_fuzz_paths.py): a live gateway on loopback, a recording upstream, `--count`
seeded requests (a few minutes at the default), then what it found.

    python benchmarks/fuzz_paths.py [--seed N] [--count N] [--control-ms MS]

Exit status 1 when anything was found; each finding names the request line, so it can become a test.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from proxy.config.dynamic import DynamicConfig  # noqa: E402
from proxy.config.static import EntryPoint, StaticConfig  # noqa: E402
from proxy.server.gateway import Gateway  # noqa: E402
from proxy.testing.pathfuzz import fuzz, recording_upstream, routes  # noqa: E402


async def main(seed: int, count: int, control_ms: float) -> int:
    targets: list[bytes] = []
    upstream = await recording_upstream(targets)
    port = upstream.sockets[0].getsockname()[1]
    gateway = Gateway(StaticConfig(entry_points={"web": EntryPoint(address="127.0.0.1:0")}))
    gateway.apply(DynamicConfig.model_validate(routes(f"http://127.0.0.1:{port}")))
    await gateway.start()
    started = time.perf_counter()
    try:
        findings = await fuzz(int(gateway.url.rsplit(":", 1)[1]), targets, seed, count, control_ms=control_ms)
    finally:
        await gateway.stop()
        upstream.close()
    elapsed = time.perf_counter() - started
    controls = sorted(findings.control_ms)
    print(f"seed {seed}: {findings.sent} requests in {elapsed:.1f} s, {findings.forwarded} reached the upstream")
    print("statuses: " + ", ".join(f"{status}: {n}" for status, n in sorted(findings.statuses.items())))
    if controls:
        print(
            f"control requests: {len(controls)}, median {statistics.median(controls):.2f} ms, max {controls[-1]:.2f} ms"
        )
    print(f"findings: {len(findings.problems)}")
    for problem in findings.problems[:100]:
        print("  " + problem)
    return 1 if findings.problems else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=300_000)
    parser.add_argument("--control-ms", type=float, default=250.0)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.seed, args.count, args.control_ms)))
