"""redirectRegex: Traefik v3 `pkg/middlewares/redirect/redirect_regex.go` + the shared `redirect.go`.

The URL matched is `scheme://Host` + the request-target: scheme is `https` only when the client connection
is TLS (X-Forwarded-Proto is NOT consulted), Host is the Host header as sent (port included), and the target
is the current one, so a stripPrefix earlier in the chain has already removed its prefix. On a match, every
occurrence is replaced (Go ReplaceAllString, `${1}`); the result is parsed as Go's url.Parse does (failure:
502) and, if it differs from the original, sent as Location: 302 for GET and 307 otherwise, or 301/308 when
`permanent`. A rewrite to the same URL forwards the request unchanged.
"""

from __future__ import annotations

import posixpath
import re
from http import HTTPStatus
from urllib.parse import urlsplit

from proxy.goregex import compile_go_regexp, replace_all
from proxy.message import Reply, RequestHead
from proxy.middlewares.base import Middleware
from proxy.netutil import status_text
from proxy.urlpath import from_text, normalize_url, to_text

# Splits an absolute-form request-target (`GET http://host:port/path`), as Traefik does.
ABSOLUTE_TARGET = compile_go_regexp(r"^(https?):\/\/(\[[\w:.]+\]|[\w\._-]+)?(:\d+)?(.*)$")


def redirect_status(method: str, permanent: bool, status_code: int | None) -> int:
    if status_code is not None:
        return status_code
    if permanent:
        return 301 if method == "GET" else 308
    return 302 if method == "GET" else 307


def split_target(req: RequestHead) -> tuple[str, str, str, str] | None:
    """(scheme, host, port, uri) from an absolute-form target, or None for the usual origin form."""
    m = ABSOLUTE_TARGET.match(req.target)
    if m is None:
        return None
    return m.group(1), m.group(2) or "", m.group(3) or "", m.group(4)


class RedirectRegex(Middleware):
    def __init__(self, regex: str, replacement: str, permanent: bool = False, status_code: int | None = None) -> None:
        self.regex: re.Pattern[str] = compile_go_regexp(regex)
        self.replacement = replacement
        self.permanent = permanent
        if status_code is not None and not 300 <= status_code <= 399:
            raise ValueError(f"redirect: status code {status_code} is not a 3xx redirect status")
        self.status_code = status_code

    def request_url(self, req: RequestHead) -> str:
        """The URL the regex sees (Traefik's rawURL)."""
        scheme, host, port, uri = "http", req.host, "", req.target
        parts = split_target(req)
        if parts is not None:
            scheme, host, port, uri = parts[0], parts[1] or host, parts[2], parts[3]
        if req.scheme == "https":
            scheme = "https"
        return f"{scheme}://{host}{port}{uri}"

    def on_request(self, req: RequestHead) -> Reply | None:
        old_url = to_text(self.request_url(req))
        if not self.regex.search(old_url):
            return None
        new_url = replace_all(self.regex, old_url, self.replacement)
        try:
            location = normalize_url(from_text(new_url))
        except ValueError:  # oxy's default error handler: a url.Error is a net.Error -> 502
            return Reply(502, [("Content-Type", "text/plain; charset=utf-8")], b"Bad Gateway")
        if new_url == old_url:
            return None
        status = redirect_status(req.method, self.permanent, self.status_code)
        return Reply.text(status, HTTPStatus(status).phrase, [("Location", location)])


def go_redirect(req: RequestHead, url: str, status: int) -> Reply:
    """Go's http.Redirect: a relative target made absolute against the request path; a short HTML body
    naming the status for GET (the Content-Type for HEAD too)."""
    parts = urlsplit(url)
    if not parts.scheme and not parts.netloc:
        if not url.startswith("/"):
            url = posixpath.dirname(req.path or "/").rstrip("/") + "/" + url
        path, sep, query = url.partition("?")
        trailing = path.endswith("/")
        path = posixpath.normpath(path)
        if path.startswith("//"):
            path = "/" + path.lstrip("/")
        if trailing and not path.endswith("/"):
            path += "/"
        url = path + (sep + query if sep else "")
    headers = [("Location", url)]
    body = b""
    if req.method in ("GET", "HEAD"):
        headers.append(("Content-Type", "text/html; charset=utf-8"))
    if req.method == "GET":
        escaped = (
            url.replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
            .replace('"', "&#34;")
            .replace("'", "&#39;")
        )
        body = f'<a href="{escaped}">{status_text(status)}</a>.\n\n'.encode()
    return Reply(status, headers, body)
