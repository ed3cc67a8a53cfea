"""The gateway: entry points from the static config, routes from the dynamic config, swapped on reload."""

from __future__ import annotations

import logging
import socket
from typing import Callable, Mapping

from proxy.config.dynamic import DynamicConfig
from proxy.config.static import EntryPoint, StaticConfig
from proxy.forwarder.context import EntryPointRuntime, ExchangeRecord
from proxy.forwarder.forwarded import ForwardedHeaders
from proxy.routing.builder import BuildResult, EntryPointInfo, RuntimeBuilder
from proxy.routing.table import RouteTable
from proxy.server.entrypoint import EntryPointServer
from proxy.server.normalize import PathOptions
from proxy.services.transport import PoolRegistry, TransportSettings

log = logging.getLogger("proxy.server")


def path_options(ep: EntryPoint) -> PathOptions:
    http = ep.http
    chars = http.encoded_characters
    return PathOptions(
        sanitize_path=http.sanitize_path,
        encode_query_semicolons=http.encode_query_semicolons,
        allow_encoded_slash=chars.allow_encoded_slash,
        allow_encoded_back_slash=chars.allow_encoded_back_slash,
        allow_encoded_null_character=chars.allow_encoded_null_character,
        allow_encoded_semicolon=chars.allow_encoded_semicolon,
        allow_encoded_percent=chars.allow_encoded_percent,
        allow_encoded_question_mark=chars.allow_encoded_question_mark,
        allow_encoded_hash=chars.allow_encoded_hash,
    )


def default_transport(static: StaticConfig) -> TransportSettings:
    config = static.servers_transport
    timeouts = config.forwarding_timeouts
    return TransportSettings(
        dial_timeout=timeouts.dial_timeout, response_header_timeout=timeouts.response_header_timeout,
        idle_conn_timeout=timeouts.idle_conn_timeout,
        max_idle_conns_per_host=max(config.max_idle_conns_per_host, 0),
        insecure_skip_verify=config.insecure_skip_verify)


class Gateway:
    """Serves a static config's entry points; `apply` installs a new dynamic config atomically."""

    def __init__(self, static: StaticConfig, service_overrides: Mapping[str, str] | None = None,
                 reuse_port: bool = False) -> None:
        self.static = static
        self.pools = PoolRegistry()
        self.service_overrides = dict(service_overrides or {})
        self.hostname = socket.gethostname()
        self.last_build: BuildResult | None = None
        self.servers: dict[str, EntryPointServer] = {}
        self.recorders: list[Callable[[ExchangeRecord], None]] = []
        for name, ep in static.entry_points.items():
            if ep.protocol != "tcp":
                log.warning("entry point %s: udp entry points are not served by stripproxy", name)
                continue
            timeouts = ep.transport.responding_timeouts
            runtime = EntryPointRuntime(
                name=name, table=RouteTable([]),
                forwarded=ForwardedHeaders(ep.forwarded_headers.insecure,
                                           list(ep.forwarded_headers.trusted_ips), self.hostname),
                path_options=path_options(ep), read_timeout=timeouts.read_timeout,
                write_timeout=timeouts.write_timeout, idle_timeout=timeouts.idle_timeout,
                max_header_bytes=ep.http.max_header_bytes,
                recorders=self.recorders)
            self.servers[name] = EntryPointServer(runtime, ep.address, reuse_port=reuse_port or ep.reuse_port)

    def entry_point_info(self) -> list[EntryPointInfo]:
        return [EntryPointInfo(name, tuple(self.static.entry_points[name].http.middlewares),
                               self.static.entry_points[name].as_default) for name in self.servers]

    def build(self, dynamic: DynamicConfig) -> BuildResult:
        """Prepare routes for `dynamic` without installing them (also what `check` runs)."""
        builder = RuntimeBuilder(dynamic, self.entry_point_info(), self.pools, self.service_overrides,
                                 default_transport(self.static))
        return builder.build()

    def apply(self, dynamic: DynamicConfig) -> BuildResult:
        result = self.build(dynamic)
        for problem in result.problems:
            (log.error if problem.level == "error" else log.warning)("%s", problem)
        for name, server in self.servers.items():
            server.runtime.table = result.tables.get(name, RouteTable([]))
        self.last_build = result
        return result

    @property
    def urls(self) -> dict[str, str]:
        return {name: server.url for name, server in self.servers.items()}

    async def start(self) -> None:
        started: list[EntryPointServer] = []
        try:
            for server in self.servers.values():
                await server.start()
                started.append(server)
        except OSError:
            for server in started:
                await server.stop()
            raise

    async def stop(self) -> None:
        for server in self.servers.values():
            await server.stop()
        self.pools.close()
