"""The real CLI in a subprocess: the FastAPI guide's files, a dynamic file alone, `check`, reloads."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_helpers import ROOT, Proc, free_port, wait_until

EXAMPLE = ROOT / "config"


def http_get(port: int, target: str, host: str = "localhost", timeout: float = 5) -> tuple[int, dict, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for proc in reversed(started):
        proc.stop()


def start_demo_upstream(procs: list[Proc], port: int) -> None:
    procs.append(Proc([sys.executable, str(EXAMPLE / "demo_app.py"), "--port", str(port)], ROOT))
    assert wait_until(lambda: http_get(port, "/app")[0] == 200)


def guide_files(tmp_path: Path, upstream_port: int, proxy_port: int) -> Path:
    """The guide's two files, with only the ports changed so that tests never collide."""
    static = (EXAMPLE / "traefik.toml").read_text().replace(":9999", f"127.0.0.1:{proxy_port}")
    routes = (EXAMPLE / "routes.toml").read_text().replace("127.0.0.1:8000", f"127.0.0.1:{upstream_port}")
    (tmp_path / "traefik.toml").write_text(static)
    (tmp_path / "routes.toml").write_text(routes)
    return tmp_path / "traefik.toml"


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxy", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_guide_static_config_serves_stripped_app(tmp_path, procs):
    upstream_port, proxy_port = free_port(), free_port()
    start_demo_upstream(procs, upstream_port)
    config = guide_files(tmp_path, upstream_port, proxy_port)
    procs.append(Proc([sys.executable, "-m", "proxy", "--config", str(config)], tmp_path))
    assert wait_until(lambda: http_get(proxy_port, "/api/v1/app")[0] == 200)
    status, _, body = http_get(proxy_port, "/api/v1/app")
    assert json.loads(body) == {"message": "Hello World", "root_path": "/api/v1"}
    assert http_get(proxy_port, "/app")[0] == 404


def test_dynamic_file_alone_uses_flag_address_and_example_routes(tmp_path, procs):
    upstream_port, proxy_port = free_port(), free_port()
    start_demo_upstream(procs, upstream_port)
    routes = tmp_path / "routes.yaml"
    routes.write_text((EXAMPLE / "routes.yaml").read_text().replace("8000", str(upstream_port)))
    procs.append(
        Proc(
            [
                sys.executable,
                "-m",
                "proxy",
                "--config",
                str(routes),
                f"--entrypoints.http.address=127.0.0.1:{proxy_port}",
            ],
            tmp_path,
        )
    )
    assert wait_until(lambda: http_get(proxy_port, "/api/v1/app")[0] == 200)
    status, _, body = http_get(proxy_port, "/api/v1/echo/x?q=1")
    assert json.loads(body)["path"] == "/echo/x?q=1"


def test_dynamic_file_alone_defaults_to_127_0_0_1_9999(tmp_path, procs):
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 9999)) == 0:
            pytest.skip("something already listens on 127.0.0.1:9999")
    upstream_port = free_port()
    start_demo_upstream(procs, upstream_port)
    routes = tmp_path / "routes.toml"
    routes.write_text((EXAMPLE / "routes.toml").read_text().replace("8000", str(upstream_port)))
    procs.append(Proc([sys.executable, "-m", "proxy", "--config", str(routes)], tmp_path))
    assert wait_until(lambda: http_get(9999, "/api/v1/app")[0] == 200)


def test_check_accepts_the_example_config():
    result = run_cli("check", "--config", str(EXAMPLE / "traefik.toml"))
    assert result.returncode == 0, result.stderr
    assert "1 router" in result.stdout


@pytest.mark.parametrize(
    "routes, expected",
    [
        pytest.param(
            '[http.routers.app]\nrulee = "Path(`/`)"\n',
            "routes.toml: http.routers.app.rulee: unknown key",
            id="unknown-key",
        ),
        pytest.param(
            '[http.routers.app]\npriority = "high"\n',
            "routes.toml: http.routers.app.priority: Input should be a valid integer",
            id="wrong-type",
        ),
        pytest.param("[http.routers.app\n", "routes.toml", id="toml-syntax"),
        pytest.param(
            '[http.routers.app]\nrule = "Host(bad.test)"\nservice = "s"\n'
            '[http.services.s.loadBalancer]\n[[http.services.s.loadBalancer.servers]]\nurl = "http://127.0.0.1:1"\n',
            "routes.toml: http.routers.app: rule `Host(bad.test)`: column",
            id="bad-rule",
        ),
        pytest.param(
            '[http.routers.app]\nrule = "Path(`/`)"\nservice = "nope"\n',
            "routes.toml: http.routers.app: the service 'nope' does not exist",
            id="missing-service",
        ),
    ],
)
def test_check_reports_each_problem_and_fails(tmp_path, routes, expected):
    (tmp_path / "routes.toml").write_text(routes)
    result = run_cli("check", "--config", "routes.toml", cwd=tmp_path)
    assert result.returncode == 1
    assert expected in result.stderr


def test_broken_static_config_stops_start_up(tmp_path):
    (tmp_path / "traefik.toml").write_text('[entryPoints.http]\naddress = ":99999"\n')
    result = run_cli("--config", "traefik.toml", cwd=tmp_path)
    assert result.returncode != 0
    assert "traefik.toml: entryPoints.http.address" in result.stderr


def test_strict_refuses_a_disabled_router(tmp_path):
    proxy_port = free_port()
    (tmp_path / "routes.toml").write_text('[http.routers.app]\nrule = "Path(`/`)"\nservice = "nope"\n')
    result = run_cli(
        "--config", "routes.toml", "--strict", f"--entrypoints.http.address=127.0.0.1:{proxy_port}", cwd=tmp_path
    )
    assert result.returncode == 1
    assert "service 'nope' does not exist" in result.stderr


def test_reload_applies_good_changes_and_keeps_last_good_on_broken_ones(tmp_path, procs):
    upstream_port, proxy_port = free_port(), free_port()
    start_demo_upstream(procs, upstream_port)
    config = guide_files(tmp_path, upstream_port, proxy_port)
    routes = tmp_path / "routes.toml"
    procs.append(Proc([sys.executable, "-m", "proxy", "--config", str(config)], tmp_path))
    assert wait_until(lambda: http_get(proxy_port, "/api/v1/app")[0] == 200)
    routes.write_text(routes.read_text().replace("/api/v1", "/api/v2"))
    assert wait_until(lambda: http_get(proxy_port, "/api/v2/app")[0] == 200)
    routes.write_text("[http.routers.broken\n")  # does not parse: the v2 routes keep serving
    assert wait_until(lambda: "the last good one keeps serving" in procs[-1].output())  # the edit was read
    assert http_get(proxy_port, "/api/v2/app")[0] == 200
    stderr = procs[-1].stop()
    assert "the last good one keeps serving" in stderr


def test_a_rule_typo_on_reload_says_which_router_is_disabled(tmp_path, procs):
    upstream_port, proxy_port = free_port(), free_port()
    start_demo_upstream(procs, upstream_port)
    config = guide_files(tmp_path, upstream_port, proxy_port)
    routes = tmp_path / "routes.toml"
    procs.append(Proc([sys.executable, "-m", "proxy", "--config", str(config)], tmp_path))
    assert wait_until(lambda: http_get(proxy_port, "/api/v1/app")[0] == 200)
    routes.write_text(routes.read_text().replace("PathPrefix(`/api/v1`)", "PathPrefix(`/api/v1`"))
    assert wait_until(lambda: http_get(proxy_port, "/api/v1/app")[0] == 404)  # disabled, as in Traefik
    assert wait_until(lambda: "now serves 0 routers" in procs[-1].output())
    stderr = procs[-1].stop()
    # One line at ERROR (Traefik's log format, log.format common): the router, why, what the entry point serves.
    disabled = [line for line in stderr.splitlines() if "disabled" in line]
    assert len(disabled) == 1, stderr
    assert re.search(
        r" ERR proxy\.server: router app-http@file disabled: rule .*; entry point http now serves 0 routers$",
        disabled[0],
    ), disabled[0]
    assert "configuration reloaded" not in stderr  # INFO: below the default level (Traefik's ERROR)


def test_help_lists_traefik_flags():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "--entryPoints.<name>.address" in result.stdout
    assert "--providers.file.filename" in result.stdout


def test_example_scripts_are_executable_shell():
    assert shutil.which("bash")
    for script in ("serve-example.sh", "test.sh"):
        assert (ROOT / "scripts" / script).read_text().startswith("#!/usr/bin/env bash")


def test_dynamic_file_alone_gets_the_entry_points_its_routers_name(tmp_path):
    (tmp_path / "routes.toml").write_text(
        '[http.routers.a]\nrule = "PathPrefix(`/`)"\nservice = "s"\nentryPoints = ["web"]\n'
        '[http.services.s.loadBalancer]\n[[http.services.s.loadBalancer.servers]]\nurl = "http://127.0.0.1:1"\n'
    )
    result = run_cli("check", "--config", "routes.toml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "doesn't exist" not in result.stderr
