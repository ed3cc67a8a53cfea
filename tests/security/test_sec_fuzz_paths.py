"""The short form of the raw-bytes request-line fuzz (proxy/testing/pathfuzz.py) through a live gateway:
a few hundred seeded requests, a few seconds. The long form is benchmarks/fuzz_paths.py."""

from __future__ import annotations

import pytest

from proxy.config.dynamic import DynamicConfig
from proxy.config.static import EntryPoint, StaticConfig
from proxy.server.gateway import Gateway
from proxy.testing.pathfuzz import fuzz, recording_upstream, routes


@pytest.mark.parametrize("seed", [pytest.param(1, id="seed-1"), pytest.param(2026, id="seed-2026")])
async def test_fuzzed_request_lines_get_answers_and_stay_under_the_prefix(seed: int) -> None:
    targets: list[bytes] = []
    upstream = await recording_upstream(targets)
    port = upstream.sockets[0].getsockname()[1]
    gateway = Gateway(StaticConfig(entry_points={"web": EntryPoint(address="127.0.0.1:0")}))
    gateway.apply(DynamicConfig.model_validate(routes(f"http://127.0.0.1:{port}")))
    await gateway.start()
    try:
        findings = await fuzz(int(gateway.url.rsplit(":", 1)[1]), targets, seed, 400, control_ms=1000)
    finally:
        await gateway.stop()
        upstream.close()
    assert not findings.problems, "\n".join(findings.problems[:30])
    assert findings.sent == 400
    assert findings.forwarded > 40  # the fuzz reaches the upstream, not only the parser's 400s
    assert set(findings.statuses) - {200, 400, 404, 405, 414, 431, 501, 505} == set(), findings.statuses
