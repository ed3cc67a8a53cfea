"""prefixRewrite: stripproxy's own middleware (not Traefik's) for apps that do not know their prefix.

A router strips `/api/v1` and the app behind it answers as if it lived at `/`: `Location: /login`,
`Set-Cookie: ...; Path=/`, HTML linking `/static/app.css`. This middleware gives the prefix back to what the
client sees (proxy/prefixrewrite/headers.py says exactly what, markup.py for bodies). The prefix is what the
router's stripPrefix / stripPrefixRegex removed from THIS request: the X-Forwarded-Prefix values added
after this middleware's request hook ran; else what a replacePathRegex that only strips (`^/api/v1/(.*)` ->
`/$1`) removed. It therefore belongs before the strip in the chain (the builder
refuses it after one); the gateway-wide option (`--rewrite-prefix`, `Gateway(rewrite_prefix=...)`) puts it
first on every router whose chain strips a prefix, and nowhere else.

Options (keys as in a Traefik file, under `prefixRewrite`): `headers` (Location, Content-Location,
Refresh, Link; default true), `cookies` (Set-Cookie Path and Domain; default true), `slashRedirect`
(default false: a request for the prefix itself without its trailing slash, `/api/v1`, gets a 301 to
`/api/v1/` as nginx answers for a prefix location, so the app's relative links resolve under the prefix),
`html` (default false: HTML and CSS bodies too, see markup.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from proxy.asgi import forwarded_prefix
from proxy.message import HeaderList, Reply, RequestHead
from proxy.middlewares.base import Middleware
from proxy.middlewares.body import BodyFilter
from proxy.middlewares.redirectregex import go_redirect
from proxy.middlewares.replacepathregex import ReplacePathRegex
from proxy.middlewares.stripprefix import FORWARDED_PREFIX, StripPrefix
from proxy.middlewares.stripprefixregex import StripPrefixRegex
from proxy.prefixrewrite.headers import Origins, hosts_of, rewrite_headers

GATEWAY_WIDE = "rewrite-prefix@stripproxy"  # the name the gateway-wide instance has in a router's chain


class PrefixRewrite(Middleware):
    per_router = True  # bound to its router's strips and servers (see `bind`)
    has_response_hook = True

    def __init__(
        self, headers: bool = True, cookies: bool = True, slash_redirect: bool = False, html: bool = False
    ) -> None:
        self.urls = headers
        self.cookies = cookies
        self.slash_redirect = slash_redirect
        self.html = html
        self.filters_response = html
        if html:  # JSON, images...: the forwarder's plain path, not the filter chain
            from proxy.prefixrewrite.markup import might_rewrite

            self.body_probe = might_rewrite
        self.has_response_hook = headers or cookies
        # A response without any of these is left as it is: it may go out as the upstream wrote it.
        self.response_header_names = frozenset(
            [
                *(("location", "content-location", "refresh", "link") if headers else ()),
                *(("set-cookie",) if cookies else ()),
            ]
        )
        self.strips: tuple[Middleware, ...] = ()
        self.upstream: frozenset[str] = frozenset()
        self.upstream_hosts: frozenset[str] = frozenset()
        self.own_cookies: frozenset[str] = frozenset()  # the router's sticky cookies: the gateway's, not the app's

    def bind(self, strips: Iterable[Middleware], upstream: Iterable[str], own_cookies: Iterable[str] = ()) -> None:
        """The router's strip middlewares (after this one, in order), its servers as `host:port` and the
        names of the sticky cookies its service sets (left as configured)."""
        self.strips = tuple(strips)
        self.upstream = frozenset(upstream)
        self.upstream_hosts = hosts_of(self.upstream)
        self.own_cookies = frozenset(own_cookies)

    # -- request: remember what the client sent; the slash redirect -------------------------------------
    def on_request(self, req: RequestHead) -> Reply | None:
        if FORWARDED_PREFIX.lower() in req.headers.keys:  # rare: only such requests count them
            req.client_prefixes = len(req.headers.get_all(FORWARDED_PREFIX))
        if self.slash_redirect and self.strips and self._strip_leaves_nothing(req.path):
            return go_redirect(req, req.path + "/" + ("" if req.query is None else "?" + req.query), 301)
        return None

    def _strip_leaves_nothing(self, path: str) -> bool:
        """Whether the first strip that applies takes the whole path, which does not end with a slash."""
        if path.endswith("/"):
            return False
        for strip in self.strips:
            if isinstance(strip, StripPrefix):
                prefix = next((p for p in strip.prefixes if path.startswith(p)), None)
            elif isinstance(strip, StripPrefixRegex):
                prefix = strip.prefix_of(path)
            elif isinstance(strip, ReplacePathRegex) and strip.strips is not None:
                prefix = strip.strips if path == strip.strips or path.startswith(strip.strips + "/") else None
            else:
                continue
            if prefix is not None:
                return len(prefix) >= len(path)
        return False

    # -- response -------------------------------------------------------------------------------------------
    def stripped(self, req: RequestHead) -> str | None:
        """The prefix the router's strips removed from this request, or None: what its stripPrefix /
        stripPrefixRegex said in X-Forwarded-Prefix, else what a replacePathRegex that only strips removed."""
        values = req.headers.get_all(FORWARDED_PREFIX)
        if not values:
            return req.regex_prefix or None
        return forwarded_prefix(values[req.client_prefixes :]) or req.regex_prefix or None

    def origins(self, req: RequestHead) -> Origins:
        headers = req.headers
        scheme = (headers.get("X-Forwarded-Proto") or req.scheme).lower()
        return Origins(
            scheme if scheme in ("http", "https") else req.scheme,
            headers.get("X-Forwarded-Host") or req.host,
            self.upstream,
            self.upstream_hosts,
        )

    def on_response(self, req: RequestHead, status: int, headers: HeaderList) -> None:
        prefix = self.stripped(req)
        if prefix is None:
            return
        changes = rewrite_headers(
            headers, prefix, self.origins(req), urls=self.urls, cookies=self.cookies, own_cookies=self.own_cookies
        )
        if changes:
            record_rewrites(req, changes)

    def response_filter(self, req: RequestHead, status: int, headers: HeaderList) -> BodyFilter | None:
        if not self.html or req.method == "HEAD":
            return None
        prefix = self.stripped(req)
        if prefix is None:
            return None
        from proxy.prefixrewrite.markup import markup_filter  # only routes with html on read bodies

        def report(count: int) -> None:
            if count:
                record_rewrites(req, [f"body: {count} URL(s) rewritten"])

        return markup_filter(prefix, status, headers, report)


def record_rewrites(req: RequestHead, changes: list[str]) -> None:
    """Add `changes` to what the exchange record says prefixRewrite changed (ExchangeRecord.rewrites)."""
    if req.rewrites is None:
        req.rewrites = list(changes)
    else:
        req.rewrites += changes
