"""The other `loadBalancer.strategy` values of Traefik v3 (pkg/server/service/loadbalancer/{p2c,hrw,leasttime})
and the `highestRandomWeight` service.

- `p2c`: two distinct healthy servers at random, the one with fewer requests in flight (ties: the first
  drawn). Weights are ignored, as in Traefik (even a zero weight keeps the server).
- `hrw`: rendezvous hashing of the client's IP: the server with the highest `weight / -ln(h)`, h being the
  FNV-1a 64 hash of IP + server name over 2^64. No sticky cookie (Traefik's hrw takes none).
- `leasttime`: the lowest `average time to first byte x (1 + in flight) / weight` over the last 100
  responses (whole milliseconds, as Traefik counts them); equal scores go to the earliest deadline of a
  weighted round robin. A request a sticky cookie sent is neither counted in flight nor timed (as Traefik).
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from proxy.message import RequestHead
from proxy.services.loadbalancer import (
    Balancer,
    NoServerAvailable,
    Picker,
    ServerPicking,
    ServicePicking,
    UpstreamServer,
    add_end_hook,
)

T = TypeVar("T")

SAMPLES = 100  # response times kept per server (leasttime)
_FNV64A_OFFSET, _FNV64A_PRIME = 0xCBF29CE484222325, 0x100000001B3


def fnv1a64(data: bytes) -> int:
    h = _FNV64A_OFFSET
    for byte in data:
        h ^= byte
        h = (h * _FNV64A_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


def hrw_score(key: str, name: str, weight: float) -> float:
    score = float(fnv1a64((key + name).encode())) / 2.0**64
    if score <= 0.0:
        return 0.0
    if score >= 1.0:
        return -math.inf
    return (1.0 / -math.log(score)) * weight


class PowerOfTwoChoices(Balancer[T]):
    kind = "P2C"
    keeps_zero_weights = True
    single_fast = False

    def __init__(self, name: str, **options: Any) -> None:
        super().__init__(name, **options)
        self.inflight: dict[str, int] = {}
        self._healthy: list[tuple[str, T]] = []
        self.rand = random.Random()

    def _rebuild(self) -> None:
        self._healthy = [(n, i) for n, i, _ in self.healthy()]

    def _next(self, req: RequestHead) -> tuple[str, T]:
        healthy = self._healthy
        count = len(healthy)
        if not count:
            raise NoServerAvailable(self.name)
        if count == 1:
            return healthy[0]
        n1, n2 = self.rand.randrange(count), self.rand.randrange(count)
        if n2 == n1:
            n2 = (n2 + 1) % count
        first, second = healthy[n1], healthy[n2]
        inflight = self.inflight
        return second if inflight.get(second[0], 0) < inflight.get(first[0], 0) else first

    def _picked(self, req: RequestHead, name: str, by_cookie: bool) -> None:
        inflight = self.inflight
        inflight[name] = inflight.get(name, 0) + 1

        def done(_outcome: object) -> None:
            inflight[name] -= 1

        add_end_hook(req, done)


class HighestRandomWeight(Balancer[T]):
    kind = "HRW"

    def __init__(self, name: str, **options: Any) -> None:
        options.pop("sticky", None)
        super().__init__(name, **options)
        self._healthy: list[tuple[str, T, int]] = []

    def _rebuild(self) -> None:
        self._healthy = self.healthy()

    def _next(self, req: RequestHead) -> tuple[str, T]:
        if not self._healthy:
            raise NoServerAvailable(self.name)
        key = req.client_ip
        best: tuple[str, T] | None = None
        best_score = 0.0
        for name, item, weight in self._healthy:
            score = hrw_score(key, name, weight)
            if score > best_score:
                best, best_score = (name, item), score
        if best is None:  # every score 0 (Go would fail here): take the first
            best = self._healthy[0][:2]
        return best


class LeastTime(Balancer[T]):
    kind = "LeastTime"
    single_fast = False

    def __init__(self, name: str, **options: Any) -> None:
        super().__init__(name, **options)
        self.inflight: dict[str, int] = {}
        self.times: dict[str, deque[float]] = {}
        self.deadlines: dict[str, float] = {}
        self._current_deadline = 0.0
        self._healthy: list[tuple[str, T, int]] = []
        self._waiting: dict[int, tuple[str, float]] = {}  # id(req) -> (server, when sent), until its first byte

    def add(self, name: str, item: T, weight: int) -> None:
        if weight <= 0:
            return
        super().add(name, item, weight)
        self._current_deadline += 1 / weight  # staggered so that servers do not all start together
        self.deadlines[name] = self._current_deadline
        self.times[name] = deque(maxlen=SAMPLES)

    def _rebuild(self) -> None:
        self._healthy = self.healthy()

    def average(self, name: str) -> float:
        samples = self.times.get(name)
        return sum(samples) / len(samples) if samples else 0.0

    def _next(self, req: RequestHead) -> tuple[str, T]:
        healthy = self._healthy
        if not healthy:
            raise NoServerAvailable(self.name)
        if len(healthy) == 1:
            return healthy[0][:2]
        best = math.inf
        candidates: list[tuple[str, T, int]] = []
        for entry in healthy:
            name, _, weight = entry
            score = self.average(name) * (1 + self.inflight.get(name, 0)) / weight
            if score < best:
                best, candidates = score, [entry]
            elif score == best:
                candidates.append(entry)
        if len(candidates) == 1:
            return candidates[0][:2]
        deadlines = self.deadlines
        chosen = min(candidates, key=lambda entry: deadlines[entry[0]])
        deadline = deadlines[chosen[0]] + 1 / chosen[2]
        deadlines[chosen[0]] = deadline
        self._current_deadline = max(self._current_deadline, deadline)
        return chosen[:2]

    def _picked(self, req: RequestHead, name: str, by_cookie: bool) -> None:
        if by_cookie:
            return
        inflight = self.inflight
        inflight[name] = inflight.get(name, 0) + 1
        key = id(req)
        self._waiting[key] = (name, time.monotonic())
        waiting = self._waiting

        def done(_outcome: object) -> None:
            inflight[name] -= 1
            waiting.pop(key, None)

        add_end_hook(req, done)

    def first_byte(self, req: RequestHead) -> None:
        """The response head for `req` arrived: one more time-to-first-byte sample."""
        sent = self._waiting.pop(id(req), None)
        if sent is not None:
            name, started = sent
            self.times[name].append(float(int((time.monotonic() - started) * 1000)))


class P2CLoadBalancer(ServerPicking, PowerOfTwoChoices[UpstreamServer]):
    def __init__(self, name: str, servers: Sequence[UpstreamServer], weights: Sequence[int], **options: Any) -> None:
        PowerOfTwoChoices.__init__(self, name, **options)
        self._add_servers(servers, weights)


class HRWLoadBalancer(ServerPicking, HighestRandomWeight[UpstreamServer]):
    def __init__(self, name: str, servers: Sequence[UpstreamServer], weights: Sequence[int], **options: Any) -> None:
        HighestRandomWeight.__init__(self, name, **options)
        self._add_servers(servers, weights)


class LeastTimeLoadBalancer(ServerPicking, LeastTime[UpstreamServer]):
    def __init__(self, name: str, servers: Sequence[UpstreamServer], weights: Sequence[int], **options: Any) -> None:
        LeastTime.__init__(self, name, **options)
        self._add_servers(servers, weights)


class HRWService(ServicePicking, HighestRandomWeight["Picker"]):
    """A `highestRandomWeight` service: child services by rendezvous hashing of the client's IP."""

    def __init__(self, name: str, children: Sequence[tuple[str, Picker, int]], **options: Any) -> None:
        HighestRandomWeight.__init__(self, name, **options)
        self._add_children(children)


STRATEGIES: dict[str, Callable[..., ServerPicking]] = {
    "p2c": P2CLoadBalancer,
    "hrw": HRWLoadBalancer,
    "leasttime": LeastTimeLoadBalancer,
}
