"""A throwaway `redis-server` on a free loopback port, for tests of rateLimit's redis store.

Nothing is written to disk (no RDB, no AOF); the process is ours, stopped by its pid. `redis-server` comes
from Debian's package of that name (scripts/test.sh installs it when missing and it runs as root).
"""

from __future__ import annotations

import random
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

START_TIMEOUT = 10.0


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000, which must stay below 65536) is free too."""
    for _ in range(200):
        port = random.randint(20000, 50000)
        try:
            with socket.socket() as first, socket.socket() as second:
                first.bind(("127.0.0.1", port))
                second.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair for a redis cluster node")


def _ping(port: int, password: str = "", ca: str = "") -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as raw:
            if ca:
                with ssl.create_default_context(cafile=ca).wrap_socket(raw, server_hostname="127.0.0.1") as sock:
                    return _ask(sock, password)
            return _ask(raw, password)
    except OSError:
        return False


def _ask(sock: socket.socket, password: str) -> bool:
    if password:
        sock.sendall(f"AUTH {password}\r\n".encode())
        sock.recv(64)
    sock.sendall(b"PING\r\n")
    return sock.recv(64).startswith(b"+PONG")


@dataclass
class RedisServer:
    """`RedisServer().start()` -> a running server; `.endpoint` is "127.0.0.1:<port>"; `.stop()`."""

    password: str = ""
    tls: tuple[str, str, str] | None = None  # (certificate file, key file, CA file): serve TLS only
    extra_args: list[str] = field(default_factory=list)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> RedisServer:
        binary = redis_server_binary()
        if binary is None:
            raise RuntimeError("redis-server is not installed (Debian package redis-server)")
        self.port = self.port or _free_port()
        self._dir = tempfile.TemporaryDirectory(prefix="stripproxy-redis-")
        args = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self._dir.name,
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ]
        if self.password:
            args += ["--requirepass", self.password]
        if self.tls:
            cert, key, ca = self.tls
            args[1:3] = ["--port", "0", "--tls-port", str(self.port)]
            args += [
                "--tls-cert-file",
                cert,
                "--tls-key-file",
                key,
                "--tls-ca-cert-file",
                ca,
                "--tls-auth-clients",
                "no",
            ]
        self.process = subprocess.Popen(
            args + self.extra_args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not _ping(self.port, self.password, self.tls[2] if self.tls else ""):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        directory = getattr(self, "_dir", None)
        if directory is not None:
            directory.cleanup()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RedisCluster:
    """`RedisCluster(3).start()`: that many masters on free loopback ports, joined with `redis-cli --cluster
    create` (no replicas); `.endpoints` lists "127.0.0.1:<port>" for each; `.stop()` stops them all."""

    def __init__(self, size: int = 3) -> None:
        self.nodes = [
            RedisServer(
                port=_free_cluster_port(),
                extra_args=[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "5000",
                ],
            )
            for _ in range(size)
        ]

    @property
    def endpoints(self) -> list[str]:
        return [node.endpoint for node in self.nodes]

    def start(self) -> RedisCluster:
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RuntimeError("redis-cli is not installed (Debian package redis-tools)")
        try:
            for node in self.nodes:
                node.start()
            subprocess.run(
                [cli, "--cluster", "create", *self.endpoints, "--cluster-replicas", "0", "--cluster-yes"],
                check=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=30,
            )
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                info = subprocess.run(
                    [cli, "-p", str(self.nodes[0].port), "cluster", "info"],
                    capture_output=True,
                    text=True,
                    timeout=5,
                    stdin=subprocess.DEVNULL,
                ).stdout
                if "cluster_state:ok" in info:
                    return self
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the redis cluster did not come up: {info!r}")
                time.sleep(0.1)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> RedisCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
