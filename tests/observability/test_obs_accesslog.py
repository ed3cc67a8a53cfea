"""accessLog against a live gateway: the lines and JSON fields Traefik writes (pkg/middlewares/accesslog,
logger_test.go's TestLoggerCLF / TestLoggerJSON / TestNewLogHandlerOutputStdout field cases)."""

from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from obs_helpers import ROUTES

from proxy.observability import accesslog
from proxy.observability.accesslog import canonical_header, go_rfc3339, split_host_port

# Traefik's common line: host - user [time] "method path proto" status size "referer" "agent" count
# "router" "service url" Nms
COMMON = re.compile(
    r"^(?P<host>\S+) - (?P<user>\S+) \[(?P<time>\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] "
    r'"(?P<method>\S+) (?P<path>\S+) (?P<proto>\S+)" (?P<status>\d+) (?P<size>\S+) '
    r'(?P<referer>"[^"]*"|"-") (?P<agent>"[^"]*"|"-") (?P<count>\d+) (?P<router>"[^"]*") '
    r'(?P<url>"[^"]*") (?P<ms>\d+)ms$'
)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def test_common_line_for_a_proxied_request_and_a_404(live_gateway, tmp_path, app_server):
    log_file = tmp_path / "logs" / "access.log"  # the folder is created, as Traefik does
    gateway = await live_gateway(f'[accessLog]\nfilePath = "{log_file}"\n')
    async with httpx.AsyncClient(base_url=gateway.urls["web"]) as client:
        assert (
            await client.get("/app/x?q=1", headers={"User-Agent": "tester/1", "Referer": "http://r/"})
        ).status_code == 200
        assert (await client.get("/nowhere")).status_code == 404
    first, second = (COMMON.match(line) for line in lines(log_file))
    assert first and second, lines(log_file)
    assert first.group("host") == "127.0.0.1" and first.group("user") == "-"
    assert (first.group("method"), first.group("path"), first.group("proto")) == ("GET", "/app/x?q=1", "HTTP/1.1")
    assert (first.group("status"), first.group("size")) == ("200", "11")
    # Headers are dropped by default (fields.headers.defaultMode = drop): referer and agent are "-".
    assert (first.group("referer"), first.group("agent")) == ('"-"', '"-"')
    assert first.group("count") == "1" and first.group("router") == '"app@file"'
    assert first.group("url") == f'"{app_server.url}"'
    assert first.group("time").endswith("+0000")
    assert (
        second.group("status"),
        second.group("size"),
        second.group("router"),
        second.group("url"),
        second.group("count"),
    ) == ("404", "19", '"-"', '"-"', "2")


async def test_kept_headers_fill_referer_and_agent_and_json_fields(live_gateway, tmp_path, app_server):
    log_file = tmp_path / "access.json"
    gateway = await live_gateway(
        f'[accessLog]\nfilePath = "{log_file}"\nformat = "json"\n'
        '[accessLog.fields.headers]\ndefaultMode = "keep"\n'
        '[accessLog.fields.headers.names]\nauthorization = "redact"\nx-secret = "drop"\n'
    )
    async with httpx.AsyncClient(base_url=gateway.urls["web"]) as client:
        await client.get(
            "/app/j?a=b",
            headers={"User-Agent": "tester/1", "Authorization": "Basic eA==", "X-Secret": "s", "x-multi": "1"},
        )
        await client.get("/nowhere")
    proxied, missed = (json.loads(line) for line in lines(log_file))
    port = app_server.port
    expected = {
        "ClientHost": "127.0.0.1",
        "ClientUsername": "-",
        "RequestMethod": "GET",
        "RequestPath": "/app/j?a=b",
        "RequestProtocol": "HTTP/1.1",
        "RequestScheme": "http",
        "RequestHost": "127.0.0.1",
        "RequestContentSize": 0,
        "DownstreamStatus": 200,
        "DownstreamContentSize": 11,
        "OriginStatus": 200,
        "OriginContentSize": 11,
        "RouterName": "app@file",
        "ServiceName": "app@file",
        "ServiceURL": app_server.url,
        "ServiceAddr": f"127.0.0.1:{port}",
        "RetryAttempts": 0,
        "RequestCount": 1,
        "level": "info",
        "msg": "",
        "request_User-Agent": "tester/1",
        "request_Authorization": "REDACTED",
        "request_X-Multi": "1",
    }
    assert {key: proxied.get(key) for key in expected} == expected
    assert "request_X-Secret" not in proxied
    assert proxied["RequestPort"] == gateway.urls["web"].rsplit(":", 1)[1]
    assert proxied["ClientAddr"] == f"127.0.0.1:{proxied['ClientPort']}" and proxied["ClientPort"].isdigit()
    assert isinstance(proxied["Duration"], int) and proxied["Duration"] > 0  # nanoseconds
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", proxied["StartUTC"])
    assert list(proxied) == sorted(proxied)  # logrus marshals a map: keys sorted
    # No router: no RouterName, no service fields, no origin fields (Traefik sets them in the service).
    assert missed["DownstreamStatus"] == 404 and missed["RequestCount"] == 2
    assert not {"RouterName", "ServiceName", "ServiceURL", "OriginStatus"} & set(missed)


async def test_generic_clf_stops_after_the_agent(live_gateway, tmp_path):
    log_file = tmp_path / "access.log"
    gateway = await live_gateway(
        f'[accessLog]\nfilePath = "{log_file}"\nformat = "genericCLF"\n'
        '[accessLog.fields.headers.names]\nUser-Agent = "keep"\n'
    )
    async with httpx.AsyncClient(base_url=gateway.urls["web"]) as client:
        await client.get("/app", headers={"User-Agent": "tester/1"})
    (line,) = lines(log_file)
    assert re.fullmatch(r'127\.0\.0\.1 - - \[[^]]+\] "GET /app HTTP/1\.1" 200 11 "-" "tester/1"', line), line


@pytest.mark.parametrize(
    ("filters", "wanted"),
    [
        pytest.param('statusCodes = ["404"]', ["/nowhere"], id="status-codes"),  # TestNewLogHandlerFilters
        pytest.param('statusCodes = ["200-299", "418"]', ["/app/a", "/app/teapot", "/app/slow"], id="status-ranges"),
        pytest.param('minDuration = "200ms"', ["/app/slow"], id="min-duration"),
        pytest.param("retryAttempts = true", [], id="retry-attempts-none-retried"),
    ],
)
async def test_filters_keep_what_any_filter_matches(live_gateway, tmp_path, filters, wanted):
    log_file = tmp_path / "access.log"
    gateway = await live_gateway(f'[accessLog]\nfilePath = "{log_file}"\n[accessLog.filters]\n{filters}\n')
    async with httpx.AsyncClient(base_url=gateway.urls["web"]) as client:
        for path in ("/app/a", "/nowhere", "/app/teapot", "/app/slow"):
            await client.get(path)
    assert [COMMON.match(line).group("path") for line in lines(log_file)] == wanted


@pytest.mark.parametrize(
    ("fields", "line"),
    [
        pytest.param(
            '[accessLog.fields.names]\nClientHost = "drop"',
            r'- - - \[[^]]+\] "GET /app/q\?secret=1 HTTP/1\.1" 200 11 "-" "-" 1 "app@file" "[^"]+" \d+ms',
            id="drop-one-field",
        ),
        pytest.param(
            '[accessLog.fields]\ndefaultMode = "drop"\n[accessLog.fields.names]\nRequestMethod = "keep"',
            r'- - - \[-\] "GET - -" - - "-" "-" - "-" "-" 0ms',
            id="drop-all-but-one",
        ),
        pytest.param(
            '[accessLog.fields.queryParameters]\ndefaultMode = "drop"',
            r'127\.0\.0\.1 - - \[[^]]+\] "GET /app/q HTTP/1\.1" 200 .*',
            id="drop-query",
        ),
    ],
)
async def test_fields_keep_and_drop(live_gateway, tmp_path, fields, line):
    log_file = tmp_path / "access.log"
    gateway = await live_gateway(f'[accessLog]\nfilePath = "{log_file}"\n{fields}\n')
    async with httpx.AsyncClient(base_url=gateway.urls["web"]) as client:
        await client.get("/app/q?secret=1")
    (written,) = lines(log_file)
    assert re.fullmatch(line, written), written


async def test_router_observability_access_logs_false_leaves_it_out(live_gateway, tmp_path):
    log_file = tmp_path / "access.log"
    routes = ROUTES.replace(
        'entryPoints = ["web"]\n', 'entryPoints = ["web"]\nobservability = { accessLogs = false }\n', 1
    )
    gateway = await live_gateway(f'[accessLog]\nfilePath = "{log_file}"\n', routes=routes)
    async with httpx.AsyncClient(base_url=gateway.urls["web"]) as client:
        await client.get("/app/quiet")
        await client.get("/nowhere")
    assert [COMMON.match(line).group("path") for line in lines(log_file)] == ["/nowhere"]


async def test_buffered_lines_wait_for_the_flush(live_gateway, tmp_path, monkeypatch):
    monkeypatch.setattr(accesslog, "FLUSH_INTERVAL", 30.0)
    log_file = tmp_path / "access.log"
    gateway = await live_gateway(f'[accessLog]\nfilePath = "{log_file}"\nbufferingSize = 3\n')
    async with httpx.AsyncClient(base_url=gateway.urls["web"]) as client:
        for _ in range(3):
            await client.get("/app")
        assert lines(log_file) == []  # held in memory: no write per request
        await client.get("/app")  # the 4th line goes past bufferingSize: all four are written at once
        assert len(lines(log_file)) == 4
        await client.get("/app")
    assert len(lines(log_file)) == 4
    await gateway.stop()  # stopping writes what is left
    assert len(lines(log_file)) == 5


async def test_unbuffered_line_is_written_before_the_next_request(live_gateway, tmp_path):
    log_file = tmp_path / "access.log"
    gateway = await live_gateway(f'[accessLog]\nfilePath = "{log_file}"\n')  # bufferingSize 0: Traefik's default
    async with httpx.AsyncClient(base_url=gateway.urls["web"]) as client:
        await client.get("/app")
        assert len(lines(log_file)) == 1


async def test_reopen_after_rotation_writes_to_the_new_file(live_gateway, tmp_path):
    log_file = tmp_path / "access.log"
    gateway = await live_gateway(f'[accessLog]\nfilePath = "{log_file}"\n')
    async with httpx.AsyncClient(base_url=gateway.urls["web"]) as client:
        await client.get("/app/before")
        os.rename(log_file, tmp_path / "access.log.1")  # what logrotate does, then it sends SIGUSR1
        await client.get("/app/between")
        gateway.reopen_logs()
        await client.get("/app/after")
    assert [COMMON.match(x).group("path") for x in lines(tmp_path / "access.log.1")] == [
        "/app/before",
        "/app/between",
    ]
    assert [COMMON.match(x).group("path") for x in lines(log_file)] == ["/app/after"]


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        pytest.param("user-agent", "User-Agent", id="lower"),
        pytest.param("X-FORWARDED-FOR", "X-Forwarded-For", id="upper"),
        pytest.param("x_y", "X_y", id="underscore"),
        pytest.param("a b", "a b", id="invalid-kept"),
    ],
)
def test_canonical_header(name, canonical):
    assert canonical_header(name) == canonical


@pytest.mark.parametrize(
    ("value", "parts"),
    [
        pytest.param("example.com:8080", ("example.com", "8080"), id="host-port"),
        pytest.param("example.com", ("example.com", "-"), id="no-port"),
        pytest.param("[::1]:80", ("::1", "80"), id="ipv6"),
        pytest.param("example.com:", ("example.com", ""), id="empty-port"),  # no error in Go: port ""
        pytest.param("::1", ("::1", "-"), id="too-many-colons"),
    ],
)
def test_split_host_port(value, parts):
    assert split_host_port(value) == parts


def test_rfc3339_nano_trims_zeros():
    assert go_rfc3339(1_700_000_000_120_000_000) == "2023-11-14T22:13:20.12Z"
    assert go_rfc3339(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"


@pytest.mark.parametrize(
    ("forwarded", "host"),
    [
        pytest.param("[entryPoints.web.forwardedHeaders]\ninsecure = true\n", "203.0.113.9", id="trusted-kept"),
        pytest.param("", "127.0.0.1", id="untrusted-dropped"),  # forwardedHeaders strips what the client sent
    ],
)
async def test_client_host_is_the_kept_x_forwarded_for(live_gateway, tmp_path, forwarded, host):
    log_file = tmp_path / "access.log"
    gateway = await live_gateway(f'[accessLog]\nfilePath = "{log_file}"\n{forwarded}')
    async with httpx.AsyncClient(base_url=gateway.urls["web"]) as client:
        await client.get("/app", headers={"X-Forwarded-For": "203.0.113.9"})
    (line,) = lines(log_file)
    assert COMMON.match(line).group("host") == host, line


async def test_request_count_across_a_thousand_and_lines_that_alternate(live_gateway, tmp_path, app_server):
    """The common line's caches (RequestCount's thousands, the last line's router and URL, the second's
    time stamp) give what formatting each line from scratch gives."""
    log_file = tmp_path / "access.log"
    gateway = await live_gateway(f'[accessLog]\nfilePath = "{log_file}"\n')
    access_log = gateway.observability.access_log
    assert access_log is not None
    access_log.count = 997  # as if 997 requests came before
    async with httpx.AsyncClient(base_url=gateway.urls["web"]) as client:
        for path in ("/app/a", "/nowhere", "/app/b", "/app/c", "/nowhere"):
            await client.get(path)
    found = [COMMON.match(line) for line in lines(log_file)]
    assert all(found), lines(log_file)
    assert [m.group("count") for m in found] == ["998", "999", "1000", "1001", "1002"]
    assert [m.group("router") for m in found] == ['"app@file"', '"-"', '"app@file"', '"app@file"', '"-"']
    assert [m.group("url") for m in found] == [f'"{app_server.url}"', '"-"'] + [f'"{app_server.url}"'] * 2 + ['"-"']
    started = [datetime.strptime(m.group("time"), "%d/%b/%Y:%H:%M:%S %z").timestamp() for m in found]
    assert started == sorted(started) and time.time() - 5 < started[0] <= started[-1] <= time.time()
