"""The gateway for synchronous code (plain tests, scripts): it serves from its own loop in a thread.

with BackgroundGateway("config/traefik.toml", services={"app": "http://127.0.0.1:8000"},
                       free_ports=True) as gateway:
    requests.get(gateway.url + "/api/v1/app")
"""

from __future__ import annotations

import ssl
from types import TracebackType
from typing import Any

from proxy.forwarder.context import ExchangeRecord
from proxy.routing.builder import BuildResult
from proxy.routing.plan import RoutePlan
from proxy.server.gateway import Gateway
from proxy.server.sources import ConfigSource
from proxy.testing.loop_thread import LoopThread


class BackgroundGateway:
    """Takes Gateway's arguments; `start()`/`stop()` or `with`. Everything is read through the gateway's
    loop, so an exchange whose response a client has fully read is already in `exchanges`."""

    def __init__(self, config: ConfigSource, **options: Any) -> None:
        self._config = config
        self._options = options
        self._thread: LoopThread | None = None
        self._gateway: Gateway | None = None

    def start(self) -> BackgroundGateway:
        if self._thread is not None:
            return self
        thread = LoopThread("stripproxy-gateway")
        try:
            self._gateway = thread.run(self._create())
        except BaseException:
            thread.close()
            raise
        self._thread = thread
        return self

    async def _create(self) -> Gateway:
        gateway = Gateway(self._config, **self._options)
        await gateway.start()
        return gateway

    def stop(self) -> None:
        thread, gateway = self._thread, self._gateway
        self._thread = self._gateway = None
        if thread is None or gateway is None:
            return
        try:
            thread.run(gateway.stop())
        finally:
            thread.close()

    def __enter__(self) -> BackgroundGateway:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def gateway(self) -> Gateway:
        """The Gateway itself; touch it only through `call` or the properties below (it lives on another loop)."""
        if self._gateway is None:
            raise RuntimeError("the gateway is not running: call start() or use `with`")
        return self._gateway

    def call(self, function: Any, *args: Any) -> Any:
        """Run `function(*args)` on the gateway's loop and return its result."""

        async def invoke() -> Any:
            return function(*args)

        assert self._thread is not None, "the gateway is not running"
        return self._thread.run(invoke())

    @property
    def url(self) -> str:
        return self.gateway.url

    @property
    def urls(self) -> dict[str, str]:
        return self.gateway.urls

    @property
    def exchanges(self) -> list[ExchangeRecord]:
        """A snapshot of the recorded exchanges, oldest first."""
        return self.call(lambda: list(self.gateway.exchanges))

    @property
    def routers(self) -> dict[str, RoutePlan]:
        return self.call(lambda: self.gateway.routers)

    @property
    def services(self) -> dict[str, list[str]]:
        return self.call(lambda: self.gateway.services)

    @property
    def ca_file(self) -> str:
        return self.gateway.ca_file

    def client_ssl_context(self, cafile: str | None = None) -> ssl.SSLContext:
        return self.gateway.client_ssl_context(cafile)

    def reload(self, config: ConfigSource | None = None) -> BuildResult:
        return self.call(self.gateway.reload, config)

    def explain(self, record: ExchangeRecord | None = None) -> str:
        return self.call(self.gateway.explain, record)

    def failures(self) -> list[str]:
        return self.call(self.gateway.failures)

    def health(self) -> list[str]:
        """What is down in the applied config and why (see Gateway.health)."""
        return self.call(self.gateway.health)

    def clear(self) -> None:
        """Forget the recorded exchanges."""
        self.call(self.gateway.exchanges.clear)
