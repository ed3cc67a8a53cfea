"""Reading a TLS ClientHello before the handshake, as Traefik's TCP router does (clientHelloInfo).

The first byte tells TLS (0x16, a handshake record; 0x80, an SSLv2 hello, refused later by the real
handshake) from plain HTTP. For TLS the server name (SNI) decides the TLS options and the certificate, so the
whole ClientHello is read (peeked, never consumed) first.
"""

from __future__ import annotations

from typing import NamedTuple

HANDSHAKE = 0x16
SSLV2 = 0x80
MAX_HELLO = 1 << 16  # bytes peeked at most; a ClientHello bigger than this is handled without SNI


class ClientHello(NamedTuple):
    server_name: str
    protocols: tuple[str, ...]


def is_tls_start(first: int) -> bool:
    return first in (HANDSHAKE, SSLV2)


def parse_client_hello(data: bytes) -> ClientHello | None:
    """The SNI and ALPN of a ClientHello at the start of `data`; None while more bytes are needed.

    Garbage that is not a ClientHello gives an empty one: the real handshake will refuse it.
    """
    if not data or data[0] != HANDSHAKE:
        return ClientHello("", ())
    message = bytearray()
    at = 0
    needed = -1
    while needed < 0 or len(message) < needed:
        if len(data) < at + 5:
            return None if len(data) < MAX_HELLO else ClientHello("", ())
        if data[at] != HANDSHAKE:
            return ClientHello("", ())
        length = int.from_bytes(data[at + 3 : at + 5], "big")
        if len(data) < at + 5 + length:
            return None if len(data) < MAX_HELLO else ClientHello("", ())
        message += data[at + 5 : at + 5 + length]
        at += 5 + length
        if needed < 0 and len(message) >= 4:
            if message[0] != 1:  # not a ClientHello
                return ClientHello("", ())
            needed = 4 + int.from_bytes(message[1:4], "big")
    try:
        return _fields(bytes(message[4:needed]))
    except (IndexError, UnicodeDecodeError):
        return ClientHello("", ())


def _fields(body: bytes) -> ClientHello:
    at = 2 + 32  # legacy version, random
    at += 1 + body[at]  # session id
    at += 2 + int.from_bytes(body[at : at + 2], "big")  # cipher suites
    at += 1 + body[at]  # compression methods
    if at + 2 > len(body):
        return ClientHello("", ())
    end = at + 2 + int.from_bytes(body[at : at + 2], "big")
    at += 2
    server_name, protocols = "", tuple[str, ...]()
    while at + 4 <= end:
        kind = int.from_bytes(body[at : at + 2], "big")
        size = int.from_bytes(body[at + 2 : at + 4], "big")
        ext = body[at + 4 : at + 4 + size]
        at += 4 + size
        if kind == 0 and len(ext) >= 5 and ext[2] == 0:  # server_name, host_name entry
            name_len = int.from_bytes(ext[3:5], "big")
            server_name = ext[5 : 5 + name_len].decode("ascii")
        elif kind == 16 and len(ext) >= 2:  # application_layer_protocol_negotiation
            names, pos, stop = [], 2, 2 + int.from_bytes(ext[0:2], "big")
            while pos < stop and pos < len(ext):
                n = ext[pos]
                names.append(ext[pos + 1 : pos + 1 + n].decode("ascii"))
                pos += 1 + n
            protocols = tuple(names)
    return ClientHello(server_name.rstrip("."), protocols)
