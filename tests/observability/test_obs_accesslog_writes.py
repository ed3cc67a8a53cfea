"""The unbuffered access log (bufferingSize 0, Traefik's default) as the real CLI writes it: the first line of
an event loop pass is written there and then, the others of the pass share one write system call at its end
(counted by the kernel in /proc/<pid>/io): a busy gateway does not pay a call per line. (That a lone
request's line is in the file once its answer is back: tests/testing/test_stack_accesslog.py.)"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from proxy.testing.upstreams import serve_aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_helpers import Proc, free_port  # noqa: E402

ROUNDS = 5
AT_ONCE = 40  # requests in flight in a round; the upstream answers them together

pytestmark = pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux's /proc/<pid>/io")


def write_calls(pid: int) -> int:
    """The write system calls the process has made (sockets and files alike)."""
    fields = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return int(fields["syscw"])


async def test_lines_of_one_loop_pass_share_a_write(tmp_path):
    arrived = 0
    together = asyncio.Event()

    async def handle(request: web.Request) -> web.Response:
        """Holds each round's answers until all of its requests are in, then gives them at once (so that
        the gateway reads them in the same loop pass or few), as a busy upstream would."""
        nonlocal arrived, together
        arrived += 1
        event = together
        if arrived == AT_ONCE:
            arrived, together = 0, asyncio.Event()
            event.set()
        await asyncio.wait_for(event.wait(), 10)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    web_port = free_port()
    log_file = tmp_path / "access.log"
    async with serve_aiohttp(app) as upstream:
        (tmp_path / "routes.toml").write_text(
            '[http.routers.app]\nrule = "PathPrefix(`/`)"\nservice = "app"\nentryPoints = ["web"]\n'
            f'[http.services.app.loadBalancer]\n[[http.services.app.loadBalancer.servers]]\nurl = "{upstream.url}"\n'
        )
        (tmp_path / "traefik.toml").write_text(
            f'[entryPoints.web]\naddress = "127.0.0.1:{web_port}"\n[providers.file]\nfilename = "routes.toml"\n'
            f'[accessLog]\nfilePath = "{log_file}"\n'
        )
        proc = Proc([sys.executable, "-m", "proxy", "--config", str(tmp_path / "traefik.toml")], tmp_path)
        url = f"http://127.0.0.1:{web_port}/x"
        limits = httpx.Limits(max_connections=AT_ONCE, max_keepalive_connections=AT_ONCE)
        try:
            async with httpx.AsyncClient(limits=limits, timeout=20) as client:
                deadline = time.monotonic() + 30
                while True:  # listening yet? (a connection alone: a request would wait for its round)
                    try:
                        _, writer = await asyncio.open_connection("127.0.0.1", web_port)
                    except OSError:
                        assert time.monotonic() < deadline and proc.popen.poll() is None, proc.output()
                        await asyncio.sleep(0.1)
                    else:
                        writer.close()
                        break
                assert proc.popen.poll() is None, proc.output()
                before = write_calls(proc.popen.pid)
                statuses = []
                for _ in range(ROUNDS):
                    statuses += await asyncio.gather(*(client.get(url) for _ in range(AT_ONCE)))
                writes = write_calls(proc.popen.pid) - before
        finally:
            output = proc.stop()
    assert [r.status_code for r in statuses] == [200] * (ROUNDS * AT_ONCE), output
    requests = [line.split('"')[1] for line in log_file.read_text().splitlines()]
    assert requests == ["GET /x HTTP/1.1"] * (ROUNDS * AT_ONCE), requests
    # Each request costs the gateway two socket writes (the request upstream, the response back); a write
    # per line would make it three; two a pass (rounds of 40 answered together) about 2.05.
    assert writes < 2.5 * ROUNDS * AT_ONCE, (writes, output)
