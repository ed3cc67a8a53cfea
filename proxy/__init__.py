"""stripproxy: a pure-Python reverse proxy that reads Traefik's configuration files."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["BackgroundGateway", "ExchangeRecord", "ForwardedPrefixMiddleware", "Gateway", "__version__"]

if TYPE_CHECKING:
    from proxy.asgi import ForwardedPrefixMiddleware
    from proxy.forwarder.context import ExchangeRecord
    from proxy.server.gateway import Gateway
    from proxy.testing.sync import BackgroundGateway

# Imported on first use: `python -m proxy` and every submodule import go through this package.
_EXPORTS = {
    "Gateway": "proxy.server.gateway",
    "BackgroundGateway": "proxy.testing.sync",
    "ExchangeRecord": "proxy.forwarder.context",
    "ForwardedPrefixMiddleware": "proxy.asgi",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'proxy' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
