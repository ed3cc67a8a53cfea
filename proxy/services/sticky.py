"""Sticky sessions by cookie, as Traefik's `sticky.cookie` (pkg/server/service/loadbalancer/sticky.go).

The cookie's value is the first 16 hex digits of the SHA-256 of the child's name (a server's URL as written
in the config, or a child service's name). Values older Traefik versions wrote (the raw name, its FNV-64
hash, the FNV-64 of that) still select the child, and the cookie is then rewritten with the SHA-256 form.
The default name is `_` and 5 hex digits of the SHA-1 of `_TRAEFIK_BACKEND_<service>@<provider>`.
"""

from __future__ import annotations

import hashlib
import re
from typing import Generic, TypeVar

from proxy.message import HeaderList, RequestHead

T = TypeVar("T")

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_NAME_UNSAFE = re.compile(r"[^!#$%&'*+\-.^_`|~0-9A-Za-z]")
_SAME_SITE = {"none": "None", "lax": "Lax", "strict": "Strict"}
_FNV64_OFFSET, _FNV64_PRIME = 0xCBF29CE484222325, 0x100000001B3


def cookie_name(configured: str, service: str) -> str:
    """Traefik's cookie.GetName: the configured name with non-token characters as `_`, else a hashed one."""
    if configured:
        return _NAME_UNSAFE.sub("_", configured)
    return ("_" + hashlib.sha1(f"_TRAEFIK_BACKEND_{service}".encode()).hexdigest())[:6]


def sha256_value(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def fnv_value(name: str) -> str:
    """FNV-1 (not 1a) 64-bit, in lower-case hex without leading zeros, as Go's strconv.FormatUint(h, 16)."""
    h = _FNV64_OFFSET
    for byte in name.encode():
        h = (h * _FNV64_PRIME) & 0xFFFFFFFFFFFFFFFF
        h ^= byte
    return format(h, "x")


def request_cookie(headers: HeaderList, name: str) -> str | None:
    """The value of the first valid cookie `name` in the request's Cookie headers (Go's req.Cookie)."""
    for line in headers.get_all("cookie"):
        for part in line.split(";"):
            key, _, value = part.strip(" \t").partition("=")
            if key.strip(" \t") != name:
                continue
            if len(value) > 1 and value[0] == '"' and value[-1] == '"':
                value = value[1:-1]
            if all(0x20 <= ord(c) < 0x7F and c not in '";\\' for c in value):
                return value
    return None


def _cookie_path(path: str) -> str:
    return "".join(c for c in path if 0x20 <= ord(c) < 0x7F and c != ";")


def _valid_domain(domain: str) -> bool:
    """Go's validCookieDomain: a cookie domain name (letters somewhere, no `_`, no empty or dash-edged
    labels), or an IPv4 address; anything else loses its Domain attribute, as Go drops it."""
    if re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", domain) and all(int(p) < 256 for p in domain.split(".")):
        return True
    name = domain[1:] if domain.startswith(".") else domain
    if not domain or len(domain) > 255:
        return False
    last, letter, part = ".", False, 0
    for c in name:
        if c.isascii() and c.isalpha():
            letter, part = True, part + 1
        elif c.isascii() and c.isdigit():
            part += 1
        elif c == "-":
            if last == ".":
                return False
            part += 1
        elif c == ".":
            if last in ".-" or part == 0 or part > 63:
                return False
            part = 0
        else:
            return False
        last = c
    return last != "-" and part <= 63 and letter


class Sticky(Generic[T]):
    """The cookie of one sticky balancer level and its children by cookie value."""

    __slots__ = ("name", "_by_value", "_legacy", "_attributes", "_set_cookie")

    def __init__(
        self,
        name: str,
        *,
        secure: bool = False,
        http_only: bool = False,
        same_site: str = "",
        max_age: int = 0,
        path: str = "/",
        domain: str = "",
    ) -> None:
        self.name = name
        self._by_value: dict[str, tuple[str, T]] = {}
        self._legacy: dict[str, tuple[str, T]] = {}
        # Go's http.Cookie.String(): Path, Domain, Max-Age, HttpOnly, Secure, SameSite, in that order.
        attributes = ""
        if path:
            attributes += "; Path=" + _cookie_path(path)
        if domain and _valid_domain(domain):
            attributes += "; Domain=" + domain.removeprefix(".")
        if max_age > 0:
            attributes += f"; Max-Age={max_age}"
        elif max_age < 0:
            attributes += "; Max-Age=0"
        if http_only:
            attributes += "; HttpOnly"
        if secure:
            attributes += "; Secure"
        if same_site.lower() in _SAME_SITE:
            attributes += "; SameSite=" + _SAME_SITE[same_site.lower()]
        self._attributes = attributes
        self._set_cookie: dict[str, str] = {}  # child name -> its whole Set-Cookie value, made once

    def add(self, name: str, child: T) -> None:
        self._by_value[sha256_value(name)] = (name, child)
        self._set_cookie[name] = f"{self.name}={sha256_value(name)}{self._attributes}"
        fnv = fnv_value(name)
        for value in (name, fnv, fnv_value(fnv)):
            self._legacy.setdefault(value, (name, child))

    def lookup(self, req: RequestHead) -> tuple[str, T, bool] | None:
        """(child name, child, whether the cookie must be rewritten) named by the request's cookie."""
        value = request_cookie(req.headers, self.name)
        if value is None:
            return None
        found = self._by_value.get(value)
        if found is not None:
            return found[0], found[1], False
        found = self._legacy.get(value)
        return (found[0], found[1], True) if found is not None else None

    def set_cookie_value(self, name: str) -> str:
        value = self._set_cookie.get(name)
        return value if value is not None else f"{self.name}={sha256_value(name)}{self._attributes}"

    def write(self, req: RequestHead, name: str) -> None:
        """Have the response carry the cookie that sticks this client to child `name`."""
        value = self.set_cookie_value(name)
        previous = req.set_cookies
        if previous is None:
            req.set_cookies = [value]
        else:  # a retry picks again: the cookie of this level names the last pick only
            prefix = self.name + "="
            req.set_cookies = [*(kept for kept in previous if not kept.startswith(prefix)), value]


def add_set_cookies(req: RequestHead, headers: HeaderList) -> None:
    """Put the sticky cookies noted for `req` on the response, before the upstream's own Set-Cookie headers
    (Traefik writes its cookie before the upstream's headers are copied)."""
    values, req.set_cookies = req.set_cookies, None  # Sticky.write wrote them
    if values is None:
        return
    pairs = [("Set-Cookie", value) for value in values]
    keys = headers.keys
    if "set-cookie" in keys:
        at = keys.index("set-cookie")
        items = headers.items
        headers.items = items[:at] + pairs + items[at:]
    else:
        headers.extend(pairs, ["set-cookie"] * len(pairs))
