"""A live gateway for the middleware tests: a static file (entry point `web`, optionally trusting
forwarded headers from loopback) and a dynamic file with one router `app` -> echo upstream through the
given middlewares. The upstream answers JSON: the path and headers it received."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from proxy import Gateway
from proxy.testing import serve_aiohttp


async def echo(request: web.BaseRequest) -> web.Response:
    pairs = [[name.decode("latin-1"), value.decode("latin-1")] for name, value in request.raw_headers]
    return web.json_response({"path": request.raw_path, "headers": pairs})


def routes(middlewares: dict[str, Any], chain: list[str] | None = None) -> dict[str, Any]:
    return {
        "http": {
            "routers": {
                "app": {
                    "rule": "PathPrefix(`/`)",
                    "service": "app",
                    "entryPoints": ["web"],
                    "middlewares": chain if chain is not None else list(middlewares),
                }
            },
            "middlewares": middlewares,
            "services": {"app": {"loadBalancer": {"servers": [{"url": "http://127.0.0.1:1"}]}}},
        }
    }


@contextlib.asynccontextmanager
async def live_gateway(
    tmp_path: Path,
    middlewares: dict[str, Any],
    *,
    trusted: list[str] | None = None,
    address: str = "127.0.0.1:0",
    chain: list[str] | None = None,
    **options: Any,
) -> AsyncIterator[Gateway]:
    """`trusted`: the entry point's forwardedHeaders.trustedIPs (None: trust nobody, Traefik's default)."""
    (tmp_path / "routes.yaml").write_text(
        json.dumps(  # JSON is YAML
            routes(middlewares, chain)
        )
    )
    forwarded = f"\n[entryPoints.web.forwardedHeaders]\ntrustedIPs = {json.dumps(trusted)}\n" if trusted else ""
    (tmp_path / "traefik.toml").write_text(
        f'[entryPoints.web]\naddress = "{address}"\n{forwarded}\n[providers.file]\nfilename = "routes.yaml"\n'
    )
    async with serve_aiohttp(echo) as upstream:
        async with Gateway(
            tmp_path / "traefik.toml",
            services={"app": upstream.url},
            strict=options.pop("strict", True),
            entry_points={"web": address},
            **options,
        ) as gateway:
            yield gateway


def sent_headers(body: dict[str, Any]) -> dict[str, list[str]]:
    """What the upstream received: lower-cased name -> values."""
    result: dict[str, list[str]] = {}
    for name, value in body["headers"]:
        result.setdefault(name.lower(), []).append(value)
    return result
