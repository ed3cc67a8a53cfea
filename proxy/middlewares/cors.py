"""The CORS half of Traefik v3's headers middleware (`pkg/middlewares/headers/header.go`).

A preflight (OPTIONS with both Origin and Access-Control-Request-Method) is answered directly with 200 and
the Access-Control-* headers; other responses get Allow-Origin (when the Origin matches), Allow-Credentials,
Expose-Headers and Vary added on their way back. List values are joined with "," (no space), as Traefik does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from proxy.goregex import compile_go_regexp
from proxy.message import HeaderList, Reply, RequestHead


class CorsPolicy:
    def __init__(
        self,
        *,
        allow_credentials: bool = False,
        allow_headers: Sequence[str] = (),
        allow_methods: Sequence[str] = (),
        allow_origin_list: Sequence[str] = (),
        allow_origin_list_regex: Sequence[str] = (),
        expose_headers: Sequence[str] = (),
        max_age: int | None = None,
        add_vary_header: bool = False,
    ) -> None:
        self.allow_credentials = allow_credentials
        self.allow_headers = list(allow_headers)
        self.allow_methods = list(allow_methods)
        self.allow_origin_list = list(allow_origin_list)
        try:
            self.origin_regexes: list[re.Pattern[str]] = [compile_go_regexp(expr) for expr in allow_origin_list_regex]
        except ValueError as exc:
            raise ValueError(f"headers: accessControlAllowOriginListRegex: {exc}") from None
        self.expose_headers = list(expose_headers)
        self.max_age = max_age
        self.add_vary_header = add_vary_header
        self.defined = bool(
            allow_credentials
            or self.allow_headers
            or self.allow_methods
            or self.allow_origin_list
            or self.origin_regexes
            or self.expose_headers
            or max_age is not None
            or add_vary_header
        )
        # Expose-Headers is withheld when it says "*" together with credentials (a browser would refuse it).
        self.expose_value = (
            ""
            if not self.expose_headers or ("*" in self.expose_headers and allow_credentials)
            else ",".join(self.expose_headers)
        )

    def match_origin(self, origin: str) -> str | None:
        """The Access-Control-Allow-Origin value for `origin`, or None when it is not allowed."""
        for item in self.allow_origin_list:
            if item == origin:
                return item
            if item == "*":
                return origin if self.allow_credentials else "*"  # a wildcard cannot go with credentials
        for regex in self.origin_regexes:
            if regex.search(origin):
                return origin
        return None

    def preflight(self, req: RequestHead) -> Reply | None:
        """The direct answer to a CORS preflight request, or None when `req` is not one."""
        if not self.defined or req.method != "OPTIONS":
            return None
        method = req.headers.get("Access-Control-Request-Method") or ""
        origin = req.headers.get("Origin") or ""
        if not method or not origin:
            return None
        out: list[tuple[str, str]] = []
        if self.allow_credentials:
            out.append(("Access-Control-Allow-Credentials", "true"))
        if "*" in self.allow_headers and self.allow_credentials:
            requested = req.headers.get("Access-Control-Request-Headers")
            if requested:
                out.append(("Access-Control-Allow-Headers", requested))
        elif ",".join(self.allow_headers):
            out.append(("Access-Control-Allow-Headers", ",".join(self.allow_headers)))
        if "*" in self.allow_methods and self.allow_credentials:
            out.append(("Access-Control-Allow-Methods", method))
        elif ",".join(self.allow_methods):
            out.append(("Access-Control-Allow-Methods", ",".join(self.allow_methods)))
        allowed = self.match_origin(origin)
        if allowed is not None:
            out.append(("Access-Control-Allow-Origin", allowed))
        if self.max_age is not None:
            out.append(("Access-Control-Max-Age", str(self.max_age)))
        if self.expose_value:
            out.append(("Access-Control-Expose-Headers", self.expose_value))
        return Reply(200, out)

    def on_response(self, req: RequestHead, headers: HeaderList) -> None:
        """Traefik runs this part on every response through a headers middleware with custom or CORS options."""
        if not self.defined:
            return  # nothing below could apply
        allowed = self.match_origin(req.headers.get("Origin") or "")
        if allowed is not None:
            headers.set("Access-Control-Allow-Origin", allowed)
        if self.allow_credentials:
            headers.set("Access-Control-Allow-Credentials", "true")
        if self.expose_value:
            headers.set("Access-Control-Expose-Headers", self.expose_value)
        if not self.add_vary_header:
            return
        vary = headers.get("Vary") or ""
        if vary == "Origin":
            return
        headers.set("Vary", f"{vary},Origin" if vary else "Origin")
