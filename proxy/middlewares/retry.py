"""retry: Traefik v3 `pkg/middlewares/retry/retry.go`.

Sends a request again, to a server the service picks again, when the attempt failed: by default when the
server could not be reached (the request never left: a refused or timed-out dial), and, with `status`, when
it answered one of those codes (for idempotent methods unless `retryNonIdempotentMethod`, and only while the
request body is at most `maxRequestBodyBytes`, kept to be sent again). The last attempt's answer goes to the
client whatever it is. Between attempts: Traefik's exponential backoff (github.com/cenkalti/backoff's
defaults, a multiplier that doubles the interval over the attempts), none without `initialInterval`.

The middleware itself does nothing per request: it gives the route plan a `RetryPolicy`, which the
forwarder's exchange applies (it is the only place that knows whether anything reached the client).
"""

from __future__ import annotations

import random

from proxy.middlewares.base import Middleware
from proxy.middlewares.coderanges import CodeRanges, in_ranges, parse_code_ranges

DEFAULT_MAX_REQUEST_BODY_BYTES = 2 * 1024 * 1024  # Traefik's RetryDefaultMaxRequestBodyBytes
NON_IDEMPOTENT = frozenset({"POST", "PATCH", "LOCK"})  # what Traefik's retry calls non-idempotent
RANDOMIZATION = 0.5  # backoff.DefaultRandomizationFactor
MAX_INTERVAL = 60.0  # backoff.DefaultMaxInterval, seconds


class RetryPolicy:
    __slots__ = (
        "attempts",
        "initial_interval",
        "multiplier",
        "timeout",
        "max_body",
        "statuses",
        "network",
        "non_idempotent",
    )

    def __init__(
        self,
        attempts: int,
        initial_interval: float,
        timeout: float,
        max_body: int,
        statuses: CodeRanges,
        network: bool,
        non_idempotent: bool,
    ) -> None:
        self.attempts = attempts
        self.initial_interval = initial_interval
        # The interval doubles from the first retry to the last (Traefik: 2^(1/(attempts-1)) per retry).
        self.multiplier = 2 ** (1 / (attempts - 1)) if attempts > 1 else 1.0
        self.timeout = timeout
        self.max_body = max_body
        self.statuses = statuses
        self.network = network
        self.non_idempotent = non_idempotent

    def retries_statuses_of(self, method: str) -> bool:
        """Whether a response's status can cause a retry for this method (and so its body is kept)."""
        return bool(self.statuses) and (self.non_idempotent or method not in NON_IDEMPOTENT)

    def retries_status(self, status: int) -> bool:
        return in_ranges(self.statuses, status)

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1 for the first), randomised as Go's backoff is."""
        if self.initial_interval <= 0 or self.attempts < 2:
            return 0.0
        interval = min(self.initial_interval * self.multiplier ** (retry - 1), MAX_INTERVAL)
        return interval * (1 - RANDOMIZATION + 2 * RANDOMIZATION * random.random())


class Retry(Middleware):
    has_request_hook = False

    def __init__(
        self,
        attempts: int,
        initial_interval: float = 0.0,
        timeout: float = 0.0,
        max_request_body_bytes: int | None = None,
        status: list[str] | None = None,
        disable_retry_on_network_error: bool = False,
        retry_non_idempotent_method: bool = False,
    ) -> None:
        if not status and disable_retry_on_network_error:
            raise ValueError("retry middleware requires at least HTTP status codes or retry on TCP")
        if attempts <= 0:
            raise ValueError(f"incorrect (or empty) value for attempt ({attempts})")
        max_body = DEFAULT_MAX_REQUEST_BODY_BYTES if max_request_body_bytes is None else max_request_body_bytes
        policy = RetryPolicy(
            attempts,
            initial_interval,
            timeout,
            max_body,
            parse_code_ranges(list(status or [])),
            not disable_retry_on_network_error,
            retry_non_idempotent_method,
        )
        # One attempt is a plain pass-through (Traefik serves it without the retry machinery).
        self.retry_policy = policy if attempts > 1 else None
