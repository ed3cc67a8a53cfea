"""Start, wait for, measure and stop the processes of a benchmark run, always by pid."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import threading
import time
from pathlib import Path


class Processes:
    """Every process we start, so that each is stopped by its own pid, whatever happens."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(
        self, name: str, argv: list[str], cpu: int, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.Popen[bytes]:
        """Start `argv` pinned to `cpu` (taskset execs, so the pid is the program's own)."""
        log = open(self.logs / f"{name}.log", "ab")
        proc = subprocess.Popen(
            ["taskset", "-c", str(cpu), *argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
        log.close()
        self.running[name] = proc
        return proc

    def stop(self, name: str) -> None:
        proc = self.running.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def stop_all(self, keep: str = "") -> None:
        for name in list(self.running):
            if name != keep:
                self.stop(name)

    def log_tail(self, name: str, lines: int = 15) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def wait_http(
    port: int, path: str, proc: subprocess.Popen[bytes], timeout: float, headers: dict[str, str] | None = None
) -> str:
    """Poll until GET path answers 200; return the body. Fails early if the process died."""
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with code {proc.returncode} before answering on :{port}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            body = response.read().decode(errors="replace")
            conn.close()
            if response.status == 200:
                return body
            last_error = f"status {response.status}: {body[:200]}"
        except OSError as exc:
            last_error = str(exc)
        time.sleep(0.1)
    raise RuntimeError(f"no 200 from 127.0.0.1:{port}{path} within {timeout:.0f}s ({last_error})")


def port_in_use(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def process_tree(pid: int) -> list[int]:
    """The pid and all its descendants (nginx's workers, for example)."""
    pids, index = [pid], 0
    while index < len(pids):
        current = pids[index]
        index += 1
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                children = Path(f"/proc/{current}/task/{task}/children").read_text().split()
                pids += [int(child) for child in children]
        except OSError:
            continue
    return pids


def rss_kib(pid: int) -> int:
    """VmRSS of a process and its descendants, in KiB."""
    total = 0
    for member in process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


class RssSampler:
    """rss_kib(pid) every `interval` seconds on a thread while the `with` block runs (to catch the peak)."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid, self.interval = pid, interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.samples.append(rss_kib(self.pid))
            if self._stop.wait(self.interval):
                return


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its descendants so far, in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks
