"""Traefik's file provider: dynamic config from a file or a directory, reloaded when it changes.

A change that does not load (syntax error, unknown key, wrong type) is reported and the last good
configuration keeps serving, as in Traefik.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from proxy.config.dynamic import DynamicConfig
from proxy.config.errors import CONFIG_REPORT, ConfigError, ConfigProblem
from proxy.config.loader import SUPPORTED_EXTENSIONS, load_dynamic
from proxy.routing.builder import BuildResult
from proxy.server.gateway import describe_count, routers_served

log = logging.getLogger("proxy.providers.file")


class FileProvider:
    def __init__(
        self,
        list_files: Callable[[], list[Path]],
        watch_paths: list[Path],
        on_config: Callable[[DynamicConfig], object],
    ) -> None:
        """`list_files` is called on every load (a directory's files may come and go)."""
        self.list_files = list_files
        self.watch_paths = watch_paths
        self.on_config = on_config

    def load(self) -> tuple[DynamicConfig, list[ConfigProblem]]:
        """Read every file now; raises ConfigError when the configuration cannot be used."""
        return load_dynamic(self.list_files())

    def reload(self) -> bool:
        """Load and apply; on error keep what is serving. Returns whether a new config was applied."""
        try:
            config, warnings = self.load()
            for warning in warnings:
                log.warning("%s", warning, extra=CONFIG_REPORT)
            result = self.on_config(config)
        except ConfigError as exc:
            log.error("configuration not reloaded, the last good one keeps serving:\n%s", exc, extra=CONFIG_REPORT)
            return False
        except Exception:  # a bug of ours must not stop the watcher: report it, keep serving
            log.exception("configuration not reloaded, the last good one keeps serving")
            return False
        # The disabled routers were logged at ERROR with what their entry points now serve (Gateway.apply);
        # the reload itself is news at INFO, as Traefik logs nothing above DEBUG for it.
        if isinstance(result, BuildResult):
            disabled = [p for p in result.problems if p.kind == "router" and p.level == "error"]
            serving = "; ".join(
                f"entry point {name} now serves {describe_count(routers_served(result, name), 'router')}"
                for name in sorted({*result.tables, *result.tls_tables})
            )
            log.info(
                "configuration reloaded from %s%s%s",
                ", ".join(str(p) for p in self.watch_paths),
                f", {describe_count(len(disabled), 'router')} disabled (above)" if disabled else "",
                f"; {serving}" if serving else "",
                extra=CONFIG_REPORT,
            )
        else:
            log.info("configuration reloaded from %s", ", ".join(str(p) for p in self.watch_paths), extra=CONFIG_REPORT)
        return True

    async def watch(self, stop: asyncio.Event | None = None) -> None:
        """Reload whenever a watched path changes, until `stop` is set."""
        import watchfiles  # here, not at the top: only a watching provider needs it (and anyio with it)

        # watchfiles logs every change it sees (INFO, details at DEBUG), filtered out or not: with the gateway's
        # log file in a watched folder, each of those lines is a change that makes another line, forever. Its
        # lines are dropped below WARNING; ours name only the changes that concern the configuration.
        logging.getLogger("watchfiles").setLevel(max(logging.WARNING, logging.getLogger("watchfiles").level))
        targets = [p if p.is_dir() else p.parent for p in self.watch_paths]
        wanted = {p.resolve() for p in self.watch_paths}
        async for changes in watchfiles.awatch(
            *targets, stop_event=stop, debounce=200, step=50, rust_timeout=1000, yield_on_timeout=False
        ):
            concerning = sorted({path for _, path in changes if self._concerns(Path(path), wanted)})
            if concerning:
                log.debug("configuration changed: %s", ", ".join(concerning))
                self.reload()

    @staticmethod
    def _concerns(path: Path, wanted: set[Path]) -> bool:
        """A watched file itself, or a config file (.toml, .yaml, .yml) under a watched directory: not the
        gateway's own log file beside them, which would reload it with every line it writes."""
        resolved = path.resolve()
        if resolved in wanted:
            return True
        return path.suffix.lower() in SUPPORTED_EXTENSIONS and any(parent in wanted for parent in resolved.parents)
