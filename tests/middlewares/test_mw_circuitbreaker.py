"""circuitBreaker: the expression language (oxy's cbreaker/predicates_test.go cases and its type rules), the
metrics window, and the standby -> tripped -> recovering -> standby cycle through a live gateway."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from proxy import Gateway
from proxy.middlewares.circuitbreaker import CircuitBreaker, Outcomes, parse_expression
from proxy.testing import serve_aiohttp


def refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def breaker_with(outcomes: list[tuple[int, float]], expression: str) -> bool:
    breaker = CircuitBreaker(expression)
    for status, latency in outcomes:
        breaker.outcomes.record(status, latency, 1000.0)
    return breaker.condition(breaker, 1000.0)


@pytest.mark.parametrize(
    ("expression", "outcomes", "tripped"),
    [
        pytest.param("NetworkErrorRatio() > 0.5", [(502, 0.01), (200, 0.01), (504, 0.01)], True, id="ratio over"),
        pytest.param("NetworkErrorRatio() > 0.5", [(502, 0.01), (200, 0.01)], False, id="ratio at the bound"),
        pytest.param("NetworkErrorRatio() >= 0.5", [(502, 0.01), (200, 0.01)], True, id="ratio ge"),
        pytest.param("NetworkErrorRatio() < 0.5", [], True, id="no requests: ratio 0"),
        pytest.param("NetworkErrorRatio() > 0.1", [(500, 0.01), (503, 0.01)], False, id="5xx are not network errors"),
        pytest.param(
            "ResponseCodeRatio(500, 600, 0, 600) > 0.25", [(500, 0.01), (200, 0.01), (200, 0.01)], True, id="code ratio"
        ),
        pytest.param(
            "ResponseCodeRatio(500, 600, 0, 600) < 0.6",
            [(599, 0.01), (200, 0.01), (600, 0.01)],
            True,
            id="code ranges exclude their end",
        ),  # 1/2, where an inclusive end would give 2/3
        pytest.param("LatencyAtQuantileMS(50.0) > 50", [(200, 0.1), (200, 0.1), (200, 0.01)], True, id="median slow"),
        pytest.param("LatencyAtQuantileMS(50.0) > 50", [(200, 0.1), (200, 0.01), (200, 0.01)], False, id="median fast"),
        pytest.param("LatencyAtQuantileMS(99.0) >= 100", [(200, 0.1)] + [(200, 0.001)] * 98, True, id="p99"),
        pytest.param(
            "RequestThreshold() > 2 && NetworkErrorRatio() > 0.5", [(502, 0.01)] * 2, False, id="too few requests"
        ),
        pytest.param(
            "RequestThreshold() > 2 && NetworkErrorRatio() > 0.5", [(502, 0.01)] * 3, True, id="enough requests"
        ),
        pytest.param("NetworkErrorRatio() > 0.9 || LatencyAtQuantileMS(50.0) > 5", [(200, 0.01)], True, id="or"),
        pytest.param(
            "(NetworkErrorRatio() > 0.9 || RequestThreshold() == 1) && LatencyAtQuantileMS(50.0) < 5",
            [(200, 0.001)],
            True,
            id="parentheses",
        ),
        pytest.param("RequestThreshold() != 1", [(200, 0.001)], False, id="ne"),
        pytest.param("RequestThreshold() <= 1", [(200, 0.001)], True, id="le"),
    ],
)
def test_expressions(expression: str, outcomes: list[tuple[int, float]], tripped: bool) -> None:
    assert breaker_with(outcomes, expression) is tripped


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("NetworkErrorRatio() > 1", "compared with a float", id="float metric, int literal"),
        pytest.param("LatencyAtQuantileMS(50.0) > 50.5", "compared with a int", id="int metric, float literal"),
        pytest.param("Unknown() > 1", "is not one of", id="unknown function"),
        pytest.param("ResponseCodeRatio(500, 600) > 0.5", "takes 4 arguments", id="arity"),
        pytest.param("ResponseCodeRatio(500.0, 600, 0, 600) > 0.5", "not an int", id="argument type"),
        pytest.param("NetworkErrorRatio() > 0.5 &&", "expected more", id="dangling operator"),
        pytest.param("NetworkErrorRatio() 0.5", "expected a comparison", id="missing operator"),
        pytest.param("NetworkErrorRatio() > 0.5 ; x", "unexpected", id="garbage"),
    ],
)
def test_bad_expressions_are_refused(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_expression(expression)


def test_the_window_forgets_what_is_older_than_ten_seconds() -> None:
    outcomes = Outcomes()
    outcomes.record(502, 0.01, 100.0)
    outcomes.record(200, 0.01, 105.0)
    assert outcomes.network_error_ratio(105.5) == 0.5
    assert outcomes.network_error_ratio(110.5) == 0.0  # the 502 of second 100 left the 10 s window
    assert outcomes.total(110.5) == 1


def config(url: str, **options: Any) -> dict[str, Any]:
    return {
        "http": {
            "routers": {
                "a": {"rule": "PathPrefix(`/a`)", "service": "app", "middlewares": ["cb"]},
                "b": {"rule": "PathPrefix(`/b`)", "service": "app", "middlewares": ["cb"]},
            },
            "middlewares": {"cb": {"circuitBreaker": options}},
            "services": {"app": {"loadBalancer": {"servers": [{"url": url}]}}},
        }
    }


async def get(client: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with client.get(url) as response:
        return response.status, await response.text()


async def test_the_breaker_trips_falls_back_recovers_and_is_per_router() -> None:
    async with Gateway(
        config(
            refused_url(),
            expression="NetworkErrorRatio() > 0.5",
            checkPeriod="1ms",
            fallbackDuration="300ms",
            recoveryDuration="300ms",
            responseCode=418,
        )
    ) as gateway:
        async with aiohttp.ClientSession() as client:
            assert (await get(client, gateway.url + "/a"))[0] == 502  # recorded, then the check trips it
            status, body = await get(client, gateway.url + "/a")
            assert (status, body) == (418, "I'm a teapot")  # Go's status text
            assert gateway.exchanges[-1].upstream is None  # the service was not called
            assert (await get(client, gateway.url + "/b"))[0] == 502  # router b has a breaker of its own
            await asyncio.sleep(0.35)
            # Recovering: the share let through grows from 0 to 50% over 300 ms.
            statuses = []
            for _ in range(30):
                statuses.append((await get(client, gateway.url + "/a"))[0])
                if 502 in statuses:
                    break
                await asyncio.sleep(0.01)
            assert statuses[0] == 418 and 502 in statuses  # first refused, then one let through (and it trips)
            assert (await get(client, gateway.url + "/a"))[0] == 418


async def test_a_healthy_service_never_trips_and_recovery_ends_in_standby() -> None:
    async def ok(request: web.BaseRequest) -> web.Response:
        return web.Response(text="ok")

    async with serve_aiohttp(ok) as served:
        async with Gateway(config(served.url, expression="NetworkErrorRatio() > 0.5")) as gateway:
            async with aiohttp.ClientSession() as client:
                for _ in range(20):
                    assert await get(client, gateway.url + "/a") == (200, "ok")
        breaker = CircuitBreaker("NetworkErrorRatio() > 0.5", fallback_duration=0.05, recovery_duration=0.05)
        breaker.state, breaker.until = "tripped", 0.0  # as if it tripped long ago
        assert breaker._blocks(time.monotonic()) is True  # the recovery starts refusing
        await asyncio.sleep(0.06)
        assert breaker._blocks(time.monotonic()) is False and breaker.state == "standby"


async def test_a_bad_expression_disables_the_routers_with_the_reason() -> None:
    gateway = Gateway(config(refused_url(), expression="NetworkErrorRatio() > 1"))
    assert any("circuitBreaker" in p and "compared with a float" in p for p in gateway.problems), gateway.problems
