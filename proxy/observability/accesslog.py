"""Traefik's access log (pkg/middlewares/accesslog): the common, genericCLF and JSON lines, field names and
values as Traefik writes them, its filters and its keep / drop / redact rules for fields and headers.

An exchange observer. Per exchange it makes the line (the common line without any intermediate map when
nothing it shows is dropped) and keeps it as text; the text is written in one call when more than
`bufferingSize` lines wait, at the latest FLUSH_INTERVAL later, on `reopen` (SIGUSR1: log rotation) and on
`close`. With `bufferingSize = 0` (Traefik's default) each line is written at once, as Traefik does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proxy import netutil
from proxy.config.static import FIELD_MODES, HEADER_MODES, AccessLogConfig
from proxy.middlewares.coderanges import CodeRanges, in_ranges, parse_code_ranges
from proxy.netutil import canonical_header_key as canonical_header  # textproto.CanonicalMIMEHeaderKey
from proxy.observability.scope import Scoped

if TYPE_CHECKING:
    from proxy.forwarder.exchange import Exchange
    from proxy.routing.plan import RoutePlan
    from proxy.services.loadbalancer import UpstreamServer

log = logging.getLogger("proxy.accesslog")

FLUSH_INTERVAL = 0.2  # seconds a buffered line may wait before it is written
# The common line's numbers below 1000 with the text that follows them: an int's str() costs more than the
# rest of the line, and each piece fewer in its f-string saves a copy and a bytecode or two.
SPACED = tuple(f"{n} " for n in range(1000))  # "0 " ... "999 ": status, RequestCount
PADDED = tuple(f"{n:03d} " for n in range(1000))  # "000 " ... "999 ": the last three digits of a larger count
SIZED = tuple(f'{n} "-" "-" ' for n in range(1000))  # the size, then the Referer and User-Agent left empty
MILLIS = tuple(f"{n}ms\n" for n in range(1000))  # the duration, ending the line
_NOTHING = object()  # a plan or server no exchange has
FORMATS = ("common", "genericCLF", "json")

# What the common line shows (logger_formatters.go), headers aside.
COMMON_FIELDS = frozenset(
    {
        "ClientHost",
        "ClientUsername",
        "StartUTC",
        "RequestMethod",
        "RequestPath",
        "RequestProtocol",
        "DownstreamStatus",
        "DownstreamContentSize",
        "RequestCount",
        "RouterName",
        "ServiceURL",
        "Duration",
    }
)

# Traefik's core field names (logdata.go), in its order.
CORE_FIELDS = (
    "StartUTC",
    "Duration",
    "RouterName",
    "ServiceAddr",
    "ServiceName",
    "ServiceURL",
    "ClientAddr",
    "ClientHost",
    "ClientPort",
    "ClientUsername",
    "GzipRatio",
    "StartLocal",
    "Overhead",
    "RetryAttempts",
    "TLSVersion",
    "TLSCipher",
    "TLSClientSubject",
    "RequestAddr",
    "RequestHost",
    "RequestPort",
    "RequestMethod",
    "RequestPath",
    "RequestProtocol",
    "RequestScheme",
    "RequestContentSize",
    "OriginDuration",
    "OriginContentSize",
    "OriginStatus",
    "DownstreamStatus",
    "DownstreamContentSize",
    "RequestCount",
)


def split_host_port(value: str) -> tuple[str, str]:
    """Traefik's silentSplitHostPort: Go's net.SplitHostPort (proxy.netutil), else the value and "-"."""
    split = netutil.split_host_port(value)
    return (value, "-") if split is None else split


def go_rfc3339(ns: int, local: bool = False) -> str:
    """Go's time.RFC3339Nano text of `ns` (Unix nanoseconds), in UTC or in the local zone."""
    seconds, frac = divmod(ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, UTC)
    if local:
        moment = moment.astimezone()
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    offset = moment.utcoffset()
    if not offset:
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{text}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


class _Clock:
    """The CLF timestamp `02/Jan/2006:15:04:05 -0700` for a second, cached (lines come in runs)."""

    __slots__ = ("second", "text", "local")

    def __init__(self, local: bool) -> None:
        self.second = -1
        self.text = ""
        self.local = local

    def clf(self, ns: int) -> str:
        second = ns // 1_000_000_000
        if second != self.second:
            self.second = second
            if self.local:
                self.text = time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(second))
            else:
                self.text = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(second))
        return self.text


def _quoted(value: Any, default: str = '"-"') -> str:
    if value is None:
        return default
    text = str(value)
    return '"' + text.replace('"', '\\"') + '"' if text else default


def _plain(value: Any) -> str:
    if value is None:
        return "-"
    text = str(value)
    return text or "-"


class AccessLog(Scoped):
    """The `accessLog` section, built once; call it with each finished Exchange."""

    def __init__(self, config: AccessLogConfig, label: str = "accessLog") -> None:
        self.config = config
        self.format = config.format
        self.warnings: list[str] = []
        if self.format not in FORMATS:
            self.warnings.append(
                f"{label}.format: unsupported access log format {config.format!r}, "
                "the common format is used instead (as Traefik does)"
            )
            self.format = "common"
        self.ranges: CodeRanges = ()
        try:
            self.ranges = parse_code_ranges(list(config.filters.status_codes))
        except ValueError as exc:
            self.warnings.append(f"{label}.filters.statusCodes: {exc}; the filter is ignored (as in Traefik)")
        self.retry_filter = config.filters.retry_attempts
        self.min_duration = config.filters.min_duration
        self.filtered = bool(self.ranges or self.retry_filter or self.min_duration > 0)
        fields = config.fields
        self.default_keep = fields.default_mode != "drop"  # Traefik: anything but keep/drop is the default
        self.names = {name.lower(): mode for name, mode in fields.names.items()}
        self.header_default = fields.headers.default_mode if fields.headers.default_mode in HEADER_MODES else "keep"
        self.header_names = {
            canonical_header(name): mode for name, mode in fields.headers.names.items() if mode in HEADER_MODES
        }
        self.keep_query = fields.query_parameters.default_mode != "drop"
        self.kept = frozenset(name for name in CORE_FIELDS if self._keep(name))
        self.headers_logged = self.header_default != "drop" or any(m != "drop" for m in self.header_names.values())
        for name, mode in fields.names.items():
            if mode not in FIELD_MODES:
                self.warnings.append(f"{label}.fields.names.{name}: unknown mode {mode!r}, the default mode is used")
        if self.headers_logged:
            self.warnings.append(
                f"{label}.fields.headers: request headers are logged (request_<Name>); the "
                "response headers Traefik adds as origin_<Name> and downstream_<Name> are not"
            )
        # accessLog.otlp: warned about with the static configuration (proxy/config/unimplemented.py)
        self.buffering = max(config.buffering_size, 0)
        self.pending: list[str] = []  # lines waiting for the next write (the loop pass's end, or the buffer's)
        self._pass_written = False  # unbuffered: a line of this loop pass was written, the rest wait for its end
        self.count = 0  # Traefik's RequestCount
        self.path = Path(config.file_path).expanduser() if config.file_path else None
        self.fd = self._open()
        self._timer: asyncio.TimerHandle | None = None
        self._utc = _Clock(local=False)
        self._quoted: dict[str, str] = {}
        # The common line's caches: the quoted router and server URL of the last line, its CLF start
        # time (for starts between the two monotonic bounds), RequestCount's digits above the last three.
        self._tail_plan: object = _NOTHING
        self._tail_server: object = _NOTHING
        self._tail = ""
        self._stamp = ""
        self._stamp_from = self._stamp_until = 0.0
        self._thousands, self._units = "", SPACED
        self._count_until = 0
        self._offset = 0.0
        self._offset_until = -1.0
        self._recent = False  # lines were written since the timer last fired: keep it running
        # Entry points whose forwardedHeaders may keep a client's X-Forwarded-For (ClientHost is then that
        # value); set by the gateway. Elsewhere the header is always the proxy's own: no lookup needed.
        self.trusting: frozenset[str] = frozenset()
        self._local = _Clock(local=True)
        self._format: Callable[[Exchange, int, float, int], str] = {
            "common": self._common,
            "genericCLF": self._generic_clf,
            "json": self._json,
        }[self.format]
        self._fast = (
            self.format == "common" and COMMON_FIELDS <= self.kept and not self.headers_logged and not self.filtered
        )

    # -- files --------------------------------------------------------------------------------------
    def _open(self) -> int:
        if self.path is None:
            return sys.stdout.fileno()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        return os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o664)

    def reopen(self) -> None:
        """SIGUSR1: what is buffered goes to the current file, then the file is opened again by its path
        (after logrotate moved it away); on error the old file stays in use."""
        self.flush()
        if self.path is None:
            return
        try:
            fd = self._open()
        except OSError as exc:
            log.error("access log: cannot reopen %s: %s", self.path, exc)
            return
        old, self.fd = self.fd, fd
        os.close(old)

    def close(self) -> None:
        self._recent = False
        self.flush()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.path is not None and self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    # -- the observer -------------------------------------------------------------------------------
    def __call__(self, exchange: Exchange) -> None:
        """The line is made now (it needs the exchange, and a kept exchange would keep its whole request
        alive for the collector to walk); what waits in memory is text, written in one call per batch."""
        if not self._everything:
            plan = exchange.plan
            if not self._scope.reports(exchange.head.entry_point, plan.router if plan is not None else None):
                return
        ended = exchange.ended
        if ended > self._offset_until:  # the wall clock's offset from the monotonic one, once a second
            self._offset = time.time() - ended
            self._offset_until = ended + 1.0
        self.count = count = self.count + 1  # Traefik counts every request, logged or filtered out
        if self._fast:
            # The common line with every field it shows kept, no header logged and no filter, without a
            # field map (_line_of_fields does the general case).
            head = exchange.head
            client_ip = host = head.client_ip
            if head.entry_point in self.trusting:  # a client-sent X-Forwarded-For may have been kept
                headers = head.headers
                try:
                    sent = headers.items[headers.keys.index("x-forwarded-for")][1]
                except ValueError:
                    pass
                else:
                    if sent != client_ip:
                        host = _sent_forwarded_for(sent, client_ip) or client_ip
            plan, server, reply = exchange.plan, exchange.server, exchange.reply
            if plan is self._tail_plan and server is self._tail_server:  # as the line before (the usual case)
                tail = self._tail
            else:
                tail = self._tail_of(plan, server)
            user = head.client_username
            started = exchange.started
            stamp = self._stamp if self._stamp_from <= started < self._stamp_until else self._stamp_at(started)
            target = exchange.original_target
            version = head.version
            protocol = ' HTTP/1.1" ' if version == "1.1" else f' HTTP/{version}" '
            status = exchange.status
            status_text = SPACED[status] if status < 1000 else f"{status} "
            size = len(reply.body) if reply is not None else exchange.bytes_out
            size_text = SIZED[size] if size < 1000 else f'{size} "-" "-" '
            millis = (ended - started) * 1000  # most are under a millisecond: no int() for them
            millis_text = "0ms\n" if millis < 1 else MILLIS[int(millis)] if millis < 1000 else f"{int(millis)}ms\n"
            if count >= self._count_until:  # the count only grows
                self._count_block(count)
            line = (
                f"{host or '-'} - {user or '-'} {stamp}{head.method} "
                f"{(target if self.keep_query else target.partition('?')[0]) or '-'}{protocol}{status_text}"
                f"{size_text}{self._thousands}{self._units[count % 1000]}{tail}{millis_text}"
            )
        else:
            if self.filtered and not self._keep_line(exchange, ended - exchange.started):
                return
            line = self._line_of_fields(exchange, ended, self._offset, count)
        pending = self.pending
        if not self.buffering:
            # Traefik's default, written at once. The first line of an event loop pass is; the others the pass
            # makes (a loaded gateway finishes ~20 exchanges a pass) wait for its end and share one write. So
            # a client that sent one request finds its line in the file when the answer is back, and a busy
            # gateway makes two writes a pass, not one a request.
            if self._pass_written:
                pending.append(line)
            else:
                self._pass_written = True
                asyncio.get_running_loop().call_soon(self._pass_ended)
                self._write(line.encode())
            return
        pending.append(line)
        if len(pending) > self.buffering:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_INTERVAL, self._timed_flush)

    def _pass_ended(self) -> None:
        self._pass_written = False
        self.flush()

    def _timed_flush(self) -> None:
        """Every FLUSH_INTERVAL while lines come: one timer for the whole stream, not one per batch."""
        self.flush()
        self._timer = (
            asyncio.get_running_loop().call_later(FLUSH_INTERVAL, self._timed_flush)
            if self.pending or self._recent
            else None
        )
        self._recent = False

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        if pending and self.fd >= 0:
            self._recent = True
            self._write("".join(pending).encode())

    def _line_of_fields(self, exchange: Exchange, ended: float, offset: float, count: int) -> str:
        return self._format(exchange, int((ended + offset) * 1e9), ended - exchange.started, count)

    def _write(self, data: bytes) -> None:
        if self.fd < 0:
            return
        try:
            while data:
                written = os.write(self.fd, data)
                data = data[written:]
        except OSError as exc:
            log.error("access log: cannot write: %s", exc)

    def _keep_line(self, exchange: Exchange, duration: float) -> bool:
        """Traefik's keepAccessLog: any filter that matches keeps the line."""
        if self.ranges and in_ranges(self.ranges, exchange.status):
            return True
        if self.retry_filter and exchange.attempts > 1:
            return True
        return self.min_duration > 0 and duration > self.min_duration

    # -- fields -------------------------------------------------------------------------------------
    def _keep(self, name: str) -> bool:
        mode = self.names.get(name.lower())
        if mode == "keep":
            return True
        if mode == "drop":
            return False
        return self.default_keep

    def fields(self, exchange: Exchange, wall_ns: int, duration: float, count: int) -> dict[str, Any]:
        """Every kept field of the line, by Traefik's name, with Traefik's value (durations in ns)."""
        head, server, reply, plan = exchange.head, exchange.server, exchange.reply, exchange.plan
        duration_ns = int(duration * 1e9)
        start_ns = wall_ns - duration_ns
        client_ip = head.client_ip
        port = "-"
        transport = exchange.client.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        if isinstance(peer, tuple) and len(peer) >= 2:
            port = str(peer[1])
        forwarded_for = head.headers.get("x-forwarded-for") if head.entry_point in self.trusting else None
        client_host = _sent_forwarded_for(forwarded_for, client_ip) or client_ip
        target = exchange.original_target
        if not self.keep_query:
            target = target.partition("?")[0]
        size = len(reply.body) if reply is not None else exchange.bytes_out
        data: dict[str, Any] = {
            "StartUTC": start_ns,
            "StartLocal": start_ns,
            "Duration": duration_ns,
            "ClientAddr": f"[{client_ip}]:{port}" if ":" in client_ip else f"{client_ip}:{port}",
            "ClientHost": client_host,
            "ClientPort": port,
            "ClientUsername": head.client_username if head.client_username is not None else "-",
            "RequestMethod": head.method,
            "RequestPath": target,
            "RequestProtocol": f"HTTP/{head.version}",
            "RequestScheme": head.scheme,
            "RequestContentSize": exchange.request_length,  # the body's bytes, as Traefik's capture counts
            "RetryAttempts": max(exchange.attempts - 1, 0),
            "DownstreamStatus": exchange.status,
            "DownstreamContentSize": size,
            "RequestCount": count,
            "Overhead": duration_ns,
        }
        if head.host:
            data["RequestAddr"] = head.host
            data["RequestHost"], data["RequestPort"] = split_host_port(head.host)
        if plan is not None:
            data["RouterName"] = plan.router
        if server is not None:
            data["ServiceName"] = f"{server.service}@file"
            data["ServiceURL"] = server.url
            data["ServiceAddr"] = server.host_header
            data["OriginStatus"] = exchange.status
            data["OriginContentSize"] = size
            data["OriginDuration"] = duration_ns  # the upstream's share is not measured apart
            data["Overhead"] = 0
        kept = self.kept
        data = {name: value for name, value in data.items() if name in kept}
        if self.headers_logged:
            self._headers(head.headers.items, data)
        return data

    def _headers(self, items: list[tuple[str, str]], data: dict[str, Any]) -> None:
        default, names = self.header_default, self.header_names
        seen: dict[str, list[str]] = {}
        for name, value in items:
            seen.setdefault(canonical_header(name), []).append(value)
        for name, values in seen.items():
            mode = names.get(name, default)
            if mode == "keep":
                data["request_" + name] = ",".join(values)
            elif mode == "redact":
                data["request_" + name] = "REDACTED"

    # -- formats ------------------------------------------------------------------------------------
    def _clf_time(self, data: dict[str, Any]) -> str:
        if "StartUTC" in data:
            return self._utc.clf(data["StartUTC"])
        if "StartLocal" in data:
            return self._local.clf(data["StartLocal"])
        return "-"

    def _generic_clf(self, exchange: Exchange, wall_ns: int, duration: float, count: int) -> str:
        data = self.fields(exchange, wall_ns, duration, count)
        return (
            f"{_plain(data.get('ClientHost'))} - {_plain(data.get('ClientUsername'))} [{self._clf_time(data)}] "
            f'"{_plain(data.get("RequestMethod"))} {_plain(data.get("RequestPath"))} '
            f'{_plain(data.get("RequestProtocol"))}" {_plain(data.get("DownstreamStatus"))} '
            f"{_plain(data.get('DownstreamContentSize'))} {_quoted(data.get('request_Referer'))} "
            f"{_quoted(data.get('request_User-Agent'))}\n"
        )

    def _tail_of(self, plan: RoutePlan | None, server: UpstreamServer | None) -> str:
        """The common line's `"router" "server URL" `, remembered for the next line."""
        quoted = self._quoted
        router = (quoted.get(plan.router) or self._quote(plan.router)) if plan is not None else '"-"'
        url = (quoted.get(server.url) or self._quote(server.url)) if server is not None else '"-"'
        self._tail_plan, self._tail_server = plan, server
        self._tail = tail = f"{router} {url} "
        return tail

    def _count_block(self, count: int) -> None:
        """RequestCount's text is its thousands (kept for the 1000 counts that share them) and a table entry."""
        thousands = count // 1000
        self._thousands, self._units = (str(thousands), PADDED) if thousands else ("", SPACED)
        self._count_until = thousands * 1000 + 1000

    def _stamp_at(self, started: float) -> str:
        """`[CLF time] "` of a monotonic start, and the monotonic second it stays valid for."""
        second = int(started + self._offset)
        self._stamp = stamp = f'[{self._utc.clf(second * 1_000_000_000)}] "'
        self._stamp_from = second - self._offset
        self._stamp_until = self._stamp_from + 1.0
        return stamp

    def _quote(self, text: str) -> str:
        """`_quoted`, remembered (router names and server URLs repeat on every line)."""
        value = self._quoted[text] = _quoted(text)
        if len(self._quoted) > 10_000:
            self._quoted.clear()
        return value

    def _common(self, exchange: Exchange, wall_ns: int, duration: float, count: int) -> str:
        data = self.fields(exchange, wall_ns, duration, count)
        millis = data["Duration"] // 1_000_000 if "Duration" in data else 0
        return (
            f"{_plain(data.get('ClientHost'))} - {_plain(data.get('ClientUsername'))} [{self._clf_time(data)}] "
            f'"{_plain(data.get("RequestMethod"))} {_plain(data.get("RequestPath"))} '
            f'{_plain(data.get("RequestProtocol"))}" {_plain(data.get("DownstreamStatus"))} '
            f"{_plain(data.get('DownstreamContentSize'))} {_quoted(data.get('request_Referer'))} "
            f"{_quoted(data.get('request_User-Agent'))} {_plain(data.get('RequestCount'))} "
            f"{_quoted(data.get('RouterName'))} {_quoted(data.get('ServiceURL'))} {millis}ms\n"
        )

    def _json(self, exchange: Exchange, wall_ns: int, duration: float, count: int) -> str:
        """logrus' JSONFormatter: the fields plus level, msg and time, keys sorted, times in RFC 3339."""
        data = self.fields(exchange, wall_ns, duration, count)
        if "StartUTC" in data:
            data["StartUTC"] = go_rfc3339(data["StartUTC"])
        if "StartLocal" in data:
            data["StartLocal"] = go_rfc3339(data["StartLocal"], local=True)
        data["level"] = "info"
        data["msg"] = ""
        data["time"] = go_rfc3339(wall_ns - wall_ns % 1_000_000_000, local=True)
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        # Go's encoder escapes these for HTML safety; log tooling may match on it.
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"


def _sent_forwarded_for(value: str | None, client_ip: str) -> str:
    """The X-Forwarded-For the client sent and the entry point kept (the access log's ClientHost), from the
    header as forwarded: without the client address the proxy appended to it."""
    if not value or value == client_ip:
        return ""
    suffix = ", " + client_ip
    return value[: -len(suffix)] if value.endswith(suffix) else value
