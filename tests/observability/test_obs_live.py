"""The dashboard's live view (proxy/observability/live.py): the event stream of recent requests, the
explain view of one, behind the dashboard router's middlewares, and a graceful stop that ends open streams."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
from obs_helpers import routes_with

DASHBOARD = "[api]\ndashboard = true\n"
INSECURE = "[api]\ninsecure = true\ndashboard = true\n"
# Traefik's documented setup (docs/content/operations/include-dashboard-examples.md): api@internal behind
# basicAuth for /api and /dashboard; user test, password test.
BEHIND_AUTH = (
    routes_with("""
[http.routers.dash]
rule = "PathPrefix(`/api`) || PathPrefix(`/dashboard`)"
service = "api@internal"
entryPoints = ["traefik"]
middlewares = ["auth"]

[http.middlewares.auth.basicAuth]
users = ["test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"]

[http.routers.app.observability]
accessLogs = true
""").replace(
        'rule = "PathPrefix(`/app`)"\nservice = "app"',
        'rule = "PathPrefix(`/app`)"\nservice = "app"\nmiddlewares = ["strip"]',
        1,
    )
    + """
[http.middlewares.strip.stripPrefix]
prefixes = ["/app"]
"""
)


async def _events(stream: httpx.Response, count: int) -> list[dict]:
    """The next `count` data events of an open event stream."""
    found: list[dict] = []
    buffer = ""
    async for text in stream.aiter_text():
        buffer += text
        while "\n\n" in buffer:
            event, buffer = buffer.split("\n\n", 1)
            for line in event.splitlines():
                if line.startswith("data: "):
                    found.append(json.loads(line[6:]))
            if len(found) >= count:
                return found
    return found


async def test_stream_shows_each_request_as_it_finishes(live_gateway):
    gateway = await live_gateway(INSECURE, routes=BEHIND_AUTH)
    async with httpx.AsyncClient(timeout=5) as client:
        async with client.stream("GET", gateway.urls["traefik"] + "/dashboard/live") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"] == "text/event-stream"
            await client.get(gateway.urls["web"] + "/app/hello?x=1")
            await client.get(gateway.urls["web"] + "/nowhere")
            first, second = await asyncio.wait_for(_events(stream, 2), 5)
    assert (first["method"], first["target"], first["router"], first["upstream"], first["status"]) == (
        "GET",
        "/app/hello?x=1",
        "app@file",
        "/hello?x=1",
        200,
    )
    assert first["server"].startswith("http://127.0.0.1:") and first["ms"] >= 0
    assert (second["target"], second["router"], second["upstream"], second["status"]) == ("/nowhere", None, None, 404)
    # The dashboard's own requests (and the stream itself) are not listed.
    assert [e.target for e in gateway.observability.live.ring] == ["/app/hello?x=1", "/nowhere"]


async def test_reconnect_gets_what_it_missed(live_gateway):
    gateway = await live_gateway(INSECURE)
    async with httpx.AsyncClient(timeout=5) as client:
        for _ in range(3):
            await client.get(gateway.urls["web"] + "/app/x")
        async with client.stream(
            "GET", gateway.urls["traefik"] + "/dashboard/live", headers={"Last-Event-ID": "1"}
        ) as stream:
            events = await asyncio.wait_for(_events(stream, 2), 5)
    assert [e["id"] for e in events] == [2, 3]


async def test_explain_view_is_the_explain_engine_on_the_request_as_received(live_gateway):
    gateway = await live_gateway(INSECURE, routes=BEHIND_AUTH)
    async with httpx.AsyncClient(timeout=5) as client:
        await client.get(gateway.urls["web"] + "/app/hello", headers={"X-Trace": "yes"})
        entry = gateway.observability.live.ring[-1]
        answer = await client.get(gateway.urls["traefik"] + f"/dashboard/explain?id={entry.id}")
        missing = await client.get(gateway.urls["traefik"] + "/dashboard/explain?id=999")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert ["X-Trace", "yes"] in body["request"]["headers"]
    assert not any(name.lower().startswith("x-forwarded") for name, _ in body["request"]["headers"])
    trace = body["trace"]
    assert trace["router"] == "app@file" and trace["steps"][0]["pathAfter"] == "/hello"
    assert "GET /hello HTTP/1.1" in trace["upstreamHead"] and "X-Trace: yes" in trace["upstreamHead"]
    from proxy.server.commands import explain_text
    from proxy.server.trace import trace as run

    cli = explain_text(
        await run(
            gateway.entry_point_servers["web"].runtime, "GET", gateway.urls["web"] + "/app/hello", [("X-Trace", "yes")]
        )
    )  # what `python -m proxy explain` prints
    assert body["text"].splitlines()[2:5] == cli.splitlines()[2:5]  # routers, the chosen one, its middlewares
    assert missing.status_code == 404


async def test_live_view_sits_behind_the_routers_basic_auth(live_gateway):
    gateway = await live_gateway(DASHBOARD, routes=BEHIND_AUTH)
    base = gateway.urls["traefik"]
    async with httpx.AsyncClient(timeout=5) as client:
        await client.get(gateway.urls["web"] + "/app/x")
        refused = [
            await client.get(base + path)
            for path in ("/dashboard/", "/dashboard/live", "/dashboard/live.json", "/dashboard/explain?id=1")
        ]
        page = await client.get(base + "/dashboard/", auth=("test", "test"))
        recent = await client.get(base + "/dashboard/live.json", auth=("test", "test"))
        root = await client.get(base + "/", auth=("test", "test"))
    assert [r.status_code for r in refused] == [401, 401, 401, 401]
    assert page.status_code == 200 and 'EventSource("live")' in page.text
    assert [e["target"] for e in recent.json()] == ["/app/x"]
    assert root.status_code == 404  # the dash router serves /api and /dashboard only


async def test_api_internal_redirects_its_base_path_to_the_dashboard(live_gateway):
    """Traefik's dashboard.Append: GET basePath -> 302 basePath/dashboard/ (X-Forwarded-Prefix in front)."""
    routes = routes_with(
        '[http.routers.all]\nrule = "PathPrefix(`/`)"\nservice = "api@internal"\nentryPoints = ["traefik"]\n'
    )
    # X-Forwarded-Prefix from a client the entry point does not trust is dropped before it gets there.
    gateway = await live_gateway(DASHBOARD + "[entryPoints.traefik.forwardedHeaders]\ninsecure = true\n", routes=routes)
    async with httpx.AsyncClient(timeout=5) as client:
        plain = await client.get(gateway.urls["traefik"] + "/")
        prefixed = await client.get(gateway.urls["traefik"] + "/", headers={"X-Forwarded-Prefix": "/ops/"})
    assert (plain.status_code, plain.headers["location"]) == (302, "/dashboard/")
    assert prefixed.headers["location"] == "/ops/dashboard/"


async def test_drain_ends_open_streams_at_once(live_gateway):
    gateway = await live_gateway(INSECURE + '[entryPoints.traefik.transport.lifeCycle]\ngraceTimeOut = "10s"\n')
    async with httpx.AsyncClient(timeout=5) as client:
        async with client.stream("GET", gateway.urls["traefik"] + "/dashboard/live") as stream:
            assert stream.status_code == 200
            began = time.monotonic()
            await gateway.drain()
            took = time.monotonic() - began
            rest = [chunk async for chunk in stream.aiter_bytes()]  # the stream ends cleanly (last chunk)
    assert took < 2, f"drain waited {took:.1f}s on an open dashboard stream"
    assert b"".join(rest).startswith(b"retry:")
    assert not gateway.observability.live.streams


async def test_client_leaving_unsubscribes(live_gateway):
    gateway = await live_gateway(INSECURE)
    live = gateway.observability.live
    async with httpx.AsyncClient(timeout=5) as client:
        async with client.stream("GET", gateway.urls["traefik"] + "/dashboard/live") as stream:
            await stream.aiter_bytes().__anext__()
            assert len(live.streams) == 1
    for _ in range(100):
        if not live.streams:
            break
        await asyncio.sleep(0.02)
    assert not live.streams


@pytest.mark.parametrize(
    "static",
    [
        pytest.param("", id="no-api"),
        pytest.param(
            "[api]\ninsecure = true\ndashboard = false\n", id="api-without-dashboard"
        ),  # Traefik's default: on
    ],
)
async def test_no_dashboard_no_live_view(live_gateway, static):
    """A gateway without api.dashboard pays nothing: no live view, the plain forwarded-headers stage."""
    from proxy.forwarder.forwarded import ForwardedHeaders

    gateway = await live_gateway(static)
    assert gateway.observability.live is None
    assert all(type(server.runtime.forwarded) is ForwardedHeaders for server in gateway.entry_point_servers.values())
