"""`explain`'s engine against the live gateway: for each request, the head the trace says the upstream
receives is, byte for byte, the head a raw upstream on loopback receives through the running gateway (so the
explanation cannot drift from the forwarder), and the steps it shows are the ones that happened."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from proxy import Gateway
from proxy.server.trace import trace

ROOT = Path(__file__).resolve().parents[2]


class RawUpstream:
    """Records each request head exactly as it arrives and answers 200."""

    def __init__(self) -> None:
        self.heads: list[bytes] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def routes(upstream: str) -> dict[str, Any]:
    return {
        "http": {
            "routers": {
                "api": {"rule": "PathPrefix(`/api/v1`)", "service": "app", "middlewares": ["strip", "hdr"]},
                "admin": {
                    "rule": "Host(`admin.localhost`) && PathPrefix(`/`)",
                    "service": "app",
                    "priority": 100,
                    "middlewares": ["secured"],
                },
                "redirect": {"rule": "Path(`/old`)", "service": "app", "middlewares": ["moved"]},
            },
            "middlewares": {
                "strip": {"stripPrefix": {"prefixes": ["/api/v1"]}},
                "hdr": {"headers": {"customRequestHeaders": {"X-Team": "blue", "X-Drop": ""}}},
                "secured": {"chain": {"middlewares": ["add", "hdr"]}},
                "add": {"addPrefix": {"prefix": "/admin"}},
                "moved": {"redirectRegex": {"regex": ".*", "replacement": "http://localhost/new", "permanent": True}},
            },
            "services": {"app": {"loadBalancer": {"servers": [{"url": upstream}], "passHostHeader": True}}},
        }
    }


REQUESTS = [
    pytest.param("GET", "/api/v1/items?q=1", [], id="strip and headers"),
    pytest.param("POST", "/api/v1/", [("Content-Length", "0"), ("X-Drop", "x")], id="a header removed"),
    pytest.param("GET", "/anything", [("Host", "admin.localhost")], id="a chain, by host"),
    pytest.param("GET", "/api/v1/a%2Fb/../c", [("X-Forwarded-For", "203.0.113.9")], id="encoded path, untrusted XFF"),
    pytest.param("DELETE", "/api/v1/x", [("Connection", "keep-alive, X-Hop"), ("X-Hop", "1")], id="hop-by-hop"),
]


@pytest.mark.parametrize(("method", "target", "headers"), REQUESTS)
async def test_the_trace_says_what_the_upstream_receives(
    method: str, target: str, headers: list[tuple[str, str]]
) -> None:
    upstream = RawUpstream()
    server = await asyncio.start_server(upstream.handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        async with Gateway(routes(url)) as gateway:
            runtime = gateway.entry_point_servers["http"].runtime
            host, port = gateway.url.removeprefix("http://").rsplit(":", 1)
            explained = await trace(runtime, method, f"http://{host}:{port}{target}", headers)
            reader, writer = await asyncio.open_connection(host, int(port))
            sent = [("Host", f"{host}:{port}")] if not any(n.lower() == "host" for n, _ in headers) else []
            lines = "".join(f"{n}: {v}\r\n" for n, v in [*sent, *headers])
            writer.write(f"{method} {target} HTTP/1.1\r\n{lines}\r\n".encode())
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(65536), 5)
            writer.close()
            await writer.wait_closed()
            assert answer.startswith(b"HTTP/1.1 200"), answer
            assert explained.upstream_head is not None, explained
            assert upstream.heads == [explained.upstream_head.encode("latin-1")]
            assert explained.router == gateway.exchanges[-1].router
    finally:
        for open_writer in upstream.writers:  # the gateway's pooled connection: closed before the loop ends
            open_writer.close()
        server.close()
        await server.wait_closed()


async def test_steps_verdicts_and_answers() -> None:
    async with Gateway(routes("http://127.0.0.1:1")) as gateway:
        runtime = gateway.entry_point_servers["http"].runtime
        explained = await trace(runtime, "GET", "http://127.0.0.1:9999/api/v1/items")
        assert [(v.router, v.matched) for v in explained.verdicts] == [
            ("admin@file", False),
            ("api@file", True),
            ("redirect@file", False),
        ]
        assert [(s.middleware, s.path_before, s.path_after) for s in explained.steps] == [
            ("StripPrefix", "/api/v1/items", "/items"),
            ("Headers", "/items", "/items"),
        ]
        assert ("X-Team", "blue") in explained.steps[1].added
        redirected = await trace(runtime, "GET", "http://127.0.0.1:9999/old")
        assert redirected.answer is not None and redirected.answer.status == 301
        assert ("Location", "http://localhost/new") in redirected.answer.headers
        missing = await trace(runtime, "GET", "http://127.0.0.1:9999/none")
        assert missing.answer is not None and missing.answer.status == 404 and missing.router is None


def test_the_cli_explains_and_lists_routes() -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "proxy", *args], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False
        )

    explained = run(
        "explain",
        "--config",
        "config/traefik.toml",
        "-H",
        "X-Forwarded-For: 1.2.3.4",
        "http://localhost:9999/api/v1/app",
    )
    assert explained.returncode == 0, explained.stderr
    for line in [
        "app-http@file (priority 21) `PathPrefix(`/api/v1`)`: matched: chosen",
        "1. StripPrefix: path '/api/v1/app' -> '/app'; + X-Forwarded-Prefix: /api/v1",
        "service 'app' -> server http://127.0.0.1:8000; the upstream receives:",
        "  GET /app HTTP/1.1",
        "- X-Forwarded-For: 1.2.3.4 (not from a trusted IP)",
    ]:
        assert line in explained.stdout, explained.stdout
    listed = run("routes", "--config", "config/routes.toml", "--json")
    assert listed.returncode == 0, listed.stderr
    import json

    assert json.loads(listed.stdout) == [
        {
            "entryPoint": "http",
            "router": "app-http@file",
            "priority": 21,
            "rule": "PathPrefix(`/api/v1`)",
            "middlewares": ["api-stripprefix"],
            "service": "app",
            "servers": ["http://127.0.0.1:8000"],
            "status": "enabled",
        }
    ]
    assert run("explain", "--config", "config/routes.toml").returncode == 2  # no URL: says what it needs


def test_a_watched_middleware_has_every_capability_of_the_one_it_runs() -> None:
    """The plan explain builds must run as the live one: filters, held bodies, waits, retry, all alike."""
    from proxy.middlewares.base import Middleware
    from proxy.routing.plan import RoutePlan
    from proxy.server.trace import Trace, _Watched

    gateway = Gateway(
        {
            "http": {
                "routers": {
                    "r": {"rule": "PathPrefix(`/`)", "service": "app", "middlewares": ["zip", "hold", "again"]}
                },
                "middlewares": {
                    "zip": {"compress": {}},
                    "hold": {"buffering": {"maxRequestBodyBytes": 10}},
                    "again": {"retry": {"attempts": 2}},
                },
                "services": {"app": {"loadBalancer": {"servers": [{"url": "http://127.0.0.1:1"}]}}},
            }
        }
    )
    live = gateway.routers["r@file"]
    watched = RoutePlan.build(
        live.router,
        [(type(m).__name__, _Watched(m, Trace("http", "GET", "/", ""))) for m in live.middlewares],
        live.service,
        live.service_name,
    )
    for middleware, twin in zip(live.middlewares, watched.middlewares, strict=True):
        assert {name: getattr(twin, name) for name in Middleware.__annotations__} == {
            name: getattr(middleware, name) for name in Middleware.__annotations__
        }
    assert (watched.hold_request, watched.sees_bodies, len(watched.response_stages), watched.retry) == (
        live.hold_request,
        live.sees_bodies,
        len(live.response_stages),
        live.retry,
    )
