"""`--workers N`: the real CLI in a subprocess, its workers sharing one port through SO_REUSEPORT.

Which worker answers is the kernel's choice, so "every worker" is shown through /proc (each worker pid
owns a listening socket on the port, and an upstream connection once it has forwarded something) and
by asking for many fresh connections in a row.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from e2e_helpers import ROOT, Proc, free_port, raw_exchange, routes_to

from proxy.cli import parse_args
from proxy.testing.process import GatewayProcess

SERVING = re.compile(r"entry point http serving on http://127\.0\.0\.1:(\d+)")
WORKER = re.compile(r"worker (\d+) serving, pid (\d+)")
FRESH_IN_A_ROW = 24  # with 2 workers, a worker missed by all of them: 2 * 2**-24
LISTEN, ESTABLISHED = "0A", "01"  # /proc/net/tcp states


# -- helpers -----------------------------------------------------------------------------------------
async def eventually(predicate: Callable[[], object], timeout: float = 20.0) -> bool:
    """Poll without blocking the loop (the `upstream` fixture serves on it); generous: it returns as soon as
    `predicate` holds, and worker processes start slowly on a loaded machine."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return False


class Workers:
    """`python -m proxy --config routes.toml --workers N` on a port the parent picks (port 0)."""

    def __init__(self, config: Path, count: int = 2, *args: str) -> None:
        self.proc = Proc(
            [
                sys.executable,
                "-m",
                "proxy",
                "--config",
                str(config),
                "--workers",
                str(count),
                "--entrypoints.http.address=127.0.0.1:0",
                *args,
            ],
            config.parent,
        )
        self.count = count
        self.port = 0

    @property
    def pid(self) -> int:
        return self.proc.popen.pid

    def output(self) -> str:
        return self.proc.output()

    def worker_pids(self) -> dict[int, int]:
        """Worker index -> pid of its latest incarnation, from the parent's log."""
        return {int(index): int(pid) for index, pid in WORKER.findall(self.output())}

    async def started(self) -> Workers:
        assert await eventually(lambda: SERVING.search(self.output()) or self.proc.popen.poll() is not None), (
            self.output()
        )
        found = SERVING.search(self.output())
        assert found, f"exited with {self.proc.popen.returncode}:\n{self.output()}"
        self.port = int(found.group(1))
        assert len(self.worker_pids()) == self.count, self.output()
        return self


@pytest.fixture
async def workers(tmp_path: Path) -> AsyncIterator[Callable[..., Workers]]:
    started: list[Workers] = []

    def start(routes: str, count: int = 2, *args: str) -> Workers:
        config = tmp_path / "routes.toml"
        config.write_text(routes)
        started.append(Workers(config, count, *args))
        return started[-1]

    yield start
    for gateway in started:
        gateway.proc.stop()  # SIGTERM by pid; the parent ends its own workers


async def status_of(port: int, path: str) -> int:
    """One request on a fresh connection (a new source port: the kernel picks a worker again)."""
    request = f"GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".encode()
    return (await raw_exchange(port, request))[0].status


async def all_fresh_connections_get(port: int, path: str, status: int) -> bool:
    return all([await status_of(port, path) == status for _ in range(FRESH_IN_A_ROW)])


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def tcp_inodes(state: str, local_port: int | None = None, remote_port: int | None = None) -> set[str]:
    """Inodes of IPv4 TCP sockets in `state` with these ports, from /proc/net/tcp."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, st, inode = fields[1], fields[2], fields[3], fields[9]
        if (
            st == state
            and local_port in (None, int(local.split(":")[1], 16))
            and remote_port in (None, int(remote.split(":")[1], 16))
        ):
            found.add(inode)
    return found


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


BROKEN_ROUTER = '[http.routers.broken]\nrule = "Path(`/b`)"\nservice = "nope"\n'


# -- the flag ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value", [pytest.param("0", id="zero"), pytest.param("-2", id="negative"), pytest.param("two", id="not-a-number")]
)
def test_workers_must_be_positive_or_auto(value, capsys):
    with pytest.raises(SystemExit) as exited:
        parse_args(["--config", "x.toml", "--workers", value])
    assert exited.value.code == 2
    assert f"--workers: expected a positive number of processes or 'auto', not '{value}'" in capsys.readouterr().err


def test_workers_auto_is_one_per_cpu():
    assert parse_args(["--workers", "auto"])[0].workers == (os.cpu_count() or 1)
    assert parse_args([])[0].workers == 1


# -- serving -----------------------------------------------------------------------------------------
async def test_every_worker_listens_and_forwards(workers, upstream):
    gateway = await workers(routes_to(upstream.url) + BROKEN_ROUTER).started()
    output = gateway.output()
    assert len(SERVING.findall(output)) == 1, output  # what GatewayProcess and people read
    # The start-up problem is the parent's to report, once, not once more per worker.
    assert output.count("the service 'nope' does not exist") == 1, output

    listening = tcp_inodes(LISTEN, local_port=gateway.port)
    pids = gateway.worker_pids().values()
    assert all(socket_inodes(pid) & listening for pid in pids)  # each worker has its own listener
    assert not socket_inodes(gateway.pid) & listening  # the parent only holds the port, unlistened

    assert await all_fresh_connections_get(gateway.port, "/hello", 200)
    # Each worker that forwarded keeps its own pooled connection to the upstream.
    upstream_conns = tcp_inodes(ESTABLISHED, remote_port=upstream.port)
    assert sum(bool(socket_inodes(pid) & upstream_conns) for pid in pids) == 2


async def test_gateway_process_reads_the_single_serving_line(tmp_path, upstream):
    config = tmp_path / "routes.toml"
    config.write_text(routes_to(upstream.url))
    process = await asyncio.to_thread(GatewayProcess(config, args=["--workers", "2"]).start)
    try:
        port = int(process.url.rsplit(":", 1)[1])
        assert await status_of(port, "/via-fixture") == 200
        assert upstream.last.path == "/via-fixture"
    finally:
        assert await asyncio.to_thread(process.stop) == 0


# -- stopping ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_signal_stops_the_parent_and_every_worker(workers, upstream, sig):
    gateway = await workers(routes_to(upstream.url)).started()
    children = children_of(gateway.pid)
    assert set(gateway.worker_pids().values()) <= set(children)

    os.kill(gateway.pid, sig)
    assert await asyncio.to_thread(gateway.proc.popen.wait, 8) == 0, gateway.output()
    assert await eventually(lambda: not any(alive(pid) for pid in children), 2), children
    assert "Traceback" not in gateway.output()


async def test_workers_stop_when_the_parent_is_killed(workers, upstream):
    gateway = await workers(routes_to(upstream.url)).started()
    children = children_of(gateway.pid)
    os.kill(gateway.pid, signal.SIGKILL)  # no chance to clean up: each worker's pipe to it closes
    assert await eventually(lambda: not any(alive(pid) for pid in children), 6), children


# -- start-up failures ---------------------------------------------------------------------------------
def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxy", *args, "--workers", "2"],
        cwd=cwd,
        text=True,
        capture_output=True,
        timeout=20,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_strict_config_error_is_printed_once_and_nothing_starts(tmp_path):
    (tmp_path / "routes.toml").write_text('[http.routers.app]\nrulee = "Path(`/`)"\n')
    result = run_cli(tmp_path, "--config", "routes.toml", "--strict", "--entrypoints.http.address=127.0.0.1:0")
    assert result.returncode == 1
    assert result.stderr.count("routes.toml: http.routers.app.rulee: unknown key") == 1, result.stderr
    assert "worker" not in result.stderr


def test_static_config_error_is_printed_once(tmp_path):
    (tmp_path / "traefik.toml").write_text('[entryPoints.http]\naddres = "127.0.0.1:0"\n')
    result = run_cli(tmp_path, "--config", "traefik.toml")
    assert result.returncode == 1
    assert result.stderr.count("entryPoints.http.addres") == 1, result.stderr


def test_a_port_in_use_is_reported_once(tmp_path, upstream_port_in_use):
    (tmp_path / "routes.toml").write_text(
        '[http.routers.app]\nrule = "Path(`/`)"\nservice = "s"\n[http.services.s.loadBalancer]\n'
    )
    result = run_cli(
        tmp_path, "--config", "routes.toml", f"--entrypoints.http.address=127.0.0.1:{upstream_port_in_use}"
    )
    assert result.returncode == 1
    assert result.stderr.count("cannot listen") == 1, result.stderr
    assert (
        f"cannot listen: entry point http (address '127.0.0.1:{upstream_port_in_use}'): address already in use"
        in result.stderr
    )  # the entry point is named, as without --workers
    assert "worker" not in result.stderr


@pytest.fixture
def upstream_port_in_use() -> Iterator[int]:
    """A port another program listens on (without SO_REUSEPORT)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", free_port()))
        holder.listen()
        yield holder.getsockname()[1]


# -- reload and restarts -------------------------------------------------------------------------------
async def test_a_changed_file_reloads_in_every_worker(workers, upstream, tmp_path):
    gateway = await workers(routes_to(upstream.url, rule="Path(`/old`)")).started()
    assert await status_of(gateway.port, "/new") == 404

    # Once every worker has reloaded, no fresh connection finds the old table any more. The file is
    # written again while that is not so: a worker's watcher starts just after the "serving" line, so
    # the very first write may come before it looks.
    deadline = time.monotonic() + 8
    while True:
        (tmp_path / "routes.toml").write_text(routes_to(upstream.url, rule="Path(`/new`)"))
        await asyncio.sleep(0.3)
        if await all_fresh_connections_get(gateway.port, "/new", 200):
            break
        assert time.monotonic() < deadline, gateway.output()

    (tmp_path / "routes.toml").write_text("[http.routers.app\n")  # does not parse
    assert await eventually(
        lambda: all(
            f"[worker {i}] proxy.providers.file: configuration not reloaded" in gateway.output() for i in range(2)
        )
    ), gateway.output()
    assert await all_fresh_connections_get(gateway.port, "/new", 200)  # the last good config, everywhere


async def test_a_killed_worker_is_replaced(workers, upstream):
    gateway = await workers(routes_to(upstream.url)).started()
    victim = gateway.worker_pids()[1]
    os.kill(victim, signal.SIGKILL)

    assert await eventually(lambda: gateway.worker_pids()[1] != victim), gateway.output()
    replacement = gateway.worker_pids()[1]
    assert alive(replacement) and not alive(victim)
    assert f"worker 1 (pid {victim}) exited with status -9: starting a new one" in gateway.output()
    assert socket_inodes(replacement) & tcp_inodes(LISTEN, local_port=gateway.port)
    assert await all_fresh_connections_get(gateway.port, "/after", 200)


async def test_a_worker_that_keeps_dying_stops_everything(workers, upstream):
    gateway = await workers(routes_to(upstream.url)).started()
    children = children_of(gateway.pid)
    for _ in range(3):  # RESTART_LIMIT deaths within RESTART_WINDOW
        victim = gateway.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        assert await eventually(lambda: gateway.worker_pids()[0] != victim or gateway.proc.popen.poll() is not None), (
            gateway.output()
        )

    assert await asyncio.to_thread(gateway.proc.popen.wait, 8) == 1, gateway.output()
    assert "3 times within 10s: stopping every worker" in gateway.output()
    every_worker = {int(pid) for _, pid in WORKER.findall(gateway.output())}
    assert await eventually(lambda: not any(alive(pid) for pid in [*children, *every_worker]), 2)
