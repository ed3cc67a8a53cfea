"""A tiny upstream for trying the example config: the FastAPI guide's app, in plain aiohttp.

    python config/demo_app.py [--port 8000]

GET /app answers like the guide's app, with `root_path` taken from the X-Forwarded-Prefix the proxy
sends; every other path echoes what arrived, so you can see what the proxy stripped and added.
"""

from __future__ import annotations

import argparse

from aiohttp import web


async def app_endpoint(request: web.Request) -> web.Response:
    return web.json_response({"message": "Hello World", "root_path": request.headers.get("X-Forwarded-Prefix", "")})


async def echo(request: web.Request) -> web.Response:
    return web.json_response({"method": request.method, "path": request.raw_path, "headers": dict(request.headers)})


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/app", app_endpoint)
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    web.run_app(make_app(), host=args.host, port=args.port, print=None)
