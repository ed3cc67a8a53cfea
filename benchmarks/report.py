"""Turn benchmark results into RESULTS.md (tables + ratios) and a small SVG bar chart. Stdlib only."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
from html import escape
from pathlib import Path
from typing import Any

LABELS = {
    "ours": "stripproxy (ours)",
    "before": "ours@before",  # the gateway at the --before revision: markdown() names the commit
    "nginx": "nginx",
    "caddy": "Caddy",
    "haproxy": "HAProxy",
    "direct": "origin direct",
}
ORDER = ["ours", "before", "nginx", "caddy", "haproxy", "direct"]
COMPARE = ["before", "direct", "nginx", "caddy", "haproxy"]

# scenario -> (title, what it is, [(field, column header, format, scale)])
# The two 1 GiB streaming tables share their columns.
_STREAM_COLUMNS = [
    ("mb_s", "MB/s", "{:,.0f}", 1),
    ("cpu_s_per_gib", "proxy CPU s / GiB", "{:.2f}", 1),
    ("before_kib", "RSS before MiB", "{:.1f}", 1 / 1024),
    ("max_kib", "RSS max during MiB", "{:.1f}", 1 / 1024),
    ("after_kib", "RSS after MiB", "{:.1f}", 1 / 1024),
    ("growth_kib", "max - before MiB", "{:+.1f}", 1 / 1024),
    ("samples", "samples", "{:.0f}", 1),
]

SCENARIOS: dict[str, tuple[str, str, list[tuple[str, str, str, float]]]] = {
    "small_get": (
        "Small GET throughput",
        "wrk -t1 -c50, keep-alive, 13-byte text answer. Latency columns are wrk's own (closed loop, at saturation).",
        [
            ("rps", "req/s", "{:,.0f}", 1),
            ("p50_ms", "p50 ms", "{:.2f}", 1),
            ("p99_ms", "p99 ms", "{:.2f}", 1),
            ("errors", "errors", "{:.0f}", 1),
            ("all_rps", "every run's req/s", "", 1),
        ],
    ),
    "api_post": (
        "Realistic API request",
        "wrk -t1 -c50 + api_post.lua: POST with 15 headers (+ Content-Length) "
        "and a ~2 KiB JSON body; small JSON answer.",
        [
            ("rps", "req/s", "{:,.0f}", 1),
            ("p50_ms", "p50 ms", "{:.2f}", 1),
            ("p99_ms", "p99 ms", "{:.2f}", 1),
            ("errors", "errors", "{:.0f}", 1),
            ("all_rps", "every run's req/s", "", 1),
        ],
    ),
    "latency": (
        "Latency at a fixed 2,000 req/s",
        "h2load --h1 (wrk2 is not packaged): 20 keep-alive "
        "connections x --rps=100, started two per millisecond so their send timers are spread out "
        "(h2load still fires them in small bursts of 2-4). A connection whose answer is late sends its "
        "next request late (no pipelining), so tails are a lower bound. Percentiles from h2load's "
        "per-request log; errors = failed + never sent.",
        [
            ("p50_ms", "p50 ms", "{:.3f}", 1),
            ("p99_ms", "p99 ms", "{:.3f}", 1),
            ("p999_ms", "p99.9 ms", "{:.3f}", 1),
            ("max_ms", "max ms", "{:.2f}", 1),
            ("achieved_rps", "achieved req/s", "{:,.0f}", 1),
            ("errors", "errors", "{:.0f}", 1),
        ],
    ),
    "churn": (
        "Connection churn",
        "wrk -t1 -c50 with `Connection: close`: a new TCP connection per request.",
        [("rps", "req/s", "{:,.0f}", 1), ("errors", "errors", "{:.0f}", 1), ("all_rps", "every run's req/s", "", 1)],
    ),
    "download": (
        "100 MiB download",
        "curl to /dev/null, best of the runs; MB/s = 10^6 bytes/s.",
        [("mb_s", "MB/s", "{:,.0f}", 1)],
    ),
    "upload": (
        "100 MiB upload",
        "curl --data-binary (Content-Length, no Expect) to an origin that answers "
        "after reading the whole body; best of the runs.",
        [("mb_s", "MB/s", "{:,.0f}", 1)],
    ),
    "rss": (
        "Memory with 1,000 idle keep-alive connections",
        "VmRSS of the proxy (process + children) after "
        "a 1 s warm-up, then with 1,000 client connections that each made one request and stay open.",
        [
            ("before_kib", "RSS before MiB", "{:.1f}", 1 / 1024),
            ("with_idle_kib", "RSS with 1,000 MiB", "{:.1f}", 1 / 1024),
            ("per_conn_kib", "KiB / connection", "{:.1f}", 1),
        ],
    ),
    "rss_10k": (
        "Memory with 10,000 idle keep-alive connections",
        "Right after the 1,000 run, in the same "
        "process: 10,000 client connections that each made one request and stay open (idle_conns.py "
        "gives up opening after 60 s or at the first error). RSS at start is the 1,000 run's "
        '"before"; KiB / connection = (RSS with 10,000 - RSS at start) / 10,000, so that heap kept '
        "from the 1,000 run does not make the 10,000 look cheaper. The target: all 10,000 answered.",
        [
            ("start_kib", "RSS at start MiB", "{:.1f}", 1 / 1024),
            ("before_kib", "RSS before MiB", "{:.1f}", 1 / 1024),
            ("with_idle_kib", "RSS with 10,000 MiB", "{:.1f}", 1 / 1024),
            ("per_conn_kib", "KiB / connection", "{:.1f}", 1),
            ("answered", "answered", "{:,.0f}", 1),
        ],
    ),
    "stream_download": (
        "RSS while streaming a 1 GiB download",
        "A fresh proxy process (1 s warm-up), then curl "
        "downloads a sparse 1 GiB file through it to /dev/null (one run); VmRSS of the proxy "
        "(process + children) sampled every 100 ms. Flat streaming means max - before near 0 "
        "MiB. MB/s is mostly bound by core 1, which the origin and curl share (a proxy keeps its "
        "own core about half busy here): the proxy's CPU seconds per GiB is its own cost. The "
        "origin-direct row is the origin itself (sendfile), in the process that served every "
        "earlier run.",
        _STREAM_COLUMNS,
    ),
    "stream_upload": (
        "RSS while streaming a 1 GiB upload",
        "As above, then a POST of the same 1 GiB file "
        "(curl -T -X POST: read from disk as it goes, Content-Length, no Expect) to the origin's "
        "sink, which answers after reading it all: 128 MiB in memory, the rest spooled to a temp "
        "file in the work dir (so the origin-direct row grows by ~128 MiB by design). That spooling bounds "
        "MB/s here for every target: the 100 MiB upload above is the throughput comparison.",
        _STREAM_COLUMNS,
    ),
}
# Columns given without a ratio: counts, and differences whose denominators may be ~0.
NO_RATIO = {"errors", "achieved_rps", "all_rps", "answered", "samples", "growth_kib", "after_kib"}
NO_RATIO_IN = {
    "rss_10k": {"start_kib", "before_kib"},
    "stream_download": {"before_kib"},
    "stream_upload": {"before_kib"},
}


def _run(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    text = (done.stdout + done.stderr).strip()
    return text.splitlines()[0].strip() if text else "?"


def collect_meta(
    plan: Any, quick: bool, elapsed: float, python: Path, notes: list[str], commands: Any
) -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    packages = _run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m; print(' '.join(f'{p} '+m.version(p) "
            "for p in ('aiohttp','httptools','uvloop')))",
        ]
    )
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": "quick" if quick else "full",
        "plan": vars(plan),
        "elapsed_s": round(elapsed),
        "machine": {
            "nproc": os.cpu_count(),
            "cpu": cpu,
            "kernel": platform.release(),
            "loadavg_at_end": Path("/proc/loadavg").read_text().split()[:3],
        },
        "versions": {
            "python": _run([str(python), "--version"]),
            "packages": packages,
            "nginx": _run(["nginx", "-v"]),
            "caddy": _run(["caddy", "version"]),
            "haproxy": _run(["haproxy", "-v"]),
            "wrk": _run(["wrk", "-v"]),
            "h2load": _run(["h2load", "--version"]),
            "curl": _run(["curl", "--version"]),
        },
        "notes": notes,
        "commands": commands.by_scenario,
    }


def _cell(row: dict[str, Any], field: str, fmt: str, scale: float) -> str:
    value = row.get(field)
    if isinstance(value, list):
        return " / ".join(f"{v:,.0f}" for v in value)
    return fmt.format(value * scale) if isinstance(value, (int, float)) else "-"


def _ratio(ours: dict[str, Any], other: dict[str, Any], field: str) -> str:
    a, b = ours.get(field), other.get(field)
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def scenario_table(key: str, rows: dict[str, dict[str, Any]]) -> list[str]:
    title, about, columns = SCENARIOS[key]
    out = [
        f"## {title}",
        "",
        about,
        "",
        "| target | " + " | ".join(c[1] for c in columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for target in [t for t in ORDER if t in rows]:
        row = rows[target]
        cells = (
            [f"failed: {row['error'][:120]}"] + [""] * (len(columns) - 1)
            if "error" in row
            else [_cell(row, *c[0:1], c[2], c[3]) for c in columns]
        )
        out.append(f"| {LABELS[target]} | " + " | ".join(cells) + " |")
    ours = rows.get("ours", {})
    skip = NO_RATIO | NO_RATIO_IN.get(key, set())
    ratio_cols = [c for c in columns if c[0] not in skip]
    if ours and "error" not in ours:
        out += ["", "| ratio | " + " | ".join(c[1] for c in ratio_cols) + " |", "|---|" + "---:|" * len(ratio_cols)]
        for other in [t for t in COMPARE if t in rows and "error" not in rows[t]]:
            out.append(
                f"| ours / {LABELS[other]} | " + " | ".join(_ratio(ours, rows[other], c[0]) for c in ratio_cols) + " |"
            )
    return out + [""]


def routing_table(rows: dict[str, dict[str, Any]]) -> list[str]:
    out = [
        "## Routing cost (our gateway)",
        "",
        "Small GET (wrk -t1 -c50) through our gateway with the FastAPI guide's one router, then with "
        "10,000 extra Host(`svcN.example.com`) routers that all sort before the real one.",
        "",
        "| routers | req/s | p99 ms | start-up s | RSS MiB | every run's req/s |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for count, row in rows.items():
        if "error" in row:
            out.append(f"| {int(count):,} | failed: {row['error'][:120]} | | | | |")
            continue
        out.append(
            f"| {int(count):,} | {row['rps']:,.0f} | {row.get('p99_ms', 0):.2f} | "
            f"{row['startup_s']:.1f} | {row['rss_kib'] / 1024:.1f} | {_cell(row, 'all_rps', '', 1)} |"
        )
    one, many = rows.get("1", {}), rows.get("10001", {})
    if "rps" in one and "rps" in many:
        out += ["", f"10,001 / 1 routers: req/s ratio **{many['rps'] / one['rps']:.2f}x**."]
    return out + [""]


def middlewares_table(rows: dict[str, dict[str, Any]]) -> list[str]:
    out = [
        "## Middleware chain (our gateway)",
        "",
        "Small GET (wrk -t1 -c50) through our gateway with the FastAPI guide's router (one stripPrefix), "
        "then, in another process, with a router whose 10 middlewares are: stripPrefix `/api/v1`, addPrefix "
        "`/x`, stripPrefix `/x`, replacePathRegex `^/small$` -> `/small`, three headers adding a request "
        "header each (X-Mw-5..7) and three adding a response header each (X-Mw-8..10). Before measuring, "
        "curl checks the answer, the response headers and (via the origin's /check-mw) the request headers.",
        "",
        "| middlewares | req/s | p50 ms | p99 ms | errors | RSS MiB | every run's req/s |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for count, row in rows.items():
        if "error" in row:
            out.append(f"| {count} | failed: {row['error'][:200]} | | | | | |")
            continue
        out.append(
            f"| {count} | {row['rps']:,.0f} | {row.get('p50_ms', 0):.2f} | {row.get('p99_ms', 0):.2f} | "
            f"{row['errors']:.0f} | {row['rss_kib'] / 1024:.1f} | {_cell(row, 'all_rps', '', 1)} |"
        )
    one, ten = rows.get("1", {}), rows.get("10", {})
    if "check" in ten:
        out += ["", f"Chain check: {ten['check']}."]
    if "rps" in one and "rps" in ten:
        extra_us = 1e6 / ten["rps"] - 1e6 / one["rps"]
        out += [
            "",
            f"10 / 1 middlewares: req/s ratio **{ten['rps'] / one['rps']:.2f}x**; on its one core that "
            f"is {extra_us:.1f} µs more per request, {extra_us / 9:.1f} µs per extra middleware.",
        ]
    features = [(key, row) for key, row in rows.items() if key.startswith("1 + ") and "rps" in row]
    if "rps" in one and features:
        out += [
            "",
            "One middleware of each kind after the guide's stripPrefix, as a ratio to the guide's route "
            "alone (basicAuth: a bcrypt cost-10 user, the client sending its credentials; rateLimit: a limit "
            "never reached; compress: the client accepting gzip, on a 13-byte answer it passes on and on a "
            "2 KiB one it compresses):",
            "",
        ]
        out += [f"- {key[4:]}: **{row['rps'] / one['rps']:.2f}x** ({row['rps']:,.0f} req/s)" for key, row in features]
    return out + [""]


def _median_ratio(on: dict[str, Any], off: dict[str, Any]) -> float:
    return statistics.median(on["all_rps"]) / statistics.median(off["all_rps"])


def observability_table(rows: dict[str, dict[str, Any]]) -> list[str]:
    out = [
        "## Access log and metrics cost (our gateway)",
        "",
        "The guide's route (wrk -t1 -c50) in four gateway processes side by side, measured in turn run after "
        'run: one plain, one with `accessLog` (filePath, `format = "common"`, Traefik\'s defaults: every '
        "field, `bufferingSize = 0`), one with `metrics.prometheus` (Traefik's default labels), one with both. "
        "Each figure is the best of its runs, its ratio to the plain gateway's best; the median ratio compares "
        "the runs' medians.",
        "",
        "| request | off req/s | access log | metrics | both | every run's req/s (off; log; metrics; both) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    if "error" in rows:
        out.append(f"| failed: {rows['error']['error'][:200]} | | | | | |")
    for row in ("small GET", "API POST"):
        off = rows.get(f"{row} off", {})
        if "rps" not in off:
            continue
        cells, runs = [], [_cell(off, "all_rps", "", 1)]
        for key in ("log", "metrics", "on"):
            on = rows.get(f"{row} {key}", {})
            cells.append(
                f"{on['rps']:,.0f} (**{on['rps'] / off['rps']:.2f}x**; median {_median_ratio(on, off):.2f}x)"
                if "rps" in on
                else ""
            )
            runs.append(_cell(on, "all_rps", "", 1) if "rps" in on else "")
        out.append(f"| {row} | {off['rps']:,.0f} | {' | '.join(cells)} | {'; '.join(runs)} |")
    check = rows.get("check")
    if check:
        out += [
            "",
            f"Check: the observed gateway wrote {check['log_lines']:,} access log lines and counted "
            f"{check['entrypoint_requests']:,.0f} requests on its entry point (traefik_entrypoint_requests_total).",
        ]
    return out + [""]


# Before / after: one line per scenario, the figure that sums it up (req/s, MB/s, p99 ms, KiB / connection).
BEFORE_AFTER = [
    ("small_get", "rps", "req/s", "{:,.0f}", True),
    ("api_post", "rps", "req/s", "{:,.0f}", True),
    ("latency", "p99_ms", "p99 ms", "{:.3f}", False),
    ("churn", "rps", "req/s", "{:,.0f}", True),
    ("download", "mb_s", "MB/s", "{:,.0f}", True),
    ("upload", "mb_s", "MB/s", "{:,.0f}", True),
    ("rss", "per_conn_kib", "KiB / connection", "{:.1f}", False),
    ("rss_10k", "per_conn_kib", "KiB / connection", "{:.1f}", False),
    ("stream_download", "cpu_s_per_gib", "proxy CPU s / GiB", "{:.2f}", False),
    ("stream_upload", "cpu_s_per_gib", "proxy CPU s / GiB", "{:.2f}", False),
]


def before_after_table(meta: dict[str, Any], results: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """This checkout's gateway against the --before one, measured in the same run."""
    before = meta["before"]
    name = f"ours@{before['commit']}"
    out = [
        f"## Before / after: this checkout vs {name}",
        "",
        f"{name} is `{before['rev']}` ({before['subject']}). Both gateways ran side by side and were measured "
        "in turn, run after run (memory rows: one after the other); each figure is the best of its runs "
        "(the scenario tables below list every run). Better is the direction each row says.",
        "",
        f"| scenario | figure | ours | {name} | ours / {name} | better |",
        "|---|---|---:|---:|---:|---|",
    ]
    for scenario, field, unit, fmt, higher in BEFORE_AFTER:
        rows = results.get(scenario, {})
        ours, old = rows.get("ours", {}), rows.get("before", {})
        if not ours and not old:
            continue
        title = SCENARIOS[scenario][0]
        cells = [_cell(row, field, fmt, 1) if "error" not in row else "failed" for row in (ours, old)]
        ratio = _ratio(ours, old, field) if "error" not in ours and "error" not in old else "-"
        out.append(f"| {title} | {unit} | {cells[0]} | {cells[1]} | {ratio} | {'higher' if higher else 'lower'} |")
    return out + [""]


def markdown(meta: dict[str, Any], results: dict[str, dict[str, dict[str, Any]]]) -> str:
    v, m = meta["versions"], meta["machine"]
    if meta.get("before"):
        LABELS["before"] = f"ours@{meta['before']['commit']}"
    out = [
        "# Benchmark results",
        "",
        f"Generated by `bash benchmarks/run.sh{' --quick' if meta['mode'] == 'quick' else ''}"
        f"{' --only ' + meta['only'] if meta.get('only') else ''}"
        f"{' --before ' + meta['before']['rev'] if meta.get('before') else ''}` on "
        f"{meta['date']} ({meta['mode']} run, {meta['elapsed_s']} s).",
        "",
        f"- Machine: {m['nproc']} CPUs ({m['cpu']}), Linux {m['kernel']}; load average at the end "
        f"{' '.join(m['loadavg_at_end'])}. Proxies pinned to core 0; origin and load tools to core 1.",
        f"- Python: {v['python']}; {v['packages']}",
        f"- {v['nginx']}; Caddy {v['caddy']}; {v['haproxy']}",
        f"- {v['wrk']}; {v['h2load']}; {v['curl']}",
        "",
        "Numbers are from one run on a shared, noisy 2-core machine (other jobs ran at the same time): "
        "throughput rows are the best of the runs listed in the last column, whose spread shows the noise. "
        "Compare ratios rather than absolute values. The direct-origin baseline shares core 1 with the load "
        "tool, so it is a floor for what the origin can do, and churn is partly bound by the client core.",
        "",
    ]
    if meta["notes"]:
        out += ["Notes:", ""] + [f"- {note}" for note in meta["notes"]] + [""]
    if meta.get("before"):
        out += before_after_table(meta, results)
    if "sanity" in results:
        out += [
            "## Same job everywhere",
            "",
            "`GET <prefix>/check` answered by the origin with the X-Forwarded-Prefix and path it received:",
            "",
            "| target | answer | ready after s |",
            "|---|---|---:|",
        ]
        out += [f"| {LABELS[k]} | `{r['check']}` | {r['startup_s']:.2f} |" for k, r in results["sanity"].items()]
        out.append("")
    for key in SCENARIOS:
        if key in results:
            out += scenario_table(key, results[key])
    if "routing" in results:
        out += routing_table(results["routing"])
    if "middlewares" in results:
        out += middlewares_table(results["middlewares"])
    if "observability" in results:
        out += observability_table(results["observability"])
    out += ["## Exact commands", "", "Each line ran as shown (URLs per target; `taskset -c 1` = client core).", ""]
    for scenario, lines in meta["commands"].items():
        out += [f"**{scenario}**", "", "```"] + lines + ["```", ""]
    return "\n".join(out)


def svg_chart(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    """Horizontal bars: small-GET req/s per target."""
    rows = [
        (LABELS[k], results.get("small_get", {}).get(k, {}).get("rps", 0.0))
        for k in ORDER
        if k in results.get("small_get", {})
    ]
    width, left, bar, gap, top = 640, 150, 24, 10, 40
    height = top + len(rows) * (bar + gap) + 20
    peak = max([value for _, value in rows] + [1.0])
    scale = (width - left - 90) / peak
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="13">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        '<text x="10" y="24" font-size="15" font-weight="bold">Small GET throughput (req/s, wrk -t1 -c50, '
        "one core)</text>",
    ]
    for index, (label, value) in enumerate(rows):
        y = top + index * (bar + gap)
        colour = "#d9534f" if label.startswith("stripproxy") else "#5b8bd0"
        parts += [
            f'<text x="{left - 8}" y="{y + bar * 0.7:.0f}" text-anchor="end">{escape(label)}</text>',
            f'<rect x="{left}" y="{y}" width="{value * scale:.1f}" height="{bar}" fill="{colour}"/>',
            f'<text x="{left + value * scale + 6:.1f}" y="{y + bar * 0.7:.0f}">{value:,.0f}</text>',
        ]
    return "\n".join(parts + ["</svg>", ""])
