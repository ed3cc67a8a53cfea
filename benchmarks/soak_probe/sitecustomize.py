"""A test-only probe the soak puts on the gateway's PYTHONPATH (nothing in `proxy` knows about it).

When SOAK_PROBE names a file, SIGUSR2 makes the gateway process write there, as JSON, how many asyncio tasks
its running loop has (and their coroutine names). When the file SOAK_PROBE + ".census" exists at that
moment, it also runs gc.collect() and counts live objects per class of the `proxy` package. Without
SOAK_PROBE this file does nothing, so the gateway pays nothing for it.
"""

from __future__ import annotations

import os
import signal

_TARGET = os.environ.get("SOAK_PROBE")


def _probe(signum: int, frame: object) -> None:
    import asyncio
    import collections
    import json

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    tasks = asyncio.all_tasks(loop)
    names = collections.Counter(getattr(task.get_coro(), "__qualname__", "?") for task in tasks)
    found: dict[str, object] = {"tasks": len(tasks), "task_names": dict(names)}
    assert _TARGET is not None
    if os.path.exists(_TARGET + ".census"):
        import gc

        gc.collect()
        census: collections.Counter[str] = collections.Counter()
        for obj in gc.get_objects():
            kind = type(obj)
            if kind.__module__.startswith("proxy."):
                census[f"{kind.__module__}.{kind.__qualname__}"] += 1
        found["census"] = dict(census)
    with open(_TARGET + ".tmp", "w", encoding="utf-8") as out:
        json.dump(found, out)
    os.replace(_TARGET + ".tmp", _TARGET)


if _TARGET:
    signal.signal(signal.SIGUSR2, _probe)
