"""The real CLI in a subprocess, stopped with SIGTERM while requests are in flight (Traefik's
`transport.lifeCycle`), and an upstream that answers an upload before reading it (curl must get the answer)."""

from __future__ import annotations

import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_helpers import Proc, free_port, wait_until


class Upstream(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class Handler(socketserver.BaseRequestHandler):
    """/slow?s: answers after s seconds; /stream: 10 chunks 100 ms apart; /early: 413 before reading the body
    (then reads and drops it, as nginx does, or
    closes at once: /early-close); anything else: 200 at once."""

    def handle(self) -> None:
        sock: socket.socket = self.request
        head = b""
        while b"\r\n\r\n" not in head:
            piece = sock.recv(65536)
            if not piece:
                return
            head += piece
        target = head.split(b" ", 2)[1].decode()
        if target.startswith("/slow"):
            time.sleep(float(target.partition("?")[2] or 1))
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone")
        elif target == "/stream":
            sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for i in range(10):
                sock.sendall(b"2\r\n%02d\r\n" % i)
                time.sleep(0.1)
            sock.sendall(b"0\r\n\r\n")
        elif target.startswith("/early"):
            if target == "/early-after":
                read = len(head)
                while read < 8 << 20 and (piece := sock.recv(1 << 20)):
                    read += len(piece)
            sock.sendall(
                b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big\n"
            )
            if target in ("/early-close", "/early-after"):
                time.sleep(0.2)  # the answer reaches the gateway before the reset that closing with unread data sends
                return
            sock.settimeout(10)
            try:
                while sock.recv(1 << 20):
                    pass
            except OSError:
                pass
        else:
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


@pytest.fixture
def upstream() -> Iterator[int]:
    server = Upstream(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def start_gateway(tmp_path: Path, upstream: int, accept_grace: str = "0s", grace: str = "10s") -> tuple[Proc, int]:
    port = free_port()
    (tmp_path / "routes.toml").write_text(f"""
[http.routers.app]
  rule = "PathPrefix(`/`)"
  service = "app"
[http.services.app.loadBalancer]
  [[http.services.app.loadBalancer.servers]]
    url = "http://127.0.0.1:{upstream}"
""")
    (tmp_path / "traefik.toml").write_text(f"""
[entryPoints.web]
  address = "127.0.0.1:{port}"
  [entryPoints.web.transport.lifeCycle]
    requestAcceptGraceTimeout = "{accept_grace}"
    graceTimeOut = "{grace}"
[providers.file]
  filename = "routes.toml"
  watch = false
""")
    proc = Proc([sys.executable, "-m", "proxy", "--config", str(tmp_path / "traefik.toml")], tmp_path)
    assert wait_until(lambda: get(port, "/")[0] == 200), proc.output()
    return proc, port


def get(port: int, target: str, timeout: float = 10) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    if not data:
        return 0, b""
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def in_background(port: int, target: str) -> tuple[threading.Thread, list[tuple[int, bytes]]]:
    result: list[tuple[int, bytes]] = []
    thread = threading.Thread(target=lambda: result.append(get(port, target)))
    thread.start()
    return thread, result


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


@pytest.mark.parametrize(
    ("target", "body"),
    [
        pytest.param("/slow?1", b"done", id="a slow response"),
        pytest.param("/stream", b"".join(b"2\r\n%02d\r\n" % i for i in range(10)) + b"0\r\n\r\n", id="a streaming one"),
    ],
)
def test_sigterm_lets_requests_in_flight_finish(tmp_path: Path, upstream: int, target: str, body: bytes) -> None:
    proc, port = start_gateway(tmp_path, upstream)
    thread, result = in_background(port, target)
    time.sleep(0.3)
    started = time.monotonic()
    proc.popen.send_signal(signal.SIGTERM)
    thread.join(10)
    assert result == [(200, body)], proc.output()
    assert proc.popen.wait(10) == 0
    assert time.monotonic() - started < 5  # it did not wait out the 10 s grace period
    assert refused(port)
    proc.stop()


def test_idle_keep_alive_connections_are_closed_at_once(tmp_path: Path, upstream: int) -> None:
    proc, port = start_gateway(tmp_path, upstream)
    idle = socket.create_connection(("127.0.0.1", port), timeout=5)
    idle.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert idle.recv(65536).endswith(b"ok")
    started = time.monotonic()
    proc.popen.send_signal(signal.SIGTERM)
    assert idle.recv(65536) == b""  # closed by the gateway, not left to time out
    assert proc.popen.wait(10) == 0 and time.monotonic() - started < 3
    idle.close()
    proc.stop()


def test_requests_longer_than_the_grace_period_are_cut(tmp_path: Path, upstream: int) -> None:
    proc, port = start_gateway(tmp_path, upstream, grace="500ms")
    thread, result = in_background(port, "/slow?3")
    time.sleep(0.3)
    started = time.monotonic()
    proc.popen.send_signal(signal.SIGTERM)
    assert proc.popen.wait(10) == 0
    assert 0.4 < time.monotonic() - started < 2.5
    thread.join(10)
    assert result == [(0, b"")]
    assert "still open after the grace period" in proc.stop()


def test_new_connections_are_served_during_request_accept_grace_timeout(tmp_path: Path, upstream: int) -> None:
    proc, port = start_gateway(tmp_path, upstream, accept_grace="1s")
    proc.popen.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert get(port, "/") == (200, b"ok")
    assert proc.popen.wait(10) == 0
    assert refused(port)
    proc.stop()


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("/early", id="the upstream reads and drops the rest"),
        pytest.param("/early-close", id="the upstream closes without reading"),
        pytest.param("/early-after", id="the upstream reads 8 MiB, answers, closes"),
    ],
)
def test_an_upload_answered_early_reaches_curl(tmp_path: Path, upstream: int, target: str) -> None:
    proc, port = start_gateway(tmp_path, upstream)
    upload = tmp_path / "upload.bin"
    with upload.open("wb") as f:
        f.truncate(100 * 1024 * 1024)  # 100 MiB (sparse)
    done = subprocess.run(
        [
            "curl",
            "-sS",
            "-o",
            "-",
            "-w",
            "%{http_code}",
            "--data-binary",
            f"@{upload}",
            "-H",
            "Expect:",
            f"http://127.0.0.1:{port}{target}",
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"too big\n413"
    assert get(port, "/") == (200, b"ok")  # and the gateway goes on
    proc.stop()
