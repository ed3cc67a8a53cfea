"""Path middlewares one after another, through a live gateway: a path that one leaves empty reaches the next
empty (Go's URL.Path), and only the forwarder sends it as `/` (Go's URL.RequestURI)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp import web

from proxy import Gateway
from proxy.testing import serve_aiohttp


async def echo(request: web.BaseRequest) -> web.Response:
    return web.Response(text=request.raw_path)


def config(url: str, middlewares: dict[str, Any], preserve_path: bool = False) -> dict[str, Any]:
    return {
        "http": {
            "routers": {"app": {"rule": "PathPrefix(`/`)", "service": "app", "middlewares": list(middlewares)}},
            "middlewares": middlewares,
            "services": {"app": {"loadBalancer": {"servers": [{"url": url, "preservePath": preserve_path}]}}},
        }
    }


@pytest.mark.parametrize(
    ("middlewares", "path", "sent"),
    [
        pytest.param(
            {"s": {"stripPrefix": {"prefixes": ["/api"]}}, "a": {"addPrefix": {"prefix": "/v2"}}},
            "/api",
            "/v2",
            id="stripPrefix empties, addPrefix adds to the empty path",
        ),
        pytest.param(
            {"s": {"stripPrefix": {"prefixes": ["/api"]}}, "a": {"addPrefix": {"prefix": "/v2"}}},
            "/api/",
            "/v2/",
            id="a slash left stays",
        ),
        pytest.param(
            {"s": {"stripPrefixRegex": {"regex": ["/[a-z]+"]}}, "a": {"addPrefix": {"prefix": "/v2"}}},
            "/api",
            "/v2",
            id="stripPrefixRegex empties",
        ),
        pytest.param({"s": {"stripPrefix": {"prefixes": ["/api"]}}}, "/api", "/", id="an empty path is sent as /"),
        pytest.param({"s": {"stripPrefix": {"prefixes": ["/api"]}}}, "/api?q=1", "/?q=1", id="with a query"),
        pytest.param(
            {"r": {"replacePath": {"path": ""}}, "a": {"addPrefix": {"prefix": "/x"}}},
            "/any",
            "/x",
            id="replacePath to empty",
        ),
    ],
)
async def test_empty_paths_between_middlewares(middlewares: dict[str, Any], path: str, sent: str) -> None:
    async with serve_aiohttp(echo) as upstream:
        async with Gateway(config(upstream.url, middlewares)) as gateway:
            async with aiohttp.ClientSession() as client, client.get(gateway.url + path) as response:
                assert response.status == 200
                assert await response.text() == sent
            assert gateway.exchanges[-1].upstream_target == sent


async def test_preserve_path_with_an_emptied_path() -> None:
    async def full(request: web.BaseRequest) -> web.Response:
        return web.Response(text=request.raw_path)

    async with serve_aiohttp(full) as upstream:
        url = upstream.url + "/base"
        async with Gateway(config(url, {"s": {"stripPrefix": {"prefixes": ["/api"]}}}, preserve_path=True)) as gw:
            async with aiohttp.ClientSession() as client, client.get(gw.url + "/api") as response:
                assert await response.text() == "/base/"  # Go's joinURLPath("/base", "") -> "/base/"
