"""An entry point: a listening socket whose connections are served by the forwarder."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

from dataclasses import replace
from typing import TYPE_CHECKING

from proxy.forwarder.client import ClientConnection
from proxy.forwarder.context import EntryPointRuntime
from proxy.routing.table import RouteTable
from proxy.server.sniff import Sniffer

if TYPE_CHECKING:
    from proxy.tls.manager import EntryPointTLS

log = logging.getLogger("proxy.server")


def parse_address(address: str) -> tuple[str | None, int]:
    """Traefik's entry point address (":9999", "127.0.0.1:80", "[::1]:80", ":80/tcp") -> (host, port).

    An empty host means every interface, as in Traefik. Raises ValueError for what we cannot serve.
    """
    text = address.strip()
    if "/" in text:
        text, _, proto = text.partition("/")
        if proto.lower() != "tcp":
            raise ValueError(f"address {address!r}: only tcp entry points are supported, not {proto!r}")
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"address {address!r}: expected [host]:port, e.g. \":9999\" or \"127.0.0.1:80\"")
    number = int(port)
    if not 0 <= number <= 65535:
        raise ValueError(f"address {address!r}: port {number} out of range")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return (host or None), number


class EntryPointServer:
    """Listens for one entry point; the runtime (routes, options) can be swapped while it serves."""

    def __init__(self, runtime: EntryPointRuntime, address: str, reuse_port: bool = False) -> None:
        self.runtime = runtime
        self.address = address
        self.host, self.port = parse_address(address)
        self.reuse_port = reuse_port
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        # TLS connections (a ClientHello as first byte) when the entry point has TLS routers: how to make
        # them (None: every connection is plain HTTP) and their own runtime (https, the TLS routers' table).
        self.tls: EntryPointTLS | None = None
        self.tls_runtime: EntryPointRuntime | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        runtime = self.runtime
        self._server = await loop.create_server(
            self._protocol, self.host, self.port, backlog=4096,
            reuse_address=True, reuse_port=self.reuse_port or None)
        sockets = self._server.sockets
        bound = sockets[0].getsockname()
        self.port = runtime.port = bound[1]
        if self.tls_runtime is not None:
            self.tls_runtime.port = self.port
        for sock in sockets:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sweeper = loop.create_task(self._sweep())
        log.info("entry point %s listening on %s", runtime.name, self.url)

    async def _sweep(self) -> None:
        """Enforce the connections' read/idle/write deadlines, a few times per shortest timeout."""
        while True:
            await asyncio.sleep(self.runtime.sweep_interval())
            now = time.monotonic()
            for conn in list(self.runtime.connections):
                conn.check_deadlines(now)
            if self.tls_runtime is not None:
                for conn in list(self.tls_runtime.connections):
                    conn.check_deadlines(now)

    @property
    def url(self) -> str:
        host = self.host or "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def scheme(self) -> str:
        """https when the entry point serves TLS routers and no plain one (the URL a client wants)."""
        if self.tls is not None and self.tls_runtime is not None and not self.runtime.table.routes:
            return "https"
        return self.runtime.scheme

    # -- TLS ------------------------------------------------------------------------------------------
    def set_tls(self, tls: EntryPointTLS | None, table: RouteTable | None) -> None:
        """Install the TLS side of a configuration: how TLS connections are made, and their routes."""
        if tls is None:
            self.tls = None
            if self.tls_runtime is not None:
                self.tls_runtime.table = RouteTable([])
            return
        if self.tls_runtime is None:
            self.tls_runtime = replace(self.runtime, scheme="https", connections=set(), table=RouteTable([]))
        self.tls_runtime.table = table if table is not None else RouteTable([])
        self.tls = tls

    def _protocol(self) -> asyncio.Protocol:
        if self.tls is None:
            return ClientConnection(self.runtime)
        return Sniffer(self)

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
