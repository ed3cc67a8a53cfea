"""An asyncio event loop running in a daemon thread, driven from synchronous code."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
DEFAULT_TIMEOUT = 30.0


class LoopThread:
    """`run(coro)` executes a coroutine on the background loop and returns its result to the caller."""

    def __init__(self, name: str = "stripproxy-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T] | Awaitable[T], timeout: float | None = DEFAULT_TIMEOUT) -> T:
        if threading.current_thread() is self._thread:
            raise RuntimeError("LoopThread.run() called from its own loop: await the coroutine instead")
        future = asyncio.run_coroutine_threadsafe(_awaited(coro), self.loop)
        return future.result(timeout)

    def close(self) -> None:
        """Stop the loop and join the thread; pending tasks are cancelled first."""
        if self.loop.is_closed():
            return
        self.run(_cancel_others())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(DEFAULT_TIMEOUT)
        self.loop.close()


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


async def _cancel_others() -> None:
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_asyncgens()
