"""Traefik's HTTP middlewares, one module each; every class is a `Middleware` built once from its options."""

from proxy.middlewares.addprefix import AddPrefix
from proxy.middlewares.base import Middleware
from proxy.middlewares.chain import Chain
from proxy.middlewares.headers import Headers
from proxy.middlewares.redirectregex import RedirectRegex
from proxy.middlewares.redirectscheme import RedirectScheme
from proxy.middlewares.replacepath import ReplacePath
from proxy.middlewares.replacepathregex import ReplacePathRegex
from proxy.middlewares.stripprefix import StripPrefix
from proxy.middlewares.stripprefixregex import StripPrefixRegex

__all__ = [
    "AddPrefix",
    "Chain",
    "Headers",
    "Middleware",
    "RedirectRegex",
    "RedirectScheme",
    "ReplacePath",
    "ReplacePathRegex",
    "StripPrefix",
    "StripPrefixRegex",
]
