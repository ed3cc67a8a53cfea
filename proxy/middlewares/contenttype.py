"""contentType: Traefik v3 `pkg/middlewares/contenttype`.

Traefik turns Go's Content-Type sniffing off on every router (a response without Content-Type goes out
without one); this middleware turns it back on for its routers: a response that has a body, no
Content-Type and no Content-Encoding gets the type Go's http.DetectContentType finds in its first bytes
(sniff.py). The deprecated `autoDetect = false` makes the middleware do nothing (Traefik returns the next
handler), with a warning; `autoDetect = true` or unset: sniffing on. So it is not a no-op even though the
proxy never sniffs by itself: that is Traefik's default, which this middleware undoes.

Go sniffs the first piece the server writes (up to 512 bytes); we sniff the first piece the upstream
sends (up to 512 bytes): the head waits for it, nothing more is held.
"""

from __future__ import annotations

import logging

from proxy.message import HeaderList, RequestHead
from proxy.middlewares.base import Middleware
from proxy.middlewares.body import BodyFilter
from proxy.middlewares.sniff import detect_content_type

log = logging.getLogger("proxy.middlewares")


class ContentType(Middleware):
    has_request_hook = False
    filters_response = True

    def __init__(self, auto_detect: bool | None = None) -> None:
        if auto_detect is not None:
            log.warning(
                "contentType: the autoDetect option is deprecated (Traefik v3): this middleware only "
                "turns Content-Type detection on; remove the option"
            )
        if auto_detect is False:
            self.filters_response = False  # Traefik hands over to the next handler: nothing happens

    def response_filter(self, req: RequestHead, status: int, headers: HeaderList) -> BodyFilter | None:
        if req.method == "HEAD" or status < 200 or status in (204, 304):
            return None
        if "content-type" in headers.keys or headers.get("content-encoding"):
            return None
        return SniffFilter()


class SniffFilter(BodyFilter):
    __slots__ = ("held",)

    def __init__(self) -> None:
        super().__init__()
        self.held: tuple[int, HeaderList] | None = None

    def head(self, status: int, headers: HeaderList) -> None:
        self.held = (status, headers)

    def body(self, data: bytes) -> None:
        held = self.held
        if held is not None and data:
            self.held = None
            held[1].add("Content-Type", detect_content_type(data))
            self.down.head(*held)
        self.down.body(data)

    def end(self, trailers: list[tuple[bytes, bytes]]) -> None:
        if self.held is not None:  # an empty body: Go does not sniff nothing
            held, self.held = self.held, None
            self.down.head(*held)
        self.down.end(trailers)
