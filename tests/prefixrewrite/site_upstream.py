"""A small static site that knows nothing of its prefix, for the HTML rewriting live tests: absolute links
everywhere, its HTML and CSS gzip-encoded with a Content-Length and a strong ETag (as nginx's gzip_static or
a CDN would serve them), a script and a JSON document holding paths that must not change."""

from __future__ import annotations

import zlib

from aiohttp import web

PAGE = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Shop /home</title>
<link rel="stylesheet" href="/static/app.css">
<link rel="icon" href="/img/favicon.png">
<script src="/static/app.js"></script>
<style>header { background: url('/img/header.png') }</style>
</head><body>
<header><a href="/">Home</a> <a href="/about">About</a> <a href="/static/app.css#x">css</a></header>
<img src="/img/logo.png" srcset="/img/logo.png 1x, /img/logo@2x.png 2x" alt="logo">
<div style="background-image:url(/img/bg.png)">caf\xc3\xa9</div>
<form action="/login" method="post"><button formaction="/login">Sign in</button></form>
<a href="about">relative</a> <a href="//cdn.example.test/x.js">cdn</a> <a href="https://example.test/">out</a>
<a href="#top">top</a> <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="">
<script>window.API = "/api/data"; document.write('<a href="/no">');</script>
<!-- <a href="/hidden"> -->
</body></html>
"""
ABOUT = b"""<!DOCTYPE html><html><head><base href="/"><meta http-equiv="refresh" content="300; url=/about">
</head><body><a href="static/app.js">relative to the base</a><video poster="/img/poster.png" src="/media/v.mp4"></video>
</body></html>"""
CSS = b"""@import "/static/theme.css";
body { background: url(/img/body.png) repeat; font: 14px sans-serif }
.icon { background: url("/img/icon.png") } .logo { background: url('/img/logo.png') }
/* url(/img/commented-out.png) */
"""
THEME = b".theme { background: url(/img/theme.png) }\n"
JS = b'fetch("/api/data").then(r => r.json()); const a = "<a href=\\"/x\\">";\n'
JSON = b'{"next": "/items?page=2", "html": "<a href=\\"/x\\">"}'
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def gzipped(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


FILES: dict[str, tuple[str, bytes, bool]] = {  # path -> content type, body, gzip it
    "/": ("text/html; charset=utf-8", PAGE, True),
    "/about": ("text/html", ABOUT, False),
    "/login": ("text/html; charset=utf-8", b'<p>Signed in. <a href="/">back</a></p>', False),
    "/static/app.css": ("text/css", CSS, True),
    "/static/theme.css": ("text/css; charset=utf-8", THEME, False),
    "/static/app.js": ("application/javascript", JS, True),
    "/api/data": ("application/json", JSON, False),
    "/media/v.mp4": ("video/mp4", b"\x00\x00\x00\x18ftypmp42", False),
    "/note.txt": ("text/plain", b'<a href="/x">a note, not HTML</a>', False),
}


async def site(request: web.BaseRequest) -> web.StreamResponse:
    path = request.path
    if path.startswith("/img/") and path.endswith(".png"):
        found: tuple[str, bytes, bool] | None = ("image/png", PNG, False)
    else:
        found = FILES.get(path)
    if found is None:
        return web.Response(status=404, body=b'<p>Not found. <a href="/">home</a></p>', content_type="text/html")
    content_type, body, gzip_it = found
    headers = {"Content-Type": content_type, "ETag": f'"{zlib.crc32(body):08x}"', "Accept-Ranges": "bytes"}
    if gzip_it and "gzip" in request.headers.get("Accept-Encoding", ""):
        body = gzipped(body)
        headers["Content-Encoding"] = "gzip"
        headers["Vary"] = "Accept-Encoding"
    return web.Response(body=body, headers=headers)  # aiohttp sets Content-Length
