"""Command line: `python -m proxy [check] --config FILE [--strict] [Traefik-style static flags]`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from proxy.config.errors import ConfigError
from proxy.config.loader import classify, entry_point_names, read_any_config
from proxy.config.static import EntryPointConfig, FileProviderConfig
from proxy.config.static_sources import load_static, static_flag_help
from proxy.server.gateway import Gateway, problem_in_file
from proxy.server.run import Setup, make_provider, run_loop, serve, setup_logging

FIRST_DEFAULT_PORT = ("127.0.0.1", 9999)  # a dynamic file given alone: its entry points from here up

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


def default_entry_points(raw: dict[str, Any]) -> dict[str, EntryPointConfig]:
    """Entry points for a dynamic file served alone: those its routers name (else `http`), on loopback
    from port 9999 up, in order of first mention, so that `entryPoints = ["web"]` works as written. Read
    from the file's data: a file that does not validate yet still names them."""
    http = next((v for k, v in raw.items() if str(k).lower() == "http"), None) or {}
    routers = next((v for k, v in http.items() if str(k).lower() == "routers"), None) or {}
    listed = [
        next((v for k, v in router.items() if str(k).lower() == "entrypoints"), None)
        for router in (routers.values() if isinstance(routers, dict) else ())
        if isinstance(router, dict)
    ]
    host, port = FIRST_DEFAULT_PORT
    return {name: EntryPointConfig(address=f"{host}:{port + i}") for i, name in enumerate(entry_point_names(listed))}


def _names_entry_points(flags: list[str]) -> bool:
    """Whether flags define entry points themselves."""
    return any(flag.lstrip("-").lower().startswith("entrypoints.") for flag in flags)


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
        label = gateway.source.label if gateway.source else "dynamic config"
        # As --strict prints them: with the dynamic file and key path of the router, service... they are about.
        problems += [str(problem_in_file(dynamic, p, label)) for p in gateway.build(dynamic).problems]
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
            from proxy.server.workers import run_workers  # late: multiprocessing only costs memory with --workers

            return run_workers(setup, args.workers, strict=args.strict, use_uvloop=not args.no_uvloop)
        return run_loop(serve(setup, args.strict), use_uvloop=not args.no_uvloop)
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 1
