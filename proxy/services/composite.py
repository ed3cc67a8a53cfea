"""The `failover` and `mirroring` services (Traefik's pkg/server/service/loadbalancer/{failover,mirror}).

failover: the main service while it is up (as its health check reports), else the fallback while that is up
(the fallback's health is followed only with `healthCheck` on the failover), else 503 `Service Unavailable`.

mirroring: the main service answers; once its exchange is over (and the client did not leave), each mirror
whose share is due (`percent`, counted over the requests seen, as Traefik counts) gets a copy of the request
as it went upstream, in the background. Copies never delay or change the main answer: their responses are
read and dropped, at most MAX_IN_FLIGHT copies are on their way at a time (more are dropped and counted),
each within MIRROR_TIMEOUT. stripproxy does not hold request bodies for mirrors: a request with a body is
not mirrored (Traefik's behaviour for a body over `maxBodySize`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from proxy.message import HeaderList, RequestHead
from proxy.services.loadbalancer import NoServerAvailable, Picker, UpstreamServer, add_end_hook
from proxy.services.subrequest import request

log = logging.getLogger("proxy.services")

MAX_IN_FLIGHT = 64
MIRROR_TIMEOUT = 30.0
MIRROR_BODY_CAP = 16 * 1024 * 1024  # bytes of request body kept for mirrors when maxBodySize is unbounded


@dataclass
class _Mirror:
    picker: Picker
    percent: int
    sent: int = 0


class Failover:
    def __init__(self, name: str, main: Picker, fallback: Picker, *, wants_health_check: bool) -> None:
        self.name = name
        self.main = main
        self.fallback = fallback
        self.wants_health_check = wants_health_check
        self.writes_cookies = main.writes_cookies or fallback.writes_cookies
        self.main_up = True
        self.fallback_up = True
        self._updaters: list[Callable[[bool], None]] = []

    def pick(self, req: RequestHead) -> UpstreamServer:
        if self.main_up:
            return self.main.pick(req)
        if self.fallback_up:
            return self.fallback.pick(req)
        raise NoServerAvailable(self.name, "Service Unavailable\n")

    def set_main_status(self, up: bool) -> None:
        if up != self.main_up:
            self.main_up = up
            self._propagate()

    def set_fallback_status(self, up: bool) -> None:
        if up != self.fallback_up:
            self.fallback_up = up
            self._propagate()

    def _propagate(self) -> None:
        for fn in self._updaters:
            fn(self.main_up or self.fallback_up)

    def register_status_updater(self, fn: Callable[[bool], None]) -> None:
        if not self.wants_health_check:
            raise ValueError("healthCheck not enabled in config for this failover service")
        self._updaters.append(fn)

    def health(self) -> list[str]:
        lines = [f"{self.name}: main service {self.main.name} is down"] if not self.main_up else []
        if not self.fallback_up:
            lines.append(f"{self.name}: fallback service {self.fallback.name} is down")
        return lines + self.main.health() + self.fallback.health()


class Mirroring:
    def __init__(
        self,
        name: str,
        main: Picker,
        mirrors: Sequence[tuple[Picker, int]],
        *,
        wants_health_check: bool,
        mirror_body: bool = True,
        max_body_size: int = -1,
    ) -> None:
        self.name = name
        self.mirror_body = mirror_body
        # Request body bytes the exchange keeps for the copies (RoutePlan.keep_body): maxBodySize, or our cap
        # when Traefik's default (-1) leaves it unbounded; a larger body is not mirrored, as Traefik does.
        self.mirror_body_limit = (max_body_size if max_body_size >= 0 else MIRROR_BODY_CAP) if mirror_body else 0
        self.main = main
        self.mirrors = [_Mirror(picker, percent) for picker, percent in mirrors]
        self.wants_health_check = wants_health_check
        self.writes_cookies = main.writes_cookies
        self.total = 0
        self.dropped = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def pick(self, req: RequestHead) -> UpstreamServer:
        self.total += 1
        due = []
        for mirror in self.mirrors:
            if mirror.sent * 100 < self.total * mirror.percent:
                mirror.sent += 1
                due.append(mirror.picker)
        server = self.main.pick(req)
        if due:
            add_end_hook(req, lambda outcome: self._send(req, due, outcome))
        return server

    def _send(self, req: RequestHead, mirrors: list[Picker], outcome: Any) -> None:
        if getattr(outcome, "status", 0) == 499:
            log.warning("no mirroring, the client left before the main service answered")
            return
        headers = req.headers
        body = b""
        if (
            "content-length" in headers.keys
            and headers.get("content-length") != "0"
            or "transfer-encoding" in headers.keys
        ):
            kept = getattr(outcome, "replay", None)
            if not self.mirror_body:  # Traefik sends the copies without the body
                headers = headers.copy()
                headers.remove("Transfer-Encoding")
                headers.set("Content-Length", "0")
            elif kept is None or not getattr(outcome, "request_complete", False):
                log.debug("no mirroring: the request body is over maxBodySize (%d bytes)", self.mirror_body_limit)
                return
            else:
                body = b"".join(kept)  # as it was sent: chunked stays chunked, as the headers say
        for mirror in mirrors:
            copy = RequestHead(
                req.method,
                req.path,
                req.query,
                headers.copy(),
                host=req.host,
                client_ip=req.client_ip,
                scheme=req.scheme,
                version=req.version,
                entry_point=req.entry_point,
            )
            try:
                server = mirror.pick(copy)
            except NoServerAvailable:
                continue
            if len(self._tasks) >= MAX_IN_FLIGHT:
                self.dropped += 1
                log.warning(
                    "mirroring %s: %d copies already in flight, one dropped (%d so far)",
                    self.name,
                    MAX_IN_FLIGHT,
                    self.dropped,
                )
                continue
            task = asyncio.get_running_loop().create_task(self._copy(copy, server, body))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _copy(self, head: RequestHead, server: UpstreamServer, body: bytes = b"") -> None:
        headers: HeaderList = head.headers
        headers.set("Host", head.host if server.pass_host_header and head.host else server.host_header)
        path = head.path or "/"  # as the forwarder sends it
        if server.base_path:
            path = server.base_path + path
        target = path if head.query is None else f"{path}?{head.query}"
        pool = server.pool
        try:
            async with asyncio.timeout(MIRROR_TIMEOUT):
                await request(
                    pool.tls,
                    pool.host,
                    pool.port,
                    head.method,
                    target,
                    headers.items,
                    pool.settings,
                    read_body=True,
                    body=body,
                )
        except Exception as exc:  # a copy's failure is nobody's business but the log's
            log.debug("mirror copy to %s failed: %r", server.url, exc)

    def register_status_updater(self, fn: Callable[[bool], None]) -> None:
        if not self.wants_health_check:
            raise ValueError("healthCheck not enabled in config for this mirroring service")
        try:
            self.main.register_status_updater(fn)
        except ValueError as exc:
            raise ValueError(f"cannot register service of mirroring as updater: {exc}") from None

    def health(self) -> list[str]:
        return self.main.health()

    def start(self) -> None:
        pass

    def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
