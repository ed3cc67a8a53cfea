"""retry, end to end: Traefik's pkg/middlewares/retry/retry_test.go cases (TestRetry: faulty servers are
refused ports on loopback, served in round-robin order) plus its status, body and backoff rules."""

from __future__ import annotations

import asyncio
import io
import socket
import struct
import time
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from proxy import Gateway
from proxy.config.errors import ConfigError
from proxy.middlewares.retry import Retry, RetryPolicy
from proxy.testing import serve_aiohttp


def refused_url() -> str:
    """A loopback port nobody listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def config(servers: list[str], **retry: Any) -> dict[str, Any]:
    return {
        "http": {
            "routers": {"app": {"rule": "PathPrefix(`/`)", "service": "app", "middlewares": ["retry"]}},
            "middlewares": {"retry": {"retry": retry}},
            "services": {"app": {"loadBalancer": {"servers": [{"url": url} for url in servers]}}},
        }
    }


class Flaky:
    """An upstream that answers `failures` times with `status`, then 200 with what it received."""

    def __init__(self, failures: int = 0, status: int = 503) -> None:
        self.failures, self.status, self.seen = failures, status, 0

    async def __call__(self, request: web.BaseRequest) -> web.Response:
        self.seen += 1
        body = await request.read()
        if self.seen <= self.failures:
            return web.Response(status=self.status, text="try again", headers={"X-Attempt": str(self.seen)})
        return web.json_response({"attempt": self.seen, "body": len(body), "method": request.method})


async def send(gateway: Gateway, method: str = "GET", body: bytes | None = None) -> tuple[int, str]:
    async with aiohttp.ClientSession() as client:
        data = io.BytesIO(body) if body is not None else None
        async with client.request(method, gateway.url + "/x", data=data) as response:
            return response.status, await response.text()


@pytest.mark.parametrize(
    ("attempts", "initial_interval", "faulty", "status", "retries"),
    [
        pytest.param(3, "", 0, 200, 0, id="no retry on success"),
        pytest.param(3, "10ms", 0, 200, 0, id="no retry on success with backoff"),
        pytest.param(1, "", 1, 502, 0, id="no retry when max request attempts is one"),
        pytest.param(1, "10ms", 1, 502, 0, id="no retry when max request attempts is one with backoff"),
        pytest.param(3, "", 1, 200, 1, id="one retry when one server is faulty"),
        pytest.param(3, "10ms", 1, 200, 1, id="one retry when one server is faulty with backoff"),
        pytest.param(3, "", 2, 200, 2, id="two retries when two servers are faulty"),
        pytest.param(3, "10ms", 2, 200, 2, id="two retries when two servers are faulty with backoff"),
        pytest.param(3, "", 3, 502, 2, id="max attempts exhausted delivers the 5xx response"),
        pytest.param(3, "10ms", 3, 502, 2, id="max attempts exhausted delivers the 5xx response with backoff"),
    ],
)
async def test_traefik_retry_table(
    attempts: int, initial_interval: str, faulty: int, status: int, retries: int
) -> None:
    upstream = Flaky()
    async with serve_aiohttp(upstream) as good:
        servers = [refused_url() for _ in range(faulty)] + ([good.url] if faulty < 3 else [])
        options: dict[str, Any] = {"attempts": attempts}
        if initial_interval:
            options["initialInterval"] = initial_interval
        async with Gateway(config(servers, **options)) as gateway:
            assert (await send(gateway))[0] == status
            record = gateway.exchanges[-1]
            assert record.status == status
            assert upstream.seen == (1 if status == 200 else 0)
            assert record.attempts == 1 + retries  # the first send plus each retry
            assert (gateway.routers["app@file"].retry is None) == (attempts == 1)


@pytest.mark.parametrize(
    ("method", "options", "failures", "status", "seen"),
    [
        pytest.param("GET", {"status": ["500-599"]}, 2, 200, 3, id="GET retried on a listed status"),
        pytest.param("GET", {"status": ["500"]}, 2, 503, 1, id="a status outside the list is delivered"),
        pytest.param("GET", {"status": ["503"]}, 5, 503, 3, id="the last attempt's answer is delivered"),
        pytest.param("POST", {"status": ["503"]}, 1, 503, 1, id="POST is not retried on status"),
        pytest.param("PATCH", {"status": ["503"]}, 1, 503, 1, id="PATCH is not retried on status"),
        pytest.param(
            "POST",
            {"status": ["503"], "retryNonIdempotentMethod": True},
            1,
            200,
            2,
            id="POST retried with retryNonIdempotentMethod",
        ),
        pytest.param("PUT", {"status": ["503"]}, 1, 200, 2, id="PUT is idempotent"),
        pytest.param("GET", {}, 1, 503, 1, id="without status only network errors are retried"),
    ],
)
async def test_status_retries(method: str, options: dict[str, Any], failures: int, status: int, seen: int) -> None:
    upstream = Flaky(failures)
    async with serve_aiohttp(upstream) as served:
        async with Gateway(config([served.url], attempts=3, **options)) as gateway:
            got, text = await send(gateway, method, b"payload" if method != "GET" else None)
            assert got == status
            assert upstream.seen == seen
            if got == 200:
                assert f'"body": {7 if method != "GET" else 0}' in text


async def test_the_body_is_sent_again_whole_on_each_attempt() -> None:
    upstream = Flaky(2)
    body = bytes(range(256)) * 3000  # 750 KiB, more than the client sends in one piece
    async with serve_aiohttp(upstream) as served:
        async with Gateway(config([served.url], attempts=3, status=["503"])) as gateway:
            status, text = await send(gateway, "PUT", body)
            assert status == 200 and f'"body": {len(body)}' in text and upstream.seen == 3


async def test_a_body_over_max_request_body_bytes_is_not_retried_on_status() -> None:
    upstream = Flaky(2)
    async with serve_aiohttp(upstream) as served:
        async with Gateway(config([served.url], attempts=3, status=["503"], maxRequestBodyBytes=10)) as gateway:
            assert (await send(gateway, "PUT", b"x" * 11))[0] == 503
            assert (await send(gateway, "PUT", b"x" * 10))[0] == 200
            assert upstream.seen == 3


async def test_chunked_request_bodies_are_replayed() -> None:
    upstream = Flaky(1)

    async def chunks() -> Any:
        for piece in (b"a" * 1000, b"b" * 1000):
            yield piece

    async with serve_aiohttp(upstream) as served:
        async with Gateway(config([served.url], attempts=2, status=["503"])) as gateway:
            async with aiohttp.ClientSession() as client, client.put(gateway.url + "/x", data=chunks()) as response:
                assert response.status == 200
                assert (await response.json())["body"] == 2000


async def test_backoff_waits_between_attempts_and_timeout_stops_retrying() -> None:
    async with Gateway(config([refused_url()], attempts=3, initialInterval="100ms")) as gateway:
        started = time.monotonic()
        assert (await send(gateway))[0] == 502
        waited = time.monotonic() - started
    # Two waits: 100 ms then 141 ms (2^(1/2) x), each randomised by +-50%: at least 50 + 70 ms in all.
    assert waited >= 0.12
    async with Gateway(config([refused_url()], attempts=5, initialInterval="100ms", timeout="10ms")) as gateway:
        started = time.monotonic()
        assert (await send(gateway))[0] == 502
        assert time.monotonic() - started < 0.2 + 0.1  # one wait at most, then the timeout ends it


async def test_a_client_that_leaves_during_the_backoff_stops_the_attempts() -> None:
    async with Gateway(config([refused_url()], attempts=3, initialInterval="300ms")) as gateway:
        host, port = gateway.url.removeprefix("http://").rsplit(":", 1)
        sock = socket.create_connection((host, int(port)))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        await asyncio.sleep(0.05)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # a reset: the client is gone
        await asyncio.sleep(0.1)
        assert gateway.exchanges[-1].status == 499
        await asyncio.sleep(0.6)  # an attempt that was not cancelled would record a second exchange
        assert len(gateway.exchanges) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"attempts": 0}, "incorrect (or empty) value for attempt (0)", id="no attempts"),
        pytest.param(
            {"attempts": 2, "disableRetryOnNetworkError": True},
            "requires at least HTTP status codes or retry on TCP",
            id="nothing to retry on",
        ),
        pytest.param({"attempts": 2, "status": ["5xx"]}, "status '5xx'", id="bad status range"),
    ],
)
async def test_invalid_options_disable_the_router(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match="retry"):
        Gateway(config([refused_url()], **options), strict=True)
    gateway = Gateway(config([refused_url()], **options))
    assert any(message in problem for problem in gateway.problems), gateway.problems


def test_backoff_schedule_matches_go_backoff() -> None:
    policy = RetryPolicy(3, 0.1, 0, 0, ((500, 599),), True, False)
    for retry, base in ((1, 0.1), (2, 0.1 * 2**0.5), (3, 0.2)):
        delays = [policy.delay(retry) for _ in range(200)]
        assert base * 0.5 <= min(delays) and max(delays) <= base * 1.5
    assert RetryPolicy(3, 0.0, 0, 0, (), True, False).delay(1) == 0.0
    assert Retry(attempts=1).retry_policy is None  # one attempt: a plain pass-through
