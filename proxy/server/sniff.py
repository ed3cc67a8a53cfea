"""The first bytes of a connection on an entry point with TLS routers decide what it is, as in Traefik's TCP
router (pkg/server/router/tcp/router.go): a TLS ClientHello gets a TLS handshake and the TLS routers; any
other first byte, plain HTTP and the routers without TLS.

The bytes read while deciding (the whole ClientHello, whose server name picks the TLS options and the
certificate) are handed over with the connection. Entry points without TLS routers never come here:
their connections are served directly.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import TYPE_CHECKING, Any

from proxy.forwarder.client import ClientConnection
from proxy.message import TLSInfo
from proxy.tls.hello import is_tls_start, parse_client_hello

if TYPE_CHECKING:
    from proxy.forwarder.context import EntryPointRuntime
    from proxy.server.entrypoint import EntryPointServer

log = logging.getLogger("proxy.server")


class Sniffer(asyncio.Protocol):
    """Holds an accepted connection until its first bytes say TLS or plain HTTP, then hands it over with
    those bytes: to a ClientConnection, or to the loop's own TLS protocol in front of one."""

    __slots__ = ("server", "transport", "buffer", "timer")

    def __init__(self, server: EntryPointServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # asyncio gives a stream protocol a Transport
        timeout = self.server.runtime.read_timeout
        if timeout > 0:
            self.timer = asyncio.get_running_loop().call_later(
                timeout, self._give_up, "no ClientHello nor request in time"
            )

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()

    def eof_received(self) -> bool | None:
        self._stop_timer()
        return False

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _give_up(self, why: str) -> None:
        log.debug("entry point %s: closing a connection: %s", self.server.runtime.name, why)
        self._stop_timer()
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        data = self.buffer + data if self.buffer else data
        tls = self.server.tls
        if not is_tls_start(data[0]) or tls is None or self.server.tls_runtime is None:
            self._plain(data)
            return
        hello = parse_client_hello(data)
        if hello is None:  # the ClientHello is not all there yet
            self.buffer = data
            return
        self.buffer = b""
        sock = self.transport.get_extra_info("sockname") if self.transport is not None else None
        local = sock[0] if isinstance(sock, tuple) else ""
        options, context = tls.choose(hello.server_name, local)
        if context is None:
            self._give_up(f"broken TLS options for server name {hello.server_name!r}")
            return
        self._tls(data, context, TLSInfo(hello.server_name, options))

    def _plain(self, data: bytes) -> None:
        self._stop_timer()
        transport = self.transport
        assert transport is not None
        conn = ClientConnection(self.server.runtime)
        transport.set_protocol(conn)
        conn.connection_made(transport)
        conn.data_received(data)

    def _tls(self, data: bytes, context: ssl.SSLContext, info: TLSInfo) -> None:
        self._stop_timer()
        assert self.transport is not None and self.server.tls_runtime is not None
        start_tls(self.transport, self.server.tls_runtime, data, context, info)


def start_tls(
    transport: asyncio.Transport, runtime: EntryPointRuntime, data: bytes, context: ssl.SSLContext, info: TLSInfo
) -> None:
    """What loop.start_tls does, with the bytes already read fed to the TLS protocol first; the decrypted
    connection is a ClientConnection of `runtime` (the entry point's TLS side)."""
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()
    waiter.add_done_callback(lambda done: _handshake_done(done, runtime.name, info.server_name))
    timeout = runtime.read_timeout if runtime.read_timeout > 0 else None
    conn = ClientConnection(runtime)
    conn.tls = info
    protocol = _tls_protocol(loop)(
        loop, conn, context, waiter, server_side=True, call_connection_made=True, ssl_handshake_timeout=timeout
    )
    transport.set_protocol(protocol)
    protocol.connection_made(transport)
    view = memoryview(data)
    while view:
        buffer = protocol.get_buffer(len(view))
        size = min(len(buffer), len(view))
        buffer[:size] = view[:size]
        protocol.buffer_updated(size)
        view = view[size:]


def _handshake_done(done: asyncio.Future[None], name: str, server_name: str) -> None:
    if not done.cancelled() and (exc := done.exception()) is not None:
        log.debug("entry point %s: TLS handshake (server name %r) failed: %s", name, server_name, exc)


def _tls_protocol(loop: asyncio.AbstractEventLoop) -> Any:
    """The loop's own TLS protocol class: uvloop's (faster, in C) on uvloop, else asyncio's."""
    if type(loop).__module__.startswith("uvloop"):
        from uvloop.loop import SSLProtocol  # type: ignore[attr-defined]  # in uvloop's C module, not its stubs

        return SSLProtocol
    from asyncio.sslproto import SSLProtocol as AsyncioSSLProtocol

    return AsyncioSSLProtocol
