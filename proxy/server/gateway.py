"""The gateway: entry points from the static config, routes from the dynamic config, swapped on reload.

Built from a StaticConfig (the CLI: routes come later through `apply`), or from any config source (a
config object, a mapping, TOML/YAML text, a file path) for tests and programs that embed a proxy:

    async with Gateway("routes.toml", services={"app": "http://127.0.0.1:8000"}) as gateway:
        ...  # gateway.url, gateway.exchanges, gateway.reload(...)
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
import ssl
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from proxy.config.dynamic import DynamicConfig
from proxy.config.errors import CONFIG_REPORT, ConfigError, ConfigProblem
from proxy.config.loader import load_dynamic
from proxy.config.static import EntryPointConfig, StaticConfig
from proxy.forwarder.context import EntryPointRuntime, ExchangeRecord
from proxy.forwarder.forwarded import ForwardedHeaders
from proxy.middlewares.base import Middleware
from proxy.middlewares.prefixrewrite import PrefixRewrite
from proxy.normalize import PathOptions
from proxy.observability.hub import Observability
from proxy.routing.builder import BuildError, BuildResult, EntryPointInfo, RuntimeBuilder, transport_settings
from proxy.routing.plan import RoutePlan
from proxy.routing.problems import Problem
from proxy.routing.table import RouteTable
from proxy.server.entrypoint import EntryPointServer
from proxy.server.explain import explain, is_failure
from proxy.server.tls import announce_local_ca, announce_tls, entry_point_redirect, entry_point_tls, tls_local_ca
from proxy.services.transport import PoolRegistry, TransportSettings

if TYPE_CHECKING:
    from proxy.forwarder.exchange import Exchange
    from proxy.server.sources import ConfigSource, ResolvedConfig
    from proxy.tls.manager import EntryPointTLS

log = logging.getLogger("proxy.server")


def path_options(ep: EntryPointConfig) -> PathOptions:
    http = ep.http
    # The encodedCharacters model's fields are PathOptions' allow_encoded_* flags, name for name.
    return PathOptions(
        sanitize_path=http.sanitize_path,
        encode_query_semicolons=http.encode_query_semicolons,
        **http.encoded_characters.model_dump(),
    )


def forwarded_headers(ep: EntryPointConfig, hostname: str) -> ForwardedHeaders:
    config = ep.forwarded_headers
    return ForwardedHeaders(
        config.insecure,
        list(config.trusted_ips),
        hostname,
        connection=list(config.connection),
        not_append_x_forwarded_for=config.not_append_x_forwarded_for,
        add_x_forwarded_scheme_headers=config.add_x_forwarded_scheme_headers,
    )


def rewrite_prefix_factory(option: bool | str) -> Callable[[], PrefixRewrite] | None:
    """The gateway-wide prefixRewrite (ours): False (off), True or "headers" (headers and cookies), "html"
    (bodies too); a fresh instance per router that strips a prefix."""
    if option is False or option is None or option == "":
        return None
    if option is True or option == "headers":
        return PrefixRewrite
    if option == "html":
        return lambda: PrefixRewrite(html=True)
    raise ValueError(f"rewrite_prefix: expected True, 'headers' or 'html', got {option!r}")


def default_transport(static: StaticConfig) -> TransportSettings | BuildError:
    """The static serversTransport as the services that name none use it; a BuildError (their routers are
    disabled with it) when it asks for SPIFFE, never served without."""
    if static.servers_transport.spiffe is not None:
        return BuildError("the default serversTransport (static serversTransport.spiffe): spiffe is not supported")
    return transport_settings(static.servers_transport)


DEFAULT_RECORD = 1000  # exchanges kept by a gateway built from a config source


class Gateway:
    """Serves a static config's entry points; `apply` installs a new dynamic config atomically.

    `Gateway(static)` alone is the engine the CLI drives: routes come later through `apply`. Any other
    `config` (DynamicConfig, mapping, TOML/YAML text, file path; a StaticConfig with `free_ports` or
    `entry_points`) is read with its dynamic files and applied at once; then `services` points service names
    at other URLs, `free_ports` rebinds every entry point to a free loopback port, `entry_points` sets
    addresses by name, `strict` raises ConfigError when any router, service or middleware is broken, and the
    last `record` exchanges are kept in `exchanges` (default: 1000 from a config source, none from a
    StaticConfig). `rewrite_prefix` (True / "headers", or "html"; ours, not Traefik's) puts prefixRewrite
    first on every router that strips a prefix (proxy/middlewares/prefixrewrite.py).
    """

    def __init__(
        self,
        config: ConfigSource,
        service_overrides: Mapping[str, str] | None = None,
        reuse_port: bool = False,
        *,
        services: Mapping[str, str] | None = None,
        entry_points: Mapping[str, str] | None = None,
        free_ports: bool = False,
        strict: bool = False,
        record: int | None = None,
        base_dir: Path | str | None = None,
        middlewares: Mapping[str, Mapping[str, Any] | None] | None = None,
        local_ca: bool | str | Path = True,
        rewrite_prefix: bool | str = False,
    ) -> None:
        self.rewrite_prefix = rewrite_prefix_factory(rewrite_prefix)
        # The engine the CLI drives: a StaticConfig alone, routes applied later (apply); anything else is read here.
        cli_engine = isinstance(config, StaticConfig) and not (free_ports or entry_points)
        self.source: ResolvedConfig | None = None
        overrides = {
            name.partition("@")[0]: url for name, url in {**(service_overrides or {}), **(services or {})}.items()
        }
        replaced: dict[str, Any] = {}
        static: StaticConfig
        if cli_engine and isinstance(config, StaticConfig):  # cli_engine says it is one: narrowed for mypy
            static = config
        else:
            # Imported here: the CLI (a StaticConfig) never reads a config source, nor PyYAML through it.
            from proxy.server.sources import (
                apply_middleware_patches,
                check_middleware_overrides,
                check_service_overrides,
                effective_static,
                parse_middleware_overrides,
                resolve,
            )

            self.source = resolve(config, Path(base_dir) if base_dir else None)
            if strict:  # a key accepted but not acted on would let a test pass on a feature not there
                from proxy.config.unimplemented import refused_in_strict

                refused = [warning for warning in self.source.warnings if refused_in_strict(warning)]
                if refused:
                    raise ConfigError(refused)
            static = effective_static(self.source, entry_points, free_ports)
            replaced = parse_middleware_overrides(middlewares or {})
            problems = check_service_overrides(self.source.dynamic, overrides) + check_middleware_overrides(
                self.source.dynamic, replaced
            )
            if problems:
                raise ConfigError([ConfigProblem(self.source.label, "", p) for p in problems])
            replaced = apply_middleware_patches(self.source.dynamic, replaced)
        written = self.source.static.entry_points if self.source is not None and self.source.static else {}
        # entry point -> the address its file gives, when a test rebound it (free_ports=, entry_points=)
        self.rebound: dict[str, str] = {
            name: ep.address
            for name, ep in written.items()
            if name in static.entry_points and static.entry_points[name].address != ep.address
        }
        self.static = static
        self.strict = strict
        self.local_ca = tls_local_ca(local_ca)
        self.pools = PoolRegistry()
        self.service_overrides = overrides
        self.middleware_overrides = replaced
        self.hostname = socket.gethostname()
        self.last_build: BuildResult | None = None
        self._serving = False  # started: health checks run while a config is applied
        self.dynamic: DynamicConfig | None = None
        self.entry_point_servers: dict[str, EntryPointServer] = {}  # by entry point name (udp ones are not served)
        self._default_tls: EntryPointTLS | None = None
        self.terminating = False  # set when a graceful stop begins
        # Told of every finished exchange (the record below, the access log and metrics when configured).
        self.observers: list[Callable[[Exchange], None]] = []
        keep = (0 if cli_engine else DEFAULT_RECORD) if record is None else record
        self.exchanges: deque[ExchangeRecord] = deque(maxlen=max(keep, 1))
        if keep > 0:
            self.observers.append(self._keep)
        # accessLog, metrics, ping, api and the internal services, as far as the static config asks for them.
        self.observability = Observability(self.static, self)
        self.observers += self.observability.observers()
        for warning in self.observability.warnings:  # "key.path: message", named after the file that set it
            key_path, _, message = warning.partition(": ")
            log.warning("%s", self.static.problem(key_path, message))
        for name, ep in self.static.entry_points.items():
            if ep.protocol != "tcp":
                where = f"entryPoints.{name}.address"
                log.warning("%s", self.static.problem(where, "udp entry points are not served by stripproxy"))
                continue
            self.entry_point_servers[name] = self._entry_point_server(name, ep, reuse_port)
        if self.observability.metrics is not None:
            self.observability.metrics.runtimes = [server.runtime for server in self.entry_point_servers.values()]
        if self.source is not None:
            for problem in self.source.warnings:
                log.warning("%s", problem)
            self.apply(self.source.dynamic)

    def _entry_point_server(self, name: str, ep: EntryPointConfig, reuse_port: bool) -> EntryPointServer:
        timeouts = ep.transport.responding_timeouts
        forwarded = forwarded_headers(ep, self.hostname)
        if self.observability.live is not None:  # the dashboard's live view notes each request as received
            forwarded = self.observability.live.wrap(forwarded)
        runtime = EntryPointRuntime(
            name=name,
            table=RouteTable([]),
            forwarded=forwarded,
            path_options=path_options(ep),
            read_timeout=timeouts.read_timeout,
            write_timeout=timeouts.write_timeout,
            idle_timeout=timeouts.idle_timeout,
            max_header_bytes=ep.http.max_header_bytes,
            observers=self.observers,
        )
        return EntryPointServer(runtime, ep.address, reuse_port=reuse_port or ep.reuse_port)

    def entry_point_info(self) -> list[EntryPointInfo]:
        return [
            EntryPointInfo(
                name,
                tuple(self.static.entry_points[name].http.middlewares),
                self.static.entry_points[name].as_default,
                entry_point_tls(self.static.entry_points[name]),
                entry_point_redirect(name, self.static, self.entry_point_servers),
            )
            for name in self.entry_point_servers
        ]

    def build(self, dynamic: DynamicConfig) -> BuildResult:
        """Prepare routes for `dynamic` without installing them (also what `check` runs)."""
        resolvers = self.static.certificates_resolvers
        builder = RuntimeBuilder(
            dynamic,
            self.entry_point_info(),
            self.pools,
            self.service_overrides,
            default_transport(self.static),
            self.static.core.default_rule_syntax,
            self.middleware_overrides,
            internal=self.observability.parts,
            local_ca=self.local_ca,
            resolvers=frozenset(resolvers or ()) if self.static.source_file else None,
            rewrite_prefix=self.rewrite_prefix,
        )
        return builder.build()

    def apply(self, dynamic: DynamicConfig) -> BuildResult:
        """Install `dynamic`; with `strict`, raise ConfigError instead when anything in it is broken."""
        result = self.build(dynamic)
        if self.strict and result.problems:
            label = self.source.label if self.source else "dynamic config"
            raise ConfigError([problem_in_file(dynamic, problem, label) for problem in result.problems])
        for problem in result.problems:
            if problem.kind == "router" and problem.level == "error":
                # As Traefik, the router is left out and the rest served: say what its entry points serve now.
                served = "; ".join(
                    f"entry point {name} now serves {describe_count(routers_served(result, name), 'router')}"
                    for name in self.router_entry_points(dynamic, problem.name)
                )
                log.error(
                    "router %s disabled: %s%s",
                    problem.name,
                    problem.message,
                    f"; {served}" if served else "",
                    extra=CONFIG_REPORT,
                )
            else:
                (log.error if problem.level == "error" else log.warning)("%s", problem, extra=CONFIG_REPORT)
        self._default_tls = None  # made again from this configuration when first needed
        for name, server in self.entry_point_servers.items():
            server.runtime.table = result.tables.get(name, RouteTable([]))
            server.set_tls(result.tls.get(name), result.tls_tables.get(name))
            server.default_tls = self.default_tls
        announce_local_ca(self.local_ca)
        announce_tls(bool(result.tls))
        previous, self.last_build = self.last_build, result
        if previous is not None:
            _close_later(previous.middlewares)
            for work in previous.background:  # the old config's health checks end with it
                work.stop()
        if self._serving:
            for work in result.background:
                work.start()
        self.dynamic = dynamic
        self.observability.applied(dynamic, result)
        return result

    def default_tls(self) -> EntryPointTLS:
        """The applied configuration's default TLS, for a ClientHello on an entry point without TLS routers:
        the build's TLS manager when it has one, else one made (once per configuration) from its tls section."""
        if self._default_tls is None:
            from proxy.tls.manager import EntryPointTLS, TLSManager  # only when a client sends one

            build = self.last_build
            manager = next((tls.manager for tls in build.tls.values()), None) if build is not None else None
            if manager is None:
                manager = TLSManager(self.dynamic.tls if self.dynamic is not None else None, self.local_ca)
            self._default_tls = EntryPointTLS(manager, {})
        return self._default_tls

    def router_entry_points(self, dynamic: DynamicConfig, qualified: str) -> list[str]:
        """The served entry points a router of `dynamic` is on (Traefik's default ones when it names none)."""
        name, _, provider = qualified.partition("@")
        router = dynamic.http.routers.get(name) if provider in ("", "file") else None
        if router is None:
            return []
        if router.entry_points:
            return [ep for ep in router.entry_points if ep in self.entry_point_servers]
        defaults = [ep for ep in self.entry_point_servers if self.static.entry_points[ep].as_default]
        return defaults or list(self.entry_point_servers)

    def reload(self, config: ConfigSource | None = None) -> BuildResult:
        """Swap in new routes: from `config` (its dynamic part; entry points never change on reload),
        else by re-reading the files the gateway was built from. On error the current routes stay."""
        from proxy.server.sources import check_middleware_overrides, check_service_overrides, resolve

        if config is None:
            if self.source is None or not self.source.dynamic_paths:
                raise ValueError("reload() needs a config: this gateway was not built from files")
            dynamic, warnings = load_dynamic(self.source.dynamic_paths)
        else:
            resolved = resolve(config)
            dynamic, warnings = resolved.dynamic, resolved.warnings
        problems = check_service_overrides(dynamic, self.service_overrides) + check_middleware_overrides(
            dynamic, self.middleware_overrides
        )
        if self.strict and problems:
            raise ConfigError([ConfigProblem("reload", "", p) for p in problems])
        for warning in warnings:
            log.warning("%s", warning, extra=CONFIG_REPORT)
        return self.apply(dynamic)

    # -- what tests look at -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The URL of the only entry point (see `urls` when there are several)."""
        if len(self.entry_point_servers) != 1:
            raise ValueError(f"the gateway has entry points {sorted(self.entry_point_servers)}: use gateway.urls[name]")
        return next(iter(self.entry_point_servers.values())).url

    @property
    def routers(self) -> dict[str, RoutePlan]:
        """Enabled routers by qualified name (`app-http@file`): middlewares and service of each."""
        return dict(self.last_build.routers) if self.last_build else {}

    @property
    def services(self) -> dict[str, list[str]]:
        """Service name -> server URLs it sends to (after `services=` overrides); services of services
        (weighted, highestRandomWeight, failover, mirroring): their child service names."""
        found: dict[str, list[str]] = {}
        for name, service in self.dynamic.http.services.items() if self.dynamic else ():
            if service.load_balancer is not None:
                override = self.service_overrides.get(name)
                found[name] = [override] if override else [s.url for s in service.load_balancer.servers]
            elif service.weighted is not None:
                found[name] = [child.name for child in service.weighted.services]
            elif service.highest_random_weight is not None:
                found[name] = [child.name for child in service.highest_random_weight.services]
            elif service.failover is not None:
                found[name] = [service.failover.service, service.failover.fallback]
            elif service.mirroring is not None:
                found[name] = [service.mirroring.service, *(m.name for m in service.mirroring.mirrors)]
        return found

    @property
    def problems(self) -> list[str]:
        """What the last applied config had wrong (disabled routers, broken services...)."""
        return [str(problem) for problem in self.last_build.problems] if self.last_build else []

    def health(self) -> list[str]:
        """What is down in the applied config and why, and the last active health checks, one line each."""
        from proxy.server.explain import service_health

        build = self.last_build
        if build is None:
            return []
        lines: list[str] = []
        for service in build.services.values():
            lines += service_health(service, build)
        return list(dict.fromkeys(lines))

    def _keep(self, exchange: Exchange) -> None:
        record = ExchangeRecord.of(exchange)
        if record.entry_point in self.rebound:  # a test override too: said with the router's own
            server = self.entry_point_servers[record.entry_point]
            said = (
                f"entry point {record.entry_point}: {self.rebound[record.entry_point]!r} rebound to port {server.port}"
            )
            record = dataclasses.replace(record, overrides=(*record.overrides, said))
        self.exchanges.append(record)
        if is_failure(record):
            log.warning("%s", self.explain(record))

    def explain(self, record: ExchangeRecord | None = None) -> str:
        """Why `record` (default: the last exchange) got its answer; for assertion messages."""
        if record is None:
            if not self.exchanges:
                return "no exchange recorded yet"
            record = self.exchanges[-1]
        server = self.entry_point_servers.get(record.entry_point)
        table = None
        if server is not None:
            tls_runtime = server.tls_runtime
            table = (tls_runtime if tls_runtime is not None and record.scheme == "https" else server.runtime).table
        return explain(record, table, self.last_build, self.dynamic)

    def failures(self) -> list[str]:
        """Explanations of every recorded 404-without-router and proxy-made error, oldest first."""
        return [self.explain(record) for record in list(self.exchanges) if is_failure(record)]

    @property
    def ca_file(self) -> str:
        """The local development CA's certificate (it signs the certResolver routers' certificates): give it
        to a client (`verify=gateway.ca_file`, `curl --cacert`) to trust them. Created when first asked for."""
        if self.local_ca is None:
            raise ValueError("this gateway has no local CA (local_ca=False / --no-local-ca)")
        self.local_ca.ensure()
        return str(self.local_ca.cert_path)

    def client_ssl_context(self, cafile: str | Path | None = None) -> ssl.SSLContext:
        """A client context trusting the local CA, and `cafile` (your own CA, e.g. trustme's) when given."""
        ctx = ssl.create_default_context(cafile=self.ca_file if self.local_ca is not None else None)
        if cafile is not None:
            ctx.load_verify_locations(cafile=str(cafile))
        return ctx

    @property
    def urls(self) -> dict[str, str]:
        """Entry point name -> base URL (e.g. "http://127.0.0.1:43123"), real ports once started."""
        return {name: server.url for name, server in self.entry_point_servers.items()}

    @property
    def terminating(self) -> bool:
        """Set while the gateway drains: `ping` answers its terminatingStatusCode (503) instead of 200."""
        return self._terminating

    @terminating.setter
    def terminating(self, value: bool) -> None:
        self._terminating = value
        observability = getattr(self, "observability", None)
        if observability is not None:
            observability.terminating = value

    def reopen_logs(self) -> None:
        """SIGUSR1: the access log file is opened again by its path (log rotation)."""
        if self.observability.access_log is not None:
            self.observability.access_log.reopen()

    async def start(self) -> None:
        if self.observability.live is not None:
            self.observability.live.closed = False
        if self.observability.metrics is not None:
            self.observability.metrics.start()
        started: list[EntryPointServer] = []
        try:
            for server in self.entry_point_servers.values():
                await server.start()
                started.append(server)
        except OSError:
            for server in started:
                await server.stop()
            raise
        self._serving = True
        for work in self.last_build.background if self.last_build else ():
            work.start()
        if self.dynamic is not None and any(
            self.static.entry_points[name].http.redirections is not None for name in self.entry_point_servers
        ):
            self.apply(self.dynamic)  # redirections to entry points on port 0 now know their real port

    async def drain(self) -> None:
        """Stop gracefully, each entry point as its `transport.lifeCycle` says (see EntryPointServer.drain);
        `terminating` is True from the start (ping answers its terminatingStatusCode)."""
        self.terminating = True
        if self.observability.live is not None:
            self.observability.live.close_streams()  # an open dashboard tab must not hold the stop up
        cycles = {name: self.static.entry_points[name].transport.life_cycle for name in self.entry_point_servers}
        await asyncio.gather(
            *(
                server.drain(cycles[name].request_accept_grace_timeout, cycles[name].grace_time_out)
                for name, server in self.entry_point_servers.items()
            )
        )

    async def stop(self) -> None:
        self._serving = False
        if self.observability.live is not None:
            self.observability.live.close_streams()
        for work in self.last_build.background if self.last_build else ():
            work.stop()
        for server in self.entry_point_servers.values():
            await server.stop()
        if self.last_build is not None:
            await close_middlewares(self.last_build.middlewares)
        self.pools.close()
        if self.observability.access_log is not None:
            self.observability.access_log.close()
        if self.observability.metrics is not None:
            self.observability.metrics.stop()

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.stop()


# A problem's kind -> where its element sits in a dynamic file, and its key in DynamicConfig.origin.
_PROBLEM_SECTIONS = {
    "router": ("http.routers", ("routers",)),
    "service": ("http.services", ("services",)),
    "middleware": ("http.middlewares", ("middlewares",)),
    "serversTransport": ("http.serversTransports", ("serversTransports",)),
    "tlsOption": ("tls.options", ("tls", "options")),
    "tlsStore": ("tls.stores", ("tls", "stores")),
}


def problem_in_file(dynamic: DynamicConfig, problem: Problem, label: str) -> ConfigProblem:
    """A build problem as a config error naming the dynamic file and key path of the element it is about
    ("routes.toml: http.routers.app: middleware 'nope' does not exist"); `label` when the file is not known."""
    name, at, provider = problem.name.partition("@")
    where = _PROBLEM_SECTIONS.get(problem.kind)
    origin = dynamic.origin(*where[1], name) if where is not None and provider in ("", "file") else None
    if where is None or origin is None:
        return ConfigProblem(label, "", str(problem))
    return ConfigProblem(origin, f"{where[0]}.{name}", problem.message)


def routers_served(result: BuildResult, entry_point: str) -> int:
    """How many routers an entry point serves in a build: plain and TLS ones."""
    plain = result.tables.get(entry_point)
    tls = result.tls_tables.get(entry_point)
    return (len(plain) if plain is not None else 0) + (len(tls) if tls is not None else 0)


def describe_count(count: int, noun: str) -> str:
    """3, "router" -> "3 routers"; 1 -> "1 router"."""
    return f"{count} {noun}{'s' * (count != 1)}"


async def close_middlewares(middlewares: list[Middleware]) -> None:
    """`aclose` every middleware (their pools to auth servers, redis...); a failure is logged, not raised."""
    for middleware in middlewares:
        try:
            await middleware.aclose()
        except Exception as exc:  # closing must never stop a reload or a shutdown
            log.warning("closing middleware %r: %s", middleware, exc)


def _close_later(middlewares: list[Middleware]) -> None:
    """After a reload: close the replaced routes' middlewares on the running loop (they hold nothing
    when no loop ever ran them: their connections are made on first use)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    task = loop.create_task(close_middlewares(middlewares))
    _closing.add(task)
    task.add_done_callback(_closing.discard)


_closing: set[asyncio.Task[None]] = set()
