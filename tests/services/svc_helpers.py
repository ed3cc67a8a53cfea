"""Helpers for the service tests: configs around ControlledUpstreams, waiting for health checks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from proxy.testing.upstreams import ControlledUpstream


def routes(services: dict[str, Any], service: str = "svc") -> dict[str, Any]:
    """One catch-all router to `service` over the given `http.services` section."""
    return {"http": {"routers": {"r": {"rule": "PathPrefix(`/`)", "service": service}}, "services": services}}


def servers(*upstreams: ControlledUpstream) -> list[dict[str, Any]]:
    return [{"url": upstream.url} for upstream in upstreams]


async def until(condition: Callable[[], bool], timeout: float = 3.0, step: float = 0.02) -> None:
    """Wait for `condition()` to hold (health checks act over time); fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)
