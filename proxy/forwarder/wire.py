"""Turning heads back into bytes, and the plain-text answers the proxy gives itself (404, 502, 504...)."""

from __future__ import annotations

from http import HTTPStatus

from proxy.message import Reply

CRLF = "\r\n"
LAST_CHUNK = b"0\r\n\r\n"

# Traefik's (Go's) own bodies for the errors it answers itself.
ERROR_TEXT = {
    400: "400 Bad Request",
    404: "404 page not found\n",
    413: "Request Entity Too Large",
    431: "431 Request Header Fields Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


# Looked up once per response: HTTPStatus(status) is an Enum call, far slower than a dict.
_REASONS = {status.value: status.phrase for status in HTTPStatus}


def reason_phrase(status: int) -> str:
    return _REASONS.get(status, "Unknown")


# Where Go's http.StatusText differs from Python's phrases.
_GO_TEXTS = {414: "Request URI Too Long", 418: "I'm a teapot"}


def status_text(status: int) -> str:
    """Go's http.StatusText: the text Traefik's middlewares put in the bodies they write; "" when unknown."""
    return _GO_TEXTS.get(status) or _REASONS.get(status, "")


def status_line(status: int) -> str:
    """`HTTP/1.1 <status> <reason>`, the first line of every response we send."""
    line = _STATUS_LINES.get(status)
    if line is None:  # a code outside HTTPStatus (e.g. 299): rare, built each time, never cached
        line = f"HTTP/1.1 {status} {reason_phrase(status)}"
    return line


_STATUS_LINES = {status: f"HTTP/1.1 {status} {phrase}" for status, phrase in _REASONS.items()}
_STATUS_LINE_BYTES = {status: line.encode() for status, line in _STATUS_LINES.items()}


def status_line_bytes(status: int) -> bytes:
    line = _STATUS_LINE_BYTES.get(status)
    return line if line is not None else status_line(status).encode()


def encode_head(first_line: str, headers: list[tuple[str, str]]) -> bytes:
    """One head as bytes: the first line, each header, the blank line; latin-1 round-trips every byte."""
    # `": ".join` on each (name, value) pair and one CRLF join: no Python-level loop per header.
    return CRLF.join([first_line, *map(": ".join, headers), "", ""]).encode("latin-1")


def encode_chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


def error_reply(status: int) -> Reply:
    """A short plain answer for the proxy's own errors: the status text only. What went wrong goes to the
    log and the exchange's `detail` (see Exchange.fail), never to the client."""
    return Reply.text(status, ERROR_TEXT.get(status, reason_phrase(status)))


def encode_reply(reply: Reply, keep_alive: bool, head_only: bool) -> bytes:
    """A complete response for a Reply; Content-Length is always set so keep-alive can go on."""
    headers = [(k, v) for k, v in reply.headers if k.lower() not in ("content-length", "connection")]
    headers.append(("Content-Length", str(len(reply.body))))
    if not keep_alive:
        headers.append(("Connection", "close"))
    head = encode_head(status_line(reply.status), headers)
    if head_only or reply.status in (204, 304) or reply.status < 200:
        return head
    return head + reply.body
