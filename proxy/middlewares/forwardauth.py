"""forwardAuth: ask an auth server about each request; a 2xx lets it through, anything else is the answer.

Source (traefik/traefik): pkg/middlewares/auth/forward.go (+ forward_test.go). The auth request is a GET to
`address` (the client's method with preserveRequestMethod) carrying the client's headers less the hop-by-hop
ones, filtered by authRequestHeaders, with X-Forwarded-For / -Method / -Proto / -Host / -Uri (and -Port when
trustForwardHeader is set) as `forwardauth_headers.auth_request_headers` builds them; no redirect is
followed; the whole exchange has 30 s. A non-2xx answer goes to the client with its status, headers (less
hop-by-hop ones) and body; its Location is made absolute against `address` unless preserveLocationHeader.
A 2xx answer copies authResponseHeaders / authResponseHeadersRegex into the forwarded request, and the
cookies named in addAuthCookiesToResponse onto the upstream's response. The auth server unreachable or
slower than 30 s: 500 with an empty body, as Traefik.

Connections: one aiohttp ClientSession per middleware (pooled keep-alive connections, no cookie jar, no
automatic decompression), created on first use on the running loop and closed when the gateway stops or
reloads, once the requests still using it are done.
"""

from __future__ import annotations

import logging
import re
import zlib
from typing import Any
from urllib.parse import urljoin, urlsplit

from proxy.goregex import compile_go_regexp
from proxy.message import HeaderList, Reply, RequestHead
from proxy.middlewares.base import Middleware
from proxy.middlewares.forwardauth_headers import (
    HOP_HEADERS,
    X_HEADERS,
    auth_request_headers,
    canonical_key,
    cookie_name,
    may_copy_into_request,
    wants_gzip,
    wire_headers,
)
from proxy.middlewares.redirectregex import go_redirect

log = logging.getLogger("proxy.middlewares.forwardauth")

TIMEOUT = 30.0  # Traefik's http.Client Timeout for the auth request
IDLE_TIMEOUT = 90.0  # Go's DefaultTransport IdleConnTimeout
MAX_CONNECTIONS = 256  # open connections to one auth server; more requests wait for one
_SKIP_AUTO = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


class ForwardAuth(Middleware):
    waits = True
    edits_request_headers = True

    def __init__(
        self,
        name: str,
        address: str,
        tls: Any = None,
        trust_forward_header: bool | None = None,
        auth_response_headers: list[str] | None = None,
        auth_response_headers_regex: str = "",
        auth_request_headers: list[str] | None = None,
        max_response_body_size: int | None = None,
        add_auth_cookies_to_response: list[str] | None = None,
        header_field: str = "",
        forward_body: bool = False,
        max_body_size: int | None = -1,
        preserve_location_header: bool = False,
        preserve_request_method: bool = False,
        auth_signin_url: str = "",
    ) -> None:
        self.name = name
        parts = urlsplit(address)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"address: {address!r} is not an http:// or https:// URL")
        if forward_body:
            raise ValueError(
                "forwardBody: sending the request body to the auth server is not supported yet "
                "by stripproxy (remove forwardBody, or set it to false)"
            )
        self.address = address
        self.ssl: Any = None
        if parts.scheme == "https" or tls is not None:
            from proxy.middlewares.clienttls import ssl_context

            self.ssl = ssl_context(tls, "tls")
            if tls is not None and tls.ca_optional is not None:
                log.warning("forwardAuth %s: tls.caOptional is deprecated and has no effect", name)
        self.trust = trust_forward_header
        if trust_forward_header is None:
            log.warning(
                "forwardAuth %s: trustForwardHeader is not set: X-Forwarded-For, -Proto, -Method, -Host "
                "and -Uri sent to the auth server are the proxy's own, other X-Forwarded-* headers go "
                "as the request has them; set it to false to drop them all, true to trust them",
                name,
            )
        allowed = list(auth_request_headers or [])
        if trust_forward_header and allowed:
            allowed += X_HEADERS
        self.allowed = allowed
        self.copied = []
        for header in auth_response_headers or []:
            if may_copy_into_request(header):
                self.copied.append(canonical_key(header))
            else:
                log.warning(
                    "forwardAuth %s: authResponseHeaders: %r is not copied into the forwarded request "
                    "(hop-by-hop, framing or proxy-managed X-Forwarded header)",
                    name,
                    header,
                )
        self.regex: re.Pattern[str] | None = None
        if auth_response_headers_regex:
            try:
                self.regex = compile_go_regexp(auth_response_headers_regex)
            except ValueError as exc:
                raise ValueError(
                    f"authResponseHeadersRegex: error compiling regular expression {auth_response_headers_regex}: {exc}"
                ) from None
        self.max_response = -1 if max_response_body_size is None else max_response_body_size
        if max_response_body_size is None:
            log.warning(
                "forwardAuth %s: maxResponseBodySize is not set: the auth server's answers are read whole, "
                "whatever their size; set a limit",
                name,
            )
        self.auth_cookies = frozenset(add_auth_cookies_to_response or [])
        self.has_response_hook = bool(self.auth_cookies)
        self.header_field = canonical_key(header_field) if header_field else ""
        self.preserve_location = preserve_location_header
        self.preserve_method = preserve_request_method
        self.signin_url = auth_signin_url
        self._session: Any = None
        self._in_use = 0
        self._closing = False
        self._cookies: dict[int, tuple[list[str], bool]] = {}  # id(request) -> (auth cookies to add, run)

    # -- the auth call --------------------------------------------------------------------------------
    def _client(self) -> Any:
        session = self._session
        if session is None or session.closed:
            import aiohttp

            connector = aiohttp.TCPConnector(
                limit=MAX_CONNECTIONS, keepalive_timeout=IDLE_TIMEOUT, ssl=self.ssl if self.ssl is not None else True
            )
            session = self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=TIMEOUT),
                skip_auto_headers=_SKIP_AUTO,
            )
        return session

    async def on_request(self, req: RequestHead) -> Reply | None:
        import aiohttp

        method = req.method if self.preserve_method else "GET"
        headers = auth_request_headers(req, self.trust, self.allowed)
        gzip = wants_gzip(headers, method)
        sent = wire_headers(headers)
        if gzip:
            sent.append(("Accept-Encoding", "gzip"))
        self._in_use += 1
        try:
            async with self._client().request(
                method, self.address, headers=sent, allow_redirects=False, skip_auto_headers=_SKIP_AUTO
            ) as response:
                status = response.status
                raw = [(canonical_key(k.decode("latin-1")), v.decode("latin-1")) for k, v in response.raw_headers]
                body = await self._read_body(response, raw, gzip)
        except _TooLarge:
            log.debug("forwardAuth %s: response body larger than maxResponseBodySize %d", self.name, self.max_response)
            return Reply(401)
        except (TimeoutError, aiohttp.ClientError, OSError, zlib.error, ValueError) as exc:
            log.error("forwardAuth %s: error calling %s: %s", self.name, self.address, exc or type(exc).__name__)
            return Reply(500)
        finally:
            self._in_use -= 1
            if self._closing and not self._in_use:
                await self._close_session()
        auth = HeaderList(raw)
        if self.header_field and (user := auth.get(self.header_field)) is not None:
            req.client_username = user
        if self.signin_url and status == 401:
            return go_redirect(req, self.signin_url, 302)
        if status < 200 or status >= 300:
            return self._refusal(status, raw, body)
        self._let_through(req, auth)
        return None

    async def _read_body(self, response: Any, headers: list[tuple[str, str]], gzip: bool) -> bytes:
        limit = self.max_response
        chunks: list[bytes] = []
        size = 0
        inflate = None
        if gzip and (response.headers.get("Content-Encoding", "").lower() == "gzip"):
            # Go's transport asked for gzip itself, so it undoes it and hides that it did.
            headers[:] = [(k, v) for k, v in headers if k not in ("Content-Encoding", "Content-Length")]
            inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        async for piece in response.content.iter_any():
            if inflate is not None:
                piece = inflate.decompress(piece, (limit + 1 - size) if limit >= 0 else 0)
            size += len(piece)
            if 0 <= limit < size:
                raise _TooLarge
            chunks.append(piece)
        return b"".join(chunks)

    def _refusal(self, status: int, headers: list[tuple[str, str]], body: bytes) -> Reply:
        """The auth server's answer, for the client: its headers less hop-by-hop ones, its Location
        absolute unless preserveLocationHeader."""
        out = [(k, v) for k, v in headers if k.lower() not in HOP_HEADERS]
        location = next((v for k, v in headers if k == "Location"), "")
        if location:
            target = location if self.preserve_location else urljoin(self.address, location)
            out = [(k, v) for k, v in out if k != "Location"] + [("Location", target)]
        return Reply(status, out, body)

    def _let_through(self, req: RequestHead, auth: HeaderList) -> None:
        headers = req.headers
        for key in self.copied:
            headers.remove(key)
            for value in auth.get_all(key):
                headers.add(key, value)
        regex = self.regex
        if regex is not None:
            headers.items = [(k, v) for k, v in headers.items if not regex.search(canonical_key(k))]
            for key, value in auth.items:
                if regex.search(key) and may_copy_into_request(key):
                    headers.add(key, value)
        # Cookies: Traefik rewrites the upstream's Set-Cookie only when the auth answer set some.
        auth_cookies = [
            (name, value) for value in auth.get_all("Set-Cookie") if (name := cookie_name(value)) is not None
        ]
        if auth_cookies and self.auth_cookies:
            self._cookies[id(req)] = ([value for name, value in auth_cookies if name in self.auth_cookies], True)
            req_id = id(req)
            req.at_end(lambda _outcome: self._cookies.pop(req_id, None))  # no response came: forget them

    def on_response(self, req: RequestHead, status: int, headers: HeaderList) -> None:
        pending = self._cookies.pop(id(req), None)
        if pending is None:
            return
        wanted = self.auth_cookies
        kept = [
            (k, v)
            for k, v in headers.items
            if k.lower() != "set-cookie" or ((name := cookie_name(v)) is not None and name not in wanted)
        ]
        headers.items = kept + [("Set-Cookie", value) for value in pending[0]]

    # -- lifecycle ------------------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close the pooled connections now, or when the last request using them is done."""
        self._closing = True
        if not self._in_use:
            await self._close_session()

    async def _close_session(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()


class _TooLarge(Exception):
    pass
