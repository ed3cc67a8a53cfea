"""Upstream transports: timeouts and a LIFO pool of idle keep-alive connections per upstream address.

Mirrors Traefik's `serversTransports.<name>`: `forwardingTimeouts.dialTimeout` (30s),
`responseHeaderTimeout` (0 = none), `idleConnTimeout` (90s) and `maxIdleConnsPerHost` (200 in Traefik).
A response head may take at most `max_response_header_bytes` (Go's Transport default, 10 MiB: Traefik has
no setting for it), 1xx interim heads included.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from proxy.forwarder.upstream import UpstreamConnection


MAX_RESPONSE_HEADER_BYTES = 10 << 20  # Go's http.Transport when MaxResponseHeaderBytes is 0, as Traefik leaves it


@dataclass(frozen=True, slots=True)
class TransportSettings:
    """One serversTransport, prepared: durations in seconds, 0 meaning "no limit"."""

    dial_timeout: float = 30.0
    response_header_timeout: float = 0.0
    idle_conn_timeout: float = 90.0
    max_idle_conns_per_host: int = 200
    insecure_skip_verify: bool = False
    server_name: str = ""
    # TLS to https:// servers (Traefik's createTLSConfig): CA bundles (paths or PEM; none: the system's),
    # client certificates as (certFile, keyFile), SANs the server's certificate must have besides the usual
    # checks (("URI" | "DNS", value); peerCertURI is one), versions and TLS 1.2 cipher suites (Go names).
    root_cas: tuple[str, ...] = ()
    certificates: tuple[tuple[str, str], ...] = ()
    peer_cert_sans: tuple[tuple[str, str], ...] = ()
    min_version: str = ""
    max_version: str = ""
    cipher_suites: tuple[str, ...] = ()
    max_response_header_bytes: int = MAX_RESPONSE_HEADER_BYTES

    def ssl_context(self) -> ssl.SSLContext:
        """The client context for this transport; ValueError naming what is wrong in its settings."""
        from proxy.services.upstream_tls import client_context

        return client_context(self)


class ConnectionPool:
    """Idle connections to one upstream (scheme, host, port, transport), most recently used last.

    LIFO keeps a few connections hot and lets the rest age out through `idle_conn_timeout`. Ageing is
    coarse: a release stamps the time, one sweeper task per pool closes what has idled too long, so the
    hot path sets no timer per request.
    """

    __slots__ = ("host", "port", "tls", "settings", "_idle", "_ssl", "_ssl_error", "_sweeper")

    def __init__(self, host: str, port: int, tls: bool, settings: TransportSettings) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.settings = settings
        self._idle: deque[UpstreamConnection] = deque()
        self._ssl: ssl.SSLContext | None = None
        self._ssl_error = ""  # a transport whose TLS settings are broken: every dial fails with this
        if tls:
            try:
                self._ssl = settings.ssl_context()
            except ValueError as exc:
                self._ssl_error = str(exc)
        self._sweeper: asyncio.Task[None] | None = None

    def take_idle(self) -> UpstreamConnection | None:
        """The most recently released live connection, or None."""
        idle = self._idle
        if not idle:
            return None
        limit = self.settings.idle_conn_timeout
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            conn.in_pool = False
            if conn.reusable() and (limit <= 0 or now - conn.idle_since < limit):
                return conn
            conn.close()
        return None

    def release(self, conn: UpstreamConnection) -> None:
        """Keep `conn` for reuse (or close it if the pool is full or it cannot be reused)."""
        if len(self._idle) >= self.settings.max_idle_conns_per_host or not conn.reusable():
            conn.close()
            return
        conn.exchange = None
        conn.in_pool = True
        conn.idle_since = time.monotonic()
        self._idle.append(conn)
        if self._sweeper is None and self.settings.idle_conn_timeout > 0:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    def forget(self, conn: UpstreamConnection) -> None:
        """An idle connection the server closed: drop it from the pool."""
        try:
            self._idle.remove(conn)
        except ValueError:
            pass

    async def _sweep(self) -> None:
        limit = self.settings.idle_conn_timeout
        tick = min(max(limit / 4, 0.05), 1.0)
        idle = self._idle
        try:
            while idle:
                await asyncio.sleep(tick)
                cutoff = time.monotonic() - limit
                while idle and idle[0].idle_since <= cutoff:  # the oldest sit at the left
                    idle.popleft().close()
        finally:
            self._sweeper = None

    async def connect(self, factory: Callable[[], UpstreamConnection]) -> UpstreamConnection:
        """Dial a new connection within dialTimeout (raises OSError / asyncio.TimeoutError)."""
        loop = asyncio.get_running_loop()
        if not self.tls:
            coro = loop.create_connection(factory, self.host, self.port)
            _, protocol = await asyncio.wait_for(coro, self.settings.dial_timeout or None)
            return protocol
        from proxy.services.upstream_tls import check_peer, tls_failure

        if self._ssl is None:
            raise OSError(f"TLS configuration of the serversTransport is broken: {self._ssl_error}")
        server_hostname = self.settings.server_name or self.host
        coro = loop.create_connection(factory, self.host, self.port, ssl=self._ssl, server_hostname=server_hostname)
        try:
            transport, protocol = await asyncio.wait_for(coro, self.settings.dial_timeout or None)
        except ssl.SSLError as exc:
            raise tls_failure(exc, server_hostname) from None
        check_peer(transport, self.settings, server_hostname)
        return protocol

    def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
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
