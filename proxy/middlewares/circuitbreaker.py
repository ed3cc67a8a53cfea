"""circuitBreaker: Traefik v3 `pkg/middlewares/circuitbreaker`, which is vulcand/oxy's `cbreaker`.

Three states. *Standby*: requests pass, and their outcomes are recorded over a rolling window; after a
request ends, at most once per `checkPeriod`, the expression is evaluated and, when true, the breaker
*trips*: for `fallbackDuration` every request gets `responseCode` with its status text, the service is not
called. Then it *recovers* for `recoveryDuration`: a share of requests, growing linearly from 0 to 50%,
passes (oxy's ratio controller), the rest get the fallback answer; the expression still trips it again.
After that, standby.

The expression is oxy's (vulcand/predicate over Go syntax): `Metric(args) op literal`, joined with `&&`,
`||` and parentheses, where Metric is `NetworkErrorRatio()` (502 and 504 answers over all, a float),
`ResponseCodeRatio(fromA, toA, fromB, toB)` (answers with a code in [fromA, toA) over those in [fromB, toB),
a float), `LatencyAtQuantileMS(q)` (milliseconds, an int) and `RequestThreshold()` (requests, an int), and op
one of `> >= < <= == !=`. As in oxy, a float metric is compared with a float literal (`0.5`, not `1`) and an
int metric with an int literal. Counts cover the last 10 s (10 one-second buckets), latencies the last 60 s
(6 ten-second buckets), with oxy's 1% precision.

As in Traefik, each router gets its own breaker (state per router).
"""

from __future__ import annotations

import math
import re
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from proxy.forwarder.wire import status_text
from proxy.message import Reply, RequestHead
from proxy.middlewares.base import Middleware

COUNTER_BUCKETS, COUNTER_RESOLUTION = 10, 1.0  # oxy memmetrics: rolling counters
HISTOGRAM_BUCKETS, HISTOGRAM_PERIOD = 6, 10.0  # oxy memmetrics: rolling latency histogram
STANDBY, TRIPPED, RECOVERING = "standby", "tripped", "recovering"


# -- the metrics window ---------------------------------------------------------------------------------
class Outcomes:
    """Answers over the last 10 s (total, 502/504, per status) and latencies over the last 60 s."""

    def __init__(self) -> None:
        self.seconds: deque[tuple[int, list[int], dict[int, int]]] = deque()  # (second, [total, net], codes)
        self.periods: deque[tuple[int, dict[int, int]]] = deque()  # (period, {latency bucket (us): count})

    def record(self, status: int, latency: float, now: float) -> None:
        second = int(now // COUNTER_RESOLUTION)
        if not self.seconds or self.seconds[-1][0] != second:
            self.seconds.append((second, [0, 0], {}))
        _, counts, codes = self.seconds[-1]
        counts[0] += 1
        if status in (502, 504):
            counts[1] += 1
        codes[status] = codes.get(status, 0) + 1
        period = int(now // HISTOGRAM_PERIOD)
        if not self.periods or self.periods[-1][0] != period:
            self.periods.append((period, {}))
        latencies = self.periods[-1][1]
        bucket = _latency_bucket(max(1, int(latency * 1e6)))
        latencies[bucket] = latencies.get(bucket, 0) + 1

    def reset(self) -> None:
        self.seconds.clear()
        self.periods.clear()

    def _recent(self, now: float) -> list[tuple[int, list[int], dict[int, int]]]:
        oldest = int(now // COUNTER_RESOLUTION) - COUNTER_BUCKETS + 1
        while self.seconds and self.seconds[0][0] < oldest:
            self.seconds.popleft()
        return list(self.seconds)

    def total(self, now: float) -> int:
        return sum(counts[0] for _, counts, _ in self._recent(now))

    def network_error_ratio(self, now: float) -> float:
        recent = self._recent(now)
        total = sum(counts[0] for _, counts, _ in recent)
        return sum(counts[1] for _, counts, _ in recent) / total if total else 0.0

    def response_code_ratio(self, start_a: int, end_a: int, start_b: int, end_b: int, now: float) -> float:
        a = b = 0
        for _, _, codes in self._recent(now):
            for code, count in codes.items():
                if start_a <= code < end_a:
                    a += count
                if start_b <= code < end_b:
                    b += count
        return a / b if b else 0.0

    def latency_at_quantile_ms(self, quantile: float, now: float) -> int:
        oldest = int(now // HISTOGRAM_PERIOD) - HISTOGRAM_BUCKETS + 1
        while self.periods and self.periods[0][0] < oldest:
            self.periods.popleft()
        merged: dict[int, int] = {}
        for _, latencies in self.periods:
            for bucket, count in latencies.items():
                merged[bucket] = merged.get(bucket, 0) + count
        total = sum(merged.values())
        if not total:
            return 0
        wanted = max(1, math.ceil(min(max(quantile, 0.0), 100.0) / 100 * total))
        seen = 0
        for bucket in sorted(merged):
            seen += merged[bucket]
            if seen >= wanted:
                return _bucket_top(bucket) // 1000
        return 0


def _latency_bucket(micros: int) -> int:
    """Round down to two significant digits (HDR histogram with 2 significant figures: 1% precision)."""
    scale: int = 10 ** max(len(str(micros)) - 2, 0)  # a power of ten >= 1 (int ** int is typed Any)
    return micros // scale * scale


def _bucket_top(bucket: int) -> int:
    """The highest value that falls in `bucket` (what HDR's ValueAtQuantile reports)."""
    scale: int = 10 ** max(len(str(bucket)) - 2, 0)
    return bucket + scale - 1


# -- the expression ---------------------------------------------------------------------------------------
Predicate = Callable[["CircuitBreaker", float], bool]

# name -> (argument kinds, result kind, reader of the window)
METRICS: dict[str, tuple[tuple[type, ...], type, Callable[..., float]]] = {
    "NetworkErrorRatio": ((), float, lambda w, now: w.network_error_ratio(now)),
    "ResponseCodeRatio": ((int, int, int, int), float, lambda w, now, *a: w.response_code_ratio(*a, now)),
    "LatencyAtQuantileMS": ((float,), int, lambda w, now, q: w.latency_at_quantile_ms(q, now)),
    "RequestThreshold": ((), int, lambda w, now: w.total(now)),
}
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}
_TOKEN = re.compile(r"\s*(?:(\d+\.\d*|\.\d+|\d+)|([A-Za-z_]\w*)|(&&|\|\||>=|<=|==|!=|[()<>,]))")


def _number(text: str) -> int | float:
    return float(text) if "." in text else int(text)


def parse_expression(text: str) -> Predicate:
    """The expression as a predicate over a breaker's window; ValueError says what is wrong and where."""
    tokens: list[str | int | float] = []
    at = 0
    text = text.strip()
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise ValueError(f"expression {text!r}: unexpected {text[at:].strip()[:10]!r} at offset {at}")
        number, name, operator = match.groups()
        tokens.append(_number(number) if number else name or operator)
        at = match.end()
    if not tokens:
        raise ValueError("expression is empty")
    parser = _Parser(text, tokens)
    predicate = parser.disjunction()
    if parser.at < len(tokens):
        raise ValueError(f"expression {text!r}: unexpected {tokens[parser.at]!r}")
    return predicate


class _Parser:
    def __init__(self, text: str, tokens: list[str | int | float]) -> None:
        self.text, self.tokens, self.at = text, tokens, 0

    def _peek(self) -> str | int | float | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> str | int | float:
        token = self._peek()
        if token is None or (expected is not None and token != expected):
            raise ValueError(
                f"expression {self.text!r}: expected {expected or 'more'}, got "
                f"{'the end' if token is None else repr(token)}"
            )
        self.at += 1
        return token

    def disjunction(self) -> Predicate:
        terms = [self.conjunction()]
        while self._peek() == "||":
            self._take()
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else lambda cb, now: any(term(cb, now) for term in terms)

    def conjunction(self) -> Predicate:
        terms = [self.comparison()]
        while self._peek() == "&&":
            self._take()
            terms.append(self.comparison())
        return terms[0] if len(terms) == 1 else lambda cb, now: all(term(cb, now) for term in terms)

    def comparison(self) -> Predicate:
        if self._peek() == "(":
            self._take()
            inner = self.disjunction()
            self._take(")")
            return inner
        name = self._take()
        if not isinstance(name, str) or name not in METRICS:
            raise ValueError(f"expression {self.text!r}: {name!r} is not one of {', '.join(METRICS)}")
        kinds, result, read = METRICS[name]
        self._take("(")
        args: list[Any] = []
        while self._peek() != ")":
            if args:
                self._take(",")
            args.append(self._take())
        self._take(")")
        if len(args) != len(kinds):
            raise ValueError(f"expression {self.text!r}: {name} takes {len(kinds)} arguments, got {len(args)}")
        for arg, kind in zip(args, kinds, strict=True):
            if isinstance(arg, str) or (kind is int and not isinstance(arg, int)):
                raise ValueError(f"expression {self.text!r}: {name}: argument {arg!r} is not an {kind.__name__}")
        operator = self._take()
        if not isinstance(operator, str) or operator not in COMPARISONS:
            raise ValueError(f"expression {self.text!r}: expected a comparison after {name}(), got {operator!r}")
        literal = self._take()
        if isinstance(literal, str) or type(literal) is not result:
            raise ValueError(
                f"expression {self.text!r}: {name}() is compared with a {result.__name__}, got {literal!r}"
            )
        compare, values = COMPARISONS[operator], tuple(args)
        return lambda cb, now: compare(read(cb.outcomes, now, *values), literal)


# -- the middleware ---------------------------------------------------------------------------------------
class CircuitBreaker(Middleware):
    per_router = True

    def __init__(
        self,
        expression: str,
        check_period: float = 0.1,
        fallback_duration: float = 10.0,
        recovery_duration: float = 10.0,
        response_code: int = 503,
    ) -> None:
        self.expression = expression
        self.condition = parse_expression(expression)
        # oxy keeps its defaults for durations that are not positive.
        self.check_period = check_period if check_period > 0 else 0.1
        self.fallback_duration = fallback_duration if fallback_duration > 0 else 10.0
        self.recovery_duration = recovery_duration if recovery_duration > 0 else 10.0
        self.fallback = Reply(
            response_code, [("Content-Type", "text/plain; charset=utf-8")], status_text(response_code).encode()
        )
        self.outcomes = Outcomes()
        self.state = STANDBY
        self.until = 0.0
        self.next_check = 0.0
        self.recovery_start = 0.0
        self.allowed = self.denied = 0

    def on_request(self, req: RequestHead) -> Reply | None:
        if self.state is not STANDBY and self._blocks(time.monotonic()):
            return Reply(self.fallback.status, list(self.fallback.headers), self.fallback.body)
        req.at_end(self._ended)
        return None

    def _blocks(self, now: float) -> bool:
        if self.state is TRIPPED:
            if now < self.until:
                return True
            self.state, self.until = RECOVERING, now + self.recovery_duration
            self.recovery_start, self.allowed, self.denied = now, 0, 0
        if now > self.until:
            self.state = STANDBY
            return False
        # oxy's ratio controller: let a request through while that keeps the share below the target,
        # which rises from 0 to 50% over the recovery.
        target = 0.5 * (now - self.recovery_start) / self.recovery_duration
        if (self.allowed + 1) / (self.allowed + 1 + self.denied) < target:
            self.allowed += 1
            return False
        self.denied += 1
        return True

    def _ended(self, outcome: Any) -> None:
        now = time.monotonic()
        self.outcomes.record(outcome.status, now - outcome.started, now)
        if now <= self.next_check:
            return
        self.next_check = now + self.check_period
        if self.state is not TRIPPED and self.condition(self, now):
            self.state, self.until = TRIPPED, now + self.fallback_duration
            self.outcomes.reset()
