"""Running a gateway: what the CLI and each `--workers` process share.

`Setup` is what a configuration resolves to; `prepare` builds the gateway and installs the dynamic config,
`serve` runs it until SIGINT/SIGTERM (then drains), `setup_logging` and `run_loop` set up the process.
proxy.cli (argument parsing, `check`, `explain`) and proxy.server.workers (the supervisor and its workers)
both import this module and neither imports the other at module level.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxy.config.dynamic import DynamicConfig
from proxy.config.errors import ConfigError
from proxy.config.loader import dynamic_files
from proxy.config.static import FileProviderConfig, LogConfig, StaticConfig
from proxy.config.unimplemented import refused_in_strict
from proxy.providers.file import FileProvider
from proxy.server.gateway import Gateway

log = logging.getLogger("proxy")

LOG_LEVELS = {
    "TRACE": logging.DEBUG,
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARN": logging.WARNING,
    "ERROR": logging.ERROR,
    "FATAL": logging.CRITICAL,
    "PANIC": logging.CRITICAL,
    "DISABLED": logging.CRITICAL + 10,
}


@dataclass
class Setup:
    """What a config file resolves to: the static config and the provider for dynamic files."""

    static: StaticConfig
    provider_config: FileProviderConfig | None
    base_dir: Path | None
    local_ca: bool = True  # --no-local-ca: routers with a certResolver are disabled instead
    rewrite_prefix: str = ""  # --rewrite-prefix[=html]: stripproxy's prefixRewrite on every stripping router


def make_provider(setup: Setup, gateway: Gateway) -> FileProvider | None:
    config = setup.provider_config
    if config is None:
        return None
    files = dynamic_files(config, setup.base_dir)  # raises ConfigError if neither filename nor directory
    watch = files
    if config.directory:
        directory = Path(config.directory).expanduser()
        watch = [directory if directory.is_absolute() else (setup.base_dir or Path.cwd()) / directory]

    def apply_reloaded(dynamic: DynamicConfig) -> object:
        result = gateway.apply(dynamic)
        settle_memory()
        return result

    return FileProvider(lambda: dynamic_files(config, setup.base_dir), watch, apply_reloaded)


def settle_memory() -> None:
    """Once a configuration is in place: collect what loading it left behind, then freeze the survivors
    (modules, config models, route tables) so that later full collections skip them (a ~15 ms pause
    each otherwise), and hand freed heap back to the OS where glibc allows it."""
    gc.unfreeze()  # after a reload the previous config sits in the frozen set: let it be collected
    gc.collect()
    gc.freeze()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None where the C library has none (musl, macOS, Windows)."""
    import ctypes

    try:
        return ctypes.CDLL(None).malloc_trim  # the symbols the interpreter is linked with, libc's among them
    except (OSError, AttributeError, TypeError):
        return None


def prepare(setup: Setup, strict: bool, reuse_port: bool = False) -> tuple[Gateway, FileProvider | None] | int:
    """The gateway with the dynamic config installed (nothing bound yet), or the exit status when
    `strict` start-up finds a problem (already printed)."""
    gateway = Gateway(setup.static, reuse_port=reuse_port, local_ca=setup.local_ca, rewrite_prefix=setup.rewrite_prefix)
    provider = make_provider(setup, gateway)
    for warning in setup.static.warnings:
        log.warning("%s", warning)
    if provider is not None:
        try:
            dynamic, warnings = provider.load()
        except ConfigError as exc:
            if strict:
                print(exc, file=sys.stderr)
                return 1
            log.error("dynamic configuration not loaded, serving no routes until it is fixed:\n%s", exc)
        else:
            for warning in warnings:
                log.warning("%s", warning)
            # --strict: a broken router, service or middleware is printed once, with the dynamic file and key
            # path it is in, and nothing starts; otherwise the gateway logs each problem once and serves the rest.
            gateway.strict = strict
            refused = [w for w in setup.static.warnings if refused_in_strict(w)]  # printed above
            try:
                gateway.apply(dynamic)
            except ConfigError as exc:
                print(exc, file=sys.stderr)
                count = len(exc.problems) + len(warnings) + len(refused)
                print(f"--strict: not starting: {count} problem(s) listed above", file=sys.stderr)
                return 1
            finally:
                gateway.strict = False  # a reload disables what is broken, as Traefik does
            if strict and (warnings or refused):
                print(
                    f"--strict: not starting: {len(warnings) + len(refused)} problem(s) listed above", file=sys.stderr
                )
                return 1
    return gateway, provider


def log_serving(urls: dict[str, str]) -> None:
    for name, url in urls.items():
        log.warning("entry point %s serving on %s", name, url)


async def serve(
    setup: Setup, strict: bool, *, reuse_port: bool = False, announce: Callable[[dict[str, str]], None] = log_serving
) -> int:
    """Serve until SIGINT/SIGTERM; `announce` gets, once they listen, each entry point's bound URLs
    ("http://127.0.0.1:9999", or "http://0.0.0.0:9999 and http://[::]:9999 (every interface)" for ":9999")."""
    prepared = prepare(setup, strict, reuse_port)
    if isinstance(prepared, int):
        return prepared
    gateway, provider = prepared
    try:
        await gateway.start()
    except OSError as exc:
        print(f"cannot listen: {exc.strerror or exc}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, gateway.reopen_logs)  # Traefik's log rotation signal
    # After the handlers: whoever reads it may send SIGTERM at once. Each text starts with the URL.
    announce({name: server.serving_text() for name, server in gateway.entry_point_servers.items()})
    settle_memory()
    watcher = None
    if provider is not None and setup.provider_config is not None and setup.provider_config.watch:
        watcher = asyncio.create_task(provider.watch(stop))
    await stop.wait()
    if watcher is not None:
        await asyncio.wait_for(watcher, 5)
    # A graceful stop (Traefik's lifeCycle); a second signal cuts it short.
    stop.clear()
    drain = asyncio.create_task(gateway.drain())
    second = asyncio.create_task(stop.wait())
    await asyncio.wait([drain, second], return_when=asyncio.FIRST_COMPLETED)
    if not drain.done():
        log.warning("second signal: stopping without waiting for requests in flight")
        drain.cancel()
    second.cancel()
    await gateway.stop()
    return 0


def setup_logging(level: str, tag: str = "", config: LogConfig | None = None) -> None:
    """Traefik's `log` section (level, format common | json, filePath, noColor); `tag` (e.g. "[worker 1] ")
    marks which process a line comes from. Lines go to stderr unless `filePath` names a file."""
    from proxy.server.logformat import log_handler

    handler, warnings = log_handler(config, tag)
    logging.basicConfig(level=LOG_LEVELS.get(level.upper(), logging.ERROR), handlers=[handler])
    # Our own start-up lines are useful at Traefik's default level (ERROR) too.
    logging.getLogger("proxy").setLevel(min(logging.getLogger().level, logging.WARNING))
    for warning in warnings:
        log.warning("%s", warning)


def run_loop(coro: Coroutine[Any, Any, int], use_uvloop: bool) -> int:
    """Run on uvloop when it is installed (and wanted), else on asyncio's own loop."""
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.run(coro)
    return asyncio.run(coro)
