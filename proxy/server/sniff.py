"""The first bytes of a connection on an entry point with TLS routers decide what it is, as in Traefik's TCP
router (pkg/server/router/tcp/router.go): a TLS ClientHello gets a TLS handshake and the TLS routers; any
other first byte, plain HTTP and the routers without TLS.

Nothing is consumed while deciding: reading is paused as soon as the connection is accepted and the socket
is peeked (MSG_PEEK) until the whole ClientHello is there, whose server name picks the TLS options and
certificate. Entry points without TLS routers never come here: their connections are served directly.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import TYPE_CHECKING

from proxy.forwarder.client import ClientConnection
from proxy.tls.hello import MAX_HELLO, is_tls_start, parse_client_hello

if TYPE_CHECKING:
    from proxy.server.entrypoint import EntryPointServer

log = logging.getLogger("proxy.server")

RETRY = 0.005  # seconds before peeking again at a ClientHello that is not all there yet


class Sniffer(asyncio.Protocol):
    """Holds an accepted connection until its first bytes say TLS or plain HTTP, then hands it over."""

    def __init__(self, server: EntryPointServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.sock: socket.socket | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.done = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.pause_reading()  # type: ignore[attr-defined]
        raw = transport.get_extra_info("socket")
        try:
            self.sock = socket.socket(fileno=os.dup(raw.fileno()))
        except OSError:
            transport.abort()
            return
        loop = asyncio.get_running_loop()
        timeout = self.server.runtime.read_timeout
        if timeout > 0:
            self.timer = loop.call_later(timeout, self._give_up, "no ClientHello nor request in time")
        loop.add_reader(self.sock.fileno(), self._peek)

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()

    def _release(self) -> None:
        self.done = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.sock is not None:
            try:
                asyncio.get_running_loop().remove_reader(self.sock.fileno())
            except (RuntimeError, ValueError):
                pass
            self.sock.close()
            self.sock = None

    def _give_up(self, why: str) -> None:
        log.debug("entry point %s: closing a connection: %s", self.server.runtime.name, why)
        self._release()
        if self.transport is not None:
            self.transport.abort()

    def _peek(self) -> None:
        sock = self.sock
        if sock is None or self.done:
            return
        try:
            data = sock.recv(MAX_HELLO + 5, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._give_up("connection error")
            return
        if not data:
            self._give_up("closed before sending anything")
            return
        tls = self.server.tls
        if not is_tls_start(data[0]) or tls is None or self.server.tls_runtime is None:
            self._plain()
            return
        hello = parse_client_hello(data)
        if hello is None:  # the ClientHello is not all there yet: look again shortly, not in a busy loop
            loop = asyncio.get_running_loop()
            loop.remove_reader(sock.fileno())
            loop.call_later(RETRY, self._again)
            return
        local = sock.getsockname()[0]
        context = tls.choose(hello.server_name, local)
        if context is None:
            self._give_up(f"broken TLS options for server name {hello.server_name!r}")
            return
        self._release()
        asyncio.get_running_loop().create_task(self._handshake(context, hello.server_name))

    def _again(self) -> None:
        if self.sock is not None and not self.done:
            asyncio.get_running_loop().add_reader(self.sock.fileno(), self._peek)

    def _plain(self) -> None:
        self._release()
        transport = self.transport
        assert transport is not None
        conn = ClientConnection(self.server.runtime)
        transport.set_protocol(conn)
        conn.connection_made(transport)
        transport.resume_reading()

    async def _handshake(self, context: object, server_name: str) -> None:
        transport = self.transport
        runtime = self.server.tls_runtime
        assert transport is not None and runtime is not None
        conn = ClientConnection(runtime)
        timeout = runtime.read_timeout if runtime.read_timeout > 0 else None
        try:
            tls_transport = await asyncio.get_running_loop().start_tls(
                transport, conn, context, server_side=True, ssl_handshake_timeout=timeout)  # type: ignore[arg-type]
        except (OSError, asyncio.TimeoutError, ConnectionError) as exc:
            log.debug("entry point %s: TLS handshake (server name %r) failed: %s", runtime.name, server_name, exc)
            transport.abort()
            return
        if tls_transport is None:  # the client left during the handshake
            transport.abort()
            return
        conn.connection_made(tls_transport)
