"""Real WSGI servers on loopback for the apps behind a stripped prefix: waitress, in a thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture
def serve_wsgi() -> Iterator[Callable[[Any], str]]:
    """Factory: `serve_wsgi(app)` -> the URL of `app` served by waitress on a free loopback port."""
    from waitress.server import create_server

    running: list[tuple[Any, threading.Thread]] = []

    def start(app: Any) -> str:
        server = create_server(app, host="127.0.0.1", port=0, threads=4, asyncore_loop_timeout=0.05)
        thread = threading.Thread(target=server.run, name="waitress", daemon=True)
        thread.start()
        running.append((server, thread))
        return f"http://127.0.0.1:{server.effective_port}"

    yield start
    from waitress import wasyncore

    for server, thread in running:
        # closed from inside its own loop (between polls): closing from here races its select() (EBADF)
        server.trigger.pull_trigger(lambda server=server: wasyncore.close_all(server._map))
        thread.join(10)
        server.task_dispatcher.shutdown()
