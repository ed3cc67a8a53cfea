"""RSS of the real CLI, idle and holding N idle keep-alive connections (each has completed one request).

    .venv/bin/python benchmarks/rss_idle.py [N ...]        e.g. 1000 10000 (default: 1000)

Starts a tiny stdlib origin, writes a static traefik.toml (one entry point, a file provider with a
stripPrefix router) into a temporary folder, starts `python -m proxy --config traefik.toml` with this
interpreter, then prints VmRSS and the smaps_rollup split (anonymous / file-backed) of the proxy process:
after start-up, and with each N connections open. Every process is stopped by its own pid. Stdlib only.
"""

from __future__ import annotations

import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from idle_conns import open_all  # noqa: E402

ORIGIN = """\
import asyncio
BODY = b"hello from origin\\n"
RESPONSE = b"HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(BODY) + BODY
class Origin(asyncio.Protocol):
    def connection_made(self, transport): self.transport = transport
    def data_received(self, data): self.transport.write(RESPONSE * data.count(b"\\r\\n\\r\\n"))
async def main(port):
    server = await asyncio.get_running_loop().create_server(Origin, "127.0.0.1", port)
    await asyncio.Event().wait()
import sys; asyncio.run(main(int(sys.argv[1])))
"""

STATIC = """\
[entryPoints.http]
address = "127.0.0.1:{proxy_port}"
[providers.file]
filename = "routes.toml"
"""

GUIDE_ROUTES = Path(__file__).resolve().parents[1] / "config" / "routes.toml"  # the FastAPI guide's file


def routes_to(origin_port: int) -> str:
    return GUIDE_ROUTES.read_text().replace("http://127.0.0.1:8000", f"http://127.0.0.1:{origin_port}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def memory(pid: int) -> dict[str, int]:
    """VmRSS, RssAnon and RssFile in KiB."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            found[key] = int(value.split()[0])
    return found


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with code {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return time.monotonic() - start
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listening on {port} after {timeout}s")


def show(label: str, mem: dict[str, int]) -> None:
    print(
        f"{label:<28} VmRSS {mem['VmRSS'] / 1024:6.1f} MiB   RssAnon {mem['RssAnon'] / 1024:6.1f}"
        f"   RssFile {mem['RssFile'] / 1024:6.1f}",
        flush=True,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    counts = [int(arg) for arg in sys.argv[1:]] or [1000]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # children inherit it
    origin_port, proxy_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "traefik.toml").write_text(STATIC.format(proxy_port=proxy_port))
        Path(folder, "routes.toml").write_text(routes_to(origin_port))
        origin = subprocess.Popen([sys.executable, "-c", ORIGIN, str(origin_port)])
        proxy = subprocess.Popen(
            [sys.executable, "-m", "proxy", "--config", "traefik.toml"], cwd=folder, stderr=subprocess.DEVNULL
        )
        try:
            wait_listening(origin_port, origin)
            started = wait_listening(proxy_port, proxy)
            time.sleep(0.5)
            print(f"proxy pid {proxy.pid}, listening after {started:.2f}s", flush=True)
            show("idle process", memory(proxy.pid))
            for count in counts:
                conns, ok = open_all("127.0.0.1", proxy_port, "/api/v1/x", count)
                time.sleep(0.5)
                mem = memory(proxy.pid)
                show(f"{count} idle conns ({ok} ok)", mem)
                for sock in conns:
                    sock.close()
                time.sleep(0.5)
        finally:
            stop(proxy)
            stop(origin)


if __name__ == "__main__":
    main()
