"""HTML/CSS prefix rewriting end to end (ours, issue #14): a static site that knows nothing of its prefix,
its HTML and CSS gzip-encoded by the upstream, served through a live gateway behind `/api/v1` with
stripPrefix and prefixRewrite's html mode. Real sockets, a real upstream (aiohttp), real clients (httpx,
aiohttp without decompression, curl): every link a browser would follow from the pages is fetched back
through the gateway, with no headless browser."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import zlib
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
import httpx
import pytest
from site_upstream import CSS, JS, JSON, PAGE, site

from proxy.testing import serve_aiohttp

PREFIX = "/api/v1"


@pytest.fixture
async def site_url() -> AsyncIterator[str]:
    async with serve_aiohttp(site) as served:
        yield served.url


def config(site_url: str, rewrite: dict[str, Any] | None) -> dict[str, Any]:
    middlewares: dict[str, Any] = {"strip": {"stripPrefix": {"prefixes": [PREFIX]}}}
    chain = ["strip"]
    if rewrite is not None:
        middlewares["rewrite"] = {"prefixRewrite": rewrite}
        chain.insert(0, "rewrite")
    return {
        "http": {
            "routers": {"site": {"rule": f"PathPrefix(`{PREFIX}`)", "service": "site", "middlewares": chain}},
            "middlewares": middlewares,
            "services": {"site": {"loadBalancer": {"servers": [{"url": site_url}]}}},
        }
    }


class Links(HTMLParser):
    """The URLs a browser would load or follow from a page (stdlib parser: an independent reading)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.base: str | None = None
        self.style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "base" and values.get("href"):
            self.base = values["href"]
        for name in ("href", "src", "action", "formaction", "poster"):
            if values.get(name) and tag != "base":
                self.found.append(values[name] or "")
        for candidate in (values.get("srcset") or "").split(","):
            if candidate.strip():
                self.found.append(candidate.split()[0])
        self.found += css_urls(values.get("style") or "")
        if tag == "meta" and (values.get("http-equiv") or "").lower() == "refresh":
            self.found.append((values.get("content") or "").split("url=", 1)[1])
        self.style = tag == "style"

    def handle_data(self, data: str) -> None:
        if self.style:
            self.found += css_urls(data)

    def handle_endtag(self, tag: str) -> None:
        self.style = False


def css_urls(text: str) -> list[str]:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return [a or b for a, b in re.findall(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""", text)]


async def crawl(client: httpx.AsyncClient, start: str) -> dict[str, int]:
    """Every same-origin URL reachable from `start` through HTML and CSS -> its status (one fetch each)."""
    origin = urlsplit(start).netloc
    seen: dict[str, int] = {}
    queue = [start]
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        response = await client.get(url)
        seen[url] = response.status_code
        kind = response.headers.get("content-type", "")
        found: list[str] = []
        base = url
        if kind.startswith("text/html"):
            parser = Links()
            parser.feed(response.text)
            found, base = parser.found, urljoin(url, parser.base or url)
        elif kind.startswith("text/css"):
            found = css_urls(response.text)
        for link in found:
            target = urljoin(base, link).split("#")[0]
            if urlsplit(target).netloc == origin and urlsplit(target).scheme.startswith("http"):
                queue.append(target)
    return seen


async def test_every_link_works_behind_the_prefix(stripproxy: Any, site_url: str) -> None:
    gateway = await stripproxy(config(site_url, {"html": True}))
    start = gateway.url + PREFIX + "/"
    async with httpx.AsyncClient() as client:
        seen = await crawl(client, start)
    paths = {urlsplit(url).path: status for url, status in seen.items()}
    assert all(path.startswith(PREFIX + "/") for path in paths), sorted(paths)
    assert {path: status for path, status in paths.items() if status != 200} == {}
    expected = {
        "/static/app.css", "/static/theme.css", "/static/app.js", "/img/logo.png", "/img/logo@2x.png",
        "/img/bg.png", "/img/header.png", "/img/body.png", "/img/icon.png", "/img/theme.png", "/img/poster.png",
        "/img/favicon.png", "/about", "/login", "/media/v.mp4",
    }  # fmt: skip
    assert {PREFIX + path for path in expected} <= set(paths)
    assert PREFIX + "/img/commented-out.png" not in paths and PREFIX + "/no" not in paths


async def test_without_html_mode_links_break(stripproxy: Any, site_url: str) -> None:
    """The control: the same site behind the strip alone, its absolute links escape the prefix."""
    gateway = await stripproxy(config(site_url, None))
    async with httpx.AsyncClient() as client:
        page = (await client.get(gateway.url + PREFIX + "/")).text
    assert 'href="/static/app.css"' in page


async def test_gzip_page_rewritten_and_encoded_again(stripproxy: Any, site_url: str) -> None:
    gateway = await stripproxy(config(site_url, {"html": True}))
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        async with session.get(gateway.url + PREFIX + "/", headers={"Accept-Encoding": "gzip"}) as response:
            raw = await response.read()
            headers = response.headers
    assert headers["Content-Encoding"] == "gzip" and raw[:2] == b"\x1f\x8b"
    assert "Content-Length" not in headers and headers["Transfer-Encoding"] == "chunked"
    assert headers["ETag"].startswith('W/"') and "Accept-Ranges" not in headers
    page = zlib.decompress(raw, 31)
    expected = PAGE
    for path in (b"/static/", b"/img/", b'/about"', b'/login"', b'/"'):
        expected = expected.replace(b'"' + path, b'"' + PREFIX.encode() + path)
    expected = expected.replace(b"url('/img/", b"url('/api/v1/img/").replace(b"url(/img/", b"url(/api/v1/img/")
    expected = expected.replace(b"/img/logo@2x", b"/api/v1/img/logo@2x")
    assert page == expected
    assert b'window.API = "/api/data"' in page and b'<!-- <a href="/hidden"> -->' in page


async def test_css_and_untouched_types(stripproxy: Any, site_url: str) -> None:
    gateway = await stripproxy(config(site_url, {"html": True}))
    async with httpx.AsyncClient() as client:
        css = await client.get(gateway.url + PREFIX + "/static/app.css")
        js = await client.get(gateway.url + PREFIX + "/static/app.js")
        data = await client.get(gateway.url + PREFIX + "/api/data")
        missing = await client.get(gateway.url + PREFIX + "/nothing")
    assert css.headers["content-encoding"] == "gzip"
    assert css.content == CSS.replace(b'"/static', b'"/api/v1/static').replace(b"(/img", b"(/api/v1/img").replace(
        b"('/img", b"('/api/v1/img"
    ).replace(b'("/img', b'("/api/v1/img').replace(b"url(/api/v1/img/commented", b"url(/img/commented")
    assert js.content == JS  # JavaScript is not rewritten
    assert data.content == JSON and data.headers["content-length"] == str(len(JSON))  # nor JSON, length kept
    assert missing.status_code == 404 and b'href="/api/v1/"' in missing.content  # error pages are


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
async def test_curl_compressed(stripproxy: Any, site_url: str) -> None:
    gateway = await stripproxy(config(site_url, {"html": True}))
    process = await asyncio.create_subprocess_exec(  # not subprocess.run: the gateway runs on this loop
        "curl", "-sS", "--compressed", "-D", "-", gateway.url + PREFIX + "/", stdout=asyncio.subprocess.PIPE
    )  # fmt: skip
    stdout, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0
    head, _, body = stdout.partition(b"\r\n\r\n")
    assert b"content-encoding: gzip" in head.lower()
    assert b'<link rel="stylesheet" href="/api/v1/static/app.css">' in body
    assert "café".encode() in body


async def test_gateway_wide_option_and_record(stripproxy: Any, site_url: str) -> None:
    """`Gateway(rewrite_prefix="html")` (what `--rewrite-prefix=html` sets): the same on a router that has only
    its stripPrefix; the exchange record (and so explain()) says how many URLs the body had rewritten."""
    gateway = await stripproxy(config(site_url, None), rewrite_prefix="html")
    async with httpx.AsyncClient() as client:
        seen = await crawl(client, gateway.url + PREFIX + "/")
    assert {urlsplit(url).path for url in seen} >= {PREFIX + "/static/app.css", PREFIX + "/img/theme.png"}
    assert set(seen.values()) == {200}
    records = {record.original_target: record for record in gateway.exchanges}
    page = records[PREFIX + "/"]
    assert page.rewrites == ("body: 13 URL(s) rewritten",)
    assert records[PREFIX + "/static/app.css"].rewrites == ("body: 4 URL(s) rewritten",)
    assert records[PREFIX + "/static/app.js"].rewrites == ()


async def test_cli_rewrite_prefix_html(stripproxy_process: Any, site_url: str, tmp_path: Path) -> None:
    """The real CLI in a subprocess with `--rewrite-prefix=html`, and without it as the control."""
    path = tmp_path / "routes.yaml"  # JSON is YAML
    path.write_text(json.dumps(config(site_url, None)))
    on = await asyncio.to_thread(stripproxy_process, path, args=["--rewrite-prefix=html"])
    off = await asyncio.to_thread(stripproxy_process, path)
    async with httpx.AsyncClient() as client:
        rewritten = (await client.get(on.url + PREFIX + "/")).text
        untouched = (await client.get(off.url + PREFIX + "/")).text
    assert 'href="/api/v1/static/app.css"' in rewritten and 'srcset="/api/v1/img/logo.png 1x' in rewritten
    assert 'href="/static/app.css"' in untouched


@pytest.mark.parametrize(
    ("inner", "expected"),
    [
        pytest.param(None, b'<a href="/x">a note, not HTML</a>', id="text/plain: untouched"),
        pytest.param(
            {"headers": {"customResponseHeaders": {"Content-Type": "text/html"}}},
            b'<a href="/api/v1/x">a note, not HTML</a>',
            id="a headers middleware nearer the service makes it HTML: rewritten",
        ),
    ],
)
async def test_filter_sees_inner_hooks(
    stripproxy: Any, site_url: str, inner: dict[str, Any] | None, expected: bytes
) -> None:
    """The forwarder skips the filter chain for answers the filter's probe declines (JSON, images) only when
    no hook nearer the service can change what the filter reads: here one turns text/plain into HTML."""
    routes = config(site_url, {"html": True})
    if inner is not None:
        routes["http"]["middlewares"]["inner"] = inner
        routes["http"]["routers"]["site"]["middlewares"].insert(1, "inner")
    gateway = await stripproxy(routes)
    async with httpx.AsyncClient() as client:
        for _ in range(2):  # and the next exchange on the same connection
            note = await client.get(gateway.url + PREFIX + "/note.txt")
            data = await client.get(gateway.url + PREFIX + "/api/data")
            assert note.content == expected
            assert data.content == JSON  # (made text/html too by the inner headers middleware: no link in it)
            if inner is None:
                assert data.headers["content-length"] == str(len(JSON))  # the plain path: as the upstream sent it


def test_plan_probe() -> None:
    """Which plans let a declined answer take the plain path: the html filter alone, nothing nearer the
    service with a response hook."""
    from proxy.middlewares.compress import Compress
    from proxy.middlewares.headers import Headers
    from proxy.middlewares.prefixrewrite import PrefixRewrite
    from proxy.middlewares.stripprefix import StripPrefix
    from proxy.prefixrewrite.markup import might_rewrite
    from proxy.routing.plan import RoutePlan

    def plan(*middlewares: Any) -> RoutePlan:
        return RoutePlan.build("r", [(str(i), m) for i, m in enumerate(middlewares)], None, "s")

    strip = StripPrefix(["/api/v1"])
    assert plan(PrefixRewrite(html=True), strip).response_probe is might_rewrite
    assert plan(Compress(), PrefixRewrite(html=True), strip).response_probe is None  # two filters
    assert plan(PrefixRewrite(html=True), Headers(custom_response_headers={"X": "1"}), strip).response_probe is None
    assert (
        plan(Headers(custom_response_headers={"X": "1"}), PrefixRewrite(html=True), strip).response_probe
        is might_rewrite
    )
    assert plan(PrefixRewrite(), strip).response_probe is None  # no filter at all
    assert not might_rewrite(200, "application/json") and not might_rewrite(200, None)
    assert might_rewrite(200, "text/html") and might_rewrite(404, "TEXT/CSS")
    assert not might_rewrite(304, "text/html") and not might_rewrite(204, "text/html")
