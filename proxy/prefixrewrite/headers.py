"""Response headers of an app behind a stripped prefix, given the prefix back (ours, not Traefik's).

The app answered as if it lived at `/`: its redirects say `/login`, its cookies `Path=/`. The client knows
it at `/api/v1`. What is rewritten, for one response whose request lost `prefix` on the way up:

- URLs in Location, Content-Location, Refresh (`5; url=...`) and Link (`<...>; rel=...`): an absolute
  path (`/login`), or an absolute URL whose origin is the public one (the Host and scheme the app was
  told, X-Forwarded-Host / -Proto) or one of the service's own servers (`http://127.0.0.1:8000/login`,
  which also gets the public origin), gets `prefix` in front of its path. A path that already starts
  with the prefix (a prefix-aware app), a relative reference (`login`, `../x`: the client resolves it
  against the public URL, which has the prefix), and any other origin are left alone. This is nginx's
  `proxy_redirect default` made prefix-aware, applied to the headers that carry URLs.
- Set-Cookie: `Path=/x` becomes `Path=/api/v1/x` (`Path=/` becomes `Path=/api/v1`, which covers
  `/api/v1` itself and everything under it); a cookie without Path is left as it is (its default path is
  taken from the public URL, which already has the prefix, RFC 6265 5.1.4); `Domain=` naming one of the
  service's servers is dropped (the client never talks to that host), as nginx's proxy_cookie_domain.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from proxy.message import HeaderList
from proxy.netutil import split_host_port

URL_HEADERS = ("location", "content-location")
DEFAULT_PORTS = {"http": "80", "https": "443"}
# `5; url=/x`, `0;URL='/x'`, `3, url=/x` (browsers accept a comma too)
_REFRESH = re.compile(r"(?P<head>\s*[0-9.]+\s*[;,]\s*(?:url\s*=\s*)?)(?P<quote>['\"]?)(?P<url>.*?)(?P=quote)\s*$", re.I)
_LINK_TARGET = re.compile(r"<([^>]*)>")


@dataclass(frozen=True, slots=True)
class Origins:
    """Where a response's absolute URLs may point and still be the app's own."""

    public_scheme: str  # what the client used (X-Forwarded-Proto, else the entry point's)
    public_host: str  # the Host the client sent (X-Forwarded-Host), as sent
    upstream: frozenset[str]  # the service's servers as `host:port`, lower-cased
    upstream_hosts: frozenset[str]  # their hosts alone (a cookie's Domain names one): `hosts_of(upstream)`

    def public(self) -> str:
        return f"{self.public_scheme}://{self.public_host}"


def origin_key(scheme: str, netloc: str) -> str:
    """`host:port` with the scheme's default port made explicit, lower-cased, userinfo dropped (an IPv6
    host keeps its brackets)."""
    netloc = netloc.rpartition("@")[2].lower()
    split = split_host_port(netloc) if ":" in netloc else None  # None: no port (or not host:port at all)
    if split is None:
        host, port = netloc, ""
    else:
        host, port = f"[{split[0]}]" if ":" in split[0] else split[0], split[1]
    return f"{host}:{port or DEFAULT_PORTS.get(scheme.lower(), '')}"


def hosts_of(upstream: Iterable[str]) -> frozenset[str]:
    """The hosts of `origin_key` values, without brackets."""
    return frozenset(key.rpartition(":")[0].strip("[]") for key in upstream)


def carries_prefix(path: str, prefix: str) -> bool:
    return path == prefix or path[len(prefix) : len(prefix) + 1] in ("/", "?", "#") and path.startswith(prefix)


def rewrite_url(value: str, prefix: str, origins: Origins) -> str | None:
    """`value` with the prefix put back, or None when it is not the app's own absolute path or URL."""
    url = value.strip()
    if url.startswith("//"):  # network-path reference: the scheme is the client's
        scheme, rest = origins.public_scheme, url[2:]
    elif url.startswith("/"):
        return None if carries_prefix(url, prefix) else prefix + url
    else:
        scheme, sep, rest = url.partition("://")
        if not sep or scheme.lower() not in DEFAULT_PORTS or rest[:1] in ("", "/"):
            return None  # a relative reference, another scheme (mailto:, data:), or no host
    cut = min((at for at in (rest.find("/"), rest.find("?"), rest.find("#")) if at >= 0), default=len(rest))
    netloc, tail = rest[:cut], rest[cut:]
    if not tail.startswith("/"):
        tail = "/" + tail  # `http://host?x` is `http://host/?x`
    key = origin_key(scheme, netloc)
    if scheme.lower() == origins.public_scheme and key == origin_key(scheme, origins.public_host):
        if carries_prefix(tail, prefix):
            return None
        return url[: len(url) - len(rest)] + netloc + prefix + tail  # the public origin, as the app spelt it
    if key in origins.upstream:  # the server's own address: the client gets the public origin instead
        origin = "//" + origins.public_host if url.startswith("//") else origins.public()
        return origin + (tail if carries_prefix(tail, prefix) else prefix + tail)
    return None  # somewhere else


def rewrite_refresh(value: str, prefix: str, origins: Origins) -> str | None:
    match = _REFRESH.match(value)
    if match is None:
        return None
    url = rewrite_url(match["url"], prefix, origins)
    if url is None:
        return None
    return f"{match['head']}{match['quote']}{url}{match['quote']}"


def rewrite_link(value: str, prefix: str, origins: Origins) -> str | None:
    changed = False

    def one(match: re.Match[str]) -> str:
        nonlocal changed
        url = rewrite_url(match[1], prefix, origins)
        if url is None:
            return match[0]
        changed = True
        return f"<{url}>"

    rewritten = _LINK_TARGET.sub(one, value)
    return rewritten if changed else None


def rewrite_set_cookie(
    value: str, prefix: str, upstream_hosts: frozenset[str], own: frozenset[str] = frozenset()
) -> str | None:
    """`Path=` under the prefix, `Domain=` naming one of the servers dropped; None when nothing changes.
    A cookie named in `own` is the gateway's (a sticky service's, its path as configured): left alone."""
    name_value, *attributes = value.split(";")
    if own and name_value.partition("=")[0].strip() in own:
        return None
    kept: list[str] = []
    changed = False
    for attribute in attributes:
        key, eq, attr_value = attribute.partition("=")
        lowered = key.strip().lower()
        if lowered == "path" and eq:
            path = attr_value.strip()
            if path.startswith("/") and not carries_prefix(path, prefix):
                attribute = f"{key}={prefix if path == '/' else prefix + path}"
                changed = True
        elif lowered == "domain" and eq and attr_value.strip().lstrip(".").lower() in upstream_hosts:
            changed = True
            continue
        kept.append(attribute)
    return ";".join([name_value, *kept]) if changed else None


def rewrite_headers(
    headers: HeaderList,
    prefix: str,
    origins: Origins,
    *,
    urls: bool = True,
    cookies: bool = True,
    own_cookies: frozenset[str] = frozenset(),
) -> list[str]:
    """Rewrite `headers` in place; the changes, each as `Name: before -> after`."""
    changes: list[str] = []
    keys = headers.keys
    for at, (name, value) in enumerate(headers.items):
        key = keys[at]
        if urls and key in URL_HEADERS:
            new = rewrite_url(value, prefix, origins)
        elif urls and key == "refresh":
            new = rewrite_refresh(value, prefix, origins)
        elif urls and key == "link":
            new = rewrite_link(value, prefix, origins)
        elif cookies and key == "set-cookie":
            new = rewrite_set_cookie(value, prefix, origins.upstream_hosts, own_cookies)
        else:
            continue
        if new is not None and new != value:
            headers.items[at] = (name, new)
            changes.append(f"{name}: {value} -> {new}")
    return changes
