"""Side-by-side benchmark: our gateway vs nginx, Caddy, HAProxy and the origin hit directly.

    python benchmarks/harness.py [--quick] [--out benchmarks] [--before REV]   (run.sh installs tools, then calls this)

Every proxy runs alone, pinned to core 0; the origin (nginx) and the load tools share core 1.
Results go to RESULTS.md, results.json and results.svg in --out.

`--before REV`: the gateway as it was at git revision REV is one more target, "ours@REV": a `git archive`
copy of REV in the work dir, run with this checkout's venv (cwd and PYTHONPATH the copy), beside this
checkout's gateway. The two are measured in turn, run after run (who goes first alternates), so the
machine's drift hits both alike; every table then has an ours@REV row and an `ours / ours@REV` ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import configs  # noqa: E402
import measure  # noqa: E402
import report  # noqa: E402
from procs import Processes, RssSampler, cpu_seconds, port_in_use, rss_kib, wait_http  # noqa: E402

PROXY_CPU = 0
ORIGIN_CPU = 1
BIG_BYTES = 100 * 1024 * 1024
HUGE_BYTES = 1024 * 1024 * 1024  # the streaming-RSS file: sparse, so it costs no disk
IDLE_CONNS = 1000
MANY_IDLE_CONNS = 10_000
IDLE_OPEN_SECONDS = 60  # idle_conns.py stops opening after this; the harness gives up 30 s later
FIXED_RATE = 2000
ROUTERS_MANY = 10_000
REPO = Path(__file__).resolve().parents[1]
PYTHON = REPO / ".venv" / "bin" / "python"
ECHO_MODULE = Path("/usr/lib/nginx/modules/ngx_http_echo_module.so")


@dataclass
class Target:
    key: str
    label: str
    port: int
    prefix: str  # path prefix the client uses (the proxies strip it; the origin has none)
    start: Callable[[], Any] | None  # None: the origin itself (already running)


@dataclass
class Before:
    """The gateway at an earlier revision: where its copy is, and what it is."""

    rev: str  # as given (--before)
    commit: str  # abbreviated hash
    subject: str
    source: Path  # the `git archive` copy


@dataclass
class Plan:
    seconds: int
    latency_seconds: int
    churn_seconds: int
    transfer_runs: int
    wrk_runs: int


GENERATIONS = 2  # sets of observability gateway processes, each measured for half the rounds


class Bench:
    def __init__(self, work: Path, plan: Plan, ports: configs.Ports) -> None:
        self.work, self.plan, self.ports = work, plan, ports
        self.procs = Processes(work)
        self.results: dict[str, dict[str, dict[str, Any]]] = {}
        self.notes: list[str] = []
        self.before: Before | None = None

    # --- setup -------------------------------------------------------------------------------------

    def start_origin(self) -> None:
        self.work.chmod(0o755)  # nginx workers (www-data) read the 100 MiB file from here
        (self.work / "www").mkdir(mode=0o755)
        for name, size in (("big.bin", BIG_BYTES), ("huge.bin", HUGE_BYTES)):
            with open(self.work / "www" / name, "wb") as sparse:
                sparse.truncate(size)
            # Read once now: the first read of a file fills the page cache (about 3x slower here), and
            # whichever proxy is measured first would otherwise pay for it.
            with open(self.work / "www" / name, "rb") as warm:
                while warm.read(8 << 20):
                    pass
        for sub in ("origin-tmp", "nginx-proxy-tmp"):
            (self.work / sub).mkdir()
            (self.work / sub).chmod(0o777)
        echo = ECHO_MODULE if ECHO_MODULE.exists() else None
        if echo is None:
            self.notes.append("nginx echo module missing: the upload sink answers before reading the body.")
        conf = self.write("origin.conf", configs.origin_nginx(self.work, echo, self.ports.origin))
        proc = self.spawn("origin", ["nginx", "-c", str(conf), "-p", str(self.work), "-g", "daemon off;"], ORIGIN_CPU)
        wait_http(self.ports.origin, "/small", proc, 10)

    def spawn(self, name: str, argv: list[str], cpu: int, **kwargs: Any) -> Any:
        """Start a server pinned to `cpu`, noting its exact command line for the report."""
        measure.COMMANDS.note("servers", ["taskset", "-c", str(cpu), *argv])
        return self.procs.start(name, argv, cpu, **kwargs)

    def write(self, name: str, text: str) -> Path:
        path = self.work / name
        path.write_text(text)
        return path

    def start_gateway(
        self,
        name: str = "gateway",
        routes_text: str | None = None,
        port: int | None = None,
        static_extra: str = "",
        source: Path = REPO,
    ) -> Any:
        """Our gateway with `routes_text` as its dynamic file (default: the FastAPI guide's routes) and
        `static_extra` appended to its static file, on `port` (default: the gateway's), from the checkout
        at `source` (another one: a `--before` copy, run with this venv)."""
        text = configs.traefik_routes(0, self.ports.origin) if routes_text is None else routes_text
        routes = self.write(f"routes-{name}.toml", text)
        static_text = configs.traefik_static(self.ports.gateway if port is None else port, routes.name) + static_extra
        static = self.write(f"traefik-{name}.toml", static_text)
        argv = [str(PYTHON), "-m", "proxy", "--config", str(static)]
        if source == REPO:
            return self.spawn(name, argv, PROXY_CPU, cwd=REPO)
        shown = ["env", "-C", str(source), f"PYTHONPATH={source}", "taskset", "-c", str(PROXY_CPU), *argv]
        measure.COMMANDS.note("servers", shown)
        return self.procs.start(name, argv, PROXY_CPU, cwd=source, env={"PYTHONPATH": str(source)})

    def prepare_before(self, rev: str) -> Before:
        """A `git archive` copy of `rev` in the work dir, checked to be what `python -m proxy` imports there."""
        git = ["git", "-C", str(REPO)]
        found = subprocess.run([*git, "rev-parse", "--verify", "--short=9", f"{rev}^{{commit}}"], capture_output=True)
        if found.returncode != 0:
            raise SystemExit(f"--before {rev}: not a revision of {REPO}: {found.stderr.decode().strip()}")
        commit = found.stdout.decode().strip()
        subject = subprocess.run([*git, "log", "-1", "--format=%s", commit], capture_output=True, text=True).stdout
        source = self.work / f"before-{commit}"
        source.mkdir()
        with subprocess.Popen([*git, "archive", "--format=tar", commit], stdout=subprocess.PIPE) as archive:
            subprocess.run(["tar", "-x", "-C", str(source)], stdin=archive.stdout, check=True)
        if archive.returncode != 0:
            raise SystemExit(f"--before {rev}: git archive {commit} failed")
        subprocess.run([str(PYTHON), "-m", "compileall", "-q", "proxy"], cwd=source, check=True)  # as ours is
        imported = subprocess.run(
            [str(PYTHON), "-c", "import proxy; print(proxy.__file__)"],
            cwd=source,
            env={**os.environ, "PYTHONPATH": str(source)},
            capture_output=True,
            text=True,
        ).stdout.strip()
        if not imported.startswith(str(source)):  # the venv's editable install would win: a wrong table
            raise SystemExit(f"--before {rev}: python imports proxy from {imported!r}, not from the copy {source}")
        self.before = Before(rev, commit, subject.strip(), source)
        self.notes.append(
            f"ours@{commit} ({rev}: {subject.strip()[:80]}): `git archive {commit}` into the work dir, run by this "
            "checkout's venv with cwd and PYTHONPATH the copy, beside this checkout's gateway; the two are "
            "measured in turn, run after run, who goes first alternating (memory: one after the other)."
        )
        return self.before

    def start_nginx(self) -> Any:
        conf = self.write("nginx-proxy.conf", configs.proxy_nginx(self.work, self.ports.nginx, self.ports.origin))
        return self.spawn("nginx", ["nginx", "-c", str(conf), "-p", str(self.work), "-g", "daemon off;"], PROXY_CPU)

    def start_caddy(self) -> Any:
        conf = self.write("Caddyfile", configs.caddyfile(self.ports.caddy, self.ports.origin))
        env = {
            "XDG_DATA_HOME": str(self.work / "caddy-data"),
            "XDG_CONFIG_HOME": str(self.work / "caddy-cfg"),
            "HOME": str(self.work),
            "GOMAXPROCS": "1",
        }  # one core, as the others get (Go reads taskset too)
        return self.spawn(
            "caddy", ["caddy", "run", "--config", str(conf), "--adapter", "caddyfile"], PROXY_CPU, env=env
        )

    def start_haproxy(self) -> Any:
        conf = self.write("haproxy.cfg", configs.haproxy_cfg(self.ports.haproxy, self.ports.origin))
        return self.spawn("haproxy", ["haproxy", "-db", "-f", str(conf)], PROXY_CPU)

    def targets(self) -> list[Target]:
        found = [Target("ours", "stripproxy (ours)", self.ports.gateway, configs.PREFIX, self.start_gateway)]
        for key, label, port, start in (
            ("nginx", "nginx", self.ports.nginx, self.start_nginx),
            ("caddy", "Caddy", self.ports.caddy, self.start_caddy),
            ("haproxy", "HAProxy", self.ports.haproxy, self.start_haproxy),
        ):
            if shutil.which(key):
                found.append(Target(key, label, port, configs.PREFIX, start))
            else:
                self.notes.append(f"{label} is not installed: skipped.")
        found.append(Target("direct", "origin direct", self.ports.origin, "", None))
        return found

    def before_target(self, before: Before) -> Target:
        def start() -> Any:
            return self.start_gateway(f"gateway-{before.commit}", port=self.ports.gateway_before, source=before.source)

        return Target("before", f"ours@{before.commit}", self.ports.gateway_before, configs.PREFIX, start)

    # --- scenarios ---------------------------------------------------------------------------------

    def record(self, scenario: str, key: str, run: Callable[[], dict[str, Any]]) -> None:
        try:
            self.results.setdefault(scenario, {})[key] = run()
        except Exception as exc:  # one failing tool must not lose the other results
            self.results.setdefault(scenario, {})[key] = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"    {scenario} failed for {key}: {exc}", flush=True)

    def bench_target(self, target: Target) -> None:
        url = f"http://127.0.0.1:{target.port}{target.prefix}"
        proc = self.procs.running.get("origin") if target.start is None else target.start()
        name = "origin" if target.start is None else self.name_of(proc)
        started = time.monotonic()
        try:
            check = wait_http(target.port, f"{target.prefix}/check", proc, 60)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; its log ends with: {self.procs.log_tail(name, 3)}") from None
        self.results.setdefault("sanity", {})[target.key] = {"check": check, "startup_s": time.monotonic() - started}
        print(f"  {target.label}: /check -> {check!r}", flush=True)
        measure.wrk("warm-up", f"{url}/small", 1, record=False)
        self.memory(target, proc.pid)
        for scenario, (once, repeats) in self.scenario_runs(target).items():
            self.record(
                scenario, target.key, lambda once=once, repeats=repeats: best_of([once() for _ in range(repeats)])
            )
        if proc.poll() is not None:
            self.notes.append(f"{target.label} exited during the run: {self.procs.log_tail(name)}")
        if target.start is not None:
            self.procs.stop(name)
        self.bench_streaming(target)

    def memory(self, target: Target, pid: int) -> None:
        """RSS with 1,000, then 10,000 idle connections (against the RSS before the 1,000)."""
        self.record("rss", target.key, lambda: self.idle_rss(pid, target, IDLE_CONNS))
        start_kib = self.results["rss"][target.key].get("before_kib")
        self.record("rss_10k", target.key, lambda: self.idle_rss(pid, target, MANY_IDLE_CONNS, start_kib))

    def scenario_runs(self, target: Target) -> dict[str, tuple[Callable[[], dict[str, Any]], int]]:
        """scenario -> (one measurement of `target`, how many a target measured alone gets; best_of keeps
        the best)."""
        plan = self.plan
        url = f"http://127.0.0.1:{target.port}{target.prefix}"
        lua = Path(__file__).with_name("api_post.lua") if target.prefix else self.direct_lua()
        return {
            "small_get": (lambda: measure.wrk("small_get", f"{url}/small", plan.seconds), plan.wrk_runs),
            "api_post": (
                lambda: measure.wrk(
                    "api_post", f"http://127.0.0.1:{target.port}", plan.seconds, extra=["-s", str(lua)]
                ),
                plan.wrk_runs,
            ),
            "latency": (
                lambda: measure.h2load_fixed_rate(
                    "latency", f"{url}/small", plan.latency_seconds, FIXED_RATE, self.work / f"h2load-{target.key}.log"
                ),
                1,
            ),
            "churn": (
                lambda: measure.wrk("churn", f"{url}/small", plan.churn_seconds, extra=["-H", "Connection: close"]),
                plan.wrk_runs,
            ),
            "download": (
                lambda: {"mb_s": measure.curl_download("download", f"{url}/big.bin", BIG_BYTES)},
                plan.transfer_runs,
            ),
            "upload": (
                lambda: {"mb_s": measure.curl_upload("upload", f"{url}/upload", self.work / "www" / "big.bin")},
                plan.transfer_runs,
            ),
        }

    def bench_pair(self, ours: Target, before: Target) -> None:
        """This checkout's gateway and the --before one, both running (on the same core, one idle while the
        other is measured), measured in turn run after run as bench_observability does; then each one's
        streaming rows in fresh processes, one after the other."""
        pair = (ours, before)
        procs: dict[str, Any] = {}
        started: dict[str, float] = {}
        try:
            for target in pair:
                started[target.key] = time.monotonic()
                procs[target.key] = target.start()
            for target in pair:
                try:
                    check = wait_http(target.port, f"{target.prefix}/check", procs[target.key], 60)
                except RuntimeError as exc:
                    tail = self.procs.log_tail(self.name_of(procs[target.key]), 3)
                    raise RuntimeError(f"{target.label}: {exc}; its log ends with: {tail}") from None
                ready = time.monotonic() - started[target.key]  # both started together: an upper bound
                self.results.setdefault("sanity", {})[target.key] = {"check": check, "startup_s": ready}
                print(f"  {target.label}: /check -> {check!r}", flush=True)
                measure.wrk("warm-up", f"http://127.0.0.1:{target.port}{target.prefix}/small", 1, record=False)
            for target in pair:  # memory does not drift with the machine's load as throughput does
                self.memory(target, procs[target.key].pid)
            runs = {target.key: self.scenario_runs(target) for target in pair}
            measured: dict[tuple[str, str], list[dict[str, Any]]] = {}
            failed: dict[tuple[str, str], str] = {}
            for round_ in range(self.plan.wrk_runs + 1):
                for scenario in runs[ours.key]:
                    for target in pair if round_ % 2 == 0 else pair[::-1]:
                        try:
                            result = runs[target.key][scenario][0]()
                        except Exception as exc:  # one failing tool must not lose the other results
                            failed[(scenario, target.key)] = f"{type(exc).__name__}: {exc}"
                            print(f"    {scenario} failed for {target.key}: {exc}", flush=True)
                            continue
                        measured.setdefault((scenario, target.key), []).append(result)
            for scenario in runs[ours.key]:
                for target in pair:
                    got = measured.get((scenario, target.key))
                    self.results.setdefault(scenario, {})[target.key] = (
                        best_of(got) if got else {"error": failed.get((scenario, target.key), "not measured")}
                    )
            for target in pair:
                if procs[target.key].poll() is not None:
                    name = self.name_of(procs[target.key])
                    self.notes.append(f"{target.label} exited during the run: {self.procs.log_tail(name)}")
        finally:
            for proc in procs.values():
                if proc in self.procs.running.values():
                    self.procs.stop(self.name_of(proc))
        for target in pair:
            self.bench_streaming(target)

    def bench_streaming(self, target: Target) -> None:
        """RSS while 1 GiB goes down, then up, through a fresh process (after the same 1 s warm-up as the
        idle RSS): in the one that ran the other scenarios, heap they freed could hide buffering."""
        url = f"http://127.0.0.1:{target.port}{target.prefix}"
        proc = self.procs.running["origin"] if target.start is None else target.start()
        name = "origin" if target.start is None else self.name_of(proc)
        huge = self.work / "www" / "huge.bin"
        try:
            wait_http(target.port, f"{target.prefix}/check", proc, 60)
            measure.wrk("warm-up", f"{url}/small", 1, record=False)
            self.record(
                "stream_download",
                target.key,
                lambda: self.streamed_rss(
                    proc.pid, lambda: measure.curl_download("stream_download", f"{url}/huge.bin", HUGE_BYTES)
                ),
            )
            self.record(
                "stream_upload",
                target.key,
                lambda: self.streamed_rss(
                    proc.pid, lambda: measure.curl_upload("stream_upload", f"{url}/upload", huge, from_file=True)
                ),
            )
        except Exception as exc:
            for scenario in ("stream_download", "stream_upload"):
                self.results.setdefault(scenario, {}).setdefault(target.key, {"error": str(exc)})
            print(f"    streaming failed for {target.key}: {exc}", flush=True)
        finally:
            if target.start is not None:
                self.procs.stop(name)

    def name_of(self, proc: Any) -> str:
        return next(name for name, running in self.procs.running.items() if running is proc)

    def direct_lua(self) -> Path:
        """The API script with the origin's own path (no /api/v1 to strip)."""
        path = self.work / "api_post_direct.lua"
        if not path.exists():
            text = Path(__file__).with_name("api_post.lua").read_text()
            path.write_text(text.replace('wrk.path = "/api/v1/api/items"', 'wrk.path = "/api/items"'))
        return path

    def idle_rss(self, pid: int, target: Target, count: int, start_kib: int | None = None) -> dict[str, Any]:
        """RSS before and with `count` idle keep-alive connections that each made one request.

        KiB / connection is taken against `start_kib` when given (the RSS before the 1,000 run: a heap
        that grew for those and kept the memory would otherwise make the 10,000 look cheaper).
        """
        before = rss_kib(pid)
        argv = [
            "taskset",
            "-c",
            str(ORIGIN_CPU),
            str(PYTHON),
            str(Path(__file__).with_name("idle_conns.py")),
            "127.0.0.1",
            str(target.port),
            f"{target.prefix}/small",
            str(count),
            str(IDLE_OPEN_SECONDS),
        ]
        measure.COMMANDS.note("rss", argv)
        holder = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert holder.stdin and holder.stdout and holder.stderr
        try:
            ready = select.select([holder.stdout], [], [], IDLE_OPEN_SECONDS + 30)[0]
            line = holder.stdout.readline().split() if ready else []
            if not line or line[0] != "ready":
                raise RuntimeError(f"idle_conns.py did not get ready: {line}")
            time.sleep(0.5)
            during = rss_kib(pid)
        finally:
            holder.stdin.close()
            try:
                holder.wait(timeout=30)
            except subprocess.TimeoutExpired:  # still opening: it cannot be left behind
                holder.kill()
                holder.wait(timeout=5)
        answered, opened = int(line[1]), int(line[2])
        base = before if start_kib is None else start_kib
        result = {
            "before_kib": before,
            "start_kib": base,
            "with_idle_kib": during,
            "answered": answered,
            "opened": opened,
            "per_conn_kib": (during - base) / count,
        }
        if answered < count:  # the numbers stay in results.json; the table shows why they do not count
            complaint = holder.stderr.read().strip()[:200]
            result["error"] = (
                f"only {answered:,} of {count:,} answered ({opened:,} opened, RSS "
                f"{during / 1024:.1f} MiB){': ' + complaint if complaint else ''}"
            )
        return result

    def streamed_rss(self, pid: int, transfer: Callable[[], float]) -> dict[str, Any]:
        """MB/s of one 1 GiB transfer, and the proxy's RSS before, at its peak during (sampled every
        100 ms) and right after: a proxy that streams keeps max - before near zero."""
        before = rss_kib(pid)
        cpu_before = cpu_seconds(pid)
        with RssSampler(pid, 0.1) as sampler:
            mb_s = transfer()
        cpu = cpu_seconds(pid) - cpu_before
        after = rss_kib(pid)
        peak = max([before, after, *sampler.samples])
        # MB/s is bound by the core the origin and curl share; the proxy's own CPU per GiB is what it costs.
        return {
            "mb_s": mb_s,
            "cpu_s_per_gib": cpu * 1024**3 / HUGE_BYTES,
            "before_kib": before,
            "max_kib": peak,
            "after_kib": after,
            "growth_kib": peak - before,
            "samples": len(sampler.samples),
        }

    def bench_routing(self) -> None:
        """Small-GET req/s on our gateway with 1 router, then with 10,000 Host routers + the real one."""
        for routers in (0, ROUTERS_MANY):
            self.bench_gateway_variant(
                "routing",
                str(routers + 1),
                f"gateway-{routers + 1}-routers",
                configs.traefik_routes(routers, self.ports.origin),
            )

    def bench_middlewares(self) -> None:
        """Small-GET req/s on our gateway with the guide's one stripPrefix, then with a chain of 10."""
        self.bench_gateway_variant(
            "middlewares", "1", "gateway-1-middleware", configs.traefik_routes(0, self.ports.origin)
        )
        self.bench_gateway_variant(
            "middlewares",
            "10",
            "gateway-10-middlewares",
            configs.traefik_middleware_chain_routes(self.ports.origin),
            self.check_chain,
        )
        users, token = self.bench_credentials()
        for key, (kind, options, extra, path) in configs.FEATURE_MIDDLEWARES.items():
            options = options.replace("{users}", users)
            extra = [arg.replace("{token}", token) for arg in extra]
            self.bench_gateway_variant(
                "middlewares",
                f"1 + {key}",
                f"gateway-{kind}",
                configs.traefik_feature_routes(kind, options, self.ports.origin),
                path=path,
                extra=extra,
            )

    def bench_observability(self) -> None:
        """Small GET and API POST through the guide's route with the access log (file, common) and
        Prometheus metrics off, each alone and both on: four gateway processes side by side (two sets, one
        after the other), measured in turn, run after run (so the machine's drift hits them alike); each
        row is the best of its runs, with every run kept for the median."""
        ports = self.ports
        variants = {
            "off": (ports.gateway, ""),
            "log": (
                ports.gateway_logged,
                configs.observability_static(self.work, 0, metrics=False, log_name="access-alone.log"),
            ),
            "metrics": (ports.gateway_metered, configs.observability_static(self.work, ports.metrics_alone, False)),
            "on": (ports.gateway_observed, configs.observability_static(self.work, ports.metrics)),
        }
        names = {key: f"gateway-observability-{key}" for key in variants}
        lua = str(Path(__file__).with_name("api_post.lua"))
        runs: dict[str, list[dict[str, float]]] = {}
        rows = [("small GET", "/small", []), ("API POST", "", ["-s", lua])]
        # Many short runs rather than a few long ones: the slow spells of this shared machine last seconds
        # to tens of seconds, and each gateway's best run should be one that no spell touched. Each round
        # starts with the next gateway (no one is always measured right after the same other), and half
        # way the four are started afresh: identical processes differ by a few percent (hash seeds, memory
        # layout), which the second set averages out.
        seconds = max(self.plan.seconds // 3, 2)
        order = list(variants.items())
        rounds = len(order) * self.plan.wrk_runs  # a whole number of rotations
        procs: dict[str, Any] = {}
        try:
            for generation in range(GENERATIONS):
                for name in names.values():
                    self.procs.stop(name)
                for log_file in ("access.log", "access-alone.log"):  # the check below counts the last set's
                    (self.work / log_file).unlink(missing_ok=True)
                procs = {
                    key: self.start_gateway(names[key], port=port, static_extra=extra)
                    for key, (port, extra) in variants.items()
                }
                for key, (port, _) in variants.items():
                    wait_http(port, f"{configs.PREFIX}/check", procs[key], 180)
                for port, _ in variants.values():
                    measure.wrk("warm-up", f"http://127.0.0.1:{port}{configs.PREFIX}/small", 1, record=False)
                for round_ in range(generation * rounds // GENERATIONS, (generation + 1) * rounds // GENERATIONS):
                    turn = round_ % len(order)
                    for row, path, extra in rows:
                        for key, (port, _) in order[turn:] + order[:turn]:
                            url = (
                                f"http://127.0.0.1:{port}{configs.PREFIX}{path}" if path else f"http://127.0.0.1:{port}"
                            )
                            runs.setdefault(f"{row} {key}", []).append(
                                measure.wrk("observability", url, seconds, extra=extra)
                            )
            for label, results in runs.items():
                best = dict(max(results, key=lambda r: r["rps"]))
                best["all_rps"] = [r["rps"] for r in results]
                best["rss_kib"] = rss_kib(procs[label.rsplit(" ", 1)[1]].pid)
                self.results.setdefault("observability", {})[label] = best
            # Proof that the "on" gateway did the work: its log lines and its request counter.
            log = self.work / "access.log"
            lines = sum(1 for _ in log.open("rb")) if log.exists() else 0
            scraped = self.curl_response(f"http://127.0.0.1:{ports.metrics}/metrics", "observability")[2]
            counted = sum(
                float(line.rsplit(" ", 1)[1])
                for line in scraped.splitlines()
                if line.startswith("traefik_entrypoint_requests_total{") and 'entrypoint="http"' in line
            )
            self.results["observability"]["check"] = {"log_lines": lines, "entrypoint_requests": counted}
            if not lines or not counted:
                raise RuntimeError(f"the observed gateway logged {lines} lines and counted {counted} requests")
        except Exception as exc:
            self.results.setdefault("observability", {})["error"] = {"error": str(exc)}
            print(f"    observability failed: {exc}", flush=True)
        finally:
            for name in names.values():
                self.procs.stop(name)

    @staticmethod
    def bench_credentials() -> tuple[str, str]:
        """An htpasswd line (bcrypt, cost 10 as htpasswd -B makes) and the matching Basic token."""
        import base64

        import bcrypt

        hashed = bcrypt.hashpw(configs.BENCH_PASSWORD.encode(), bcrypt.gensalt(10)).decode()
        token = base64.b64encode(f"{configs.BENCH_USER}:{configs.BENCH_PASSWORD}".encode()).decode()
        return f"{configs.BENCH_USER}:{hashed}", token

    def bench_gateway_variant(
        self,
        scenario: str,
        key: str,
        name: str,
        routes_text: str,
        check: Callable[[str], str] | None = None,
        path: str = "/small",
        extra: list[str] | None = None,
    ) -> None:
        """Small-GET req/s of a fresh gateway process serving `routes_text` (after `check(url)` passes)."""
        started = time.monotonic()
        proc = self.start_gateway(name, routes_text)
        try:
            sent = dict(arg.split(": ", 1) for arg in (extra or [])[1::2])  # wrk's -H pairs (credentials)
            wait_http(self.ports.gateway, f"{configs.PREFIX}/check", proc, 180, sent)
            ready = time.monotonic() - started
            url = f"http://127.0.0.1:{self.ports.gateway}{configs.PREFIX}{path}"
            checked = {"check": check(url)} if check else {}
            measure.wrk("warm-up", url, 1, extra=extra, record=False)
            self.record(
                scenario,
                key,
                lambda: {
                    **measure.wrk_best(scenario, url, self.plan.seconds, self.plan.wrk_runs, extra=extra),
                    "startup_s": ready,
                    "rss_kib": rss_kib(proc.pid),
                    **checked,
                },
            )
        except Exception as exc:
            self.results.setdefault(scenario, {})[key] = {"error": str(exc)}
            print(f"    {scenario} {key} failed: {exc}", flush=True)
        finally:
            self.procs.stop(name)

    def check_chain(self, url: str) -> str:
        """Fail unless the 10-middleware chain really runs: the origin's answer, both kinds of headers."""
        status, headers, body = self.curl_response(url)
        expected = {name.lower(): value for name, value in configs.MW_RESPONSE_HEADERS.items()}
        got = {name: headers.get(name) for name in expected}
        if status != 200 or body != "hello, world\n" or got != expected:
            raise RuntimeError(f"chain check failed: status {status}, body {body!r}, response headers {got}")
        _, _, seen = self.curl_response(url.replace("/small", "/check-mw"))
        wanted = "mw=" + ",".join(configs.MW_REQUEST_HEADERS.values())
        if not seen.startswith(wanted + " "):
            raise RuntimeError(f"chain check failed: the origin saw {seen!r}, expected {wanted}")
        return f"200 {body.strip()!r}, response {', '.join(f'{k}: {v}' for k, v in got.items())}; origin saw {seen}"

    @staticmethod
    def curl_response(url: str, scenario: str = "middlewares") -> tuple[int, dict[str, str], str]:
        """Status, lower-cased headers and body of one GET with curl (pinned to the client core)."""
        text = measure.run(scenario, ["curl", "-si", "--max-time", "10", url], timeout=20)
        head, _, body = text.partition("\n\n")  # text mode has turned CRLF into LF
        lines = head.split("\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        return int(lines[0].split()[1]), headers, body


def best_of(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The best of several measurements of one thing (other work on the machine only ever makes one worse):
    the most req/s (every run's kept in all_rps), the most MB/s, or the lowest p99 at the fixed rate."""
    if "rps" in results[0]:
        best = dict(max(results, key=lambda r: r["rps"]))
        best["all_rps"] = [r["rps"] for r in results]
        return best
    if "mb_s" in results[0]:
        return {"mb_s": max(r["mb_s"] for r in results)}
    return dict(min(results, key=lambda r: r.get("p99_ms", float("inf"))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs (about 3 minutes instead of 10)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated target keys (ours,nginx,caddy,haproxy,direct; obs: only the access log and metrics cost)",
    )
    parser.add_argument("--notes", default="", help="lines to add to the report's notes (from run.sh)")
    parser.add_argument(
        "--before",
        metavar="REV",
        default="",
        help="also run the gateway as it was at git revision REV (ours@REV), interleaved with this checkout's",
    )
    parser.add_argument(
        "--base-port",
        type=int,
        default=configs.ORIGIN_PORT,
        help="first of the loopback ports used (origin; the rest follow)",
    )
    args = parser.parse_args()
    plan = Plan(3, 4, 3, 1, 1) if args.quick else Plan(8, 10, 5, 2, 2)
    ports = configs.Ports(*range(args.base_port, args.base_port + len(fields(configs.Ports))))
    busy = [port for port in vars(ports).values() if port_in_use(port)]
    if busy:
        print(f"ports already in use on 127.0.0.1: {busy}; stop whatever listens there first", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops what we started
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))
    work = Path(tempfile.mkdtemp(prefix="stripproxy-bench-"))
    bench = Bench(work, plan, ports)
    bench.notes += [line for line in args.notes.split("\n") if line.strip()]
    bench.notes.append(
        "Load average at the start: "
        + " ".join(Path("/proc/loadavg").read_text().split()[:3])
        + " (anything above ~0 means other work shared the two cores)."
    )
    began = time.time()
    before: Before | None = None
    try:
        before = bench.prepare_before(args.before) if args.before else None
        bench.start_origin()
        targets = bench.targets()
        if args.only:
            targets = [t for t in targets if t.key in args.only.split(",")]
        if before is not None and not any(t.key == "ours" for t in targets):
            bench.notes.append(f"--before {args.before}: ignored, the run has no `ours` target to compare it with.")
        for target in targets:
            paired = before is not None and target.key == "ours"
            print(f"== {target.label}" + (f" and ours@{before.commit}" if paired and before else ""), flush=True)
            try:
                if paired and before is not None:
                    bench.bench_pair(target, bench.before_target(before))
                else:
                    bench.bench_target(target)
            except Exception as exc:
                bench.notes.append(f"{target.label} could not be benchmarked: {exc}")
                print(f"  skipped: {exc}", flush=True)
                traceback.print_exc()
                bench.procs.stop_all(keep="origin")
        if not args.only or "ours" in args.only.split(","):
            print("== routing cost (our gateway)", flush=True)
            bench.bench_routing()
            print("== middleware chain (our gateway)", flush=True)
            bench.bench_middlewares()
        if not args.only or "ours" in args.only.split(",") or "obs" in args.only.split(","):
            print("== access log and metrics cost (our gateway)", flush=True)
            bench.bench_observability()
    finally:
        bench.procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    meta = report.collect_meta(plan, args.quick, time.time() - began, PYTHON, bench.notes, measure.COMMANDS)
    meta["only"] = args.only
    if before is not None:
        meta["before"] = {"rev": before.rev, "commit": before.commit, "subject": before.subject}
    (args.out / "results.json").write_text(json.dumps({"meta": meta, "results": bench.results}, indent=1))
    text = report.markdown(meta, bench.results)
    (args.out / "RESULTS.md").write_text(text)
    (args.out / "results.svg").write_text(report.svg_chart(bench.results))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
