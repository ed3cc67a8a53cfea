"""Run the load tools (wrk, h2load, curl), pinned to the client core, and parse what they print."""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

CLIENT_CPU = 1
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


@dataclass
class Commands:
    """The exact command lines run, per scenario (kept once per scenario, with the target's URL in it)."""

    by_scenario: dict[str, list[str]] = field(default_factory=dict)

    def note(self, scenario: str, argv: list[str]) -> None:
        line = shlex.join(argv)
        seen = self.by_scenario.setdefault(scenario, [])
        if line not in seen:
            seen.append(line)


COMMANDS = Commands()


def pinned(argv: list[str]) -> list[str]:
    return ["taskset", "-c", str(CLIENT_CPU), *argv]


def run(scenario: str, argv: list[str], timeout: float) -> str:
    COMMANDS.note(scenario, pinned(argv))
    done = subprocess.run(pinned(argv), capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {done.stderr.strip()[:300]}")
    return done.stdout


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * UNITS[unit]


def wrk(
    scenario: str, url: str, seconds: int, connections: int = 50, extra: list[str] | None = None, record: bool = True
) -> dict[str, float]:
    """wrk -t1: requests/s, errors (non-2xx + socket errors) and its (closed-loop) p50/p99 in ms."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", *(extra or []), url]
    out = run(scenario if record else "warm-up", argv, timeout=seconds + 60)
    result: dict[str, float] = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["errors"] = float(non2xx.group(1) if non2xx else 0) + (sum(map(float, sockets.groups())) if sockets else 0)
    result["requests"] = float(re.search(r"(\d+) requests in", out).group(1))
    for pct in ("50", "99"):
        found = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M)
        if found:
            result[f"p{pct}_ms"] = _ms(found.group(1))
    return result


def wrk_best(scenario: str, url: str, seconds: int, runs: int, extra: list[str] | None = None) -> dict[str, float]:
    """The best of `runs` wrk runs (other work on the machine only ever slows a run down)."""
    results = [wrk(scenario, url, seconds, extra=extra) for _ in range(runs)]
    best = dict(max(results, key=lambda r: r["rps"]))
    best["all_rps"] = [r["rps"] for r in results]
    return best


def h2load_fixed_rate(
    scenario: str, url: str, seconds: int, rate: int, log_file: Path, clients: int = 20
) -> dict[str, float]:
    """h2load --h1 at a fixed total rate; latency percentiles from its per-request log.

    Each of `clients` keep-alive connections sends rate/clients req/s. The connections start two per
    millisecond (-r2 --rate-period=1ms) so that their timers are spread out: started together (-D alone)
    all clients fire in the same instant, which measures a burst of `clients` requests, not a steady rate.
    """
    log_file.unlink(missing_ok=True)  # h2load appends to an existing log
    argv = [
        "h2load",
        "--h1",
        f"-c{clients}",
        "-r2",
        "--rate-period=1ms",
        f"--rps={rate // clients}",
        f"-n{rate * seconds}",
        f"--log-file={log_file}",
        url,
    ]
    out = run(scenario, argv, timeout=seconds + 60)
    rows = [line.split("\t") for line in log_file.read_text().splitlines() if line.strip()]
    latencies = sorted(int(row[2]) / 1000 for row in rows if row[1] == "200")
    failed = sum(1 for row in rows if row[1] != "200") + rate * seconds - len(rows)
    if not latencies:
        raise RuntimeError(f"h2load logged no successful request:\n{out[-500:]}")
    start = min(int(row[0]) for row in rows)
    last_start = max(int(row[0]) for row in rows)
    return {
        "achieved_rps": (len(rows) - 1) / max((last_start - start) / 1e6, 1e-9),
        "errors": float(failed),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "p999_ms": percentile(latencies, 99.9),
        "max_ms": latencies[-1],
    }


def percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    rank = max(0, min(len(ordered) - 1, int(round(pct / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def curl_download(scenario: str, url: str, expected: int) -> float:
    """MB/s (10^6 bytes/s) of one download to /dev/null; fails unless all bytes arrived with a 200."""
    argv = [
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "--max-time",
        "120",
        "-w",
        "%{http_code} %{size_download} %{speed_download}",
        url,
    ]
    code, size, speed = run(scenario, argv, timeout=150).split()
    if code != "200" or int(size) != expected:
        raise RuntimeError(f"download got status {code} and {size} bytes, expected 200 and {expected}")
    return float(speed) / 1e6


def curl_upload(scenario: str, url: str, source: Path, from_file: bool = False) -> float:
    """MB/s of one POST of `source` (Content-Length, no Expect); fails unless the origin answered 200.

    --data-binary reads the whole file into curl's memory first; `from_file` streams it from disk
    instead (-T with -X POST), which a 1 GiB body needs.
    """
    body = ["-T", str(source), "-X", "POST"] if from_file else ["--data-binary", f"@{source}"]
    argv = [
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "--max-time",
        "120",
        "-H",
        "Expect:",
        *body,
        "-w",
        "%{http_code} %{size_upload} %{speed_upload}",
        url,
    ]
    code, size, speed = run(scenario, argv, timeout=150).split()
    if code != "200" or int(size) != source.stat().st_size:
        raise RuntimeError(f"upload got status {code} after {size} bytes, expected 200 after {source.stat().st_size}")
    return float(speed) / 1e6
