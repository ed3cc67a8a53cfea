"""Testing an app behind the gateway: upstream servers on free ports, the gateway on a thread or in a
subprocess, and the pytest plugin (`proxy.testing.plugin`, registered through the pytest11 entry point)."""

from proxy.testing.accesslog import AccessLogCapture
from proxy.testing.process import GatewayProcess
from proxy.testing.sync import BackgroundGateway
from proxy.testing.upstreams import (
    ControlledUpstream,
    Received,
    ServedApp,
    serve_aiohttp,
    serve_app,
    serve_app_in_thread,
    serve_asgi,
)

__all__ = [
    "AccessLogCapture",
    "BackgroundGateway",
    "ControlledUpstream",
    "GatewayProcess",
    "Received",
    "ServedApp",
    "serve_aiohttp",
    "serve_app",
    "serve_app_in_thread",
    "serve_asgi",
]
