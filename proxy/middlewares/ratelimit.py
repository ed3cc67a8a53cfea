"""rateLimit: a token bucket per source; a request that would wait too long is refused with 429.

Sources (traefik/traefik): pkg/middlewares/ratelimiter/rate_limiter.go (rate, maxDelay, ttl, the 429 and its
Retry-After / X-Retry-In headers), in_memory_limiter.go (reserve, cancel when the wait is too long),
ttlmap/ttlmap.go (at most 65,536 sources, each forgotten `ttl` seconds after its last request),
golang.org/x/time/rate (the bucket: starts full, refills at `rate`, never holds more than `burst`).

How it behaves, as in Traefik: every request takes a token. When the bucket is empty the request is
delayed until its token is due, if that is at most maxDelay away (1 / (2 * rate), or 500 ms when the rate is
below 1/s), and answered 429 otherwise (the token is given back). `average: 0` means no limit at all. State is
per router (Traefik builds the middleware once per router): see `per_router`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from proxy.message import Reply, RequestHead
from proxy.middlewares.base import Middleware
from proxy.middlewares.sourcecriterion import Extractor, source_extractor

log = logging.getLogger("proxy.middlewares.ratelimit")

MAX_SOURCES = 65536
SECOND_NS = 1_000_000_000


def go_duration(ns: int) -> str:
    """Go's time.Duration.String(): "1.5s", "250ms", "333.333333ms", "1m0s", "0s"."""
    if ns == 0:
        return "0s"
    sign, u = ("-" if ns < 0 else ""), abs(ns)
    if u < SECOND_NS:
        if u < 1_000:
            return f"{sign}{u}ns"
        if u < 1_000_000:
            return f"{sign}{_decimal(u, 3)}\u00b5s"
        return f"{sign}{_decimal(u, 6)}ms"
    seconds, fraction = divmod(u, SECOND_NS)
    text = f"{seconds % 60}" + (f".{fraction:09d}".rstrip("0") if fraction else "") + "s"
    minutes = seconds // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        if minutes >= 60:
            text = f"{minutes // 60}h{text}"
    return sign + text


def _decimal(value: int, digits: int) -> str:
    whole, fraction = divmod(value, 10**digits)
    return f"{whole}" + (f".{fraction:0{digits}d}".rstrip("0") if fraction else "")


class Limits:
    """The numbers New() derives from the config, validated once."""

    __slots__ = ("rate", "burst", "max_delay", "ttl")

    def __init__(self, average: int, period: float, burst: int) -> None:
        period_ns = round(period * SECOND_NS)
        if period_ns < 0:
            raise ValueError(f"negative value not valid for period: {go_duration(period_ns)}")
        if period_ns == 0:
            period_ns = SECOND_NS
        self.burst = max(burst, 1)
        self.rate = math.inf  # requests per second; inf: no limit
        self.max_delay = 0  # nanoseconds
        if average > 0:
            self.rate = average * SECOND_NS / period_ns
            # Go: time.Second / (time.Duration(rate) * 2), integer nanoseconds; 500 ms below 1 request/s.
            self.max_delay = 500_000_000 if self.rate < 1 else SECOND_NS // (int(self.rate) * 2)
        # Seconds a quiet source's bucket is kept: longer for slow limiters, which see traffic less often.
        self.ttl = 2 if self.rate >= 1 else 1 + int(1 / self.rate)


class MemoryBuckets:
    """The in-memory limiter: one bucket per source in a bounded map whose entries expire.

    Every entry is refreshed to the same ttl when used, so "the entry closest to expiry" (what ttlmap
    evicts when full) is the least recently used one: an OrderedDict in use order gives it in O(1).
    """

    def __init__(
        self, limits: Limits, capacity: int = MAX_SOURCES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self.max_delay, self.ttl = limits.rate, limits.burst, limits.max_delay, limits.ttl
        self.capacity = capacity
        self.clock = clock
        # source -> [tokens, last refill time, expiry (whole seconds, as ttlmap keeps Unix seconds)]
        self.buckets: OrderedDict[str, list[float]] = OrderedDict()

    def take(self, source: str) -> int:
        """Reserve one token for `source`; the wait in nanoseconds before it is due (> max_delay: refused,
        and then the token is not taken)."""
        now = self.clock()
        second = int(now)
        buckets = self.buckets
        entry = buckets.get(source)
        if entry is not None and entry[2] <= second:
            del buckets[source]
            entry = None
        if entry is None:
            tokens = float(self.burst)  # a new bucket starts full
            while buckets:  # drop expired entries from the old end (ttlmap would evict them lazily)
                oldest = next(iter(buckets.values()))
                if oldest[2] > second:
                    break
                buckets.popitem(last=False)
            if len(buckets) >= self.capacity:
                buckets.popitem(last=False)
            entry = buckets[source] = [0.0, now, 0.0]
        else:
            elapsed = now - entry[1] if now > entry[1] else 0.0
            tokens = min(entry[0] + elapsed * self.rate, float(self.burst))
            buckets.move_to_end(source)
        tokens -= 1
        delay = 0
        if tokens < 0:
            delay = int(-tokens / self.rate * SECOND_NS)
            if delay > self.max_delay:
                tokens = min(tokens + 1, float(self.burst))  # Reservation.Cancel: the token goes back
        entry[0], entry[1], entry[2] = tokens, now, second + self.ttl
        return delay


def too_many_requests(delay_ns: int) -> Reply:
    """serveDelayError: the wait rounded up to whole seconds, and Go's spelling of the exact wait."""
    retry_after = math.ceil(delay_ns / SECOND_NS)
    return Reply(
        429,
        [
            ("Retry-After", f"{retry_after}"),
            ("X-Retry-In", go_duration(delay_ns)),
            ("Content-Type", "text/plain; charset=utf-8"),
        ],
        b"Too Many Requests",
    )


def go_http_error(status: int, message: str) -> Reply:
    """Go's http.Error: plain text, nosniff, the message and a newline."""
    return Reply(
        status,
        [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")],
        (message + "\n").encode(),
    )


class RateLimit(Middleware):
    """The rateLimit middleware; `store` is MemoryBuckets, or a RedisBuckets shared between processes."""

    per_router = True

    def __init__(
        self,
        name: str,
        average: int = 0,
        period: float = 1.0,
        burst: int = 1,
        source_criterion: Any = None,
        redis: Any = None,
    ) -> None:
        self.name = name
        self.limits = Limits(average, period, burst)
        self.source: Extractor = source_extractor(source_criterion, default="ip")
        self.max_delay = self.limits.max_delay
        self.unlimited = math.isinf(self.limits.rate)
        if self.unlimited:  # average 0: Traefik lets everything through; so does the plan, for free
            self.has_request_hook = False
        self.memory: MemoryBuckets | None = None
        self.redis: Any = None
        if redis is not None:
            from proxy.middlewares.ratelimit_redis import RedisBuckets

            self.redis = RedisBuckets(self.limits, redis, name)
            self.warnings = tuple(self.redis.warnings)
            self.per_router = False  # the buckets live in redis, keyed by middleware name: shared anyway
        else:
            self.memory = MemoryBuckets(self.limits)

    def on_request(self, req: RequestHead) -> Any:
        """A Reply (429), None (a token was there), or, only when the request has to wait (a delay, or a
        redis round trip), an awaitable of those: the common case costs no task."""
        # Each limiter has its own key space (Traefik prefixes the source with the middleware's name).
        source = f"{self.name}:{self.source(req)}"
        if self.memory is None:
            return self._take_from_redis(source)
        return self._after(self.memory.take(source))

    def _after(self, delay: int) -> Reply | Awaitable[None] | None:
        if delay > self.max_delay:
            return too_many_requests(delay)
        if delay > 0:
            return asyncio.sleep(delay / SECOND_NS)  # its result, None, lets the request through
        return None

    async def _take_from_redis(self, source: str) -> Reply | None:
        try:
            delay = await self.redis.take(source)
        except Exception as exc:  # redis down, timeout, auth: Traefik answers 500
            log.error("rateLimit %s: could not insert/update bucket: %s", self.name, exc)
            return go_http_error(500, "Could not insert/update bucket")
        waited = self._after(delay)
        if waited is None or isinstance(waited, Reply):
            return waited
        await waited
        return None

    async def aclose(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
