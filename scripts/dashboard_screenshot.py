"""Write docs/dashboard.png: the dashboard of a gateway on the FastAPI guide's example routes
(config/routes.toml) with a little traffic, screenshotted with Debian's chromium (headless, through
Playwright; no browser download). Loopback only: the app behind the route is a small local aiohttp app.

    .venv/bin/python scripts/dashboard_screenshot.py [--out docs/dashboard.png]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import httpx
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from proxy.server.gateway import Gateway  # noqa: E402
from proxy.testing.browser import CHROMIUM, FLAGS, missing  # noqa: E402
from proxy.testing.upstreams import serve_aiohttp  # noqa: E402

# The guide's routes, plus a router whose service does not exist (the dashboard shows why it is disabled).
EXTRA_ROUTES = """
[http.routers.reports]
  entryPoints = ["http"]
  service = "reports"
  rule = "PathPrefix(`/reports`)"
"""
TRAFFIC = [("GET", "/api/v1/items/1"), ("POST", "/api/v1/items"), ("GET", "/api/v1/docs"), ("GET", "/favicon.ico")]


async def app_handler(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"path": request.path}, status=201 if request.method == "POST" else 200)


async def shoot(out: Path) -> None:
    from playwright.async_api import async_playwright, expect

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", app_handler)
    with tempfile.TemporaryDirectory(prefix="stripproxy-shot-") as scratch:
        work = Path(scratch)
        (work / "routes.toml").write_text((ROOT / "config" / "routes.toml").read_text() + EXTRA_ROUTES)
        static = work / "traefik.toml"
        static.write_text(
            '[entryPoints.http]\naddress = "127.0.0.1:0"\n[entryPoints.traefik]\naddress = "127.0.0.1:0"\n'
            '[providers.file]\nfilename = "routes.toml"\n[api]\ninsecure = true\ndashboard = true\n'
        )
        async with serve_aiohttp(app) as served:
            gateway = Gateway(static, services={"app": served.url}, free_ports=True)
            await gateway.start()
            try:
                async with async_playwright() as playwright:
                    browser = await playwright.chromium.launch_persistent_context(
                        str(work / "profile"),
                        executable_path=CHROMIUM,
                        args=FLAGS,
                        headless=True,
                        viewport={"width": 1100, "height": 1180},
                    )
                    try:
                        page = await browser.new_page()
                        await page.goto(gateway.urls["traefik"] + "/dashboard/")
                        await expect(page.locator("#state")).to_have_text("live", timeout=10_000)
                        async with httpx.AsyncClient(timeout=5) as client:
                            for method, path in TRAFFIC:
                                await client.request(method, gateway.urls["http"] + path, json={"n": 1})
                        rows = page.locator("#live tbody tr")
                        await expect(rows).to_have_count(len(TRAFFIC), timeout=5_000)
                        await rows.nth(len(TRAFFIC) - 2).click()  # the explain view of the POST
                        await expect(page.locator("#explain-text")).to_contain_text("app-http@file", timeout=5_000)
                        out.parent.mkdir(parents=True, exist_ok=True)
                        await page.screenshot(path=str(out), full_page=False)
                    finally:
                        await browser.close()
            finally:
                await gateway.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "dashboard.png")
    args = parser.parse_args()
    why = missing()
    if why is not None:
        print(f"dashboard_screenshot: {why}", file=sys.stderr)
        return 1
    asyncio.run(shoot(args.out))
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
