"""The real CLI with `--workers 2` and metrics.prometheus: one scrape, answered by either worker, counts
every worker's requests (each worker shares its counts through the supervisor's directory)."""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_helpers import Proc, free_port  # noqa: E402

REQUESTS = 40


def total(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "traefik_entrypoint_requests_total" and sample.labels.get("code") == "200":
                return sample.value
    return 0.0


def test_workers_share_their_counts(tmp_path, app_server_sync):
    web, admin = free_port(), free_port()
    (tmp_path / "routes.toml").write_text(
        '[http.routers.app]\nrule = "PathPrefix(`/`)"\nservice = "app"\nentryPoints = ["web"]\n'
        f'[http.services.app.loadBalancer]\n[[http.services.app.loadBalancer.servers]]\nurl = "{app_server_sync}"\n'
    )
    (tmp_path / "traefik.toml").write_text(
        f'[entryPoints.web]\naddress = "127.0.0.1:{web}"\n[entryPoints.traefik]\naddress = "127.0.0.1:{admin}"\n'
        '[providers.file]\nfilename = "routes.toml"\n[metrics.prometheus]\n'
        f'[accessLog]\nfilePath = "{tmp_path / "access.log"}"\n'
    )
    proc = Proc([sys.executable, "-m", "proxy", "--config", str(tmp_path / "traefik.toml"), "--workers", "2"], tmp_path)
    try:
        deadline = time.monotonic() + 30
        while "2 workers serving" not in proc.output():
            assert time.monotonic() < deadline and proc.popen.poll() is None, proc.output()
            time.sleep(0.1)
        pids = set(re.findall(r"worker \d serving, pid (\d+)", proc.output()))
        for _ in range(REQUESTS):  # a fresh connection each: the kernel spreads them over both workers
            with httpx.Client() as client:
                assert client.get(f"http://127.0.0.1:{web}/x").status_code == 200
        seen = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with httpx.Client() as client:
                seen.append(total(client.get(f"http://127.0.0.1:{admin}/metrics").text))
            if seen[-1] == REQUESTS and len(seen) >= 3:
                break
            time.sleep(0.3)
        assert seen[-1] == REQUESTS, (seen, proc.output())
        assert len(pids) == 2
        assert len((tmp_path / "access.log").read_text().splitlines()) == REQUESTS
        # logrotate's move, then SIGUSR1 to the parent: every worker reopens the file by its path.
        os.rename(tmp_path / "access.log", tmp_path / "access.log.1")
        os.kill(proc.popen.pid, signal.SIGUSR1)
        time.sleep(1.0)
        for _ in range(10):
            with httpx.Client() as client:
                assert client.get(f"http://127.0.0.1:{web}/after").status_code == 200
        assert len((tmp_path / "access.log.1").read_text().splitlines()) == REQUESTS
        assert len((tmp_path / "access.log").read_text().splitlines()) == 10
    finally:
        output = proc.stop()
    assert "Traceback" not in output, output
