"""metrics.prometheus against a live gateway, scraped with httpx: Traefik's metric names, label sets and
counts after a known number of requests (pkg/observability/metrics/prometheus_test.go's
TestPrometheus expectations)."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def names(found) -> set[str]:
    return {name for name, _ in found}


async def scrape(gateway, entry_point: str = "traefik") -> dict:
    async with httpx.AsyncClient() as client:
        response = await client.get(gateway.urls[entry_point] + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_counts_and_labels_after_known_requests(live_gateway):
    gateway = await live_gateway("[metrics.prometheus]\naddRoutersLabels = true\n")
    async with httpx.AsyncClient(base_url=gateway.urls["web"]) as client:
        for _ in range(5):
            assert (await client.get("/app")).status_code == 200
        for _ in range(2):
            assert (await client.get("/nowhere")).status_code == 404
        await client.post("/app/teapot", content=b"x" * 10)

        async def chunks():  # no Content-Length: httpx sends it chunked, Traefik counts the bytes read
            yield b"y" * 7
            yield b"z" * 5

        assert (await client.put("/app/teapot", content=chunks())).status_code == 418
    found = await scrape(gateway)
    ep = {"entrypoint": "web", "method": "GET", "protocol": "http"}
    assert value(found, "traefik_entrypoint_requests_total", code="200", **ep) == 5
    assert value(found, "traefik_entrypoint_requests_total", code="404", **ep) == 2
    assert (
        value(found, "traefik_entrypoint_requests_total", code="418", entrypoint="web", method="POST", protocol="http")
        == 1
    )
    assert value(found, "traefik_entrypoint_request_duration_seconds_count", code="200", **ep) == 5
    assert value(found, "traefik_entrypoint_request_duration_seconds_bucket", code="200", le="+Inf", **ep) == 5
    assert value(found, "traefik_entrypoint_responses_bytes_total", code="200", **ep) == 5 * 11
    assert (
        value(
            found,
            "traefik_entrypoint_requests_bytes_total",
            code="418",
            entrypoint="web",
            method="POST",
            protocol="http",
        )
        == 10
    )
    chunked = {"code": "418", "entrypoint": "web", "method": "PUT", "protocol": "http"}
    assert value(found, "traefik_entrypoint_requests_bytes_total", **chunked) == 12
    svc = {"service": "app@file", "method": "GET", "protocol": "http"}
    assert value(found, "traefik_service_requests_total", code="200", **svc) == 5
    assert value(found, "traefik_service_request_duration_seconds_count", code="200", **svc) == 5
    assert value(found, "traefik_router_requests_total", code="200", router="app@file", **svc) == 5
    assert value(found, "traefik_router_responses_bytes_total", code="200", router="app@file", **svc) == 55
    # 404s have no router nor service; the scrape itself (an internal router) is not counted.
    assert not any(n.startswith("traefik_service") and dict(labels).get("code") == "404" for n, labels in found)
    assert (
        value(
            found, "traefik_entrypoint_requests_total", code="200", entrypoint="traefik", method="GET", protocol="http"
        )
        is None
    )
    assert value(found, "traefik_config_reloads_total") == 1
    assert value(found, "traefik_config_last_reload_success") > 1.7e9
    assert value(found, "traefik_open_connections", entrypoint="traefik", protocol="TCP") == 1
    assert value(found, "traefik_open_connections", entrypoint="web", protocol="TCP") == 0
    gateway.reload()
    assert value(await scrape(gateway), "traefik_config_reloads_total") == 2


@pytest.mark.parametrize(
    ("options", "present", "absent"),
    [
        pytest.param(
            "",
            {"traefik_entrypoint_requests_total", "traefik_service_requests_total"},
            {"traefik_router_requests_total"},
            id="traefik-defaults",
        ),
        pytest.param(
            "addEntryPointsLabels = false\naddServicesLabels = false\naddRoutersLabels = true",
            {"traefik_router_requests_total"},
            {"traefik_entrypoint_requests_total", "traefik_service_requests_total"},
            id="routers-only",
        ),
    ],
)
async def test_label_switches(live_gateway, options, present, absent):
    gateway = await live_gateway(f"[metrics.prometheus]\n{options}\n")
    async with httpx.AsyncClient(base_url=gateway.urls["web"]) as client:
        await client.get("/app")
    found = names(await scrape(gateway))
    assert present <= found and not absent & found


async def test_buckets_and_header_labels(live_gateway):
    gateway = await live_gateway(
        '[metrics.prometheus]\nbuckets = [0.05, 2.5]\n[metrics.prometheus.headerLabels]\nuseragent = "User-Agent"\n'
    )
    async with httpx.AsyncClient(base_url=gateway.urls["web"]) as client:
        await client.get("/app", headers={"User-Agent": "probe/1"})
        await client.get("/app", headers={"User-Agent": "other/2"})
    found = await scrape(gateway)
    labels = {"code": "200", "entrypoint": "web", "method": "GET", "protocol": "http"}
    assert {dict(labels)["le"] for n, labels in found if n == "traefik_entrypoint_request_duration_seconds_bucket"} == {
        "0.05",
        "2.5",
        "+Inf",
    }
    # headerLabels extend requests_total only.
    assert value(found, "traefik_entrypoint_requests_total", useragent="probe/1", **labels) == 1
    assert value(found, "traefik_entrypoint_requests_total", useragent="other/2", **labels) == 1
    assert value(found, "traefik_entrypoint_request_duration_seconds_count", **labels) == 2


async def test_manual_routing_serves_it_where_a_router_says(live_gateway):
    from obs_helpers import routes_with

    routes = routes_with(
        '[http.routers.metrics]\nrule = "Path(`/stats`)"\nservice = "prometheus@internal"\nentryPoints = ["web"]\n'
    )
    gateway = await live_gateway("[metrics.prometheus]\nmanualRouting = true\n", routes=routes)
    async with httpx.AsyncClient() as client:
        assert (await client.get(gateway.urls["traefik"] + "/metrics")).status_code == 404
        response = await client.get(gateway.urls["web"] + "/stats")
    assert response.status_code == 200 and "traefik_config_reloads_total" in response.text


@pytest.mark.parametrize(
    ("headers", "protocol"),
    [
        pytest.param({"Content-Type": "application/json"}, "http", id="json-api-call"),
        pytest.param({"Content-Type": "application/grpc"}, "grpc", id="grpc"),
        pytest.param({"Content-Type": "application/grpc-web+proto"}, "grpc-web", id="grpc-web"),
        pytest.param({"Accept": "text/event-stream"}, "sse", id="sse"),
        pytest.param({"Accept": "application/json"}, "http", id="accept-json"),
        # Traefik's containsHeader: a comma-separated item, trimmed and lower-cased, equal to the token.
        pytest.param({"Accept": "application/json, TEXT/Event-Stream"}, "sse", id="sse-among-others"),
        pytest.param({"Accept": "text/event-stream;q=0.9"}, "http", id="sse-with-parameter-is-not-the-token"),
        # isWebsocketRequest needs Connection: upgrade as well as Upgrade: websocket.
        pytest.param({"Connection": "keep-alive, Upgrade", "Upgrade": "WebSocket"}, "websocket", id="websocket"),
        pytest.param({"Upgrade": "websocket"}, "http", id="upgrade-without-connection-upgrade"),
        pytest.param({"Accept": "text/event-stream", "Content-Type": "application/grpc"}, "sse", id="sse-before-grpc"),
    ],
)
async def test_protocol_label(live_gateway, headers, protocol):
    """Traefik's getRequestProtocol (pkg/middlewares/metrics/metrics.go, Test_getRequestProtocol) decides the
    protocol label, from the headers as the client sent them."""
    gateway = await live_gateway("[metrics.prometheus]\n")
    async with httpx.AsyncClient(base_url=gateway.urls["web"]) as client:
        await client.post("/app", content=b"{}", headers=headers)
    found = await scrape(gateway)
    labels = {"code": "200", "entrypoint": "web", "method": "POST"}
    assert value(found, "traefik_entrypoint_requests_total", protocol=protocol, **labels) == 1


async def test_protocol_is_read_from_the_headers_as_received(live_gateway):
    """A headers middleware that rewrites Accept does not change the label: Traefik's entry point metrics
    see the request before any router middleware."""
    from obs_helpers import routes_with

    routes = routes_with(
        '[http.middlewares.accept.headers.customRequestHeaders]\nAccept = "application/json"\n'
    ).replace('service = "app"', 'service = "app"\nmiddlewares = ["accept"]', 1)
    gateway = await live_gateway("[metrics.prometheus]\n", routes=routes)
    async with httpx.AsyncClient(base_url=gateway.urls["web"]) as client:
        assert (await client.get("/app", headers={"Accept": "text/event-stream"})).status_code == 200
    found = await scrape(gateway)
    labels = {"code": "200", "entrypoint": "web", "method": "GET"}
    assert value(found, "traefik_entrypoint_requests_total", protocol="sse", **labels) == 1


async def test_methods_outside_traefiks_list_are_extension_method(live_gateway):
    """Traefik's getMethod (Test_getMethod): a bounded label set, whatever methods clients send."""
    gateway = await live_gateway("[metrics.prometheus]\n")
    async with httpx.AsyncClient(base_url=gateway.urls["web"]) as client:
        for method in ("PURGE", "PROPFIND", "PATCH"):
            await client.request(method, "/app")
    found = await scrape(gateway)
    labels = {"code": "200", "entrypoint": "web", "protocol": "http"}
    assert value(found, "traefik_entrypoint_requests_total", method="EXTENSION_METHOD", **labels) == 2
    assert value(found, "traefik_entrypoint_requests_total", method="PATCH", **labels) == 1
    assert value(found, "traefik_entrypoint_requests_total", method="PURGE", **labels) is None


async def test_interleaved_series_and_batched_durations_add_up(live_gateway, monkeypatch):
    """Exchanges of several series in turn (the previous exchange's series is tried first) and durations
    folded into the histogram in batches (FOLD_AT) give the counts, sums and buckets one by one would."""
    from proxy.observability import metrics

    monkeypatch.setattr(metrics, "FOLD_AT", 3)
    gateway = await live_gateway("[metrics.prometheus]\nbuckets = [0.2, 5.0]\n")
    async with httpx.AsyncClient(base_url=gateway.urls["web"]) as client:
        for path in ["/app", "/app", "/nowhere", "/app", "/app/slow", "/nowhere", "/app", "/app", "/app/slow"]:
            await client.get(path)
    found = await scrape(gateway)
    ok = {"code": "200", "entrypoint": "web", "method": "GET", "protocol": "http"}
    missed = dict(ok, code="404")
    assert value(found, "traefik_entrypoint_requests_total", **ok) == 7
    assert value(found, "traefik_entrypoint_requests_total", **missed) == 2
    assert value(found, "traefik_entrypoint_request_duration_seconds_count", **ok) == 7
    # The two /slow requests (0.3 s) are above the 0.2 s bucket, the five others below it.
    assert value(found, "traefik_entrypoint_request_duration_seconds_bucket", le="0.2", **ok) == 5
    assert value(found, "traefik_entrypoint_request_duration_seconds_bucket", le="5.0", **ok) == 7
    assert value(found, "traefik_entrypoint_request_duration_seconds_bucket", le="+Inf", **ok) == 7
    assert 0.6 <= value(found, "traefik_entrypoint_request_duration_seconds_sum", **ok) < 5
    assert value(found, "traefik_entrypoint_responses_bytes_total", **ok) == 7 * 11
    assert value(found, "traefik_entrypoint_request_duration_seconds_count", **missed) == 2
