"""An entry point: a listening socket whose connections are served by the forwarder."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from proxy.config.static import split_address
from proxy.forwarder.client import ClientConnection
from proxy.forwarder.context import EntryPointRuntime
from proxy.routing.table import RouteTable
from proxy.server.sniff import Sniffer

if TYPE_CHECKING:
    from proxy.tls.manager import EntryPointTLS

log = logging.getLogger("proxy.server")


def parse_address(address: str) -> tuple[str | None, int]:
    """Traefik's entry point address (":9999", "127.0.0.1:80", "[::1]:80", ":80/tcp") -> (host, port), read
    by the config's `split_address`; an empty host (None) means every interface, as in Traefik. Raises
    ValueError for what we cannot serve (a bad address, a udp entry point)."""
    host, port, protocol = split_address(address.strip())
    if protocol != "tcp":
        raise ValueError(f"address {address!r}: only tcp entry points are supported, not {protocol!r}")
    return (host or None), port


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
        try:
            self._server = await loop.create_server(
                self._protocol,
                self.host,
                self.port,
                backlog=4096,
                reuse_address=True,
                reuse_port=self.reuse_port or None,
            )
        except OSError as exc:
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            raise OSError(exc.errno, f"entry point {runtime.name} (address {self.address!r}): {reason}") from exc
        sockets = self._server.sockets
        bound = sockets[0].getsockname()
        self.port = runtime.port = bound[1]
        if self.tls_runtime is not None:
            self.tls_runtime.port = self.port
        for sock in sockets:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sweeper = loop.create_task(self._sweep())
        log.info("entry point %s listening on %s", runtime.name, ", ".join(self.bound))

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
    def bound(self) -> list[str]:
        """What the sockets are bound to ("0.0.0.0:9999", "[::]:9999" for ":9999"), once started."""
        if self._server is None:
            return []
        out = []
        for sock in self._server.sockets:
            name = sock.getsockname()
            if sock.family == socket.AF_INET6:
                out.append(f"[{name[0]}]:{name[1]}")
            elif sock.family == socket.AF_INET:
                out.append(f"{name[0]}:{name[1]}")
        return out

    def serving_text(self) -> str:
        """The URL to reach the entry point, and what it listens on when that says more than the URL
        (an address without a host binds every interface: the URL's 127.0.0.1 is only one of them)."""
        url = self.url
        bound = self.bound
        if not bound or bound == [url.partition("://")[2]]:
            return url
        every = ": every interface" if not self.host else ""
        return f"{url} (listening on {' and '.join(bound)}{every})"

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

    async def drain(self, accept_grace: float, grace: float) -> None:
        """Traefik's lifeCycle: keep accepting for `accept_grace` seconds, then stop accepting, let the
        requests in flight finish within `grace` seconds while idle connections close, then cut the rest."""
        if accept_grace > 0:
            await asyncio.sleep(accept_grace)
        if self._server is not None:
            self._server.close()  # no new connection; the open ones are ours to end
        deadline = time.monotonic() + grace
        for conn in self._open_connections():
            conn.drain()
        while (connections := self._open_connections()) and time.monotonic() < deadline:
            for conn in connections:
                if not conn.queue and conn.receiving is None and conn.tunnel is None:
                    conn.close()  # it finished its last answer meanwhile
            await asyncio.sleep(0.02)
        if connections := self._open_connections():
            log.warning(
                "entry point %s: %d connection(s) still open after the grace period (%gs): closing them",
                self.runtime.name,
                len(connections),
                grace,
            )
            for conn in connections:
                conn.abort()

    def _open_connections(self) -> list[ClientConnection]:
        """Plain and TLS client connections of this entry point."""
        found = list(self.runtime.connections)
        if self.tls_runtime is not None:
            found += self.tls_runtime.connections
        return found

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        # Python 3.11's Server.close leaves accepted connections open: a keep-alive client still connected
        # would keep its socket past the loop's end. Stop means stop (drain is the graceful way).
        for connection in list(self.runtime.connections):
            connection.abort()
        await asyncio.sleep(0)  # their connection_lost runs: tunnels and pending exchanges are released
