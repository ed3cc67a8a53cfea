"""Raw-socket HTTP helpers for end-to-end tests (bytes go out exactly as written)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], object], timeout: float = 10.0) -> bool:
    """Poll `predicate` (OSError counts as not yet) until it is true; False when `timeout` runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


class Proc:
    """A process we started, stopped by its own pid; output kept in a file (a pipe could fill up)."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.log = tempfile.TemporaryFile()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.popen = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )

    def output(self) -> str:
        if self.log.closed:
            return ""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> str:
        """Stop (SIGTERM, then SIGKILL) and return everything it printed."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        output = self.output()
        self.log.close()
        return output


@dataclass
class RawResponse:
    status: int
    head: bytes
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None


async def read_response(reader: asyncio.StreamReader, head_only: bool = False) -> RawResponse:
    """Read one HTTP/1.1 response (Content-Length, chunked or until close) from a raw stream."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = [(k, v.strip()) for k, _, v in (line.partition(":") for line in lines[1:] if line)]
    hmap = {k.lower(): v for k, v in headers}
    if head_only or status in (204, 304) or 100 <= status < 200:
        return RawResponse(status, head, headers, b"")
    if "chunked" in hmap.get("transfer-encoding", "").lower():
        body = b""
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b""):
                    pass
                break
            body += await reader.readexactly(size)
            await reader.readline()
        return RawResponse(status, head, headers, body)
    if "content-length" in hmap:
        return RawResponse(status, head, headers, await reader.readexactly(int(hmap["content-length"])))
    return RawResponse(status, head, headers, await reader.read())


async def raw_exchange(port: int, data: bytes, responses: int = 1, head_only: bool = False) -> list[RawResponse]:
    """Send raw bytes to 127.0.0.1:port and read `responses` responses."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return [await asyncio.wait_for(read_response(reader, head_only), 10) for _ in range(responses)]
    finally:
        writer.close()


def routes_to(
    upstream_url: str, extra: str = "", rule: str = "PathPrefix(`/`)", middlewares: str = "[]", service_extra: str = ""
) -> str:
    """A one-router dynamic config sending `rule` to `upstream_url`."""
    return f"""
[http.routers.main]
  rule = "{rule}"
  service = "svc"
  middlewares = {middlewares}
[http.services.svc.loadBalancer]
{service_extra}
  [[http.services.svc.loadBalancer.servers]]
    url = "{upstream_url}"
{extra}
"""
