"""ping (pkg/ping/ping.go, ping_test.go): `/ping` on its entry point answers 200 OK, and the
terminatingStatusCode (503 by default) once the gateway drains (`gateway.terminating`)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from obs_helpers import routes_with


@pytest.mark.parametrize(
    ("static", "draining"),
    [
        pytest.param("[ping]\n", (503, "Service Unavailable"), id="defaults"),
        pytest.param("[ping]\nterminatingStatusCode = 204\n", (204, ""), id="custom-code"),
    ],
)
async def test_ping_ok_then_terminating(live_gateway, static, draining):
    gateway = await live_gateway(static)
    async with httpx.AsyncClient(base_url=gateway.urls["traefik"]) as client:
        ok = await client.get("/ping")
        assert (ok.status_code, ok.text) == (200, "OK")
        assert (await client.head("/ping")).status_code == 200
        gateway.terminating = True
        answer = await client.get("/ping")
        assert (answer.status_code, answer.text) == draining
        gateway.terminating = False
        assert (await client.get("/ping")).status_code == 200


async def test_ping_entry_point_and_manual_routing(live_gateway):
    gateway = await live_gateway('[ping]\nentryPoint = "web"\n')
    async with httpx.AsyncClient() as client:
        assert (await client.get(gateway.urls["web"] + "/ping")).text == "OK"
        assert (await client.get(gateway.urls["traefik"] + "/ping")).status_code == 404
    routes = routes_with(
        '[http.routers.health]\nrule = "Path(`/healthz`)"\nservice = "ping@internal"\nentryPoints = ["web"]\n'
    )
    gateway = await live_gateway("[ping]\nmanualRouting = true\n", routes=routes)
    async with httpx.AsyncClient() as client:
        assert (await client.get(gateway.urls["traefik"] + "/ping")).status_code == 404
        assert (await client.get(gateway.urls["web"] + "/healthz")).text == "OK"


async def test_ping_answers_503_while_the_gateway_drains(live_gateway):
    # requestAcceptGraceTimeout: the entry point still accepts for a while after the stop began (Traefik's
    # lifeCycle); that is when a load balancer's health check must see the terminating status.
    gateway = await live_gateway(
        '[ping]\n[entryPoints.traefik.transport.lifeCycle]\nrequestAcceptGraceTimeout = "1s"\ngraceTimeOut = "1s"\n'
    )
    async with httpx.AsyncClient(base_url=gateway.urls["traefik"]) as client:
        assert (await client.get("/ping")).status_code == 200
        draining = asyncio.create_task(gateway.drain())
        await asyncio.sleep(0.1)
        answer = await client.get("/ping", headers={"Connection": "close"})
        assert (answer.status_code, answer.text) == (503, "Service Unavailable")
        await draining
