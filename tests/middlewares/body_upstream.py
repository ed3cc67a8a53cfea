"""A loopback upstream whose answer the request chooses, for the body-middleware tests (compress, buffering,
contentType, errors), and the one-router configs they run behind."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

TEXT = b"The quick brown fox jumps over the lazy dog. "


def body_of(size: int) -> bytes:
    return (TEXT * (size // len(TEXT) + 1))[:size]


async def answer(request: web.BaseRequest) -> web.StreamResponse:
    """Query: size (body bytes), status, ct / ce (Content-Type / -Encoding; `none` for no Content-Type),
    h=Name:Value (repeatable), stream=N (N pieces of size bytes, chunked, `gap` seconds apart),
    echo=1 (the request's body, with its length in X-Body-Length)."""
    q = request.query
    status = int(q.get("status", "200"))
    headers: list[tuple[str, str]] = [tuple(h.split(":", 1)) for h in q.getall("h", [])]
    ct = q.get("ct", "text/plain")
    if ct != "none":
        headers.append(("Content-Type", ct))
    if "ce" in q:
        headers.append(("Content-Encoding", q["ce"]))
    if q.get("echo"):
        data = await request.content.read()  # no client_max_size (request.read() stops at 1 MiB)
        headers.append(("X-Body-Length", str(len(data))))
        headers.append(
            (
                "X-Request-Framing",
                "chunked"
                if "Transfer-Encoding" in request.headers
                else f"length:{request.headers.get('Content-Length')}",
            )
        )
        return web.Response(status=status, body=data, headers=headers)
    size = int(q.get("size", "0"))
    if "stream" in q:
        response = web.StreamResponse(status=status, headers=headers)
        response.enable_chunked_encoding()
        await response.prepare(request)
        gap = float(q.get("gap", "0"))
        for _ in range(int(q["stream"])):
            await response.write(body_of(size))
            if gap:
                await asyncio.sleep(gap)
        await response.write_eof()
        return response
    return web.Response(status=status, body=b"" if status in (204, 304) else body_of(size), headers=headers)


def one_router(upstream_url: str, middlewares: dict[str, dict[str, Any]], **extra_services: str) -> dict[str, Any]:
    """Router `r` (PathPrefix `/`) through `middlewares` (in order) to service `s` at `upstream_url`."""
    services = {"s": {"loadBalancer": {"servers": [{"url": upstream_url}]}}}
    for name, url in extra_services.items():
        services[name] = {"loadBalancer": {"servers": [{"url": url}]}}
    return {
        "http": {
            "routers": {"r": {"rule": "PathPrefix(`/`)", "service": "s", "middlewares": list(middlewares)}},
            "middlewares": middlewares,
            "services": services,
        }
    }
