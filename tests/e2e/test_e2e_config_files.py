"""The real CLI on files as teams write them: Go templates, v2 rules, scalars for lists, bare flags, unknown
log levels, other providers, TRAEFIK_* variables next to a file, flags merged case-insensitively, and what
the start-up lines say about binding."""

from __future__ import annotations

import http.server
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_helpers import ROOT, free_port

SERVING = re.compile(r"entry point (\S+) serving on (\S+)")


class _Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's spelling)
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class Cli:
    """`python -m proxy ...` in a subprocess with a chosen environment; stopped by its own pid."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.log = tempfile.TemporaryFile()
        self.final = ""
        environ = {key: value for key, value in os.environ.items() if not key.upper().startswith("TRAEFIK_")}
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "proxy", *args],
            cwd=cwd,
            env={**environ, "PYTHONPATH": str(ROOT), **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def output(self) -> str:
        if self.log.closed:
            return self.final
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def wait_serving(self, count: int = 1, timeout: float = 15) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = dict(SERVING.findall(self.output()))
            if len(found) >= count:
                return found
            if self.popen.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"not serving:\n{self.output()}")

    def stop(self) -> str:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        if not self.log.closed:
            self.final = self.output()
            self.log.close()
        return self.final


@pytest.fixture
def cli(tmp_path: Path) -> Iterator:
    started: list[Cli] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Cli:
        proc = Cli(list(args), tmp_path, env or {})
        started.append(proc)
        return proc

    yield start
    for proc in reversed(started):
        proc.stop()


def run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {key: value for key, value in os.environ.items() if not key.upper().startswith("TRAEFIK_")}
    return subprocess.run(
        [sys.executable, "-m", "proxy", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        env={**environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def get(url: str, target: str, host: str = "localhost", headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    port = int(url.rsplit(":", 1)[1])
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


STATIC = """
[entryPoints.web]
address = "127.0.0.1:{port}"
[providers.file]
filename = "dynamic.toml"
"""


def write_setup(tmp_path: Path, dynamic: str, static: str = STATIC) -> tuple[Path, int]:
    port = free_port()
    (tmp_path / "traefik.toml").write_text(static.format(port=port))
    (tmp_path / "dynamic.toml").write_text(dynamic)
    return tmp_path / "traefik.toml", port


TEMPLATED = """
{{- $domain := env "APP_DOMAIN" | default "app.localhost" }}
[http.routers.app]
entryPoints = "web"
rule = "Host(`{{ $domain }}`) && PathPrefix(`/api`)"
service = "app"
{{- if env "TRAEFIK_WHITELIST_IP_DASHBOARD" }}
[http.routers.dashboard]
rule = "Host(`{{ $domain }}`) && PathPrefix(`/dash`)"
service = "app"
{{- end }}
{{ range $i, $path := splitList "," (env "EXTRA_PATHS") }}
[http.routers.extra{{ $i }}]
rule = "Path(`{{ trim $path }}`)"
service = "app"
{{ end }}
[[http.services.app.loadBalancer.servers]]
url = "{{ env "UPSTREAM" }}"
"""


def test_templated_dynamic_file_end_to_end(tmp_path, upstream, cli):
    """A template reading a TRAEFIK_* variable (ignored as static settings next to a file), a defaulted
    variable, `if` and a `range` over splitList."""
    config, _ = write_setup(tmp_path, TEMPLATED)
    proc = cli(
        "--config",
        str(config),
        env={"UPSTREAM": upstream, "EXTRA_PATHS": "/one, /two", "TRAEFIK_WHITELIST_IP_DASHBOARD": "10.0.0.1"},
    )
    url = proc.wait_serving()["web"]
    assert get(url, "/api/x", host="app.localhost") == (200, b'{"path": "/api/x"}')
    assert get(url, "/dash", host="app.localhost")[0] == 200
    assert get(url, "/two")[0] == 200
    assert get(url, "/three")[0] == 404
    assert get(url, "/api/x", host="other.localhost")[0] == 404


def test_template_error_names_file_and_line(tmp_path):
    config, _ = write_setup(tmp_path, '[http.routers.a]\nrule = "{{ b64enc `x` }}"\n')
    result = run(tmp_path, "check", "--config", str(config))
    assert result.returncode == 1
    assert f"{tmp_path / 'dynamic.toml'}: template line 2: function 'b64enc' is not supported" in result.stderr


V2_DYNAMIC = """
[http.routers.multi]
rule = "Host(`a.localhost`, `b.localhost`) && Path(`/user/{{ "{" }}id:[0-9]+}`)"
service = "app"
[http.routers.sub]
rule = "HostRegexp(`{{ "{" }}sub:[a-z]+}.example.localhost`) && Headers(`X-Env`, `prod`)"
service = "app"
[http.routers.v3]
ruleSyntax = "v3"
rule = "Host(`c.localhost`) && Header(`X-Env`, `prod`)"
service = "app"
[[http.services.app.loadBalancer.servers]]
url = "UPSTREAM"
"""


def test_v2_rules_through_core_default_rule_syntax(tmp_path, upstream, cli):
    static = STATIC + '[core]\ndefaultRuleSyntax = "v2"\n'
    config, _ = write_setup(tmp_path, V2_DYNAMIC.replace("UPSTREAM", upstream), static)
    url = cli("--config", str(config)).wait_serving()["web"]
    assert get(url, "/user/42", host="b.localhost") == (200, b'{"path": "/user/42"}')
    assert get(url, "/user/x", host="a.localhost")[0] == 404
    assert get(url, "/", host="api.example.localhost", headers={"X-Env": "prod"})[0] == 200
    assert get(url, "/", host="api.example.localhost", headers={"X-Env": "dev"})[0] == 404
    assert get(url, "/", host="c.localhost", headers={"X-Env": "prod"})[0] == 200  # its own ruleSyntax


def test_v2_rule_by_router_rule_syntax(tmp_path, upstream, cli):
    dynamic = (
        '[http.routers.r]\nruleSyntax = "v2"\nrule = "PathPrefix(`/a`, `/b`) && Query(`debug=`)"\n'
        f'service = "app"\n[[http.services.app.loadBalancer.servers]]\nurl = "{upstream}"\n'
    )
    config, _ = write_setup(tmp_path, dynamic)
    url = cli("--config", str(config)).wait_serving()["web"]
    assert get(url, "/b/x?debug=1")[0] == 200
    assert get(url, "/b/x")[0] == 404


def test_v2_rule_under_v3_is_disabled_with_its_error(tmp_path):
    config, _ = write_setup(
        tmp_path,
        '[http.routers.r]\nrule = "Host(`a`, `b`)"\nservice = "s"\n'
        '[[http.services.s.loadBalancer.servers]]\nurl = "http://127.0.0.1:1"\n',
    )
    result = run(tmp_path, "check", "--config", str(config))
    assert result.returncode == 1
    assert "dynamic.toml: http.routers.r: rule `Host(`a`, `b`)`" in result.stderr


def test_scalars_for_lists(tmp_path, upstream, cli):
    dynamic = (
        f'[http.routers.r]\nentryPoints = "web"\nrule = "PathPrefix(`/`)"\nservice = "app"\n'
        f'middlewares = "cors"\n[http.middlewares.cors.headers]\naccessControlAllowOriginList = "*"\n'
        f'[[http.services.app.loadBalancer.servers]]\nurl = "{upstream}"\n'
    )
    config, _ = write_setup(tmp_path, dynamic)
    url = cli("--config", str(config)).wait_serving()["web"]
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\nOrigin: http://o.test\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200")
    assert b"\r\nAccess-Control-Allow-Origin: *\r\n" in data


@pytest.mark.parametrize(
    ("flags", "warning"),
    [
        pytest.param(["--api"], None, id="bare-api"),
        pytest.param(
            ["--providers.docker"],
            "providers.docker: provider docker is not available here; its routers are not served",
            id="bare-provider",
        ),
        pytest.param(["--log.level=WARNING"], "log.level: unknown log level 'WARNING'", id="unknown-log-level"),
    ],
)
def test_flags_that_traefik_accepts(tmp_path, upstream, cli, flags, warning):
    dynamic = (
        f'[http.routers.r]\nrule = "PathPrefix(`/`)"\nservice = "app"\n'
        f'[[http.services.app.loadBalancer.servers]]\nurl = "{upstream}"\n'
    )
    config, _ = write_setup(tmp_path, dynamic)
    proc = cli("--config", str(config), *flags)
    url = proc.wait_serving()["web"]
    assert get(url, "/")[0] == 200
    if warning:
        assert warning in proc.output()


def test_unknown_log_level_in_the_file_falls_back(tmp_path, upstream, cli):
    dynamic = (
        f'[http.routers.r]\nrule = "PathPrefix(`/`)"\nservice = "a"\n[[http.services.a.loadBalancer.servers]]\n'
        f'url = "{upstream}"\n'
    )
    config, _ = write_setup(tmp_path, dynamic, STATIC + '[log]\nlevel = "WARNING"\n[providers.docker]\n')
    proc = cli("--config", str(config))
    url = proc.wait_serving()["web"]
    assert get(url, "/")[0] == 200
    output = proc.output()
    assert f"{config}: log.level: unknown log level 'WARNING'" in output
    assert "logging at ERROR, as Traefik does" in output
    assert f"{config}: providers.docker: provider docker is not available here" in output


def test_environment_is_ignored_next_to_a_file(tmp_path, upstream, cli):
    """TRAEFIK_* variables that would break the static config (a bad address, an unknown key) do not count
    when a file is given; flags still override the file."""
    dynamic = (
        f'[http.routers.r]\nrule = "PathPrefix(`/`)"\nservice = "a"\n[[http.services.a.loadBalancer.servers]]\n'
        f'url = "{upstream}"\n'
    )
    config, _ = write_setup(tmp_path, dynamic)
    port = free_port()
    proc = cli(
        "--config",
        str(config),
        f"--entryPoints.web.address=127.0.0.1:{port}",
        env={"TRAEFIK_ENTRYPOINTS_WEB_ADDRESS": "nope", "TRAEFIK_WHITELIST_IP_DASHBOARD": "10.0.0.1"},
    )
    url = proc.wait_serving()["web"]
    assert url == f"http://127.0.0.1:{port}"
    assert get(url, "/")[0] == 200


def test_environment_alone_is_read(tmp_path, upstream):
    """No file and no flags: the environment is the configuration (as in Traefik)."""
    result = run(tmp_path, "check", env={"TRAEFIK_ENTRYPOINTS_WEB_ADDRESS": "nope"})
    assert result.returncode == 1
    assert "environment: entrypoints.web.address: address nope: missing port in address" in result.stderr


def test_flags_merge_case_insensitively(tmp_path, upstream, cli):
    dynamic = (
        f'[http.routers.r]\nrule = "PathPrefix(`/`)"\nservice = "a"\n[[http.services.a.loadBalancer.servers]]\n'
        f'url = "{upstream}"\n'
    )
    (tmp_path / "dynamic.toml").write_text(dynamic)
    port = free_port()
    proc = cli(
        "--config",
        "dynamic.toml",
        f"--entrypoints.web.address=127.0.0.1:{port}",
        "--entryPoints.web.transport.respondingTimeouts.readTimeout=5s",
    )
    assert proc.wait_serving() == {"web": f"http://127.0.0.1:{port}"}


def test_address_in_use_names_the_entry_point(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config, _ = write_setup(
            tmp_path, "[http.routers]\n", static=STATIC.replace("127.0.0.1:{port}", f"127.0.0.1:{port}")
        )
        result = run(tmp_path, "--config", str(config))
    assert result.returncode == 1
    assert f"cannot listen: entry point web (address '127.0.0.1:{port}'): address already in use" in result.stderr


def test_serving_line_says_every_interface(tmp_path, cli):
    port = free_port()
    (tmp_path / "traefik.toml").write_text(f'[entryPoints.web]\naddress = ":{port}"\n')
    proc = cli("--config", "traefik.toml")
    proc.wait_serving()
    line = next(line for line in proc.output().splitlines() if "serving on" in line)
    # What the sockets are bound to (both families where the machine has IPv6), not a loopback URL.
    assert re.search(rf"serving on http://0\.0\.0\.0:{port}( and http://\[::\]:{port})? \(every interface\)$", line)
    assert "127.0.0.1" not in line


def test_misspelt_key_suggests_the_real_one(tmp_path):
    config, _ = write_setup(tmp_path, '[http.routers.a]\nrulee = "Path(`/`)"\nservice = "s"\n')
    result = run(tmp_path, "check", "--config", str(config))
    assert "http.routers.a.rulee: unknown key (did you mean 'rule'?)" in result.stderr


def test_templated_dynamic_file_alone(tmp_path, upstream, cli):
    """A dynamic file given alone that only reads as TOML once rendered; its routers' entry points (a
    scalar each) become the loopback entry points."""
    (tmp_path / "routes.toml").write_text(
        '{{ range $e := splitList "," (env "NAMES") }}\n[http.routers.{{ $e }}]\nentryPoints = "{{ $e }}"\n'
        'rule = "Path(`/{{ $e }}`)"\nservice = "s"\n{{ end }}\n'
        f'[[http.services.s.loadBalancer.servers]]\nurl = "{upstream}"\n'
    )
    first, second = free_port(), free_port()
    proc = cli(
        "--config",
        "routes.toml",
        f"--entrypoints.one.address=127.0.0.1:{first}",
        f"--entryPoints.two.address=127.0.0.1:{second}",
        env={"NAMES": "one,two"},
    )
    urls = proc.wait_serving(2)
    assert get(urls["one"], "/one")[0] == 200
    assert get(urls["two"], "/two")[0] == 200
    assert get(urls["two"], "/one")[0] == 404


def test_templated_dynamic_file_alone_default_entry_points(tmp_path):
    (tmp_path / "routes.toml").write_text(
        '{{ range $i, $e := until 2 }}\n[http.routers.r{{ $e }}]\nentryPoints = "web{{ $e }}"\n'
        'rule = "Path(`/`)"\nservice = "s"\n{{ end }}\n'
        '[[http.services.s.loadBalancer.servers]]\nurl = "http://127.0.0.1:1"\n'
    )
    result = run(tmp_path, "check", "--config", "routes.toml")
    assert (result.returncode, result.stdout.strip()) == (0, "ok: 2 entry point(s), 2 router(s)"), result.stderr


def test_strict_prints_each_problem_once(tmp_path):
    (tmp_path / "routes.toml").write_text(
        '[http.routers.r]\nrule = "Host(`a`, `b`)"\nservice = "s"\n'
        '[[http.services.s.loadBalancer.servers]]\nurl = "http://127.0.0.1:1"\n'
    )
    result = run(tmp_path, "--config", "routes.toml", "--strict", f"--entrypoints.http.address=127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert result.stderr.count("Host takes 1 argument(s), got 2") == 1, result.stderr
    assert "--strict: not starting: 1 problem(s) listed above" in result.stderr
