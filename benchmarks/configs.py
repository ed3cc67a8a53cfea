"""Config files for the side-by-side benchmark: one origin, and every proxy doing the same job.

The job: route PathPrefix(`/api/v1`) to the origin, strip `/api/v1`, add `X-Forwarded-Prefix: /api/v1`
(plus the X-Forwarded-For/-Proto/-Host headers Traefik and Caddy add by default, so nobody skips work).
Every proxy streams bodies (nginx: in-memory buffers only, no temp file) and keeps upstream connections alive.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
PREFIX = "/api/v1"
# nginx's `location` body that does the guide's job: strip the prefix, forward with the X-Forwarded-* headers.
NGINX_TO_ORIGIN = f"""      proxy_pass http://origin/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-Prefix {PREFIX};
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;"""
ORIGIN_PORT = 18080


@dataclass(frozen=True)
class Ports:
    origin: int = ORIGIN_PORT
    gateway: int = 18081
    nginx: int = 18082
    caddy: int = 18083
    haproxy: int = 18084
    gateway_observed: int = 18085  # the gateway with the access log and metrics on (beside the plain one)
    metrics: int = 18086  # its `traefik` entry point (Prometheus' /metrics)
    gateway_logged: int = 18087  # the access log alone
    gateway_metered: int = 18088  # the metrics alone
    metrics_alone: int = 18089  # its `traefik` entry point
    gateway_before: int = 18090  # the gateway at the --before revision (beside this checkout's)


# What the 10-middleware chain adds: one header per headers middleware (the origin's /check-mw echoes
# the request ones, so that the harness can check that they arrived).
MW_REQUEST_HEADERS = {"X-Mw-5": "5", "X-Mw-6": "6", "X-Mw-7": "7"}
MW_RESPONSE_HEADERS = {"X-Mw-8": "8", "X-Mw-9": "9", "X-Mw-10": "10"}
MW_SEEN = ",".join("$http_" + name.lower().replace("-", "_") for name in MW_REQUEST_HEADERS)


def _nginx_common(work: Path, name: str, connections: int) -> str:
    """Top of an nginx.conf that keeps every file nginx writes inside the work dir."""
    tmp = work / f"{name}-tmp"
    return f"""worker_processes 1;
pid {work}/{name}.pid;
error_log {work}/{name}-error.log error;
worker_rlimit_nofile 65536;
events {{ worker_connections {connections}; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
"""


def origin_nginx(work: Path, echo_module: Path | None, port: int = ORIGIN_PORT) -> str:
    """The origin: small answers, 100 MiB and 1 GiB files, an upload sink and header echoes for the checks.

    With the echo module the upload sink answers only after reading the whole body (so a proxy cannot
    finish early): up to 128 MiB in memory, the rest of a larger body (the 1 GiB upload) spooled to a
    temp file under the work dir. Without it nginx discards the body and may answer first (the report
    says which).
    """
    load = f"load_module {echo_module};\n" if echo_module else ""
    upload = (
        'client_body_buffer_size 128m; echo_read_request_body; echo "ok";' if echo_module else 'return 200 "ok\\n";'
    )
    return (
        load
        + _nginx_common(work, "origin", 16384)
        + f"""  server {{
    listen {HOST}:{port} backlog=4096;
    default_type text/plain;
    location = /small {{ return 200 "hello, world\\n"; }}
    location = /text2k {{ return 200 "{TEXT_2K.strip()}"; }}
    location = /api/items {{ default_type application/json; return 200 '{{"id":1,"status":"created"}}'; }}
    location = /check {{ return 200 "prefix=$http_x_forwarded_prefix uri=$request_uri"; }}
    location = /check-mw {{ return 200 "mw={MW_SEEN} uri=$request_uri"; }}
    location = /upload {{ client_max_body_size 0; {upload} }}
    location = /big.bin {{ root {work}/www; }}
    location = /huge.bin {{ root {work}/www; }}
  }}
}}
"""
    )


def proxy_nginx(work: Path, port: int, origin_port: int = ORIGIN_PORT) -> str:
    """nginx as the reverse proxy: `location /api/v1/` + `proxy_pass .../` strips the prefix."""
    return (
        _nginx_common(work, "nginx-proxy", 16384)
        + f"""  upstream origin {{
    server {HOST}:{origin_port};
    keepalive 64;
  }}
  server {{
    listen {HOST}:{port} backlog=4096;
    client_max_body_size 0;
    location {PREFIX}/ {{
{NGINX_TO_ORIGIN}
      proxy_buffering on;           # bounded in-memory buffers, never a temp file: streams with flow control
      proxy_max_temp_file_size 0;   # (buffering off reads one buffer at a time: ~40% slower downloads)
      proxy_buffer_size 64k;
      proxy_buffers 8 64k;
      proxy_busy_buffers_size 128k;
      proxy_request_buffering off;
    }}
  }}
}}
"""
    )


def caddyfile(port: int, origin_port: int = ORIGIN_PORT, tls: tuple[Path, Path] | None = None) -> str:
    """Caddy: `handle_path` strips the prefix; reverse_proxy adds X-Forwarded-For/-Proto/-Host itself.
    `tls`: (certificate, key) files to serve https:// with."""
    site = f"https://{HOST}:{port} {{\n  tls {tls[0]} {tls[1]}" if tls else f"http://{HOST}:{port} {{"
    return f"""{{
  admin off
  auto_https off
  log {{
    level ERROR
  }}
}}

{site}
  handle_path {PREFIX}/* {{
    reverse_proxy {HOST}:{origin_port} {{
      header_up X-Forwarded-Prefix {PREFIX}
    }}
  }}
}}
"""


def haproxy_cfg(port: int, origin_port: int = ORIGIN_PORT) -> str:
    """HAProxy: one thread, `replace-path` strips the prefix, `option forwardfor` adds X-Forwarded-For.

    maxconn 12000 leaves room for the 10,000 idle connections. HAProxy wants 2 fds per connection and,
    by default, refuses to start if it cannot raise its fd limit that far; `no strict-limits` lets it run
    (with a warning) under a hard limit of 20,000, which is still one fd per idle client connection.
    """
    return f"""global
  nbthread 1
  maxconn 12000
  no strict-limits

defaults
  mode http
  maxconn 12000
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  option http-keep-alive

frontend bench
  bind {HOST}:{port}
  use_backend origin if {{ path_beg {PREFIX}/ }}

backend origin
  option forwardfor
  http-request set-header X-Forwarded-Prefix {PREFIX}
  http-request set-header X-Forwarded-Proto http
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  http-request replace-path {PREFIX}(/.*) \\1
  http-reuse always
  server origin {HOST}:{origin_port}
"""


def traefik_static(port: int, routes_file: str) -> str:
    """The FastAPI guide's static file, on a loopback port."""
    return f"""[entryPoints]
  [entryPoints.http]
  address = "{HOST}:{port}"

[providers]
  [providers.file]
  filename = "{routes_file}"
  watch = false

[log]
  level = "ERROR"
"""


def observability_static(
    work: Path, metrics_port: int, access_log: bool = True, metrics: bool = True, log_name: str = "access.log"
) -> str:
    """What the observability cost rows add to the static file: Traefik's access log to a file in the
    common format (its defaults: every field, `bufferingSize = 0`: written at once) and/or Prometheus
    metrics with Traefik's default labels, on a `traefik` entry point of its own."""
    text = ""
    if access_log:
        text += f"""
[accessLog]
  filePath = "{work}/{log_name}"
  format = "common"
"""
    if metrics:
        text += f"""
[entryPoints.traefik]
  address = "{HOST}:{metrics_port}"

[metrics]
  [metrics.prometheus]
"""
    return text


def traefik_routes(extra_host_routers: int = 0, origin_port: int = ORIGIN_PORT) -> str:
    """The FastAPI guide's dynamic file, plus `extra_host_routers` Host-distinct routers to the same service.

    The extra rules (`Host(`svcN.example.com`)`) are longer than the real one, so Traefik's order tries
    every one of them before PathPrefix(`/api/v1`): the worst place for the real router in a linear scan.
    """
    lines = [
        "[http.middlewares.api-stripprefix.stripPrefix]",
        f'  prefixes = ["{PREFIX}"]',
        "",
        *_app_router_and_service(["api-stripprefix"], origin_port),
    ]
    for i in range(extra_host_routers):
        lines += [
            f"[http.routers.svc{i}]",
            '  entryPoints = ["http"]',
            '  service = "app"',
            f'  rule = "Host(`svc{i}.example.com`)"',
            "",
        ]
    return "\n".join(lines)


def _app_router_and_service(middlewares: list[str], origin_port: int) -> list[str]:
    """The guide's router (PathPrefix(`/api/v1`) with `middlewares`) and its one-server service."""
    names = ", ".join(f'"{name}"' for name in middlewares)
    return [
        "[http.routers.app-http]",
        '  entryPoints = ["http"]',
        '  service = "app"',
        f'  rule = "PathPrefix(`{PREFIX}`)"',
        f"  middlewares = [{names}]",
        "",
        "[http.services.app.loadBalancer]",
        "  [[http.services.app.loadBalancer.servers]]",
        f'    url = "http://{HOST}:{origin_port}"',
        "",
    ]


# One middleware of a kind beside the guide's stripPrefix, for its cost on a route (harness bench_middlewares):
# row name -> (middleware type, its TOML options, wrk's extra arguments, the origin path measured).
BENCH_USER, BENCH_PASSWORD = "bench", "bench-password"
TEXT_2K = "stripproxy " * 186 + "\n"  # 2 KiB of text, above compress's 1024-byte minimum
FEATURE_MIDDLEWARES: dict[str, tuple[str, str, list[str], str]] = {
    "ipAllowList": ("ipAllowList", 'sourceRange = ["127.0.0.1/32"]', [], "/small"),
    "basicAuth": ("basicAuth", 'users = ["{users}"]', ["-H", "Authorization: Basic {token}"], "/small"),
    "rateLimit": ("rateLimit", "average = 100000000\n  burst = 100000000", [], "/small"),
    "compress (small: passed on)": ("compress", "", ["-H", "Accept-Encoding: gzip"], "/small"),
    "compress (2 KiB gzipped)": ("compress", "", ["-H", "Accept-Encoding: gzip"], "/text2k"),
}


def traefik_feature_routes(kind: str, options: str, origin_port: int = ORIGIN_PORT) -> str:
    """The guide's router with its stripPrefix and one `kind` middleware after it."""
    lines = [
        "[http.middlewares.api-stripprefix.stripPrefix]",
        f'  prefixes = ["{PREFIX}"]',
        "",
        f"[http.middlewares.feature.{kind}]",
        *(f"  {line}" for line in options.splitlines()),
        "",
    ]
    return "\n".join(lines + _app_router_and_service(["api-stripprefix", "feature"], origin_port))


def traefik_middleware_chain_routes(origin_port: int = ORIGIN_PORT) -> str:
    """The guide's router with a chain of 10 middlewares that still lands on the origin's own path.

    /api/v1/small: stripPrefix /api/v1 -> /small, addPrefix /x -> /x/small, stripPrefix /x -> /small,
    replacePathRegex ^/small$ -> /small (matches, so it rewrites), then three headers middlewares that add a
    request header each and three that add a response header each (the client checks the latter).
    """
    chain = [
        ("mw1-strip-api", "stripPrefix", [f'prefixes = ["{PREFIX}"]']),
        ("mw2-add-x", "addPrefix", ['prefix = "/x"']),
        ("mw3-strip-x", "stripPrefix", ['prefixes = ["/x"]']),
        ("mw4-replace", "replacePathRegex", ['regex = "^/small$"', 'replacement = "/small"']),
    ]
    for index, (name, value) in enumerate(MW_REQUEST_HEADERS.items(), 5):
        chain.append((f"mw{index}-req", "headers", [f'customRequestHeaders = {{ {name} = "{value}" }}']))
    for index, (name, value) in enumerate(MW_RESPONSE_HEADERS.items(), 8):
        chain.append((f"mw{index}-resp", "headers", [f'customResponseHeaders = {{ {name} = "{value}" }}']))
    lines: list[str] = []
    for name, kind, options in chain:
        lines += [f"[http.middlewares.{name}.{kind}]", *(f"  {option}" for option in options), ""]
    return "\n".join(lines + _app_router_and_service([name for name, _, _ in chain], origin_port))
