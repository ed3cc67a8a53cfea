"""Traefik's Prometheus metrics (pkg/observability/metrics/prometheus.go): its metric names, label sets,
buckets and the addEntryPointsLabels / addRoutersLabels / addServicesLabels / headerLabels switches.

An exchange observer. Per exchange it adds to one plain record keyed by everything the three label sets
need (entry point, router, service, code, method, protocol, header labels): a dict lookup and a few
additions. The entry point, router and service series are summed from those records when scraped, and
served in Prometheus' text format by `prometheus-client` (imported only when metrics are configured).

With `--workers N` each worker writes its records to a file in a directory the supervisor creates
(`STRIPPROXY_METRICS_DIR`) every second and when it stops; a scrape, answered by any worker, adds every
worker's file to its own live records (prometheus-client's multiprocess mode, done at that grain: counts
of the other workers are at most one second old). Open connections count only for workers alive.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from bisect import bisect_right
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proxy.config.static import PrometheusConfig
from proxy.observability.scope import Scoped

if TYPE_CHECKING:
    from proxy.forwarder.context import EntryPointRuntime
    from proxy.forwarder.exchange import Exchange

log = logging.getLogger("proxy.metrics")

SHARE_ENV = "STRIPPROXY_METRICS_DIR"
SHARE_INTERVAL = 1.0  # seconds between a worker's writes of its records
NO_SERIES = (None,) * 7  # matches no exchange (an exchange always has a status)
FOLD_AT = 1024  # durations a series keeps before folding them into its record
BASE_LABELS = ("code", "method", "protocol")


def qualified(name: str | None) -> str:
    """A service or router name with its provider (`app` -> `app@file`; `api@internal` stays)."""
    if not name:
        return ""
    return name if "@" in name else f"{name}@file"


# Traefik's getMethod: any other method is reported as EXTENSION_METHOD (a bounded label set).
METHODS = frozenset({"HEAD", "GET", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "PRI"})


def has_token(value: str, token: str) -> bool:
    """Traefik's containsHeader: one of the comma-separated items, trimmed and lower-cased, is `token`."""
    return any(item.strip().lower() == token for item in value.split(","))


def protocol_of(connection: str | None, upgrade: str | None, accept: str | None, content_type: str | None) -> str:
    """Traefik's getRequestProtocol, from the first value of each header (None: absent): websocket, sse,
    grpc-web, grpc or http."""
    if connection is not None and upgrade is not None and has_token(connection, "upgrade"):
        if has_token(upgrade, "websocket"):
            return "websocket"
    if accept is not None and "text/event-stream" in accept.lower() and has_token(accept, "text/event-stream"):
        return "sse"
    if content_type is not None and content_type.startswith("application/grpc"):
        return "grpc-web" if content_type.startswith("application/grpc-web") else "grpc"
    return "http"


def request_protocol(headers: Any) -> str:
    """`protocol_of` a HeaderList."""
    get = headers.get
    return protocol_of(get("connection"), get("upgrade"), get("accept"), get("content-type"))


def received_protocol(at: tuple[int, int, int, int], values: list[str]) -> str:
    """`protocol_of` a head as received: `at` is its shape's protocol_at, `values` its values."""
    connection, upgrade, accept, content_type = at
    return protocol_of(
        values[connection] if connection >= 0 else None,
        values[upgrade] if upgrade >= 0 else None,
        values[accept] if accept >= 0 else None,
        values[content_type] if content_type >= 0 else None,
    )


class Series:
    """The numbers of one label combination: `record` is [count, request bytes, response bytes, duration sum,
    bucket counts..., +Inf count] (as shared between workers and scraped); the durations of the latest
    exchanges wait in `durations` and are folded into the count, sum and buckets in batches (a sort and one
    bisect per bucket for the lot, not a bisect and three additions per exchange)."""

    __slots__ = ("record", "durations")

    def __init__(self, buckets: int) -> None:
        self.record: list[float] = [0, 0, 0, 0.0] + [0] * (buckets + 1)
        self.durations: list[float] = []

    def fold(self, buckets: tuple[float, ...]) -> None:
        durations = self.durations
        if not durations:
            return
        self.durations = []
        durations.sort()
        record = self.record
        record[0] += len(durations)
        record[3] += sum(durations)
        below = 0  # durations up to the previous bound
        for index, bound in enumerate(buckets, 4):
            upto = bisect_right(durations, bound)  # a Prometheus bucket counts what is <= its bound
            record[index] += upto - below
            below = upto
        record[4 + len(buckets)] += len(durations) - below


class Metrics(Scoped):
    """`metrics.prometheus`, built once; call it with each finished Exchange, `exposition()` to scrape."""

    def __init__(self, config: PrometheusConfig, share_dir: str | None = None) -> None:
        import prometheus_client  # noqa: F401  (fail at start-up, not at the first scrape, when it is missing)

        self.config = config
        self.buckets = tuple(sorted(float(b) for b in config.buckets))
        self.header_labels = tuple(config.header_labels.items())  # (label, header name)
        self.header_names = tuple(header.lower() for _, header in self.header_labels)
        # (entry point, router, router's service, service, code, method, protocol, *header values) -> its numbers
        self.series: dict[tuple[Any, ...], Series] = {}
        self.retries: dict[str, int] = {}
        self.reloads = 0
        self.last_reload = 0.0
        self.runtimes: list[EntryPointRuntime] = []
        self.share_dir = Path(share_dir) if share_dir else None
        self._share_task: asyncio.Task[None] | None = None
        self._last: tuple[Any, ...] = NO_SERIES

    # -- the observer -------------------------------------------------------------------------------
    def __call__(self, exchange: Exchange) -> None:
        head, plan, server = exchange.head, exchange.plan, exchange.server
        if not self._everything and not self._scope.reports(
            head.entry_point, plan.router if plan is not None else None
        ):
            return
        duration = exchange.ended - exchange.started
        shape = exchange.request_shape
        if shape is not None:  # read from the wire: the protocol and size as the client sent them
            values = exchange.request_values
            assert values is not None
            at = shape.protocol_at
            if at is None:
                protocol = "http"
            elif at[1] < 0:
                # No Upgrade header, so no websocket (most requests): sse by the Accept header, grpc by the
                # Content-Type, as protocol_of has them; only a grpc type takes the full rule.
                accept = values[at[2]] if at[2] >= 0 else ""
                if "text/event-stream" in accept.lower() and has_token(accept, "text/event-stream"):
                    protocol = "sse"
                elif at[3] >= 0 and values[at[3]].startswith("application/grpc"):
                    protocol = received_protocol(at, values)
                else:
                    protocol = "http"
            else:
                protocol = received_protocol(at, values)
        else:
            protocol = request_protocol(head.headers)
        method = head.method
        status = exchange.status
        # A stream of exchanges alike (one route, one server, 200s) is the usual case: the previous exchange's
        # series is tried first, by identity, before a key is built and looked up.
        last = self._last
        if (
            last[0] is plan
            and last[1] is server
            and last[2] == status
            and last[3] == method
            and last[4] is protocol
            and last[5] == head.entry_point
        ):
            series = last[6]
        else:
            series = self._series_of(exchange, protocol)
            if not self.header_names:  # with header labels, each exchange's values pick its series
                self._last = (plan, server, status, method, protocol, head.entry_point, series)
        durations = series.durations
        durations.append(duration)
        if len(durations) >= FOLD_AT:
            series.fold(self.buckets)
        record = series.record
        reply = exchange.reply
        record[2] += len(reply.body) if reply is not None else exchange.bytes_out
        if exchange.request_length:
            record[1] += exchange.request_length
        if exchange.attempts > 1 and server is not None:
            self.retries[server.service] = self.retries.get(server.service, 0) + exchange.attempts - 1

    def _series_of(self, exchange: Exchange, protocol: str) -> Series:
        head, plan, server, method = exchange.head, exchange.plan, exchange.server, exchange.head.method
        key: tuple[Any, ...] = (
            head.entry_point,
            plan.router if plan is not None else None,
            plan.service_name if plan is not None else None,
            server.service if server is not None else None,
            exchange.status,
            method if method in METHODS else "EXTENSION_METHOD",
            protocol,
        )
        if self.header_names:
            headers = head.headers
            key += tuple(headers.get(name) or "" for name in self.header_names)
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = Series(len(self.buckets))
        return series

    def config_applied(self, routers: set[str], services: set[str]) -> None:
        """A configuration was installed: count it, and drop the series of routers and services it no
        longer has (as Traefik's prometheusState does)."""
        self.reloads += 1
        self.last_reload = time.time()
        self._last = NO_SERIES
        self.series = {
            key: series
            for key, series in self.series.items()
            if (key[1] is None or key[1] in routers) and (key[3] is None or key[3] in services)
        }

    def records(self) -> dict[tuple[Any, ...], list[float]]:
        """Each series' record, with every duration observed so far folded in."""
        buckets = self.buckets
        for series in self.series.values():
            series.fold(buckets)
        return {key: series.record for key, series in self.series.items()}

    # -- sharing between workers --------------------------------------------------------------------
    def _snapshot(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "records": [[list(key), record] for key, record in self.records().items()],
            "retries": self.retries,
            "reloads": self.reloads,
            "last_reload": self.last_reload,
            "open": {rt.name: len(rt.connections) for rt in self.runtimes},
        }

    def share(self) -> None:
        """Write this worker's records for the others' scrapes (atomically: a temp file renamed)."""
        if self.share_dir is None:
            return
        target = self.share_dir / f"{os.getpid()}.json"
        temp = target.with_suffix(".tmp")
        try:
            temp.write_text(json.dumps(self._snapshot()))
            os.replace(temp, target)
        except OSError as exc:
            log.error("metrics: cannot write %s: %s", target, exc)

    async def _share_loop(self) -> None:
        while True:
            await asyncio.sleep(SHARE_INTERVAL)
            self.share()

    def start(self) -> None:
        if self.share_dir is not None and self._share_task is None:
            self._share_task = asyncio.get_running_loop().create_task(self._share_loop())

    def stop(self) -> None:
        if self._share_task is not None:
            self._share_task.cancel()
            self._share_task = None
        self.share()

    def _others(self) -> Iterator[tuple[dict[str, Any], bool]]:
        """The other workers' snapshots, each with whether that worker is alive."""
        if self.share_dir is None:
            return
        own = os.getpid()
        for path in self.share_dir.glob("*.json"):
            try:
                snapshot = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            pid = snapshot.get("pid")
            if pid == own:
                continue
            yield snapshot, _alive(pid)

    # -- scraping -----------------------------------------------------------------------------------
    def exposition(self) -> tuple[bytes, str]:
        """The scrape's body and content type."""
        from prometheus_client import (
            CONTENT_TYPE_LATEST,
            GC_COLLECTOR,
            PLATFORM_COLLECTOR,
            PROCESS_COLLECTOR,
            CollectorRegistry,
            generate_latest,
        )

        registry = CollectorRegistry(auto_describe=False)
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR, _Families(self)):
            registry.register(collector)
        return generate_latest(registry), CONTENT_TYPE_LATEST

    def merged(self) -> tuple[dict[tuple[Any, ...], list[float]], dict[str, int], int, float, dict[str, int]]:
        records = {key: list(record) for key, record in self.records().items()}
        retries = dict(self.retries)
        reloads, last_reload = self.reloads, self.last_reload
        open_connections = {rt.name: len(rt.connections) for rt in self.runtimes}
        for snapshot, alive in self._others():
            for key, record in snapshot.get("records", ()):
                key = tuple(key)
                mine = records.get(key)
                if mine is None:
                    records[key] = list(record)
                elif len(mine) == len(record):
                    for i, value in enumerate(record):
                        mine[i] += value
            for service, count in snapshot.get("retries", {}).items():
                retries[service] = retries.get(service, 0) + count
            # Every worker loads the same files: a reload counts once, not once per worker.
            reloads = max(reloads, snapshot.get("reloads", 0))
            last_reload = max(last_reload, snapshot.get("last_reload", 0.0))
            if alive:
                for name, count in snapshot.get("open", {}).items():
                    open_connections[name] = open_connections.get(name, 0) + count
        return records, retries, reloads, last_reload, open_connections


class _Families:
    """A prometheus-client collector over the Metrics records: Traefik's metric families."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
        from prometheus_client.utils import floatToGoString

        m = self.metrics
        config = m.config
        records, retries, reloads, last_reload, open_connections = m.merged()
        reload_family = CounterMetricFamily("traefik_config_reloads", "Config reloads", labels=[])
        reload_family.add_metric([], reloads)
        yield reload_family
        success = GaugeMetricFamily("traefik_config_last_reload_success", "Last config reload success", labels=[])
        success.add_metric([], last_reload)
        yield success
        connections = GaugeMetricFamily(
            "traefik_open_connections",
            "How many open connections exist, by entryPoint and protocol",
            labels=["entrypoint", "protocol"],
        )
        for name, count in sorted(open_connections.items()):
            connections.add_metric([name, "TCP"], count)
        yield connections
        header_label_names = [label for label, _ in m.header_labels]
        les = [floatToGoString(b) for b in m.buckets] + ["+Inf"]  # type: ignore[no-untyped-call]  # unannotated upstream

        def families(prefix: str, what: str, labels: list[str], pick: Any) -> Iterator[Any]:
            totals: dict[tuple[Any, ...], float] = {}
            sums: dict[tuple[Any, ...], list[float]] = {}
            for key, record in records.items():
                labels_of = pick(key)
                if labels_of is None:
                    continue
                total_key = labels_of + (tuple(key[7:]) if header_label_names else ())
                totals[total_key] = totals.get(total_key, 0) + record[0]
                acc = sums.get(labels_of)
                if acc is None:
                    sums[labels_of] = list(record)
                else:
                    for i, value in enumerate(record):
                        acc[i] += value
            requests = CounterMetricFamily(
                f"{prefix}_requests",
                f"How many HTTP requests processed on {what}, partitioned by status code, protocol, and method.",
                labels=labels + header_label_names,
            )
            for label_values, count in sorted(totals.items(), key=_sort_key):
                requests.add_metric([str(v) for v in label_values], count)
            yield requests
            duration = HistogramMetricFamily(
                f"{prefix}_request_duration_seconds",
                f"How long it took to process the request on {what}, partitioned by status code, protocol, and method.",
                labels=labels,
            )
            request_bytes = CounterMetricFamily(
                f"{prefix}_requests_bytes",
                "The total size of requests in bytes "
                f"handled by {what}, partitioned by status code, protocol, and "
                "method.",
                labels=labels,
            )
            response_bytes = CounterMetricFamily(
                f"{prefix}_responses_bytes",
                "The total size of responses in "
                f"bytes handled by {what}, partitioned by status code, protocol, "
                "and method.",
                labels=labels,
            )
            for label_values, acc in sorted(sums.items(), key=_sort_key):
                values = [str(v) for v in label_values]
                cumulative, running = [], 0.0
                for le, count in zip(les, acc[4:], strict=False):
                    running += count
                    cumulative.append((le, running))
                duration.add_metric(values, buckets=cumulative, sum_value=acc[3])
                request_bytes.add_metric(values, acc[1])
                response_bytes.add_metric(values, acc[2])
            yield duration
            yield request_bytes
            yield response_bytes

        # key: (entry point, router, router's service, service, code, method, protocol, *header values)
        if config.add_entry_points_labels:
            yield from families(
                "traefik_entrypoint", "an entrypoint", [*BASE_LABELS, "entrypoint"], lambda k: (k[4], k[5], k[6], k[0])
            )
        if config.add_routers_labels:
            yield from families(
                "traefik_router",
                "a router",
                [*BASE_LABELS, "router", "service"],
                lambda k: (k[4], k[5], k[6], k[1], qualified(k[2])) if k[1] else None,
            )
        if config.add_services_labels:
            yield from families(
                "traefik_service",
                "a service",
                [*BASE_LABELS, "service"],
                lambda k: (k[4], k[5], k[6], qualified(k[3])) if k[3] else None,
            )
            retry_family = CounterMetricFamily(
                "traefik_service_retries", "How many request retries happened on a service.", labels=["service"]
            )
            for service, count in sorted(retries.items()):
                retry_family.add_metric([qualified(service)], count)
            yield retry_family


def _sort_key(item: tuple[tuple[Any, ...], Any]) -> tuple[str, ...]:
    return tuple(str(v) for v in item[0])


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
