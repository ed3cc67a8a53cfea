"""Command line: `python -m proxy [check] --config FILE [--strict] [Traefik-style static flags]`."""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxy.config.dynamic import DynamicConfig
from proxy.config.errors import ConfigError
from proxy.config.loader import classify, dynamic_files, read_any_config
from proxy.config.static import EntryPoint, StaticConfig
from proxy.config.static import FileProvider as FileProviderConfig
from proxy.config.static import Log as LogConfig
from proxy.config.static_sources import load_static, static_flag_help
from proxy.providers.file import FileProvider
from proxy.server.gateway import Gateway

log = logging.getLogger("proxy")

DEFAULT_ENTRY_POINT = ("http", "127.0.0.1:9999")  # for a dynamic file given alone
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

DESCRIPTION = """\
stripproxy: a reverse proxy that reads Traefik's configuration files.

  python -m proxy --config traefik.toml          static config naming [providers.file]
  python -m proxy --config routes.toml           a dynamic config alone, served on http://127.0.0.1:9999
  python -m proxy check --config FILE            validate, list every problem, exit 1 if any
  python -m proxy explain --config FILE [-X METHOD] [-H 'Name: value'] URL
                                                 which router, each middleware's effect, what the upstream gets
  python -m proxy routes --config FILE [--json]  the routing table as the gateway sees it
  python -m proxy --config FILE --workers 4      4 worker processes sharing the ports (SO_REUSEPORT)

Static settings may also come from Traefik-style flags, which override the file (our addition), e.g.
--entrypoints.web.address=:8081 --log.level=DEBUG. As in Traefik, TRAEFIK_* environment variables are
only read when neither a configuration file nor flags are given.
"""


@dataclass
class Setup:
    """What a config file resolves to: the static config and the provider for dynamic files."""

    static: StaticConfig
    provider_config: FileProviderConfig | None
    base_dir: Path | None
    local_ca: bool = True  # --no-local-ca: routers with a certResolver are disabled instead
    rewrite_prefix: str = ""  # --rewrite-prefix[=html]: stripproxy's prefixRewrite on every stripping router


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="python -m proxy",
        description=DESCRIPTION,
        epilog=static_flag_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", nargs="?", choices=["run", "check", "explain", "routes"], default="run")
    parser.add_argument("url", nargs="?", help="explain: the request's URL (its port picks the entry point)")
    parser.add_argument("-X", "--request", dest="method", default="GET", help="explain: the method (GET)")
    parser.add_argument(
        "-H",
        "--header",
        dest="headers",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="explain: a request header (repeatable)",
    )
    parser.add_argument("--entrypoint", dest="entry_point", help="explain: the entry point (default: by port)")
    parser.add_argument("--client-ip", default="127.0.0.1", help="explain: the client's address (127.0.0.1)")
    parser.add_argument("--json", action="store_true", help="routes: JSON instead of a table")
    parser.add_argument(
        "--config",
        "--configfile",
        "--configFile",
        dest="config",
        type=Path,
        help="a Traefik static or dynamic configuration file (.toml, .yaml, .yml)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="refuse to start if any router, service or middleware has a problem"
    )
    parser.add_argument("--no-uvloop", action="store_true", help="use asyncio's own event loop")
    parser.add_argument(
        "--no-local-ca",
        action="store_true",
        help="do not serve routers with a certResolver from the local development CA "
        "(they are disabled, as ACME cannot be reached)",
    )
    parser.add_argument(
        "--rewrite-prefix",
        nargs="?",
        const="headers",
        default="",
        choices=["headers", "html"],
        help="stripproxy's own, not Traefik's: on every router that strips a prefix, give the prefix back to "
        "the app's redirects and cookies (Location, Set-Cookie...); =html rewrites HTML and CSS bodies too",
    )
    parser.add_argument(
        "--workers",
        type=worker_count,
        default=1,
        metavar="N",
        help="serve from N processes sharing every entry point's port (SO_REUSEPORT), "
        "'auto' for one per CPU; 1 (the default) serves from this process",
    )
    return parser.parse_known_intermixed_args(argv)  # explain's URL may come after --config FILE


def worker_count(text: str) -> int:
    """`--workers`: a positive number, or `auto` for one per CPU."""
    if text.strip().lower() == "auto":
        return os.cpu_count() or 1
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number of processes or 'auto', not {text!r}")
    return count


def resolve_setup(config: Path | None, flags: list[str]) -> Setup:
    """Read the config file (static or dynamic) and layer flags and TRAEFIK_* variables over it."""
    raw = read_any_config(config) if config is not None else None
    if config is not None and raw is not None and classify(raw, str(config)) == "dynamic":
        static = load_static(None, flags, {}, flags_over_file=True)  # a file is given: no TRAEFIK_* variables
        if not _names_entry_points(flags):  # else load_static's Traefik default (:80) would stand
            static.entry_points = default_entry_points(raw)
        provider = FileProviderConfig(filename=str(config.resolve()), watch=True)
        return Setup(static, provider, None)
    static = load_static(config, flags, os.environ, flags_over_file=True, search_default_locations=config is None)
    source = static.source_file
    base_dir = Path(source).resolve().parent if source else Path.cwd()
    return Setup(static, static.providers.file, base_dir)


def default_entry_points(raw: dict[str, Any]) -> dict[str, EntryPoint]:
    """Entry points for a dynamic file served alone: those its routers name (else `http`), on loopback
    from port 9999 up, in order of first mention, so that `entryPoints = ["web"]` works as written."""
    names: list[str] = []
    http = next((v for k, v in raw.items() if str(k).lower() == "http"), None) or {}
    routers = next((v for k, v in http.items() if str(k).lower() == "routers"), None) or {}
    for router in routers.values() if isinstance(routers, dict) else ():
        listed = (
            next((v for k, v in router.items() if str(k).lower() == "entrypoints"), None)
            if isinstance(router, dict)
            else None
        )
        if isinstance(listed, str):  # a scalar for the list: split on commas, as Traefik's decoder does
            listed = [part.strip() for part in listed.split(",") if part.strip()]
        for name in listed if isinstance(listed, list) else ():
            if isinstance(name, str) and name not in names:
                names.append(name)
    host, port = DEFAULT_ENTRY_POINT[1].rsplit(":", 1)
    return {
        name: EntryPoint(address=f"{host}:{int(port) + i}") for i, name in enumerate(names or [DEFAULT_ENTRY_POINT[0]])
    }


def _names_entry_points(flags: list[str]) -> bool:
    """Whether flags define entry points themselves."""
    return any(flag.lstrip("-").lower().startswith("entrypoints.") for flag in flags)


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


def check(setup: Setup) -> int:
    """Load everything, print every problem; 0 when there is none."""
    gateway = Gateway(setup.static, local_ca=setup.local_ca, rewrite_prefix=setup.rewrite_prefix)
    problems: list[str] = [str(w) for w in setup.static.warnings]
    provider = make_provider(setup, gateway)
    if provider is not None:
        try:
            dynamic, warnings = provider.load()
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 1
        problems += [str(w) for w in warnings]
        problems += [str(p) for p in gateway.build(dynamic).problems]
        routers = len(dynamic.http.routers)
    else:
        routers = 0
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    print(f"ok: {len(setup.static.entry_points)} entry point(s), {routers} router(s)")
    return 0


def inspect_routing(setup: Setup, args: argparse.Namespace) -> int:
    """`explain` and `routes`: the gateway built from the configuration, nothing bound."""
    from proxy.server import commands

    gateway = Gateway(setup.static, rewrite_prefix=setup.rewrite_prefix)
    provider = make_provider(setup, gateway)
    if provider is not None:
        dynamic, _ = provider.load()
        gateway.apply(dynamic)
    if args.command == "routes":
        rows = commands.routes(gateway)
        print(commands.routes_json(rows) if args.json else commands.routes_text(rows))
        return 0
    if not args.url:
        print(
            "explain needs the request's URL, e.g. python -m proxy explain --config FILE "
            "http://127.0.0.1:9999/api/v1/app",
            file=sys.stderr,
        )
        return 2
    try:
        print(commands.explain(gateway, args.method, args.url, args.headers, args.entry_point, args.client_ip))
    except ValueError as exc:
        print(f"explain: {exc}", file=sys.stderr)
        return 2
    return 0


def prepare(setup: Setup, strict: bool, reuse_port: bool = False) -> tuple[Gateway, FileProvider | None] | int:
    """The gateway with the dynamic config installed (nothing bound yet), or the exit status when
    `strict` start-up finds a problem (already printed)."""
    gateway = Gateway(
        setup.static, reuse_port=reuse_port, local_ca=setup.local_ca, rewrite_prefix=setup.rewrite_prefix
    )
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
            try:
                gateway.apply(dynamic)
            except ConfigError as exc:
                print(exc, file=sys.stderr)
                count = len(exc.problems) + len(warnings)
                print(f"--strict: not starting: {count} problem(s) listed above", file=sys.stderr)
                return 1
            finally:
                gateway.strict = False  # a reload disables what is broken, as Traefik does
            if strict and warnings:
                print(f"--strict: not starting: {len(warnings)} problem(s) listed above", file=sys.stderr)
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
    announce({name: server.serving_text() for name, server in gateway.servers.items()})
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


def main(argv: Sequence[str] | None = None) -> int:
    args, flags = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        setup = resolve_setup(args.config, flags)
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 1
    setup.local_ca = not args.no_local_ca
    setup.rewrite_prefix = args.rewrite_prefix
    setup_logging(
        setup.static.log.level if args.command == "run" else "ERROR",
        config=setup.static.log if args.command == "run" else None,
    )
    if args.command == "check":
        try:
            return check(setup)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 1
    if args.command in ("explain", "routes"):
        try:
            return inspect_routing(setup, args)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 1
    try:
        if args.workers > 1:
            from proxy.server.workers import run_workers  # it imports this module: a late import

            return run_workers(setup, args.workers, strict=args.strict, use_uvloop=not args.no_uvloop)
        return run_loop(serve(setup, args.strict), use_uvloop=not args.no_uvloop)
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 1
