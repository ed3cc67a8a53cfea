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


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def encode_head(first_line: str, headers: list[tuple[str, str]]) -> bytes:
    """One head as bytes: the first line, each header, the blank line; latin-1 round-trips every byte."""
    parts = [first_line, CRLF]
    for name, value in headers:
        parts += (name, ": ", value, CRLF)
    parts.append(CRLF)
    return "".join(parts).encode("latin-1")


def encode_chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


def error_reply(status: int, detail: str = "") -> Reply:
    """A short plain answer for the proxy's own errors; `detail` goes to the log, never to the client."""
    return Reply.text(status, ERROR_TEXT.get(status, reason_phrase(status)))


def encode_reply(reply: Reply, keep_alive: bool, head_only: bool) -> bytes:
    """A complete response for a Reply; Content-Length is always set so keep-alive can go on."""
    headers = [(k, v) for k, v in reply.headers if k.lower() not in ("content-length", "connection")]
    headers.append(("Content-Length", str(len(reply.body))))
    if not keep_alive:
        headers.append(("Connection", "close"))
    head = encode_head(f"HTTP/1.1 {reply.status} {reason_phrase(reply.status)}", headers)
    if head_only or reply.status in (204, 304) or reply.status < 200:
        return head
    return head + reply.body
