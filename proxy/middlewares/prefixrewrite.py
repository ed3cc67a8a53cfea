"""prefixRewrite: stripproxy's own middleware (not Traefik's: Traefik refuses the key, so it belongs only in
files that only stripproxy reads; the gateway-wide `--rewrite-prefix` / `Gateway(rewrite_prefix=True)` needs
no config key at all).

For an app behind a strip that knows nothing of its prefix, it puts the prefix the route stripped for THIS
request back into the response headers (proxy/prefixrewrite/headers.py says what is rewritten), and with
`slashRedirect` answers the bare prefix (`/api/v1`) with a 301 to `/api/v1/`, as nginx does for a prefix
location ending in a slash. Which prefix: the strips of the route note what they removed
(`proxy.prefixrewrite.note_stripped`); a request none of them stripped is left alone.

The instance named in a config is inert: the route builder (`bind_prefix_rewrite`) gives each route that
uses it a bound copy, innermost in the route's chain (after every strip on the request side, first to see
the upstream's headers on the response side), that knows the route's server origins. A route whose path
mapping cannot be inverted (replacePath, a replacePathRegex that is not a plain strip, addPrefix) gets no
copy and a build-time warning says so.

The HTML/CSS body mode (`html`) plugs in at `response_filter_for` below; until it is wired it is refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from proxy.message import HeaderList, Reply, RequestHead
from proxy.middlewares.base import Middleware
from proxy.prefixrewrite import STRIPPED_NOTE, note_changes
from proxy.prefixrewrite.headers import REWRITTEN, Rewriter, origins

if TYPE_CHECKING:
    from proxy.middlewares.body import BodyFilter

HTML_NOT_AVAILABLE = "not available yet (HTML/CSS body rewriting is not wired into stripproxy)"


@dataclasses.dataclass(frozen=True, slots=True)
class PrefixRewriteOptions:
    headers: bool = True
    cookies: bool = True
    slash_redirect: bool = False
    html: bool = False


class PrefixRewrite(Middleware):
    has_request_hook = False
    has_response_hook = False

    def __init__(
        self,
        options: PrefixRewriteOptions | None = None,
        server_urls: Iterable[str] = (),
        *,
        bound: bool = False,
        own_cookies: Iterable[str] = (),
    ) -> None:
        self.options = options = options or PrefixRewriteOptions()
        if options.html and not html_mode_available():
            raise ValueError(f"html: {HTML_NOT_AVAILABLE}")
        self.origins, self.hosts = origins(server_urls)
        self.bound = bound
        self.own_cookies = frozenset(own_cookies)
        self.headers, self.cookies = options.headers, options.cookies
        if bound:
            self.has_request_hook = options.slash_redirect
            self.has_response_hook = options.headers or options.cookies
            self.response_headers = REWRITTEN  # a response without these goes out as the upstream wrote it
            self.filters_response = response_filter_for(options) is not None

    def on_request(self, req: RequestHead) -> Reply | None:
        # slashRedirect: the bare prefix, stripped to nothing, is sent to the prefix with a slash (301, as nginx).
        if req.path == "" and STRIPPED_NOTE in req.notes:
            location = req.notes[STRIPPED_NOTE] + "/"
            if req.query is not None:
                location += "?" + req.query
            return Reply(301, [("Location", location), ("Content-Length", "0")])
        return None

    def on_response(self, req: RequestHead, status: int, headers: HeaderList) -> None:
        prefix = req.notes.get(STRIPPED_NOTE)
        if not prefix or REWRITTEN.isdisjoint(headers.keys):
            return
        rewriter = Rewriter(
            prefix,
            f"{req.scheme}://{req.host.lower()}",
            self.origins,
            self.hosts,
            req.path,
            self.headers,
            self.cookies,
            self.own_cookies,
        )
        changes = rewriter.rewrite(headers)
        if changes:
            note_changes(req, changes)

    def response_filter(self, req: RequestHead, status: int, headers: HeaderList) -> BodyFilter | None:
        make = response_filter_for(self.options)
        return None if make is None else make(self, req, status, headers)


def response_filter_for(options: PrefixRewriteOptions) -> Any:
    """The body filter factory for `options` (`html` mode), or None: the one place the HTML/CSS rewriter
    (proxy/prefixrewrite/markup.py) is plugged in. Called with (middleware, req, status, headers)."""
    return None


def gateway_options(value: bool | str | PrefixRewriteOptions | None) -> PrefixRewriteOptions | None:
    """The gateway-wide option (`Gateway(rewrite_prefix=...)`, `--rewrite-prefix[=html]`): False/None off,
    True or "headers" on (headers and cookies), "html" also bodies (refused until wired)."""
    if value is None or value is False:
        return None
    if isinstance(value, PrefixRewriteOptions):
        options = value
    elif value is True or value == "headers":
        options = PrefixRewriteOptions()
    elif value == "html":
        options = PrefixRewriteOptions(html=True)
    else:
        raise ValueError(f"{value!r} is not one of True, False, 'headers', 'html'")
    if options.html and not html_mode_available():
        raise ValueError(f"html: {HTML_NOT_AVAILABLE}")
    return options


def html_mode_available() -> bool:
    return response_filter_for(PrefixRewriteOptions(html=True)) is not None


def _flat(middlewares: Iterable[Middleware]) -> Iterable[Middleware]:
    from proxy.middlewares.chain import Chain

    for middleware in middlewares:
        if isinstance(middleware, Chain):
            yield from _flat(middleware.middlewares)
        else:
            yield middleware


GATEWAY_NAME = "prefixRewrite@gateway"  # the name a route's plan shows for the gateway-wide rewriter


def bind_prefix_rewrite(
    chain: list[tuple[str, Middleware]],
    server_urls: Iterable[str],
    gateway: PrefixRewriteOptions | None,
    own_cookies: Iterable[str] = (),
) -> tuple[list[tuple[str, Middleware]], str | None]:
    """A route's chain with its bound rewriter innermost, and a warning when the rewriter cannot apply.

    The route's own `prefixRewrite` (its options win) or else the gateway-wide options. Unchanged: no
    rewriter asked for, or a route that strips nothing (the gateway-wide option costs such routes nothing).
    """
    from proxy.middlewares import AddPrefix, ReplacePath, ReplacePathRegex, StripPrefix, StripPrefixRegex

    flat = list(_flat(m for _, m in chain))
    explicit = next((m for m in flat if isinstance(m, PrefixRewrite)), None)
    options = explicit.options if explicit is not None else gateway
    if options is None:
        return chain, None
    strips = [
        m
        for m in flat
        if isinstance(m, (StripPrefix, StripPrefixRegex)) or (isinstance(m, ReplacePathRegex) and m.strips is not None)
    ]
    lossy = [
        type(m).__name__
        for m in flat
        if isinstance(m, (ReplacePath, AddPrefix)) or (isinstance(m, ReplacePathRegex) and m.strips is None)
    ]
    # addPrefix alone is no strip (the gateway-wide option leaves such a route alone); with a strip, or a
    # replacePath(Regex) that is not a plain strip, the app's paths cannot be mapped back.
    if lossy and (strips or explicit is not None or set(lossy) != {"AddPrefix"}):
        return chain, (
            f"prefixRewrite: not applied to this router: its {lossy[0]} maps paths in a way that cannot be "
            "inverted (only stripPrefix, stripPrefixRegex and a replacePathRegex that is a plain strip can be)"
        )
    if not strips:
        return chain, (
            "prefixRewrite: this router strips no prefix, nothing to put back" if explicit is not None else None
        )
    for strip in strips:  # from now on they note what they strip (shared instances: other routes too, harmless)
        strip.notes_strip = True
    name = GATEWAY_NAME if explicit is None else "prefixRewrite"
    return [*chain, (name, PrefixRewrite(options, server_urls, bound=True, own_cookies=own_cookies))], None
