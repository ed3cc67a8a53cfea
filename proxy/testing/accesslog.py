"""An access log a test can assert on: each finished exchange of a gateway as the record Traefik's JSON
access log writes for it (the same field names and values: ClientHost, RequestMethod, RequestPath,
DownstreamStatus, RouterName, ServiceName, ServiceURL, Duration, StartUTC, ... plus level, msg, time),
kept in a list instead of a file. Made by the gateway's own access log code (proxy.observability.accesslog),
so what a test reads is what the file would hold.

    log = stripproxy_access_log(gateway)       # the fixture; or AccessLogCapture().attach(gateway)
    httpx.get(gateway.url + "/app/x")
    record = log.wait_for(1)[-1]
    assert (record["RouterName"], record["DownstreamStatus"]) == ("app@file", 200)
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from proxy.config.errors import ConfigError, problems_from_validation
from proxy.config.static import AccessLogConfig
from proxy.observability.accesslog import AccessLog

if TYPE_CHECKING:
    from proxy.forwarder.exchange import Exchange
    from proxy.server.gateway import Gateway
    from proxy.testing.sync import BackgroundGateway


class AccessLogCapture:
    """An exchange observer keeping Traefik-shaped JSON access log records (dicts), oldest first.

    `fields` / `filters` take the `accessLog.fields` / `accessLog.filters` tables as Traefik spells them
    (e.g. `{"headers": {"defaultMode": "keep"}}`); without them every field is kept and nothing filtered,
    as Traefik's defaults do. Observers are called on the gateway's loop: from another thread use
    `wait_for`, which waits until the records of the requests a test sent are there."""

    def __init__(self, fields: dict[str, Any] | None = None, filters: dict[str, Any] | None = None) -> None:
        raw = {"filePath": os.devnull, "format": "json", "fields": fields or {}, "filters": filters or {}}
        try:
            config = AccessLogConfig.model_validate(raw)
        except ValidationError as err:  # named by Traefik's keys, as in a file's accessLog section
            raise ConfigError(problems_from_validation(err, "", prefix=("accessLog",), model=AccessLogConfig)) from None
        self._log = AccessLog(config, label="stripproxy_access_log")
        os.close(self._log.fd)  # nothing is written: the records stay here
        self._log.fd = -1
        self._observed: list[Gateway] = []
        self.warnings = self._log.warnings
        self.records: list[dict[str, Any]] = []
        self._changed = threading.Condition()

    def attach(self, gateway: Gateway | BackgroundGateway) -> AccessLogCapture:
        """Observe `gateway` (a Gateway or BackgroundGateway) from now on."""
        from proxy.testing.sync import BackgroundGateway

        target = gateway.gateway if isinstance(gateway, BackgroundGateway) else gateway
        # Like the gateway's own access log: ClientHost is a kept X-Forwarded-For where the entry point trusts it.
        self._log.trusting = frozenset(
            name
            for name, ep in target.static.entry_points.items()
            if ep.forwarded_headers.insecure or ep.forwarded_headers.trusted_ips
        )
        target.observers.append(self)
        self._observed.append(target)
        return self

    def detach(self) -> None:
        """Stop observing (the fixture does it at teardown)."""
        while self._observed:
            observers = self._observed.pop().observers
            if self in observers:
                observers.remove(self)

    def __call__(self, exchange: Exchange) -> None:
        log = self._log
        ended = exchange.ended
        wall_ns = int((ended + time.time() - time.monotonic()) * 1e9)
        log.count += 1
        if log.filtered and not log._keep_line(exchange, ended - exchange.started):
            return
        record = json.loads(log._json(exchange, wall_ns, ended - exchange.started, log.count))
        with self._changed:
            self.records.append(record)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The records once there are at least `count` (AssertionError after `timeout` seconds)."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.records) >= count, timeout):
                raise AssertionError(f"{len(self.records)} access log records after {timeout}s, expected {count}")
            return list(self.records)

    async def wait_for_async(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """`wait_for` for a test on the gateway's own loop (the async fixtures)."""
        import asyncio

        deadline = time.monotonic() + timeout
        while len(self.records) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.records)} access log records after {timeout}s, expected {count}")
            await asyncio.sleep(0.01)
        return list(self.records)

    def clear(self) -> None:
        with self._changed:
            self.records.clear()

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Any:
        return iter(list(self.records))

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.records[index]
