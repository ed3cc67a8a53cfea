"""The real CLI in a subprocess with an active health check over time: a server whose health endpoint the
test flips leaves the rotation, all down answers 503, it comes back; the transitions are in the log."""

from __future__ import annotations

import time

import requests

from proxy.testing.loop_thread import LoopThread
from proxy.testing.process import GatewayProcess
from proxy.testing.upstreams import ControlledUpstream

ROUTES = """
[http.routers.app]
  rule = "PathPrefix(`/`)"
  service = "app"
[http.services.app.loadBalancer]
  [[http.services.app.loadBalancer.servers]]
    url = "{a}"
  [[http.services.app.loadBalancer.servers]]
    url = "{b}"
  [http.services.app.loadBalancer.healthCheck]
    path = "/health"
    interval = "50ms"
    timeout = "1s"
"""


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def names(url: str, count: int) -> list[str]:
    return [
        (r.text if r.status_code == 200 else str(r.status_code))
        for r in (requests.get(url, timeout=5) for _ in range(count))
    ]


def test_health_check_over_time_in_the_cli(tmp_path) -> None:
    thread = LoopThread("upstreams")
    a, b = ControlledUpstream("a"), ControlledUpstream("b")
    managers = [a.serve(), b.serve()]
    try:
        for manager in managers:
            thread.run(manager.__aenter__())
        routes = tmp_path / "routes.toml"
        routes.write_text(ROUTES.format(a=a.url, b=b.url))
        with GatewayProcess(routes, args=["--log.level=INFO"]) as gateway:
            assert sorted(names(gateway.url, 4)) == ["a", "a", "b", "b"]
            a.health_status = 500
            wait_for(lambda: "is down: out of the rotation" in gateway.log)
            assert names(gateway.url, 3) == ["b"] * 3
            b.health_status = 500
            wait_for(lambda: gateway.log.count("is down: out of the rotation") >= 2)
            response = requests.get(gateway.url, timeout=5)
            assert (response.status_code, response.text) == (503, "no available server\n")
            a.health_status = 200
            wait_for(lambda: f"server {a.url} of service app is up again" in gateway.log)
            assert names(gateway.url, 2) == ["a", "a"]
            log = gateway.log
        assert f"health check of {a.url} (service app) failed: received error status code: 500" in log
    finally:
        for manager in reversed(managers):
            thread.run(manager.__aexit__(None, None, None))
        thread.close()
