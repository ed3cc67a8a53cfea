"""errors: Traefik v3 `pkg/middlewares/customerrors` (Traefik's ErrorPage config).

When the response (from the service, or from the middlewares nearer it) has a status in `status` (each
entry `N` or `N-M`; Traefik's code splits on `-` only, so `"500,502"` in a file is an error, as in Go),
its head and body are dropped (the body is read to its end, so the upstream connection stays usable) and
the client gets instead the answer of `service` to `GET <query>`: with the caught status (or the first
`statusRewrites` entry whose range holds it), and the error page's own headers and body, streamed. In
`query`, `{status}` is the status sent, `{originalStatus}` the upstream's, `{url}` the original request URL
(scheme://host/path?query, query-escaped). The page request carries the original request's headers (only
those named in errorRequestHeaders when that is set) and its Host; it goes to a server the service picks,
on that server's connection pool. 1xx pass untouched, as Traefik's writer does.

When the error service cannot be reached, the client gets the caught status with the proxy's short text for
the failure (Bad Gateway...), as Traefik's proxy writes it through the status-forcing writer.
Difference: Go ranges over the statusRewrites map in random order; we take the config's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote_plus

from proxy.forwarder.hop import HOP_HEADERS
from proxy.forwarder.subrequest import SubRequest
from proxy.forwarder.wire import ERROR_TEXT, encode_head, reason_phrase
from proxy.message import HeaderList, RequestHead
from proxy.middlewares.base import Middleware
from proxy.middlewares.body import BodyFilter
from proxy.services.loadbalancer import NoServerAvailable, Picker

_NOT_FORWARDED = HOP_HEADERS | {"content-length", "host", "expect"}


def parse_ranges(entries: Sequence[str], where: str = "status") -> tuple[tuple[int, int], ...]:
    """Traefik's types.NewHTTPCodeRanges: `N` or `N-M` per entry (more dashes: the first two parts)."""
    ranges = []
    for entry in entries:
        parts = entry.split("-")
        if len(parts) == 1:
            parts.append(parts[0])
        try:
            ranges.append((_atoi(parts[0]), _atoi(parts[1])))
        except ValueError:
            raise ValueError(f"{where}: {entry!r} is not a status code or a range like 500-599") from None
    return tuple(ranges)


def _atoi(text: str) -> int:
    if not text or not text.lstrip("+-").isdigit():
        raise ValueError(text)
    return int(text)


def _contains(ranges: tuple[tuple[int, int], ...], status: int) -> bool:
    return any(low <= status <= high for low, high in ranges)


class Errors(Middleware):
    has_request_hook = False
    filters_response = True

    def __init__(
        self,
        status: Sequence[str],
        service: Picker,
        query: str = "",
        status_rewrites: dict[str, int] | None = None,
        error_request_headers: Sequence[str] | None = None,
    ) -> None:
        self.ranges = parse_ranges(status)
        self.rewrites = tuple(
            (parse_ranges([key], f"statusRewrites.{key}"), code) for key, code in (status_rewrites or {}).items()
        )
        for _, code in self.rewrites:
            if not 100 <= code <= 999:
                raise ValueError(f"statusRewrites: {code} is not an HTTP status code")
        self.service = service
        self.query = query
        self.request_headers = (
            None if error_request_headers is None else frozenset(name.lower() for name in error_request_headers)
        )

    def response_filter(self, req: RequestHead, status: int, headers: HeaderList) -> BodyFilter | None:
        if not _contains(self.ranges, status):
            return None
        code = status
        for ranges, rewritten in self.rewrites:
            if _contains(ranges, status):
                code = rewritten
                break
        return ErrorPageFilter(self, req, code, status)

    def page_request(
        self, req: RequestHead, code: int, original: int, base_path: str, host_header: str | None
    ) -> bytes:
        query = ""
        if self.query:
            url = f"{req.scheme}://{req.host}{req.path}" + (f"?{req.query}" if req.query else "")
            query = "/" + self.query.lstrip("/")
            query = query.replace("{status}", str(code)).replace("{originalStatus}", str(original))
            query = query.replace("{url}", quote_plus(url, safe=""))
        target = base_path + (query or "/")
        wanted = self.request_headers
        headers = [
            (name, value)
            for (name, value), key in zip(req.headers.items, req.headers.keys, strict=True)
            if key not in _NOT_FORWARDED and (wanted is None or key in wanted)
        ]
        host = host_header if host_header is not None else req.host
        if host:
            headers.insert(0, ("Host", host))
        return encode_head(f"GET {target} HTTP/1.1", headers)


class ErrorPageFilter(BodyFilter):
    """A caught response: dropped as it comes; at its end, the error page goes down in its place."""

    __slots__ = ("middleware", "req", "code", "original", "sub", "sent_head")

    def __init__(self, middleware: Errors, req: RequestHead, code: int, original: int) -> None:
        super().__init__()
        self.middleware = middleware
        self.req = req
        self.code = code
        self.original = original
        self.sub: SubRequest | None = None
        self.sent_head = False

    def head(self, status: int, headers: HeaderList) -> None:
        return None  # the caught response's head never reaches the client

    def body(self, data: bytes) -> None:
        return None  # read to its end and dropped

    def end(self, trailers: list[tuple[bytes, bytes]]) -> None:
        mw = self.middleware
        try:
            req = self.req  # the page request, as the service's balancer sees it (cookies for sticky)
            server = mw.service.pick(
                RequestHead(
                    "GET",
                    "/",
                    None,
                    req.headers.copy(),
                    req.host,
                    req.client_ip,
                    req.scheme,
                    req.version,
                    req.entry_point,
                )
            )
        except NoServerAvailable:
            self.sub_failed(503, "the error page service has no server")
            return
        host = None if server.pass_host_header else server.host_header
        request = mw.page_request(self.req, self.code, self.original, server.base_path, host)
        self.sub = SubRequest(server, request, self)
        self.sub.start()

    # -- the error page, as it arrives ----------------------------------------------------------------
    def sub_head(self, status: int, headers: HeaderList) -> None:
        self.sent_head = True
        self.down.head(self.code, headers)  # the page's headers, the caught (or rewritten) status
        self.down.flush()

    def sub_body(self, data: bytes) -> None:
        self.down.body(data)
        self.down.flush()

    def sub_end(self) -> None:
        self.sub = None
        self.down.end([])
        self.down.flush()

    def sub_failed(self, status: int, detail: str) -> None:
        self.sub = None
        if not self.sent_head:
            text = ERROR_TEXT.get(status, reason_phrase(status)).encode()
            self.down.head(self.code, HeaderList([("Content-Length", str(len(text)))]))
            self.down.body(text)
        self.down.end([])
        self.down.flush()

    def close(self) -> None:
        if self.sub is not None:
            self.sub.cancel()
            self.sub = None
