"""Active and passive health checks of a load balancer's servers (Traefik's pkg/healthcheck).

Active (`healthCheck`): two tasks on the gateway's loop, one ticking every `interval` over the servers last
seen up, one every `unhealthyInterval` (default: `interval`) over those seen down. Every server starts up
and is first checked one interval after the config is applied. A check is one request to the server URL
resolved against `path` (with `scheme`, `port`, `hostname`, `method`, `headers`), within `timeout`; the
server is up when the status is 2xx/3xx, or exactly `status` when set. Redirects are followed (up to 10,
as Go's client) unless `followRedirects = false`. Each failed check is logged at WARNING (Traefik's
"Health check failed."); a server coming back is logged at INFO.

Passive (`passiveHealthCheck`): every answer through a server counts; a 5xx, or a request that never
reached the server, is a failure. `maxFailedAttempts` failures within `failureWindow` take the server out
of the rotation for `failureWindow` (without an active check; with one, the active check brings it back).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from proxy.services.loadbalancer import Balancer
from proxy.services.subrequest import request
from proxy.services.transport import TransportSettings

log = logging.getLogger("proxy.healthcheck")

MAX_REDIRECTS = 10  # Go's http.Client default policy


@dataclass(frozen=True)
class CheckSpec:
    path: str = ""
    scheme: str = ""
    port: int = 0
    hostname: str = ""
    method: str = "GET"
    status: int = 0
    headers: tuple[tuple[str, str], ...] = ()
    follow_redirects: bool = True
    interval: float = 30.0
    unhealthy_interval: float = 30.0
    timeout: float = 5.0


@dataclass
class Target:
    name: str  # the server URL as configured: the balancer's child name
    url: str
    transport: TransportSettings
    last: str = ""  # the last check's outcome, for explanations
    checked: float = 0.0  # time.monotonic() of the last check


def check_target(server_url: str, spec: CheckSpec) -> tuple[str, str]:
    """(URL, Host header) of a check: `path` resolved against the server URL, scheme and port replaced;
    the Host is `hostname` when set, else the URL's host[:port] as written (Go's req.Host)."""
    url = urljoin(server_url, spec.path) if spec.path else server_url.partition("#")[0]
    parts = urlsplit(url)
    if spec.scheme:
        parts = parts._replace(scheme=spec.scheme)
    if spec.port:
        host = parts.hostname or ""
        parts = parts._replace(netloc=f"[{host}]:{spec.port}" if ":" in host else f"{host}:{spec.port}")
    return urlunsplit(parts), spec.hostname or parts.netloc.rpartition("@")[2]


def path_problem(path: str) -> str | None:
    """Why `path` cannot be a health check path (Traefik fails every check then), or None."""
    if path.startswith(":"):
        return f"parsing health check path: {path!r}: missing protocol scheme"
    parts = urlsplit(path)
    if parts.scheme or parts.netloc:
        return f"health check path must be a relative URL, got: {path!r}"
    return None


class ActiveHealthCheck:
    """The checks of one load balancer; `start()` on the running loop, `stop()` cancels them."""

    def __init__(self, balancer: Balancer[Any], spec: CheckSpec, targets: list[Target]) -> None:
        self.balancer = balancer
        self.spec = spec
        self.targets = {t.name: t for t in targets}
        self._healthy: deque[Target] = deque(targets)
        self._unhealthy: deque[Target] = deque()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        name = self.balancer.name
        self._tasks = [
            loop.create_task(self._loop(self._healthy, self.spec.interval), name=f"healthcheck {name}"),
            loop.create_task(
                self._loop(self._unhealthy, self.spec.unhealthy_interval), name=f"healthcheck {name} (unhealthy)"
            ),
        ]

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks = []

    async def _loop(self, targets: deque[Target], interval: float) -> None:
        loop = asyncio.get_running_loop()
        tick = loop.time() + interval
        while True:
            await asyncio.sleep(max(0.0, tick - loop.time()))
            tick += interval
            if tick < loop.time():  # checks took longer than the interval: skip the missed ticks (a ticker)
                tick = loop.time() + interval
            batch = list(targets)
            targets.clear()
            for target in batch:
                error = await self.check(target)
                self._record(target, error)

    def _record(self, target: Target, error: str | None) -> None:
        up = error is None
        target.last = "up" if error is None else error
        target.checked = time.monotonic()
        balancer = self.balancer
        was_up = target.name not in balancer.down
        if not up:
            log.warning("health check of %s (service %s) failed: %s", target.url, balancer.name, error)
        balancer.set_status(target.name, up, f"health check: {error}" if error else "")
        if up and not was_up:
            log.info("server %s of service %s is up again: back in the rotation", target.url, balancer.name)
        elif was_up and not up:
            log.warning("server %s of service %s is down: out of the rotation", target.url, balancer.name)
        (self._healthy if up else self._unhealthy).append(target)

    async def check(self, target: Target) -> str | None:
        """None when the server is healthy, else why not."""
        spec = self.spec
        try:
            async with asyncio.timeout(spec.timeout):
                return await self._check_http(target)
        except TimeoutError:
            return f"no answer within {spec.timeout:g}s"
        except (OSError, ValueError) as exc:
            return f"HTTP request failed: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}"
        except Exception as exc:  # never let one odd answer stop the checks
            log.debug("health check of %s raised", target.url, exc_info=True)
            return f"HTTP request failed: {exc!r}"

    async def _check_http(self, target: Target) -> str | None:
        spec = self.spec
        problem = path_problem(spec.path)
        if problem:
            return problem
        (url, host_header), method = check_target(target.url, spec), spec.method or "GET"
        for hop in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https"):
                return f"unsupported protocol scheme {parts.scheme!r}"
            host = parts.hostname or ""
            port = parts.port or (443 if parts.scheme == "https" else 80)
            if hop:  # a redirect's Location decides the Host, unless `hostname` is set
                host_header = spec.hostname or parts.netloc.rpartition("@")[2]
            headers = {"host": ("Host", host_header), "user-agent": ("User-Agent", "Go-http-client/1.1")}
            for name, value in spec.headers:
                if name.lower() != "host":
                    headers[name.lower()] = (name, value)
            if method != "HEAD":  # Go's transport asks for gzip, except for HEAD
                headers.setdefault("accept-encoding", ("Accept-Encoding", "gzip"))
            target_path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            response = await request(
                parts.scheme == "https", host, port, method, target_path, list(headers.values()), target.transport
            )
            status = response.status
            location = response.header("location")
            if spec.follow_redirects and status in (301, 302, 303, 307, 308) and location:
                url = urljoin(url, location)
                if status in (301, 302, 303) and method not in ("GET", "HEAD"):
                    method = "GET"
                continue
            if spec.status == 0 and not 200 <= status < 400:
                return f"received error status code: {status}"
            if spec.status and spec.status != status:
                return f"received error status code: {status} expected status code: {spec.status}"
            return None
        return f"stopped after {MAX_REDIRECTS} redirects"

    def describe(self) -> list[str]:
        """The servers this check keeps in the rotation (those it took out are in the balancer's health)."""
        now, down = time.monotonic(), self.balancer.down
        return [
            f"{self.balancer.name}: {t.url} is up ("
            + (f"health check {now - t.checked:.1f}s ago)" if t.checked else "not checked yet)")
            for t in self.targets.values()
            if t.name not in down
        ]


@dataclass
class PassiveHealthCheck:
    balancer: Balancer[Any]
    max_failed_attempts: int
    failure_window: float
    has_active: bool
    failures: dict[str, list[float]] = field(default_factory=dict)
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)

    def outcome(self, name: str, outcome: Any) -> None:
        """One exchange through server `name` is over."""
        status = getattr(outcome, "status", 0)
        reached = getattr(outcome, "attempts", 1) > 0
        if reached and status < 500:
            self.failures[name] = []
            return
        now = time.monotonic()
        failures = self.failures.setdefault(name, [])
        failures.append(now)
        start = now - self.failure_window
        while failures and failures[0] <= start:
            failures.pop(0)
        if len(failures) < self.max_failed_attempts or name in self.timers:
            return
        why = f"passive health check: {len(failures)} failed attempt(s) within {self.failure_window:g}s"
        if name not in self.balancer.down:
            log.warning("server %s of service %s is down: %s", name, self.balancer.name, why)
        self.balancer.set_status(name, False, why)
        if self.has_active:
            return  # the active check brings it back
        self.timers[name] = asyncio.get_running_loop().call_later(self.failure_window, self._restore, name)

    def _restore(self, name: str) -> None:
        self.timers.pop(name, None)
        self.balancer.set_status(name, True)
        log.info(
            "server %s of service %s is up again after the passive health check's window", name, self.balancer.name
        )

    def start(self) -> None:
        pass

    def stop(self) -> None:
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()
