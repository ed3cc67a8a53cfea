"""The file provider's watcher, on real files: a directory's config files reload it, other files beside them
(the gateway's own log) do not."""

from __future__ import annotations

import asyncio
from pathlib import Path

from proxy.config.loader import dynamic_files
from proxy.config.static import FileProviderConfig
from proxy.providers.file import FileProvider

ROUTES = '[http.routers.r]\nrule = "Path(`/{n}`)"\nservice = "s"\n[http.services.s.loadBalancer]\n'


async def test_a_log_file_in_the_watched_directory_does_not_reload(tmp_path: Path) -> None:
    (tmp_path / "routes.toml").write_text(ROUTES.format(n=0))
    applied: list[object] = []
    provider = FileProvider(
        lambda: dynamic_files(FileProviderConfig(directory=str(tmp_path))), [tmp_path], applied.append
    )
    stop = asyncio.Event()
    watcher = asyncio.create_task(provider.watch(stop))
    await asyncio.sleep(0.3)  # the watcher is set up
    with (tmp_path / "gateway.log").open("a") as log:
        for i in range(20):
            log.write(f"line {i}\n")
            log.flush()
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.6)  # past the debounce: a reload would have happened by now
    assert applied == []
    (tmp_path / "more.yaml").write_text("http: {}\n")
    for _ in range(50):
        if applied:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(watcher, 5)
    assert len(applied) == 1
