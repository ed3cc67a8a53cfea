"""Open N keep-alive connections to a proxy, make one request on each, then hold them idle.

    python benchmarks/idle_conns.py HOST PORT PATH N [SECONDS]

Prints `ready <ok> <opened>` once every connection has had its answer (ok = answered 200), then keeps
them open until stdin closes (the harness reads the proxy's VmRSS meanwhile). It stops opening at the
first connection error or after SECONDS, so a proxy that cannot hold N shows as ok < N, not as a hang.
Stdlib only.
"""

from __future__ import annotations

import selectors
import socket
import sys
import time


def request_bytes(host: str, port: int, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: idle-conns\r\n\r\n".encode()


def answered(buffer: bytes) -> bool:
    """A whole response head has arrived and its Content-Length body too (the origin sends one)."""
    head, sep, body = buffer.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return True


def open_all(host: str, port: int, path: str, count: int, seconds: float = 0) -> tuple[list[socket.socket], int]:
    """Open up to `count` connections (stopping at an error or after `seconds`, 0: no limit), one request each."""
    deadline = time.monotonic() + (seconds or 1e9)
    selector = selectors.DefaultSelector()
    payload = request_bytes(host, port, path)
    conns: list[socket.socket] = []
    buffers: dict[socket.socket, bytes] = {}
    for _ in range(count):
        if time.monotonic() > deadline:
            print(f"gave up opening after {seconds:.0f}s with {len(conns)} open", file=sys.stderr)
            break
        try:
            sock = socket.create_connection((host, port), timeout=10)
            sock.sendall(payload)
        except OSError as exc:
            print(f"connection {len(conns) + 1} failed: {exc}", file=sys.stderr)
            break
        sock.setblocking(False)
        conns.append(sock)
        buffers[sock] = b""
        selector.register(sock, selectors.EVENT_READ)
    ok = 0
    while buffers:
        events = selector.select(timeout=max(1.0, min(30.0, deadline - time.monotonic())))
        if not events:
            break
        for key, _ in events:
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                chunk = sock.recv(65536)
            except OSError:  # reset by the proxy: counts as not answered
                chunk = b""
            buffers[sock] += chunk
            if not chunk or answered(buffers[sock]):
                ok += buffers[sock].startswith(b"HTTP/1.1 200")
                selector.unregister(sock)
                del buffers[sock]
    return conns, ok


def main() -> None:
    host, port, path, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    seconds = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
    conns, ok = open_all(host, port, path, count, seconds)
    print(f"ready {ok} {len(conns)}", flush=True)
    sys.stdin.read()  # hold the connections until the harness closes our stdin
    for sock in conns:
        sock.close()


if __name__ == "__main__":
    main()
