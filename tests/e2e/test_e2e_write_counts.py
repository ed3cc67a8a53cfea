"""Socket writes per request, read from the real CLI's /proc/PID/io (Linux): what the hot path promises.

A request whose head and body arrive in one read goes upstream in one write, and a response that arrives in
one read goes to the client in one write. Each extra write is a syscall on the hot path (about a tenth of a
small request's cost), so a change that splits them shows here rather than only in a benchmark.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxy.testing.process import GatewayProcess

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/PID/io")

REQUESTS = 40
BODY = b'{"items": [' + b", ".join(b'{"sku": "SKU-%05d", "qty": 1}' % i for i in range(60)) + b"]}"  # ~2 KiB
RESPONSE = b'HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{"id": 1234}'


def serve_keep_alive(listener: socket.socket) -> None:
    """One upstream connection: read each head and its Content-Length body, answer with one sendall."""
    conn, _ = listener.accept()
    with conn:
        buffer = b""
        while True:
            while b"\r\n\r\n" not in buffer:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buffer += chunk
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            while len(buffer) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buffer += chunk
            buffer = buffer[length:]
            conn.sendall(RESPONSE)


@pytest.fixture
def upstream_port() -> Iterator[int]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(30)
    thread = threading.Thread(target=serve_keep_alive, args=(listener,), daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    listener.close()


def write_syscalls(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("syscw:"):
            return int(line.split()[1])
    raise AssertionError("no syscw line")


def post(client: socket.socket, port: int) -> bytes:
    request = (
        b"POST /api/v1/orders HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%b" % (port, len(BODY), BODY)
    )
    client.sendall(request)  # head and body in one write: the proxy reads them together
    answer = b""
    while not answer.endswith(b'{"id": 1234}'):
        chunk = client.recv(65536)
        assert chunk, answer
        answer += chunk
    return answer


def test_a_post_costs_one_write_each_way(tmp_path, upstream_port):
    routes = tmp_path / "routes.toml"
    routes.write_text(f"""
[http.middlewares.api-stripprefix.stripPrefix]
prefixes = ["/api/v1"]
[http.routers.app-http]
service = "app"
rule = "PathPrefix(`/api/v1`)"
middlewares = ["api-stripprefix"]
[[http.services.app.loadBalancer.servers]]
url = "http://127.0.0.1:{upstream_port}"
""")
    with GatewayProcess(routes) as gateway:
        assert gateway.pid is not None
        port = int(gateway.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            assert post(client, port).startswith(b"HTTP/1.1 201 Created\r\n")  # dials the upstream once
            before = write_syscalls(gateway.pid)
            for _ in range(REQUESTS):
                assert post(client, port).startswith(b"HTTP/1.1 201 Created\r\n")
            writes = write_syscalls(gateway.pid) - before
    # One write upstream (head + body), one to the client (head + body); a little slack for a read that
    # the kernel happened to split. A head and its body sent apart would make this 3 per request.
    assert writes <= 2 * REQUESTS + 3, f"{writes} writes for {REQUESTS} requests"
    assert writes >= 2 * REQUESTS, f"{writes} writes for {REQUESTS} requests: not counting socket writes?"
