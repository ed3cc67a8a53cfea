"""The dashboard in a real headless browser (Debian's chromium through Playwright): the live view shows a
request the test just sent, a click opens its explain view, and the routers and services tables show a
disabled router's error; every request the page makes stays on loopback (no CDN: works offline)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from proxy.testing.browser import CHROMIUM, FLAGS, missing

WHY = missing()
pytestmark = pytest.mark.skipif(WHY is not None, reason=WHY or "")

STATIC = "[api]\ninsecure = true\ndashboard = true\n"
ROUTES = """
[http.routers.app]
rule = "PathPrefix(`/app`)"
service = "app"
entryPoints = ["web"]

[http.routers.broken]
rule = "PathPrefix(`/broken`)"
service = "split"
entryPoints = ["web"]

[http.services.split.weighted]
[[http.services.split.weighted.services]]
name = "ghost"
weight = 1

[http.services.app.loadBalancer]
[[http.services.app.loadBalancer.servers]]
url = "http://127.0.0.1:1"
"""
ERROR = "the service 'ghost' does not exist"


async def test_dashboard_in_chromium_shows_live_requests_and_errors(live_gateway, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright, expect

    gateway = await live_gateway(STATIC, routes=ROUTES)
    requested: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=FLAGS, headless=True
        )
        try:
            browser.on("request", lambda request: requested.append(request.url))
            page = await browser.new_page()
            await page.goto(gateway.urls["traefik"] + "/dashboard/")
            await expect(page.locator("#state")).to_have_text("live", timeout=20_000)  # the event stream is open
            async with httpx.AsyncClient(timeout=5) as client:
                sent = await client.get(gateway.urls["web"] + "/app/hello?from=test")
            assert sent.status_code == 200
            row = page.locator("#live tbody tr", has_text="/app/hello?from=test")
            await expect(row).to_have_count(1, timeout=10_000)
            cells = await row.locator("td").all_inner_texts()
            assert cells[1:4] + [cells[5]] == ["GET", "/app/hello?from=test", "app@file", "200"]
            assert cells[4] == "/app/hello?from=test" and cells[7].startswith("http://127.0.0.1:")

            await row.click()
            await expect(page.locator("#explain")).to_be_visible()
            await expect(page.locator("#explain-title")).to_contain_text("GET /app/hello?from=test -> 200")
            await expect(page.locator("#explain-text")).to_contain_text("app@file", timeout=10_000)
            assert "GET /app/hello?from=test HTTP/1.1" in await page.locator("#explain-text").inner_text()

            broken = page.locator("#routers tbody tr", has_text="broken@file")
            await expect(broken).to_contain_text("disabled")
            await expect(broken).to_contain_text(ERROR)
            service = page.locator("#services tbody tr", has_text="split@file")
            await expect(service).to_contain_text("disabled")
            await expect(service).to_contain_text(ERROR)
            await expect(service).to_contain_text("broken@file")  # used by
        finally:
            await browser.close()
    assert requested, "the page made no request"
    outside = [url for url in requested if urlsplit(url).hostname not in ("127.0.0.1", "::1")]
    assert not outside, f"the dashboard asked for something off loopback: {outside}"
    assert {urlsplit(url).path for url in requested} >= {
        "/dashboard/",
        "/dashboard/live",
        "/api/http/routers",
        "/api/http/services",
        "/dashboard/explain",
    }
