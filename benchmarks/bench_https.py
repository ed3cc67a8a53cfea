"""HTTPS small GETs, side by side: `python benchmarks/bench_https.py [--seconds 8] [--connections 32]`.

The guide's job (PathPrefix `/api/v1`, strip it, forward to an nginx origin) over TLS, with one certificate
for everyone (minted by a throw-away local CA) and TLS session reuse on (wrk's OpenSSL client keeps its
session; nginx has a shared session cache, Caddy and stripproxy their defaults, tickets included). Each
proxy runs alone on core 0, the origin and wrk on core 1. Also stripproxy over plain HTTP, for the cost of
TLS itself. Needs wrk, nginx and (optionally) caddy; starts every process itself and stops each by pid.
"""

from __future__ import annotations

import argparse
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.configs import (  # noqa: E402
    HOST,
    NGINX_TO_ORIGIN,
    PREFIX,
    _nginx_common,
    caddyfile,
    origin_nginx,
    traefik_routes,
)
from benchmarks.procs import Processes  # noqa: E402
from proxy.tls.localca import LocalCA  # noqa: E402

ORIGIN, OURS_TLS, OURS_PLAIN, NGINX, CADDY = 18180, 18181, 18182, 18183, 18184


def nginx_tls(work: Path, cert: Path, key: Path) -> str:
    return (
        _nginx_common(work, "nginx-tls", 16384)
        + f"""  upstream origin {{ server {HOST}:{ORIGIN}; keepalive 64; }}
  ssl_session_cache shared:SSL:10m;
  server {{
    listen {HOST}:{NGINX} ssl backlog=4096;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    location {PREFIX}/ {{
{NGINX_TO_ORIGIN}
    }}
  }}
}}
"""
    )


def ours_static(routes: Path, cert: Path, key: Path) -> str:
    return f"""[entryPoints.http]
address = "{HOST}:{OURS_TLS}"
[entryPoints.http.http.tls]
[entryPoints.plain]
address = "{HOST}:{OURS_PLAIN}"
[providers.file]
filename = "{routes}"
watch = false
[log]
level = "ERROR"
"""


def wait_ok(url: str, ctx: ssl.SSLContext, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, context=ctx, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def wrk(url: str, seconds: int, connections: int) -> tuple[float, str]:
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+(\S+)", out)
    return rate, p99.group(1) if p99 else "?"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-https-"))
    procs = Processes(work)
    try:
        for name in ("origin-tmp", "nginx-tls-tmp"):
            (work / name).mkdir()
        ca = LocalCA(work / "ca")
        pair = ca.mint([HOST, "localhost"])
        cert, key = work / "cert.pem", work / "key.pem"
        cert.write_bytes(pair.cert_pem)
        key.write_bytes(pair.key_pem)
        client = ssl.create_default_context(cafile=str(ca.cert_path))
        (work / "origin.conf").write_text(origin_nginx(work, None, ORIGIN))
        procs.start("origin", ["nginx", "-c", str(work / "origin.conf"), "-g", "daemon off;"], cpu=1)
        routes = work / "routes.toml"
        routes.write_text(
            traefik_routes(origin_port=ORIGIN).replace('entryPoints = ["http"]', 'entryPoints = ["http", "plain"]')
            + f'\n[[tls.certificates]]\ncertFile = "{cert}"\nkeyFile = "{key}"\n'
        )
        static = work / "traefik.toml"
        static.write_text(ours_static(routes, cert, key))
        rows: list[tuple[str, float, str]] = []
        targets = [
            ("stripproxy", [sys.executable, "-m", "proxy", "--config", str(static)], OURS_TLS, "https"),
            ("stripproxy, plain HTTP", None, OURS_PLAIN, "http"),
            ("nginx", None, NGINX, "https"),
            ("Caddy", None, CADDY, "https"),
        ]
        for name, argv, port, scheme in targets:
            if name == "nginx":
                (work / "nginx-tls.conf").write_text(nginx_tls(work, cert, key))
                argv = ["nginx", "-c", str(work / "nginx-tls.conf"), "-g", "daemon off;"]
            elif name == "Caddy":
                if shutil.which("caddy") is None:
                    print("skipping Caddy: not installed")
                    continue
                (work / "Caddyfile").write_text(caddyfile(CADDY, ORIGIN, tls=(cert, key)))
                argv = ["caddy", "run", "--config", str(work / "Caddyfile"), "--adapter", "caddyfile"]
            if argv is not None:
                procs.start(name, argv, cpu=0, cwd=Path(__file__).resolve().parents[1])
            url = f"{scheme}://{HOST}:{port}{PREFIX}/small"
            wait_ok(url, client)
            wrk(url, 2, args.connections)  # warm-up
            rate, p99 = wrk(url, args.seconds, args.connections)
            rows.append((name, rate, p99))
            print(f"{name:24} {rate:10,.0f} req/s   p99 {p99}", flush=True)
            if name != "stripproxy":
                procs.stop(name)
        procs.stop("stripproxy")
        ours = next(rate for name, rate, _ in rows if name == "stripproxy")
        print("\n| one process, one core, keep-alive, TLS session reuse | small GET req/s | p99 | stripproxy / it |")
        print("|---|---:|---:|---:|")
        for name, rate, p99 in rows:
            print(f"| {name} | {rate:,.0f} | {p99} | {ours / rate:.2f}x |")
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
