"""Dynamic config -> one immutable RouteTable per entry point, with each router's problems recorded.

As in Traefik, a broken router (bad rule, missing service, middleware or entry point) is disabled with its
error while every valid router is served; a broken service or middleware only takes down the routers that
use it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from proxy.config.dynamic import DynamicConfig, RouterTLSConfig, ServersTransportConfig
from proxy.config.dynamic_middlewares import MiddlewareConfig
from proxy.config.static import StaticServersTransportConfig
from proxy.middlewares.base import Middleware
from proxy.middlewares.factory import build_middleware
from proxy.middlewares.passthrough import PassThrough
from proxy.middlewares.prefixrewrite import PrefixRewrite
from proxy.middlewares.snicheck import SNICheck
from proxy.routing.plan import RoutePlan
from proxy.routing.prefixrewrite import with_prefix_rewrite
from proxy.routing.problems import INTERNAL, PROVIDER, BuildError, Problem, did_you_mean, local_name
from proxy.routing.services import ServiceBuilder, service_response_hook
from proxy.routing.table import Route, RouteTable
from proxy.rules import MAX_USER_PRIORITY, RuleSyntaxError, compile_rule, default_priority
from proxy.services.loadbalancer import Picker
from proxy.services.transport import PoolRegistry, TransportSettings

if TYPE_CHECKING:
    from proxy.observability.internal import InternalParts
    from proxy.tls.localca import LocalCA
    from proxy.tls.manager import EntryPointTLS, TLSManager

__all__ = [
    "PROVIDER",
    "BuildError",
    "BuildResult",
    "EntryPointInfo",
    "Problem",
    "RuntimeBuilder",
    "local_name",
    "transport_settings",
]

Built = TypeVar("Built")  # what _build_or_error's build gives: a Picker or a Middleware


def transport_settings(config: ServersTransportConfig | StaticServersTransportConfig, **more: Any) -> TransportSettings:
    """The keys the static default transport (serversTransport) and a dynamic serversTransports entry
    share, prepared; `more` adds what only the dynamic one has (serverName, certificates, ...)."""
    timeouts = config.forwarding_timeouts
    return TransportSettings(
        dial_timeout=timeouts.dial_timeout,
        response_header_timeout=timeouts.response_header_timeout,
        idle_conn_timeout=timeouts.idle_conn_timeout,
        max_idle_conns_per_host=max(config.max_idle_conns_per_host, 0),  # negative: no connection reuse
        insecure_skip_verify=config.insecure_skip_verify,
        root_cas=tuple(config.root_c_as),
        **more,
    )


@dataclass(frozen=True, slots=True)
class EntryPointInfo:
    """What the builder needs to know of an entry point from the static config."""

    name: str
    middlewares: tuple[str, ...] = ()
    as_default: bool = False
    tls: RouterTLSConfig | None = None  # http.tls: the TLS of its routers that have none
    redirect: EntryPointRedirect | None = None  # http.redirections.entryPoint, resolved


@dataclass(frozen=True, slots=True)
class EntryPointRedirect:
    """http.redirections.entryPoint: a catch-all router answering with a redirectScheme (Traefik's internal
    provider builds `<ep>-to-<to>@internal` with the middleware `redirect-<ep>-to-<to>@internal`)."""

    to: str
    scheme: str
    port: str
    permanent: bool
    priority: int
    acme_bypass: bool = False


@dataclass
class BuildResult:
    tables: dict[str, RouteTable]
    problems: list[Problem] = field(default_factory=list)
    routers: dict[str, RoutePlan] = field(default_factory=dict)  # enabled routers by qualified name
    middlewares: list[Middleware] = field(default_factory=list)  # every instance built (to close later)
    services: dict[str, Picker] = field(default_factory=dict)  # built services by name
    # What runs beside the routes while this config is applied: health checks, mirror copies (start/stop).
    background: list[Any] = field(default_factory=list)
    # Routers with TLS, served on TLS connections only, per entry point; and how those connections are made.
    tls_tables: dict[str, RouteTable] = field(default_factory=dict)
    tls: dict[str, EntryPointTLS] = field(default_factory=dict)


def _domains(rule: str) -> list[str]:
    """The Host names of a rule (for TLS); a v2 rule the v3 parser refuses gives none."""
    from proxy.tls.manager import rule_domains

    try:
        return rule_domains(rule)
    except RuleSyntaxError:
        return []


def _child_services(config: Any) -> list[str]:
    """The services a service of services sends to (weighted, highestRandomWeight, failover, mirroring)."""
    for section in (config.weighted, config.highest_random_weight):
        if section is not None:
            return [child.name for child in section.services]
    if config.failover is not None:
        return [config.failover.service, config.failover.fallback]
    if config.mirroring is not None:
        return [config.mirroring.service, *(mirror.name for mirror in config.mirroring.mirrors)]
    return []


class RuntimeBuilder(ServiceBuilder):
    def __init__(
        self,
        config: DynamicConfig,
        entry_points: Sequence[EntryPointInfo],
        pools: PoolRegistry,
        service_overrides: Mapping[str, str] | None = None,
        default_transport: TransportSettings | BuildError | None = None,
        default_rule_syntax: str = "v3",
        middleware_overrides: Mapping[str, MiddlewareConfig | None] | None = None,
        internal: InternalParts | None = None,
        *,
        local_ca: LocalCA | None = None,
        resolvers: frozenset[str] | None = None,
        rewrite_prefix: Callable[[], PrefixRewrite] | None = None,
    ) -> None:
        self.http = config.http
        self.rewrite_prefix = rewrite_prefix  # the gateway-wide prefixRewrite: a fresh one per stripping router
        self.internal = internal  # Traefik's internal provider: routers, middlewares, services (observability)
        self.default_rule_syntax = default_rule_syntax
        self.tls_section = config.tls
        self.local_ca = local_ca
        self.resolvers = resolvers
        self._tls: TLSManager | None = None
        self.default_transport = default_transport or TransportSettings()
        self.entry_points = {ep.name: ep for ep in entry_points}
        self.pools = pools
        self.overrides = dict(service_overrides or {})
        self.middleware_overrides = dict(middleware_overrides or {})  # None: a pass-through
        self.problems: list[Problem] = []
        self._services: dict[str, Picker | BuildError] = {}
        self._middlewares: dict[str, Middleware | BuildError] = {}
        self.built: list[Middleware] = []  # every instance made, for the gateway to close
        self._resolving: list[str] = []
        self.background: list[Any] = []
        # The router being built's own instances of per-router middlewares (None between routers).
        self._router_scope: dict[str, Middleware] | None = None

    def build(self) -> BuildResult:
        routes: dict[str, list[Route]] = {name: [] for name in self.entry_points}
        tls_routes: dict[str, list[Route]] = {}
        tls_routers: dict[str, list[tuple[str, list[str], str]]] = {}
        plans: dict[str, RoutePlan] = {}
        self._redirect_routes(routes, tls_routes, tls_routers)
        checked = self._sni_checked_entry_points()
        sni_checks: dict[tuple[str, str], SNICheck] = {}  # (entry point, router) -> its check
        internal_routers = self.internal.routers.items() if self.internal is not None else ()
        for qualified, router in [
            *((f"{n}@{PROVIDER}", r) for n, r in self.http.routers.items()),
            *((f"{n}@{INTERNAL}", r) for n, r in internal_routers),
        ]:
            try:
                eps = self._router_entry_points(qualified, router.entry_points)
                rule = (
                    compile_rule(router.rule, self._rule_syntax(qualified, router.rule_syntax)) if router.rule else None
                )
                if rule is None:
                    raise BuildError("the rule is missing")
                if not router.service:
                    raise BuildError("the service is missing on the router")
                service = self.service(router.service)
            except (BuildError, RuleSyntaxError) as exc:
                self.problems.append(Problem("router", qualified, str(exc)))
                continue
            priority = router.priority or default_priority(router.rule)
            if priority > MAX_USER_PRIORITY and not qualified.endswith(f"@{INTERNAL}"):  # as Traefik's router manager
                self.problems.append(
                    Problem(
                        "router",
                        qualified,
                        f"the router priority {priority} exceeds the max user-defined priority {MAX_USER_PRIORITY}",
                    )
                )
                continue
            self._router_scope = {}
            for ep_name in eps:
                tls = router.tls or self.entry_points[ep_name].tls
                try:
                    chain = self._router_middlewares(ep_name, router.middlewares)
                    chain, rewrite_warnings = with_prefix_rewrite(chain, service, self.rewrite_prefix)
                    tls_options = self._router_tls(qualified, router.rule, tls) if tls is not None else ""
                except BuildError as exc:
                    self.problems.append(Problem("router", qualified, str(exc)))
                    continue
                for warning in rewrite_warnings if ep_name == eps[0] else ():
                    self.problems.append(Problem("router", qualified, warning, level="warning"))
                if isinstance(service, Middleware):  # an internal service answers at the end of the plan
                    chain.append((local_name(router.service), service))
                if tls is not None and ep_name in checked:
                    check = sni_checks[(ep_name, qualified)] = SNICheck(qualified, tls_options)
                    chain = [("snicheck@internal", check), *chain]  # before every middleware, as in Traefik
                plan = RoutePlan.build(
                    qualified,
                    chain,
                    service,
                    local_name(router.service),
                    self._overrides_used(ep_name, router.middlewares, router.service)
                    + (
                        (f"certResolver {tls.cert_resolver}: certificate from the local CA",)
                        if tls and tls.cert_resolver
                        else ()
                    ),
                )
                mirror_body_limit: int = getattr(service, "mirror_body_limit", 0)  # mirroring copies request bodies
                if mirror_body_limit:
                    plan = dataclasses.replace(plan, keep_body=mirror_body_limit)
                hook = service_response_hook(service)
                if hook is not None:  # sticky cookies, time to first byte: innermost of the response hooks
                    plan = plan.with_service_hook(hook)
                plans.setdefault(qualified, plan)
                if tls is None:
                    routes[ep_name].append(Route(qualified, priority, rule, plan))
                else:
                    tls_routes.setdefault(ep_name, []).append(Route(qualified, priority, rule, plan))
                    tls_routers.setdefault(ep_name, []).append((qualified, _domains(router.rule), tls_options))
            self._router_scope = None
        self._report_unused()
        if self.tls_section is not None:  # its certificates and options are checked even when no router uses them
            try:
                self._tls_manager()
            except BuildError as exc:
                self.problems.append(Problem("tls", "tls", str(exc)))
        tables = {name: RouteTable(entries) for name, entries in routes.items()}
        services = {name: built for name, built in self._services.items() if not isinstance(built, BuildError)}
        result = BuildResult(
            tables, self.problems, plans, middlewares=self.built, services=services, background=self._running(plans)
        )
        for ep_name in sorted({*tls_routes, *(ep.name for ep in self.entry_points.values() if ep.tls is not None)}):
            try:
                manager = self._tls_manager()
            except BuildError as exc:
                self.problems.append(Problem("entryPoint", ep_name, str(exc)))
                continue
            assert manager is not None
            result.tls_tables[ep_name] = RouteTable(tls_routes.get(ep_name, []))
            result.tls[ep_name] = manager.entry_point(ep_name, tls_routers.get(ep_name, []))
            for conflicting in result.tls[ep_name].conflicting:  # Traefik serves them with the default options
                if (ep_name, conflicting) in sni_checks:
                    sni_checks[(ep_name, conflicting)].options = "default"
        if self._tls is not None:
            self.problems.extend(Problem(p.kind, p.name, p.message, p.level) for p in self._tls.problems)
        return result

    # -- TLS ----------------------------------------------------------------------------------------
    def _sni_checked_entry_points(self) -> set[str]:
        """Entry points where a TLS router has options other than `default`: there, as in Traefik, each
        TLS router checks that the connection was made with its options (421 otherwise)."""
        found: set[str] = set()
        defined = set(self.tls_section.options) if self.tls_section is not None else set()
        for router in self.http.routers.values():
            names = (
                router.entry_points
                or [ep.name for ep in self.entry_points.values() if ep.as_default]
                or list(self.entry_points)
            )
            for ep_name in names:
                ep = self.entry_points.get(ep_name)
                tls = router.tls or (ep.tls if ep is not None else None)
                name = tls.options.partition("@")[0] if tls is not None else ""
                if name not in ("", "default") and name in defined:  # else the router is disabled anyway
                    found.add(ep_name)
        return found

    def _tls_manager(self) -> TLSManager | None:
        """The configuration's TLS manager, made when a router or entry point first needs it."""
        if self._tls is None:
            try:
                from proxy.tls.manager import TLSManager
            except ImportError as exc:  # cryptography missing
                raise BuildError(f"TLS needs the `tls` extra (pip install 'stripproxy[tls]'): {exc}") from None
            self._tls = TLSManager(self.tls_section, self.local_ca, self.resolvers)
        return self._tls

    def _router_tls(self, router: str, rule: str, tls: RouterTLSConfig) -> str:
        """Check a TLS router's options and certificate resolver; its resolved options name."""
        manager = self._tls_manager()
        assert manager is not None
        try:
            options = manager.resolve_options(tls.options)
        except ValueError as exc:
            raise BuildError(str(exc)) from None
        if tls.cert_resolver:
            if self.resolvers is not None and tls.cert_resolver not in self.resolvers:
                self.problems.append(
                    Problem(
                        "router",
                        router,
                        f"router uses a nonexistent certificate resolver {tls.cert_resolver!r}; served by the local CA",
                        level="warning",
                    )
                )
            names = [n for domain in tls.domains for n in domain.names()] or _domains(rule)
            try:
                manager.resolver_certificate(tls.cert_resolver, names)
            except ValueError as exc:
                raise BuildError(str(exc)) from None
        return options

    def _redirect_routes(
        self,
        routes: dict[str, list[Route]],
        tls_routes: dict[str, list[Route]],
        tls_routers: dict[str, list[tuple[str, list[str], str]]],
    ) -> None:
        from proxy.middlewares.noop import NoopAnswer, NoService
        from proxy.middlewares.redirectscheme import RedirectScheme

        for ep in self.entry_points.values():
            redirect = ep.redirect
            if redirect is None:
                continue
            name = f"{ep.name}-to-{redirect.to}"
            qualified = f"{name}@internal"
            rule_text = "HostRegexp(`^.+$`)"
            if redirect.acme_bypass:
                rule_text += " && !PathPrefix(`/.well-known/acme-challenge/`)"
            middleware = RedirectScheme(redirect.scheme, redirect.port, redirect.permanent)
            try:
                chain = [
                    *self._router_middlewares(ep.name, []),
                    (f"redirect-{name}@internal", middleware),
                    ("noop@internal", NoopAnswer()),
                ]
                options = self._router_tls(qualified, rule_text, ep.tls) if ep.tls is not None else ""
            except BuildError as exc:
                self.problems.append(Problem("router", qualified, str(exc)))
                continue
            plan = RoutePlan.build(qualified, chain, NoService(), "noop@internal")
            route = Route(qualified, redirect.priority, compile_rule(rule_text), plan)
            if ep.tls is None:
                routes[ep.name].append(route)
            else:
                tls_routes.setdefault(ep.name, []).append(route)
                tls_routers.setdefault(ep.name, []).append((qualified, [], options))

    def _report_unused(self) -> None:
        """Build what no router used too, so that its problems are reported (building records them)."""
        for build, names in ((self.service, self.http.services), (self.middleware, self.http.middlewares)):
            for name in names:
                try:
                    build(name)
                except BuildError:
                    pass  # already in self.problems

    # -- routers ------------------------------------------------------------------------------------
    def _rule_syntax(self, router: str, syntax: str) -> str:
        """The router's ruleSyntax, else core.defaultRuleSyntax; like Traefik, anything but v2 reads as v3."""
        if syntax in ("", "default"):
            return self.default_rule_syntax
        if syntax not in ("v2", "v3"):
            self.problems.append(
                Problem(
                    "router",
                    router,
                    f"ruleSyntax {syntax!r} is neither v2 nor v3: the rule is read as v3 (as Traefik does)",
                    level="warning",
                )
            )
        return syntax

    def _router_entry_points(self, router: str, names: list[str]) -> list[str]:
        if not names:
            defaults = [ep.name for ep in self.entry_points.values() if ep.as_default]
            return defaults or list(self.entry_points)
        found = [name for name in names if name in self.entry_points]
        for name in names:
            if name not in self.entry_points:
                self.problems.append(
                    Problem(
                        "router",
                        router,
                        f"entryPoint {name!r} doesn't exist{did_you_mean(name, self.entry_points)}",
                        level="error" if not found else "warning",
                    )
                )
        if not found:
            raise BuildError("no valid entryPoint for this router")
        return found

    def _router_middlewares(self, ep_name: str, names: list[str]) -> list[tuple[str, Middleware]]:
        chain = []
        for ref in (*self.entry_points[ep_name].middlewares, *names):
            chain.append((local_name(ref), self.middleware(ref)))
        return chain

    def _overrides_used(self, ep_name: str, middlewares: list[str], service: str) -> tuple[str, ...]:
        """What test overrides a router's plan has in it, in words, for the exchange record and explain()."""
        used: list[str] = []
        services: list[str] = []
        names = [local_name(ref) for ref in (*self.entry_points[ep_name].middlewares, *middlewares)]
        while names:
            name = names.pop(0)
            config = self.http.middlewares.get(name)
            if name in self.middleware_overrides:
                used.append(f"middleware {name}: {_override_words(config, self.middleware_overrides[name])}")
                config = self.middleware_overrides[name]
            elif config is not None and config.chain is not None:
                names[:0] = [local_name(ref) for ref in config.chain.middlewares]
            if config is not None and config.errors is not None and config.errors.service:
                services.append(local_name(config.errors.service))  # an errors page's service, overridden too
        services.append(local_name(service))
        while services:
            name = services.pop(0)
            if name in self.overrides:
                used.append(f"service {name} -> {self.overrides[name]}")
            service_config = self.http.services.get(name)
            if service_config is not None:
                services += [local_name(child) for child in _child_services(service_config)]
        return tuple(used)

    # -- services -----------------------------------------------------------------------------------
    def service(self, reference: str) -> Picker:
        """The built service named `reference` (memoised); raises BuildError, recorded once."""
        name = local_name(reference)
        cached = self._services.get(name)
        if cached is None and name.endswith(f"@{INTERNAL}"):
            cached = self._services[name] = self._internal_service(name)
        if cached is None:
            cached = self._services[name] = self._build_or_error(name, "service", self._build_service)
        if isinstance(cached, BuildError):
            raise cached
        return cached

    def _internal_service(self, name: str) -> Picker | BuildError:
        found = self.internal.services.get(name) if self.internal is not None else None
        if found is None:
            known = ("api@internal", "dashboard@internal", "ping@internal", "prometheus@internal", "noop@internal")
            return BuildError(
                f"{name.partition('@')[0]} is not enabled"
                if name in known
                else f"unknown internal service {name}{did_you_mean(name, known)}"
            )
        return found

    def _transport(self, reference: str) -> TransportSettings:
        if not reference or reference == "default@internal":
            if isinstance(self.default_transport, BuildError):  # the static serversTransport asks for what we lack
                raise self.default_transport
            return self.default_transport
        config: ServersTransportConfig | None = self.http.servers_transports.get(local_name(reference))
        if config is None:
            raise BuildError(
                f"serversTransport {reference!r} does not exist{did_you_mean(reference, self.http.servers_transports)}"
            )
        if config.spiffe is not None:
            raise BuildError(f"serversTransport {reference!r}: spiffe is not supported by stripproxy")
        sans = [(san.type, san.value) for san in config.peer_cert_sans]
        for index, san in enumerate(sans):
            kind = {"uri": "URI", "dnsname": "DNS"}.get(san[0].lower())
            if kind is None:
                raise BuildError(
                    f"serversTransport {reference!r}: peerCertSANs[{index}]: unknown type "
                    f"{san[0]!r} (use URI or DNSName)"
                )
            sans[index] = (kind, san[1])
        if config.peer_cert_uri:
            sans.append(("URI", config.peer_cert_uri))
        settings = transport_settings(
            config,
            server_name=config.server_name,
            certificates=tuple((c.cert_file, c.key_file) for c in config.certificates),
            peer_cert_sans=tuple(sans),
            min_version=config.min_version,
            max_version=config.max_version,
            cipher_suites=tuple(config.cipher_suites),
        )
        if (
            settings.root_cas
            or settings.certificates
            or settings.min_version
            or settings.max_version
            or settings.cipher_suites
        ):
            try:
                settings.ssl_context()  # checked once here: a broken transport breaks its services
            except ValueError as exc:
                raise BuildError(f"serversTransport {reference!r}: {exc}") from None
        return settings

    # -- middlewares --------------------------------------------------------------------------------
    def middleware(self, reference: str) -> Middleware:
        name = local_name(reference)
        cached = self._middlewares.get(name)
        if cached is None:
            cached = self._middlewares[name] = self._build_or_error(name, "middleware", self._build_middleware)
        if isinstance(cached, BuildError):
            raise cached
        scope = self._router_scope
        if cached.per_router and scope is not None:
            own = scope.get(name)
            if own is None:  # the first build (cached) checked the config; this one is the router's own
                own = scope[name] = self._build_middleware(name)
            return own
        return cached

    def _build_middleware(self, name: str) -> Middleware:
        if name.endswith(f"@{INTERNAL}") and self.internal is not None:
            config = self.internal.middlewares.get(name.partition("@")[0])
        else:
            config = self.http.middlewares.get(name)
        if name in self.middleware_overrides:  # a test's replacement, checked against the file's names
            config = self.middleware_overrides[name]
            if config is None:
                return PassThrough()
        if config is None:
            internal = name.endswith(f"@{INTERNAL}")
            known = (
                [f"{n}@{INTERNAL}" for n in (self.internal.middlewares if self.internal else ())]
                if internal
                else self.http.middlewares
            )
            raise BuildError(f"middleware {name!r} does not exist{did_you_mean(name, known)}")
        try:
            kind = config.type_name()
        except ValueError as exc:
            raise BuildError(str(exc)) from None
        if not config.is_supported:
            raise BuildError(f"middleware type {kind!r} is not supported by stripproxy")
        try:
            built = build_middleware(
                kind, config.options(), self.middleware, f"{name}@{PROVIDER}", service=self.service
            )
        except ValueError as exc:
            raise BuildError(f"{kind}: {exc}") from None
        self.built.append(built)
        for unused in built.warnings:
            self.problems.append(Problem("middleware", f"{name}@{PROVIDER}", f"{kind}: {unused}", level="warning"))
        return built

    def _build_or_error(self, name: str, kind: str, build: Callable[[str], Built]) -> Built | BuildError:
        key = f"{kind}:{name}"
        if key in self._resolving:
            cycle = " -> ".join([*self._resolving[self._resolving.index(key) :], key])
            return BuildError(f"recursion detected: {cycle}")
        self._resolving.append(key)
        try:
            return build(name)
        except BuildError as exc:
            if kind in ("service", "middleware") and (
                (kind == "service" and name in self.http.services)
                or (kind == "middleware" and name in self.http.middlewares)
            ):
                self.problems.append(Problem(kind, f"{name}@{PROVIDER}", str(exc)))
                return BuildError(f"{kind} {name!r} is broken: {exc}")
            return exc
        finally:
            self._resolving.pop()


def _override_words(original: MiddlewareConfig | None, override: MiddlewareConfig | None) -> str:
    """ "pass-through", "replaced", or the options a test changed ("forwardAuth.address -> 'http://...'")."""
    if override is None:
        return "pass-through"
    if original is None or original.type_name() != override.type_name():
        return "replaced"
    kind = override.type_name()
    before = original.model_dump(by_alias=True).get(kind) or {}
    after = override.model_dump(by_alias=True).get(kind) or {}
    changed = [f"{kind}.{key} -> {value!r}" for key, value in after.items() if before.get(key) != value]
    return ", ".join(changed) if changed else "replaced"
