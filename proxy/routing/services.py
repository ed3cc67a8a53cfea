"""Building the services of the dynamic config (Traefik's pkg/server/service/service.go), as a part of the
RuntimeBuilder: load balancers with their strategy, sticky cookie and health checks, and the services of
services (weighted, highestRandomWeight, failover, mirroring) with health status propagation.

Errors follow Traefik's wording where it has one (`cannot register X as updater for Y: healthCheck not
enabled in config for this WRR service`); what stripproxy parses but does not do is a warning."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from proxy.config.dynamic import LoadBalancerConfig, ServerHealthCheckConfig, StickyConfig
from proxy.message import HeaderList, RequestHead
from proxy.middlewares.base import Middleware
from proxy.routing.problems import PROVIDER, BuildError, Problem, did_you_mean
from proxy.services.composite import Failover, Mirroring
from proxy.services.healthcheck import ActiveHealthCheck, CheckSpec, PassiveHealthCheck, Target, path_problem
from proxy.services.loadbalancer import (
    LoadBalancer,
    Picker,
    ServerPicking,
    UpstreamServer,
    WeightedBalancer,
    parse_server_url,
)
from proxy.services.sticky import Sticky, add_set_cookies, cookie_name
from proxy.services.strategies import STRATEGIES, HRWService, LeastTime

if TYPE_CHECKING:
    from proxy.config.dynamic import HTTPConfig
    from proxy.services.transport import PoolRegistry, TransportSettings

DEFAULT_INTERVAL, DEFAULT_TIMEOUT = 30.0, 5.0


def walk(picker: Any) -> Iterator[Any]:
    """`picker` and every service below it."""
    yield picker
    for child in (*getattr(picker, "children", ()), *(m.picker for m in getattr(picker, "mirrors", ()))):
        yield from walk(child)
    for attribute in ("main", "fallback"):
        child = getattr(picker, attribute, None)
        if child is not None:
            yield from walk(child)


class ServiceResponseHook(Middleware):
    """What a service adds to the response head: its sticky cookies; leasttime's time to first byte."""

    has_request_hook = False
    has_response_hook = True

    def __init__(self, cookies: bool, timed: list[LeastTime[Any]]) -> None:
        self.cookies = cookies
        self.timed = tuple(timed)

    def on_response(self, req: RequestHead, status: int, headers: HeaderList) -> None:
        for balancer in self.timed:
            balancer.first_byte(req)
        if self.cookies and req.set_cookies is not None:
            add_set_cookies(req, headers)


def service_response_hook(service: Picker) -> ServiceResponseHook | None:
    timed = [p for p in walk(service) if isinstance(p, LeastTime)]
    if not service.writes_cookies and not timed:
        return None
    return ServiceResponseHook(service.writes_cookies, timed)


class ServiceBuilder:
    """The service half of RuntimeBuilder (which provides the attributes below)."""

    http: HTTPConfig
    pools: PoolRegistry
    overrides: dict[str, str]
    problems: list[Problem]
    background: list[Any]

    def service(self, reference: str) -> Picker:
        raise NotImplementedError

    def _transport(self, reference: str) -> TransportSettings:
        raise NotImplementedError

    def _warn(self, name: str, message: str) -> None:
        self.problems.append(Problem("service", f"{name}@{PROVIDER}", message, level="warning"))

    def _build_service(self, name: str) -> Picker:
        config = self.http.services.get(name)
        if config is None:
            raise BuildError(f"the service {name!r} does not exist{did_you_mean(name, self.http.services)}")
        try:
            kind = config.type_name()
        except ValueError as exc:
            raise BuildError(str(exc)) from None
        if config.middlewares:
            raise BuildError("service-level middlewares are not supported by stripproxy")
        if kind == "loadBalancer" and config.load_balancer is not None:  # the kind says it is set
            return self._load_balancer(name, config.load_balancer)
        if kind == "weighted":
            return self._weighted(name, config.weighted)
        if kind == "highestRandomWeight":
            return self._hrw(name, config.highest_random_weight)
        if kind == "failover":
            return self._failover(name, config.failover)
        if kind == "mirroring":
            return self._mirroring(name, config.mirroring)
        raise BuildError(f"service type {kind!r} is not supported by stripproxy")

    # -- loadBalancer -------------------------------------------------------------------------------
    def _load_balancer(self, name: str, config: LoadBalancerConfig) -> Picker:
        transport = self._transport(config.servers_transport)
        override = self.overrides.get(name)
        servers_config = (
            [(override, 1, False, False)]
            if override
            else [
                (
                    server.url,
                    1 if server.weight is None else server.weight,
                    server.preserve_path,
                    server.weight is not None,
                )
                for server in config.servers
            ]
        )
        servers, weights = [], []
        for index, (url, weight, preserve_path, _) in enumerate(servers_config):
            try:
                scheme, host, port, host_header, path = parse_server_url(url)
            except ValueError as exc:
                raise BuildError(f"servers[{index}]: {exc}") from None
            pool = self.pools.get(host, port, scheme == "https", transport)
            servers.append(
                UpstreamServer(
                    url=url,
                    pool=pool,
                    host_header=host_header,
                    base_path=path if preserve_path else "",
                    pass_host_header=config.pass_host_header,
                    response_header_timeout=transport.response_header_timeout,
                    service=name,
                )
            )
            weights.append(weight)
        if not servers:
            raise BuildError("the load balancer has no servers")
        strategy = config.strategy or "wrr"
        if strategy != "wrr" and strategy not in STRATEGIES:
            raise BuildError(f"unsupported load-balancer strategy {strategy!r}")
        if config.health_check is not None and config.health_check.mode == "grpc":
            raise BuildError(
                "healthCheck.mode 'grpc' is not supported by stripproxy (gRPC needs HTTP/2); "
                "use mode 'http' with an HTTP health endpoint"
            )
        sticky = self._sticky(name, config.sticky)
        if strategy == "hrw" and sticky is not None:
            self._warn(
                name, "loadBalancer.sticky is ignored with strategy 'hrw' (as in Traefik): the client's IP decides"
            )
            sticky = None
        if strategy == "p2c" and any(explicit for *_, explicit in servers_config):
            self._warn(name, "loadBalancer.servers[].weight is ignored by strategy 'p2c' (as in Traefik)")
        options: dict[str, Any] = {"wants_health_check": config.health_check is not None, "sticky": sticky}
        lb: ServerPicking = (
            LoadBalancer(name, servers, weights, **options)
            if strategy == "wrr"
            else STRATEGIES[strategy](name, servers, weights, **options)
        )
        if config.health_check is not None:
            spec = self._check_spec(name, config.health_check)
            targets = [Target(server.url, server.url, transport) for server in servers]
            self.background.append((name, ActiveHealthCheck(lb, spec, targets)))
        passive = config.passive_health_check
        if passive is not None:
            lb.passive = PassiveHealthCheck(
                lb, passive.max_failed_attempts, passive.failure_window, has_active=config.health_check is not None
            )
            lb.finish()  # the lone-server shortcut is off: every exchange is watched
            self.background.append((name, lb.passive))
        return lb

    def _sticky(self, name: str, config: StickyConfig | None) -> Sticky[Any] | None:
        if config is None or config.cookie is None:
            return None
        cookie = config.cookie
        return Sticky(
            cookie_name(cookie.name, f"{name}@{PROVIDER}"),
            secure=cookie.secure,
            http_only=cookie.http_only,
            same_site=cookie.same_site,
            max_age=cookie.max_age,
            path=cookie.path,
            domain=cookie.domain,
        )

    def _check_spec(self, name: str, config: ServerHealthCheckConfig) -> CheckSpec:
        interval, timeout = config.interval, config.timeout
        if interval <= 0:
            self._warn(
                name,
                f"healthCheck.interval {interval:g}s is not positive: {DEFAULT_INTERVAL:g}s is used (as in Traefik)",
            )
            interval = DEFAULT_INTERVAL
        unhealthy = interval if config.unhealthy_interval is None else config.unhealthy_interval
        if unhealthy <= 0:
            self._warn(
                name,
                f"healthCheck.unhealthyInterval {unhealthy:g}s is not positive: "
                f"{DEFAULT_INTERVAL:g}s is used (as in Traefik)",
            )
            unhealthy = DEFAULT_INTERVAL
        if timeout <= 0:
            self._warn(
                name, f"healthCheck.timeout {timeout:g}s is not positive: {DEFAULT_TIMEOUT:g}s is used (as in Traefik)"
            )
            timeout = DEFAULT_TIMEOUT
        problem = path_problem(config.path)
        if problem:
            self._warn(name, f"healthCheck.path: {problem}: every check fails and the servers go down (as in Traefik)")
        return CheckSpec(
            path=config.path,
            scheme=config.scheme,
            port=config.port,
            hostname=config.hostname,
            method=config.method or "GET",
            status=config.status,
            headers=tuple(config.headers.items()),
            follow_redirects=config.follow_redirects,
            interval=interval,
            unhealthy_interval=unhealthy,
            timeout=timeout,
        )

    # -- services of services -----------------------------------------------------------------------
    def _children(self, children: list[Any]) -> list[tuple[str, Picker, int]]:
        built = []
        for child in children:
            try:
                service = self.service(child.name)
            except BuildError as exc:
                raise BuildError(f"building HTTP service {child.name!r}: {exc}") from None
            built.append((child.name, service, child.weight))
        return built

    def _register(self, parent: str, child_name: str, child: Picker, fn: Any) -> None:
        try:
            child.register_status_updater(fn)
        except ValueError as exc:
            raise BuildError(f"cannot register {child_name} as updater for {parent}@{PROVIDER}: {exc}") from None

    def _propagate(self, name: str, balancer: Any, children: list[tuple[str, Picker, int]]) -> None:
        for child_name, child, _ in children:
            self._register(
                name, child_name, child, lambda up, child_name=child_name: balancer.set_status(child_name, up)
            )

    def _weighted(self, name: str, config: Any) -> Picker:
        children = self._children(config.services)
        balancer = WeightedBalancer(
            name, children, wants_health_check=config.health_check is not None, sticky=self._sticky(name, config.sticky)
        )
        if config.health_check is not None:
            self._propagate(name, balancer, children)
        return balancer

    def _hrw(self, name: str, config: Any) -> Picker:
        children = self._children(config.services)
        balancer = HRWService(name, children, wants_health_check=config.health_check is not None)
        if config.health_check is not None:
            self._propagate(name, balancer, children)
        return balancer

    def _failover(self, name: str, config: Any) -> Picker:
        if config.errors is not None and config.errors.status:
            raise BuildError(
                "failover.errors is not supported by stripproxy (sending a request again to the "
                "fallback after the main service answered needs a held request body)"
            )
        main = self.service(config.service)
        fallback = self.service(config.fallback)
        failover = Failover(name, main, fallback, wants_health_check=config.health_check is not None)
        self._register(name, config.service, main, failover.set_main_status)
        if config.health_check is not None:  # else the fallback's health is not followed (as Traefik)
            self._register(name, config.fallback, fallback, failover.set_fallback_status)
        return failover

    def _mirroring(self, name: str, config: Any) -> Picker:
        main = self.service(config.service)
        mirrors = []
        for index, mirror in enumerate(config.mirrors):
            if not 0 <= mirror.percent <= 100:
                raise BuildError(f"mirrors[{index}]: percent must be between 0 and 100")
            mirrors.append((self.service(mirror.name), mirror.percent))
        service = Mirroring(
            name,
            main,
            mirrors,
            wants_health_check=config.health_check is not None,
            mirror_body=config.mirror_body,
            max_body_size=config.max_body_size,
        )
        self.background.append((name, service))
        return service

    def _running(self, plans: dict[str, Any]) -> list[Any]:
        """The background work of the services routers use (Traefik builds no other)."""
        used = {picker.name for plan in plans.values() for picker in walk(plan.service)}
        return [work for service, work in self.background if service in used]


__all__ = ["ServiceBuilder", "ServiceResponseHook", "service_response_hook", "walk"]
