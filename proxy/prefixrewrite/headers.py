"""Response headers of an app that answers as if it lived at `/`, rewritten for the prefix a route stripped.

The app behind `stripPrefix /api/v1` sees `/login` and answers `Location: /login`; the browser must be sent
to `/api/v1/login`. What is rewritten (`Rewriter.rewrite`, one pass over the response headers):

- `Location`, `Content-Location`, the URL of `Refresh` (`5; url=/x`) and every `<URI>` of `Link`:
  - an absolute path (`/login`) gets the prefix (`/api/v1/login`);
  - an absolute URL on the upstream's own origin (`http://127.0.0.1:8000/login`, what an app writes when
    it builds URLs from the Host it was sent) becomes the public origin plus the prefix
    (`http://gateway.example/api/v1/login`); one on the public origin (the Host the client used, which the
    app sees with passHostHeader) gets the prefix in its path;
  - left alone: values already carrying the prefix (`/api/v1`, `/api/v1/...`, `/api/v1?...`), relative
    references (`login`, `../x`, `?page=2`: the browser resolves them against the public URL, which is
    what nginx's `proxy_redirect default` also leaves untouched), other origins, other schemes.
- `Set-Cookie`:
  - `Path=/x` becomes `Path=/api/v1/x` (`Path=/` becomes `Path=/api/v1`), unless it carries the prefix;
  - no `Path` (or one not starting with `/`, which RFC 6265 section 5.2.4 ignores): the browser uses the
    default-path of the PUBLIC request path (5.1.4: up to, not including, its last `/`). That is the
    prefixed form of what the app expected except when the request was the bare prefix (`/api/v1` has
    default-path `/api`, the app expected `/`): only then `Path=/api/v1` is added;
  - `Domain=` naming the upstream's own host (`127.0.0.1`, the server URL's host) is dropped, so the
    cookie is a host-only cookie of the public host; any other Domain is kept;
  - the gateway's own cookies (a sticky service's) are left as configured.

Everything is decided per value with plain string operations; nothing is done for a response without the
headers above. Each change is returned as (header name, before, after) for the exchange record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from proxy.message import HeaderList

# Header names (lower case) whose value is one URI reference.
URI_HEADERS = frozenset({"location", "content-location"})
REWRITTEN = frozenset({"location", "content-location", "refresh", "link", "set-cookie"})

_REFRESH = re.compile(r"""^(\s*\d[\d.]*\s*[;,]\s*(?:url\s*=\s*)?)(['"]?)(.*?)\2(\s*)$""", re.IGNORECASE)
_LINK_URI = re.compile(r"<([^>]*)>")

Change = tuple[str, str, str]  # (header name, before, after)


def has_prefix(path: str, prefix: str) -> bool:
    """`path` (a path, maybe followed by `?query` or `#fragment`) already lies under `prefix`."""
    if not path.startswith(prefix):
        return False
    rest = path[len(prefix) :]
    return not rest or rest[0] in "/?#" or prefix.endswith("/")


def default_path(path: str) -> str:
    """RFC 6265 section 5.1.4: the cookie default-path of a request path."""
    if not path.startswith("/") or path.count("/") == 1:
        return "/"
    return path[: path.rindex("/")]


@dataclass(frozen=True, slots=True)
class Rewriter:
    """What one response's headers are rewritten with.

    `prefix`: what the route stripped for this request, without trailing slash (`/api/v1`).
    `public_origin`: `scheme://host[:port]` as the client reached the gateway, lower case.
    `upstream_origins`: the origins of the route's servers (`http://127.0.0.1:8000`), lower case.
    `upstream_hosts`: their host names, for Set-Cookie's Domain.
    `app_path`: the path the app was sent (for the cookie default-path rule).
    """

    prefix: str
    public_origin: str
    upstream_origins: frozenset[str] = frozenset()
    upstream_hosts: frozenset[str] = frozenset()
    app_path: str = "/"
    headers: bool = True
    cookies: bool = True
    # Cookie names the gateway itself sets (a sticky service's cookie, its path as configured): never rewritten.
    own_cookies: frozenset[str] = frozenset()

    def prefixed(self, path: str) -> str:
        """`/login` -> `/api/v1/login`; `/` -> `/api/v1/`."""
        return self.prefix + path

    def uri(self, value: str) -> str:
        """One URI reference (Location, Content-Location, Refresh's URL, a Link target), rewritten or not."""
        text = value.strip()
        if text.startswith("/") and not text.startswith("//"):
            return value if has_prefix(text, self.prefix) else self.prefixed(text)
        if "://" not in text and not text.startswith("//"):
            return value  # relative (`login`, `../x`, `?q`) or another scheme (`mailto:`): the browser's job
        try:
            parts = urlsplit(text)
        except ValueError:
            return value
        scheme = parts.scheme.lower() or self.public_origin.partition(":")[0]
        if scheme not in ("http", "https") or not parts.netloc:
            return value
        origin = f"{scheme}://{parts.netloc.lower()}"
        path = parts.path or "/"
        tail = (f"?{parts.query}" if parts.query else "") + (f"#{parts.fragment}" if parts.fragment else "")
        if origin in self.upstream_origins:
            return self.public_origin + (path if has_prefix(path, self.prefix) else self.prefixed(path)) + tail
        if origin == self.public_origin and not has_prefix(path, self.prefix):
            start = text.index(parts.netloc) + len(parts.netloc)
            return text[:start] + self.prefixed(path) + tail
        return value

    def refresh(self, value: str) -> str:
        match = _REFRESH.match(value)
        if match is None or not match.group(3):
            return value
        lead, quote, url, trail = match.groups()
        new = self.uri(url)
        return value if new == url else f"{lead}{quote}{new}{quote}{trail}"

    def link(self, value: str) -> str:
        return _LINK_URI.sub(lambda m: f"<{self.uri(m.group(1))}>", value)

    def cookie(self, value: str) -> str:
        parts = value.split(";")
        if self.own_cookies and parts[0].partition("=")[0].strip() in self.own_cookies:
            return value
        changed = False
        has_path = False
        kept = [parts[0]]
        for attribute in parts[1:]:
            name, eq, content = attribute.partition("=")
            key = name.strip().lower()
            if key == "path" and eq and content.strip().startswith("/"):
                has_path = True
                path = content.strip()
                if not has_prefix(path, self.prefix):
                    lead = name[: len(name) - len(name.lstrip())]
                    attribute = f"{lead}{name.strip()}={self.prefix if path == '/' else self.prefixed(path)}"
                    changed = True
            elif key == "domain" and eq and content.strip().lstrip(".").lower() in self.upstream_hosts:
                changed = True
                continue
            kept.append(attribute)
        if not has_path:
            app_default = default_path(self.app_path or "/")
            wanted = self.prefix if app_default == "/" else self.prefixed(app_default)
            if default_path(self.prefix + (self.app_path or "")) != wanted:
                kept.append(f" Path={wanted}")
                changed = True
        return ";".join(kept) if changed else value

    def rewrite(self, headers: HeaderList) -> list[Change]:
        """Rewrite `headers` in place; the changes made."""
        changes: list[Change] = []
        keys = headers.keys
        if REWRITTEN.isdisjoint(keys):
            return changes
        items = headers.items
        new_items: list[tuple[str, str]] | None = None
        for index, key in enumerate(keys):
            if key not in REWRITTEN:
                continue
            name, value = items[index]
            if key == "set-cookie":
                if not self.cookies:
                    continue
                new = self.cookie(value)
            elif not self.headers:
                continue
            elif key in URI_HEADERS:
                new = self.uri(value)
            elif key == "refresh":
                new = self.refresh(value)
            else:
                new = self.link(value)
            if new != value:
                if new_items is None:
                    new_items = list(items)
                new_items[index] = (name, new)
                changes.append((name, value, new))
        if new_items is not None:
            headers.items = new_items
        return changes


def origins(urls: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    """(origins, host names) of server URLs, lower case, default ports written both ways."""
    found: set[str] = set()
    hosts: set[str] = set()
    for url in urls:
        try:
            parts = urlsplit(url)
        except ValueError:
            continue
        if not parts.hostname:
            continue
        scheme = parts.scheme.lower()
        netloc = parts.netloc.lower().rpartition("@")[2]
        found.add(f"{scheme}://{netloc}")
        default = {"http": 80, "https": 443}.get(scheme)
        host = netloc.rsplit(":", 1)[0] if parts.port else netloc
        if parts.port is None and default:
            found.add(f"{scheme}://{netloc}:{default}")
        elif parts.port == default:
            found.add(f"{scheme}://{host}")
        hosts.add(parts.hostname.lower())
    return frozenset(found), frozenset(hosts)
