"""Services through a real gateway: ControlledUpstreams on loopback, a dynamic config built per test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from proxy import Gateway
from proxy.testing.upstreams import ControlledUpstream


@pytest.fixture
async def upstreams() -> AsyncIterator[Callable[..., Awaitable[list[ControlledUpstream]]]]:
    """`await upstreams("a", "b")` -> started ControlledUpstreams, stopped at teardown."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(*names: str, **options: Any) -> list[ControlledUpstream]:
            return [await stack.enter_async_context(ControlledUpstream(name, **options).serve()) for name in names]

        yield start


@pytest.fixture
async def gateway() -> AsyncIterator[Callable[..., Awaitable[Gateway]]]:
    """`await gateway(config, strict=True)` -> a started Gateway, stopped at teardown."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(config: Any, **options: Any) -> Gateway:
            options.setdefault("strict", True)
            return await stack.enter_async_context(Gateway(config, **options))

        yield start
