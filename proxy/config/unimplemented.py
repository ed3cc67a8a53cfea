"""Keys Traefik documents that stripproxy accepts without acting on them: each one set gives a warning.

Nothing accepted is silently ignored: a file that sets one of the keys below loads (so a production file
still works in a test), and the loader says, for each, the file, the key path as written and what the user
gets instead: "accepted but not implemented: <what happens instead>". `--strict` and the test fixtures
refuse such a file, except where a stand-in serves (a certResolver's routers get local CA certificates).
The tables are walked by tests/config/test_reference_keys.py against every key of Traefik's reference
files (tests/data/traefik_reference_keys.json): a key is either implemented, or listed here (or warned about
where it is used: the other providers in static.py, unsupported middleware and service types when routes
are built).

Patterns are dotted key paths in Traefik's spelling; `<name>` stands for a user-chosen name (a router, an
entry point), `<any>` for any key at that level (one warning each). A key whose value is what stripproxy
does anyway (`global.checkNewVersion = false`) gives no warning.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from proxy.config.errors import ConfigProblem, KeyPath, format_key_path

NOT_IMPLEMENTED = "accepted but not implemented"


def _off(value: Any) -> bool:
    """false, 0, "0s", "", empty: the feature is off, as stripproxy has it."""
    return value in (False, 0, "", "0", "0s", "false", None) or value == [] or value == {}


@dataclass(frozen=True)
class Unimplemented:
    pattern: str
    instead: str  # what the user gets instead
    same_as_ours: Callable[[Any], bool] | None = None  # values that ask for what stripproxy does anyway
    refused: bool = True  # by --strict and the fixtures; False where a stand-in serves (the local CA)

    def message(self) -> str:
        return f"{NOT_IMPLEMENTED}: {self.instead}"


def _is(expected: Any) -> Callable[[Any], bool]:
    return lambda value: value == expected


_NO_TRACES = "no traces are recorded or exported (stripproxy has no tracing)"
_NO_HTTP2 = "HTTP/2 is not served: clients and servers are spoken to over HTTP/1.1"
_ROTATION = "built-in log file rotation is not implemented; the file grows (rotate it with logrotate's copytruncate)"
_NO_OTLP = "no OpenTelemetry export; lines are written to the file or the standard stream"

STATIC: tuple[Unimplemented, ...] = (
    Unimplemented("global.checkNewVersion", "no new version check is made", _off),
    Unimplemented("global.sendAnonymousUsage", "no usage statistics are sent", _off),
    Unimplemented("entryPoints.<name>.http2", _NO_HTTP2),
    Unimplemented("entryPoints.<name>.http3", "HTTP/3 is not served: the entry point answers over TCP only"),
    Unimplemented("entryPoints.<name>.udp", "UDP entry points are not served"),
    Unimplemented(
        "entryPoints.<name>.proxyProtocol",
        "no PROXY protocol header is read: a connection that starts with one gets 400 Bad Request, and client "
        "addresses are the TCP peer's",
    ),
    Unimplemented(
        "entryPoints.<name>.transport.keepAliveMaxRequests",
        "connections are not closed after a number of requests (idleTimeout still closes idle ones)",
        _off,
    ),
    Unimplemented(
        "entryPoints.<name>.transport.keepAliveMaxTime",
        "connections are not closed after a time (idleTimeout still closes idle ones)",
        _off,
    ),
    Unimplemented(
        "entryPoints.<name>.http.underscoreHeadersStrategy",
        "header names holding an underscore are passed on as they are (keep)",
        _is("keep"),
    ),
    Unimplemented("entryPoints.<name>.observability.tracing", _NO_TRACES, _off),
    Unimplemented("entryPoints.<name>.observability.traceVerbosity", _NO_TRACES, _is("minimal")),
    Unimplemented(
        "providers.providersThrottleDuration",
        "a changed file is applied as soon as the watcher reports it, without throttling",
    ),
    Unimplemented(
        "providers.file.debugLogGeneratedTemplate",
        "rendered templates are not logged (a template error still names the file and the line)",
        _off,
    ),
    Unimplemented("log.maxSize", _ROTATION, _off),
    Unimplemented("log.maxAge", _ROTATION, _off),
    Unimplemented("log.maxBackups", _ROTATION, _off),
    Unimplemented("log.compress", _ROTATION, _off),
    Unimplemented("log.otlp", _NO_OTLP),
    Unimplemented("accessLog.otlp", _NO_OTLP),
    Unimplemented("metrics.datadog", "nothing is sent to Datadog (only metrics.prometheus is implemented)"),
    Unimplemented("metrics.statsD", "nothing is sent to StatsD (only metrics.prometheus is implemented)"),
    Unimplemented("metrics.influxDB2", "nothing is sent to InfluxDB (only metrics.prometheus is implemented)"),
    Unimplemented("metrics.otlp", "no OpenTelemetry metrics are exported (only metrics.prometheus is implemented)"),
    Unimplemented("tracing", _NO_TRACES),
    Unimplemented("experimental.<any>", "experimental features (plugins, fastProxy, otlpLogs, ...) are not available"),
    Unimplemented(
        "certificatesResolvers.<name>",
        "no ACME (or Tailscale) server is contacted: routers naming this resolver get a certificate from the "
        "local development CA (with --no-local-ca they are disabled)",
        refused=False,
    ),
    Unimplemented("hostResolver", "host names are resolved by the system resolver (no CNAME flattening)"),
    Unimplemented("spiffe", "no SPIFFE workload API is used (serversTransports with spiffe are refused)"),
    Unimplemented("ocsp", "no OCSP stapling: certificates are served without an OCSP response"),
    Unimplemented(
        "serversTransport.spiffe",
        "SPIFFE is not supported: the routers of services using the default transport are disabled",
    ),
    Unimplemented("tcpServersTransport", "TCP routers are not served, so no TCP servers transport is used"),
)

DYNAMIC: tuple[Unimplemented, ...] = (
    Unimplemented(
        "http.serversTransports.<name>.spiffe",
        "SPIFFE is not supported: the routers of services using this transport are disabled",
    ),
    Unimplemented("tcp", "TCP routers, services and middlewares are not served (stripproxy serves HTTP only)"),
    Unimplemented("udp", "UDP routers and services are not served (stripproxy serves HTTP only)"),
    Unimplemented(
        "http.services.<name>.loadBalancer.responseForwarding.flushInterval",
        "every piece of a response body is written as soon as it arrives (as with a negative flushInterval)",
        lambda value: str(value).strip().startswith("-"),  # negative: Traefik flushes after every write too
        refused=False,  # what the client gets is never later than Traefik would send it
    ),
    Unimplemented("http.routers.<name>.observability.tracing", _NO_TRACES, _off),
    Unimplemented("http.routers.<name>.observability.traceVerbosity", _NO_TRACES, _is("minimal")),
    Unimplemented(
        "http.serversTransports.<name>.disableHTTP2",
        "servers are always reached over HTTP/1.1 (as with disableHTTP2 = true)",
        _is(True),
    ),
    Unimplemented(
        "http.serversTransports.<name>.forwardingTimeouts.readIdleTimeout",
        "no HTTP/2 health pings are sent (servers are reached over HTTP/1.1)",
        _off,
    ),
    Unimplemented(
        "http.serversTransports.<name>.forwardingTimeouts.pingTimeout",
        "no HTTP/2 health pings are sent (servers are reached over HTTP/1.1)",
    ),
)


def refused_in_strict(problem: ConfigProblem) -> bool:
    """Whether a loader warning says a key is accepted without being acted on (or a provider is absent):
    `--strict` and the test fixtures refuse those, so that a test never passes on a feature not there."""
    if problem.message in _STAND_INS:
        return False
    return problem.message.startswith(NOT_IMPLEMENTED) or " is not available here;" in problem.message


def find(
    data: Any,
    table: tuple[Unimplemented, ...],
    file: str,
    spelled: Mapping[KeyPath, str] | None = None,
) -> list[ConfigProblem]:
    """A warning for each key of `table` set in `data` (a mapping in Traefik's spelling: a model dumped
    with `by_alias=True, exclude_unset=True`), named as the user wrote it (`spelled`, normalised path ->
    key as written)."""
    problems: list[ConfigProblem] = []
    for entry in table:
        for path, value in _matches(data, entry.pattern.split("."), ()):
            if entry.same_as_ours is not None and entry.same_as_ours(value):
                continue
            written = tuple((spelled or {}).get(path[: i + 1], part) for i, part in enumerate(path))
            problems.append(ConfigProblem(file, format_key_path(written), entry.message()))
    return problems


def _matches(data: Any, parts: list[str], path: KeyPath) -> list[tuple[KeyPath, Any]]:
    if not parts:
        return [(path, data)]
    if not isinstance(data, dict):
        return []
    head, rest = parts[0], parts[1:]
    if head in ("<name>", "<any>"):
        return [found for key, value in data.items() for found in _matches(value, rest, path + (key,))]
    if head in data and data[head] is not None:
        return _matches(data[head], rest, path + (head,))
    return []


_STAND_INS = frozenset(entry.message() for entry in (*STATIC, *DYNAMIC) if not entry.refused)
