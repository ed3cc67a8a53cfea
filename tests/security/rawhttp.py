"""Raw-socket client helpers: bytes go to the gateway exactly as written, the answer is read as sent."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass
class Answer:
    status: int
    head: bytes
    body: bytes
    interim: list[bytes]  # 1xx heads before it (not 101)

    def header(self, name: str) -> str | None:
        for line in self.head.decode("latin-1").split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None


async def read_answer(reader: asyncio.StreamReader) -> Answer:
    interim = []
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if not 100 <= status < 200 or status == 101:
            break
        interim.append(head)
    answer = Answer(status, head, b"", interim)
    length = answer.header("content-length")
    if length is not None:
        answer.body = await reader.readexactly(int(length))
    elif "chunked" in (answer.header("transfer-encoding") or ""):
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if not size:
                await reader.readline()
                break
            answer.body += await reader.readexactly(size)
            await reader.readline()
    return answer


async def exchange(port: int, data: bytes, timeout: float = 10.0) -> Answer:
    """Send `data` (one request) to 127.0.0.1:port and read one answer within `timeout` seconds."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(read_answer(reader), timeout)
    finally:
        writer.close()


def get(target: str, host: str = "gw") -> bytes:
    return f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode("latin-1")


def port_of(gateway: object) -> int:
    return int(gateway.url.rsplit(":", 1)[1])
