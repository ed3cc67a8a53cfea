"""`--workers N`: N processes, each a whole gateway, sharing every entry point's port.

The parent checks the configuration once (so an error is printed once and nothing starts), holds a
bound but not listening SO_REUSEPORT socket on each entry point address (port 0 becomes a real port
every worker then uses, and a port taken by another program fails here, once), starts the workers and
supervises them. Each worker listens with SO_REUSEPORT, so the kernel spreads new connections across
them; each has its own upstream pools and its own file watcher, so a changed file reloads in all.

Workers are `multiprocessing` "spawn" children rather than forks: a fresh interpreter inherits no
event loop, threads or sockets from the parent, the already-checked `Setup` travels as an argument
(no command line to rebuild), and a Pipe per worker carries its "serving" message and doubles as a
lifeline (EOF when the parent is gone, even when it was SIGKILLed). "forkserver" would only add a
helper process of our own. (Spawning starts multiprocessing's resource tracker too; it ends with us.)
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import FrameType

from proxy.config.errors import ConfigError
from proxy.config.static import StaticConfig
from proxy.observability.metrics import SHARE_ENV
from proxy.server.entrypoint import parse_address
from proxy.server.run import Setup, prepare, run_loop, serve, setup_logging

log = logging.getLogger("proxy.workers")

START_TIMEOUT = 30.0  # for every worker to report that it listens
STOP_TIMEOUT = 10.0  # past the longest lifeCycle drain: a worker's stop (the watcher alone may take 5 s), then SIGKILL
RESTART_LIMIT = 3  # a worker that dies this often ...
RESTART_WINDOW = 10.0  # ... within this many seconds is not restarted again: everything stops
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def run_workers(setup: Setup, count: int, *, strict: bool, use_uvloop: bool) -> int:
    """Check the config, reserve the ports, run `count` workers until SIGTERM/SIGINT; the exit status."""
    prepared = prepare(setup, strict)
    if isinstance(prepared, int):
        return prepared
    prepared[0].pools.close()  # the check's gateway never serves
    if prepared[0].observability.access_log is not None:
        prepared[0].observability.access_log.close()
    try:
        reserved, static = reserve_ports(setup)
    except OSError as exc:
        print(f"cannot listen: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"cannot listen: {exc}", file=sys.stderr)
        return 1
    # Prometheus: the workers share their counts through files in a directory of ours (see metrics.py).
    share = tempfile.mkdtemp(prefix="stripproxy-metrics-") if static.metrics and static.metrics.prometheus else None
    if share is not None:
        os.environ[SHARE_ENV] = share  # spawned workers inherit it
    try:
        spec = WorkerSpec(replace(setup, static=static), strict, use_uvloop)
        return Supervisor(spec, count).run()
    finally:
        for sock in reserved:
            sock.close()
        if share is not None:
            os.environ.pop(SHARE_ENV, None)
            shutil.rmtree(share, ignore_errors=True)


# -- the ports -------------------------------------------------------------------------------------
def reserve_ports(setup: Setup) -> tuple[list[socket.socket], StaticConfig]:
    """Bind (not listen) every tcp entry point's addresses with SO_REUSEPORT, as the workers will;
    returns the sockets and the static config with port 0 replaced by the port the kernel chose."""
    static = setup.static.model_copy(deep=True)
    sockets: list[socket.socket] = []
    try:
        for name, ep in static.entry_points.items():
            if ep.protocol != "tcp":
                continue
            host, port = parse_address(ep.address)
            try:
                bound = _bind_all(host, port)
            except OSError as exc:  # name the entry point, as a single process does (EntryPointServer.start)
                reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
                raise OSError(exc.errno, f"entry point {name} (address {ep.address!r}): {reason}") from exc
            sockets += bound
            if port == 0:
                chosen = bound[0].getsockname()[1]
                text = f"[{host}]" if host and ":" in host else host or ""
                static.entry_points[name] = ep.model_copy(update={"address": f"{text}:{chosen}"})
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets, static


def _bind_all(host: str | None, port: int) -> list[socket.socket]:
    """Every address asyncio's create_server would bind for (host, port), on one shared port."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    bound: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            bound.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # as asyncio does
            if port == 0 and len(bound) > 1:
                address = (address[0], bound[0].getsockname()[1], *address[2:])
            sock.bind(address)
    except OSError as exc:
        for sock in bound:
            sock.close()
        raise OSError(exc.errno, f"{host or '*'}:{port}: {exc.strerror}") from None
    return bound


# -- inside a worker -------------------------------------------------------------------------------
@dataclass(frozen=True)
class WorkerSpec:
    """What every worker runs (pickled into each spawned process)."""

    setup: Setup
    strict: bool
    use_uvloop: bool


class StartupQuiet(logging.Filter):
    """Drops log records until the worker serves: the parent already reported the same start-up."""

    def __init__(self) -> None:
        super().__init__()
        self.quiet = True

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.quiet


def worker_main(spec: WorkerSpec, index: int, conn: Connection) -> None:
    """A worker process: the single-process gateway with SO_REUSEPORT, reporting to the parent."""
    setup_logging(spec.setup.static.log.level, tag=f"[worker {index}] ", config=spec.setup.static.log)
    quiet = StartupQuiet()
    for handler in logging.getLogger().handlers:
        handler.addFilter(quiet)
    threading.Thread(target=_stop_with_parent, args=(conn,), name="parent-lifeline", daemon=True).start()

    def announce(urls: dict[str, str]) -> None:
        quiet.quiet = False
        conn.send(urls)

    try:
        status = run_loop(
            serve(spec.setup, spec.strict, reuse_port=True, announce=announce), use_uvloop=spec.use_uvloop
        )
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        status = 1
    # Ctrl-C reaches the whole process group and the parent forwards it too: a late copy must not
    # turn the exit into a KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(status)


def _stop_with_parent(conn: Connection) -> None:
    """The parent never writes to the pipe: EOF (or anything) means it is gone, so stop gracefully."""
    try:
        conn.recv()
    except (EOFError, OSError):
        pass
    os.kill(os.getpid(), signal.SIGTERM)


# -- the parent ------------------------------------------------------------------------------------
@dataclass
class Worker:
    index: int
    process: BaseProcess
    conn: Connection  # the parent's end of the worker's pipe
    serving: bool = False


@dataclass
class Supervisor:
    """Starts the workers, forwards SIGTERM/SIGINT, restarts a worker that dies (within limits)."""

    spec: WorkerSpec
    count: int
    workers: dict[int, Worker] = field(default_factory=dict)
    deaths: dict[int, deque[float]] = field(default_factory=dict)
    received: int | None = None  # the stop signal, once one came

    def run(self) -> int:
        wake_reader, wake_writer = socket.socketpair()
        wake_writer.setblocking(False)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in FORWARDED_SIGNALS}
        previous[signal.SIGUSR1] = signal.signal(signal.SIGUSR1, self._pass_on)
        old_wakeup = signal.set_wakeup_fd(wake_writer.fileno(), warn_on_full_buffer=False)
        try:
            for index in range(self.count):
                self._start(index)
            status = self._until_serving(wake_reader)
            if status is None:
                status = self._supervise(wake_reader)
            return self._stop_all(status)
        finally:
            self._stop_all(1)
            signal.set_wakeup_fd(old_wakeup)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            wake_reader.close()
            wake_writer.close()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.received = signum
        for worker in self.workers.values():
            if worker.process.pid is not None and worker.process.exitcode is None:
                os.kill(worker.process.pid, signum)

    def _pass_on(self, signum: int, frame: FrameType | None) -> None:
        """SIGUSR1 (reopen the access log): every worker does it."""
        for worker in self.workers.values():
            if worker.process.pid is not None and worker.process.exitcode is None:
                os.kill(worker.process.pid, signum)

    def _start(self, index: int) -> None:
        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe()
        # daemon: should the parent leave run() without its cleanup, multiprocessing's atexit ends them
        process = context.Process(
            target=worker_main, args=(self.spec, index, child_end), name=f"stripproxy-worker-{index}", daemon=True
        )
        process.start()
        child_end.close()  # only the worker holds it now, so the worker sees EOF when we go
        self.workers[index] = Worker(index, process, parent_end)

    def _until_serving(self, wake: socket.socket) -> int | None:
        """None once every worker serves; else the exit status (a worker failed, timeout, signal)."""
        deadline = time.monotonic() + START_TIMEOUT
        urls: dict[str, str] = {}
        while not all(worker.serving for worker in self.workers.values()):
            remaining = deadline - time.monotonic()
            if self.received is not None:
                return 0
            if remaining <= 0:
                print(f"workers did not start within {START_TIMEOUT:.0f}s", file=sys.stderr)
                return 1
            for worker in self._ready(wake, remaining):
                if worker.process.exitcode is not None and not worker.serving:
                    log.error(
                        "worker %d (pid %s) exited with status %s while starting",
                        worker.index,
                        worker.process.pid,
                        worker.process.exitcode,
                    )
                    return worker.process.exitcode or 1
                reported = self._read_urls(worker)
                urls = urls or reported
        for name, url in urls.items():
            log.warning("entry point %s serving on %s", name, url)
        log.warning(
            "%d workers serving, pids %s", self.count, " ".join(str(w.process.pid) for w in self.workers.values())
        )
        return None

    def _supervise(self, wake: socket.socket) -> int | None:
        """Restart workers that die until a stop signal (None) or a worker keeps dying (1)."""
        while self.received is None:
            for worker in self._ready(wake, None):
                if worker.process.exitcode is None:
                    self._read_urls(worker)
                    continue
                if self.received is not None:
                    break
                if not self._may_restart(worker):
                    return 1
                worker.conn.close()
                self._start(worker.index)
        return None

    def _ready(self, wake: socket.socket, timeout: float | None) -> list[Worker]:
        """Workers with news (a message, or an exit: then reaped), waiting up to `timeout`; [] on a signal."""
        by_handle: dict[object, Worker] = {}
        for worker in self.workers.values():
            by_handle[worker.process.sentinel] = by_handle[worker.conn] = worker
        ready = wait([wake, *by_handle], timeout)
        if wake in ready:
            wake.recv(4096)
        news = {worker.index: worker for worker in (by_handle[h] for h in ready if h is not wake)}
        for worker in news.values():
            if worker.process.sentinel in ready:
                worker.process.join(1)  # it ended: collect the exit status
        return list(news.values())

    def _read_urls(self, worker: Worker) -> dict[str, str]:
        """The worker's "serving" message; {} when it went away instead (then reaped)."""
        try:
            urls: dict[str, str] = worker.conn.recv()
        except (EOFError, OSError):
            worker.process.join(1)  # the pipe closes as the process ends
            return {}
        if not worker.serving and worker.process.pid is not None:
            worker.serving = True
            log.warning("worker %d serving, pid %d", worker.index, worker.process.pid)
        return urls

    def _may_restart(self, worker: Worker) -> bool:
        now = time.monotonic()
        deaths = self.deaths.setdefault(worker.index, deque(maxlen=RESTART_LIMIT))
        deaths.append(now)
        if len(deaths) == RESTART_LIMIT and now - deaths[0] < RESTART_WINDOW:
            log.error(
                "worker %d (pid %s) exited with status %s, %d times within %.0fs: stopping every worker",
                worker.index,
                worker.process.pid,
                worker.process.exitcode,
                RESTART_LIMIT,
                RESTART_WINDOW,
            )
            return False
        log.error(
            "worker %d (pid %s) exited with status %s: starting a new one",
            worker.index,
            worker.process.pid,
            worker.process.exitcode,
        )
        return True

    def _stop_all(self, status: int) -> int:
        """SIGTERM every live worker (by pid), wait, SIGKILL stragglers; `status`, or 1 if one failed."""
        for worker in self.workers.values():
            if worker.process.exitcode is None:
                worker.process.terminate()
        # Each worker drains as its entry points' lifeCycle says, then stops (the watcher may take 5 s).
        lifecycles = [ep.transport.life_cycle for ep in self.spec.setup.static.entry_points.values()]
        timeout = STOP_TIMEOUT + max(
            (c.request_accept_grace_timeout + c.grace_time_out for c in lifecycles), default=0.0
        )
        deadline = time.monotonic() + timeout
        for worker in self.workers.values():
            worker.process.join(max(deadline - time.monotonic(), 0))
            if worker.process.exitcode is None:
                log.error(
                    "worker %d (pid %s) did not stop within %.0fs: killing it",
                    worker.index,
                    worker.process.pid,
                    timeout,
                )
                worker.process.kill()
                worker.process.join()
                status = status or 1
            worker.conn.close()
        self.workers.clear()
        return status
