"""Requests the proxy makes on its own (health checks, mirrored copies): one short-lived HTTP/1.1
connection each, on the gateway's loop, bounded in time. Not the hot path: the forwarder never uses this."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httptools

from proxy.forwarder.wire import encode_head
from proxy.services.transport import TransportSettings


@dataclass
class SubResponse:
    status: int = 0
    headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)


class _Reader:
    """httptools callbacks: the status and headers, then whether the message ended."""

    def __init__(self) -> None:
        self.response = SubResponse()
        self.head_done = False
        self.done = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.head_done:
            self.response.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.head_done = True

    def on_message_complete(self) -> None:
        self.done = True


async def request(
    tls: bool,
    host: str,
    port: int,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    settings: TransportSettings,
    *,
    read_body: bool = False,
    body: bytes = b"",
) -> SubResponse:
    """Send one request; return once the response head is in (or, with `read_body`, once it all arrived
    and was dropped). The caller bounds the time (asyncio.timeout); OSError / ValueError on failure."""
    ssl_context = settings.ssl_context() if tls else None
    server_hostname = (settings.server_name or host) if tls else None
    # asyncio.timeout, not wait_for: on Python 3.11 a wait_for cancelled as the dial succeeds can lose the
    # connection (and leak its socket); here a late cancel reaches the `try` below, which closes it.
    async with asyncio.timeout(settings.dial_timeout or None):
        reader, writer = await asyncio.open_connection(host, port, ssl=ssl_context, server_hostname=server_hostname)
    try:
        writer.write(encode_head(f"{method} {target} HTTP/1.1", headers) + body)
        state = _Reader()
        parser = httptools.HttpResponseParser(state)
        while not (state.done or (state.head_done and (not read_body or method == "HEAD"))):
            data = await reader.read(65536)
            if not data:
                if state.head_done:
                    break  # a body delimited by the connection's end
                raise ConnectionError("connection closed before a response")
            try:
                parser.feed_data(data)
            except httptools.HttpParserUpgrade:
                break
            except httptools.HttpParserError as exc:
                raise ValueError(f"invalid response: {exc}") from None
        state.response.status = parser.get_status_code()
        return state.response
    finally:
        writer.close()
