"""Upstream transports: timeouts and a LIFO pool of idle keep-alive connections per upstream address.

Mirrors Traefik's `serversTransports.<name>`: `forwardingTimeouts.dialTimeout` (30s),
`responseHeaderTimeout` (0 = none), `idleConnTimeout` (90s) and `maxIdleConnsPerHost` (200 in Traefik).
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from proxy.forwarder.upstream import UpstreamConnection


@dataclass(frozen=True, slots=True)
class TransportSettings:
    """One serversTransport, prepared: durations in seconds, 0 meaning "no limit"."""

    dial_timeout: float = 30.0
    response_header_timeout: float = 0.0
    idle_conn_timeout: float = 90.0
    max_idle_conns_per_host: int = 200
    insecure_skip_verify: bool = False
    server_name: str = ""

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        if self.insecure_skip_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx


DEFAULT_TRANSPORT = TransportSettings()


class ConnectionPool:
    """Idle connections to one upstream (scheme, host, port, transport), most recently used first.

    LIFO keeps a few connections hot and lets the rest age out through `idle_conn_timeout`.
    """

    __slots__ = ("host", "port", "tls", "settings", "_idle", "_ssl")

    def __init__(self, host: str, port: int, tls: bool, settings: TransportSettings) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.settings = settings
        self._idle: list[UpstreamConnection] = []
        self._ssl: ssl.SSLContext | None = settings.ssl_context() if tls else None

    def take_idle(self) -> UpstreamConnection | None:
        """The most recently released live connection, or None."""
        idle = self._idle
        while idle:
            conn = idle.pop()
            if conn.reusable():
                conn.leave_pool()
                return conn
            conn.close()
        return None

    def release(self, conn: UpstreamConnection) -> None:
        """Keep `conn` for reuse (or close it if the pool is full or idling is disabled)."""
        if len(self._idle) >= self.settings.max_idle_conns_per_host or not conn.reusable():
            conn.close()
            return
        self._idle.append(conn)
        conn.enter_pool(self.settings.idle_conn_timeout, self._forget)

    def _forget(self, conn: UpstreamConnection) -> None:
        try:
            self._idle.remove(conn)
        except ValueError:
            pass

    async def connect(self, factory: Callable[[], UpstreamConnection]) -> UpstreamConnection:
        """Dial a new connection within dialTimeout (raises OSError / asyncio.TimeoutError)."""
        loop = asyncio.get_running_loop()
        server_hostname = (self.settings.server_name or self.host) if self._ssl else None
        coro = loop.create_connection(factory, self.host, self.port, ssl=self._ssl,
                                      server_hostname=server_hostname)
        timeout = self.settings.dial_timeout or None
        _, protocol = await asyncio.wait_for(coro, timeout)
        return protocol

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


class PoolRegistry:
    """Pools shared by every service that names the same upstream, kept across config reloads."""

    def __init__(self) -> None:
        self._pools: dict[tuple[str, int, bool, TransportSettings], ConnectionPool] = {}

    def get(self, host: str, port: int, tls: bool, settings: TransportSettings) -> ConnectionPool:
        key = (host, port, tls, settings)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = ConnectionPool(host, port, tls, settings)
        return pool

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
