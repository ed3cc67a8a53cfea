"""errors, from traefik/traefik pkg/middlewares/customerrors/custom_errors_test.go (TestHandler, Test1xxResponses),
end to end through a live gateway: a real upstream, a real error-page service, real clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from body_upstream import answer, body_of, one_router

from proxy.middlewares.errors import parse_ranges
from proxy.testing import serve_aiohttp

STATUS_TEXT = {
    200: "OK",
    206: "Partial Content",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


async def backend(request: web.BaseRequest) -> web.StreamResponse:
    """Traefik's test backend: answers `status` with its status text (304: no body), a large body on ask."""
    status = int(request.headers.get("X-Status") or request.query.get("status", "200"))
    if "size" in request.query:
        return await answer(request)
    body = b"" if status == 304 else (STATUS_TEXT.get(status, "x") + "\n").encode()
    return web.Response(status=status, body=body, headers={"X-Backend": "1"})


async def error_pages(request: web.BaseRequest) -> web.Response:
    """The error service: says what it was asked, with which Host and headers; `/404page` answers 404."""
    seen = {
        "uri": request.raw_path,
        "host": request.host,
        "method": request.method,
        "headers": {k.lower(): v for k, v in request.headers.items()},
    }
    status = 404 if request.path == "/404page" else 200
    if request.path == "/big":
        return web.Response(body=body_of(5000), content_type="text/html", headers={"X-Page": "big"})
    return web.Response(status=status, text=json.dumps(seen), content_type="application/json", headers={"X-Page": "1"})


@pytest.fixture
async def urls() -> AsyncIterator[tuple[str, str]]:
    async with serve_aiohttp(backend) as main, serve_aiohttp(error_pages) as pages:
        yield main.url, pages.url


async def gateway_with(
    stripproxy: Any, urls: tuple[str, str], before: dict[str, Any] | None = None, **options: Any
) -> Any:
    middlewares = dict(before or {})
    middlewares["e"] = {"errors": {"service": "err", **options}}
    return await stripproxy(one_router(urls[0], middlewares, err=urls[1]))


@pytest.mark.parametrize(
    ("options", "status", "headers", "check"),
    [
        pytest.param(
            {"query": "/test", "status": ["500-501", "503-599"]},
            200,
            {},
            lambda r: r.status_code == 200 and r.text == "OK\n",
            id="no error",
        ),
        pytest.param(
            {"query": "/test", "status": ["500-501", "503-599"]},
            206,
            {},
            lambda r: r.status_code == 206 and r.text == "Partial Content\n",
            id="no error, but not a 200",
        ),
        pytest.param(
            {"query": "/test", "status": ["500-501", "503-599"]},
            304,
            {},
            lambda r: r.status_code == 304 and r.content == b"",
            id="a 304, so no Write called",
        ),
        pytest.param(
            {"query": "/test", "status": ["500-501", "503-599"]},
            500,
            {},
            lambda r: r.status_code == 500 and r.json()["uri"] == "/test",
            id="in the range",
        ),
        pytest.param(
            {"query": "/test", "status": ["500-501", "503-599"]},
            502,
            {},
            lambda r: r.status_code == 502 and r.text == "Bad Gateway\n",
            id="not in the range",
        ),
        pytest.param(
            {"query": "/{status}", "status": ["503-503"]},
            503,
            {},
            lambda r: r.status_code == 503 and r.json()["uri"] == "/503",
            id="query replacement",
        ),
        pytest.param(
            {"query": "/{status}", "status": ["503"]},
            503,
            {},
            lambda r: r.status_code == 503 and r.json()["uri"] == "/503",
            id="single code and query replacement",
        ),
        pytest.param(
            {"query": "/test", "status": ["503"]},
            503,
            {},
            lambda r: r.json()["host"] == "localhost",
            id="forward request host header",
        ),
        pytest.param(
            {"query": "/?status={status}&url={url}", "status": ["503"]},
            503,
            {},
            lambda r: r.json()["uri"] == "/?status=503&url=http%3A%2F%2Flocalhost%2Ftest%3Ffoo%3Dbar%26baz%3Dbuz",
            id="full query replacement",
        ),
        pytest.param(
            {"query": "/test", "status": ["503"]},
            503,
            {"X-Request-Id": "trace-abc", "Authorization": "Bearer secret"},
            lambda r: (
                r.json()["headers"].get("x-request-id") == "trace-abc"
                and r.json()["headers"].get("authorization") == "Bearer secret"
            ),
            id="forward all headers by default",
        ),
        pytest.param(
            {"query": "/test", "status": ["503"], "errorRequestHeaders": ["X-Request-Id"]},
            503,
            {"X-Request-Id": "trace-abc", "Authorization": "Bearer secret"},
            lambda r: (
                r.json()["headers"].get("x-request-id") == "trace-abc" and "authorization" not in r.json()["headers"]
            ),
            id="forward only allowlisted headers",
        ),
        pytest.param(
            {"query": "/test", "status": ["503"], "errorRequestHeaders": []},
            503,
            {"X-Request-Id": "trace-abc", "Authorization": "Bearer secret"},
            lambda r: "x-request-id" not in r.json()["headers"] and "authorization" not in r.json()["headers"],
            id="forward no headers",
        ),
        pytest.param(
            {"query": "/test", "status": ["500-599"]},
            500,
            {},
            lambda r: r.status_code == 500 and r.headers["x-page"] == "1" and "x-backend" not in r.headers,
            id="non-nginx: code modifier enforces original error code; the page's headers, not the backend's",
        ),
        pytest.param(
            {"query": "/404page", "status": ["500-599"]},
            500,
            {},
            lambda r: r.status_code == 500 and r.json()["uri"] == "/404page",
            id="the page's own status never shows",
        ),
        pytest.param(
            {"query": "/{status}/{originalStatus}", "status": ["500-503"], "statusRewrites": {"500-502": 418}},
            500,
            {},
            lambda r: r.status_code == 418 and r.json()["uri"] == "/418/500",
            id="statusRewrites",
        ),
        pytest.param(
            {"query": "/{status}/{originalStatus}", "status": ["500-503"], "statusRewrites": {"500-502": 418}},
            503,
            {},
            lambda r: r.status_code == 503 and r.json()["uri"] == "/503/503",
            id="statusRewrites not matching",
        ),
        pytest.param(
            {"status": ["500"]},
            500,
            {},
            lambda r: r.json()["uri"] == "/" and r.json()["method"] == "GET",
            id="no query: GET /",
        ),
    ],
)
async def test_handler(
    stripproxy: Any, urls: tuple[str, str], options: dict[str, Any], status: int, headers: dict[str, str], check: Any
) -> None:
    gateway = await gateway_with(stripproxy, urls, **options)
    port = gateway.url.rsplit(":", 1)[1]
    async with httpx.AsyncClient() as client:
        # Traefik's test request is http://localhost/test?foo=bar&baz=buz: the Host here is `localhost`.
        response = await client.get(
            f"http://127.0.0.1:{port}/test?foo=bar&baz=buz",
            headers={"Host": "localhost", "X-Status": str(status), **headers},
        )
    assert check(response), (response.status_code, response.headers, response.text)


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        pytest.param(["500-599"], ((500, 599),), id="range"),
        pytest.param(["404"], ((404, 404),), id="single"),
        pytest.param(["404", "500-502"], ((404, 404), (500, 502)), id="several"),
        pytest.param(["500-502-504"], ((500, 502),), id="extra dash ignored as Go does"),
    ],
)
def test_ranges(entries: list[str], expected: tuple[tuple[int, int], ...]) -> None:
    assert parse_ranges(entries) == expected


@pytest.mark.parametrize("entry", ["500,502", "abc", "500-", ""])
def test_bad_ranges(entry: str) -> None:
    with pytest.raises(ValueError, match="status"):
        parse_ranges([entry])


async def test_missing_service_disables_the_router(urls: tuple[str, str]) -> None:
    from proxy import Gateway

    config = one_router(urls[0], {"e": {"errors": {"status": ["500"], "service": "nope", "query": "/"}}})
    problems = Gateway(config, free_ports=True).problems
    assert any("nope" in problem for problem in problems), problems


async def test_error_service_down_keeps_the_status(stripproxy: Any, urls: tuple[str, str]) -> None:
    from proxy.testing.upstreams import bound_socket

    sock = bound_socket()  # bound, never listening: connection refused
    try:
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
        gateway = await gateway_with(stripproxy, (urls[0], dead), query="/x", status=["500"])
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{gateway.url}/?status=500")
            assert response.status_code == 500 and response.text == "Bad Gateway"
            assert (await client.get(f"{gateway.url}/?status=200")).status_code == 200
    finally:
        sock.close()


async def test_upstream_body_drained_and_connection_reused(stripproxy: Any) -> None:
    connections: set[int] = set()

    async def big_500(request: web.BaseRequest) -> web.StreamResponse:
        connections.add(id(request.transport))
        return await answer(request)

    async with serve_aiohttp(big_500) as main, serve_aiohttp(error_pages) as pages:
        gateway = await gateway_with(stripproxy, (main.url, pages.url), query="/p", status=["500"])
        async with httpx.AsyncClient() as client:
            for framing in ("", "&stream=4"):
                response = await client.get(f"{gateway.url}/?status=500&size=300000{framing}")
                assert response.status_code == 500 and response.json()["uri"] == "/p"
            assert (await client.get(f"{gateway.url}/?size=5")).content == body_of(5)
    assert len(connections) == 1  # the 300 kB bodies were read to their end: the connection stayed good


@pytest.mark.parametrize(
    ("order", "compressed"),
    [
        pytest.param(["c", "e"], True, id="compress before errors: the page is compressed"),
        pytest.param(["e", "c"], False, id="compress after errors (nearer the service): the page does not pass it"),
    ],
)
async def test_with_compress(stripproxy: Any, urls: tuple[str, str], order: list[str], compressed: bool) -> None:
    middlewares = {"c": {"compress": {}}, "e": {"errors": {"service": "err", "status": ["500"], "query": "/big"}}}
    config = one_router(urls[0], {name: middlewares[name] for name in order}, err=urls[1])
    gateway = await stripproxy(config)
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{gateway.url}/?status=500", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 500 and response.content == body_of(5000)
    encoded = response.headers.get("content-encoding") == "gzip"
    assert encoded is compressed


async def test_head_request_gets_the_page_head_only(stripproxy: Any, urls: tuple[str, str]) -> None:
    gateway = await gateway_with(stripproxy, urls, query="/big", status=["500"])
    async with httpx.AsyncClient() as client:
        response = await client.head(f"{gateway.url}/?status=500")
        assert response.status_code == 500 and response.content == b"" and response.headers["x-page"] == "big"
        assert (await client.get(f"{gateway.url}/?status=200")).text == "OK\n"  # the connection is in step


async def test_1xx_responses_pass(stripproxy: Any, urls: tuple[str, str]) -> None:
    """Test1xxResponses: interim answers go through; the final 200 is caught (status 200 configured)."""

    async def early_hints(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHello"
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(early_hints, "127.0.0.1", 0)
    try:
        main = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        gateway = await gateway_with(stripproxy, (main, urls[1]), query="/", status=["200"])
        host, port = gateway.url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 10)
        writer.close()
    finally:
        server.close()
    assert data.startswith(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n")
    assert b"HTTP/1.1 200 OK" in data and b'"uri": "/"' in data and b"Hello" not in data


async def test_client_leaving_while_the_page_is_fetched(stripproxy: Any) -> None:
    asked = asyncio.Event()

    async def slow_page(request: web.BaseRequest) -> web.Response:
        asked.set()
        await asyncio.sleep(1)
        return web.Response(text="late")

    async with serve_aiohttp(backend) as main, serve_aiohttp(slow_page) as pages:
        gateway = await gateway_with(stripproxy, (main.url, pages.url), query="/", status=["500"])
        host, port = gateway.url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /?status=500 HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        await asyncio.wait_for(asked.wait(), 5)
        writer.close()
        await asyncio.sleep(0.1)
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{gateway.url}/?status=200")).status_code == 200


# -- answers the proxy or a middleware gives pass back through the middlewares before (Traefik's writers) ----
async def test_backend_down_gets_the_error_page(stripproxy: Any, urls: tuple[str, str]) -> None:
    """The most common use: a 502 from a server that is down is replaced by the page, status kept."""
    from proxy.testing.upstreams import bound_socket

    sock = bound_socket()  # bound, never listening: connection refused
    try:
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
        gateway = await gateway_with(stripproxy, (dead, urls[1]), query="/{status}", status=["502-504"])
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{gateway.url}/anything")
    finally:
        sock.close()
    assert response.status_code == 502 and response.json()["uri"] == "/502"


@pytest.mark.parametrize(
    ("order", "caught"),
    [
        pytest.param(["e", "redirect"], True, id="errors before the middleware that answers: caught"),
        pytest.param(["redirect", "e"], False, id="errors after it: never sees the answer"),
    ],
)
async def test_a_middleware_answer_passes_back(
    stripproxy: Any, urls: tuple[str, str], order: list[str], caught: bool
) -> None:
    middlewares = {
        "redirect": {"redirectScheme": {"scheme": "https", "permanent": True}},
        "e": {"errors": {"service": "err", "status": ["301"], "query": "/moved"}},
        "c": {"compress": {}},
    }
    config = one_router(urls[0], {name: middlewares[name] for name in ["c", *order]}, err=urls[1])
    gateway = await stripproxy(config)
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{gateway.url}/x", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 301
    assert response.headers["vary"] == "Accept-Encoding"  # compress, first of all, saw the answer too
    if caught:
        assert response.json()["uri"] == "/moved" and "location" not in response.headers
    else:
        assert response.headers["location"].startswith("https://")


async def test_error_service_response_header_timeout(stripproxy: Any) -> None:
    async def hang(request: web.BaseRequest) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="too late")

    async with serve_aiohttp(backend) as main, serve_aiohttp(hang) as pages:
        config = one_router(
            main.url, {"e": {"errors": {"service": "err", "status": ["500"], "query": "/"}}}, err=pages.url
        )
        config["http"]["services"]["err"]["loadBalancer"]["serversTransport"] = "quick"
        config["http"]["serversTransports"] = {"quick": {"forwardingTimeouts": {"responseHeaderTimeout": "200ms"}}}
        gateway = await stripproxy(config)
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{gateway.url}/?status=500")
    assert response.status_code == 500 and response.text == "Gateway Timeout"
