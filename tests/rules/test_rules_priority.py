"""Default priority: the rule's length (pkg/muxer/http/mux.go GetRulePriority, mux_test.go)."""

from __future__ import annotations

import pytest

from proxy.rules import default_priority, effective_priority


@pytest.mark.parametrize(
    ("rule", "want"),
    [
        pytest.param("Host(`example.org`)", 19, id="simple-rule"),
        pytest.param("Host(`ws.test`) && PathPrefix(`/x`)", 35, id="single-spaces"),
        pytest.param("Host(`ws.test`)   &&   PathPrefix(`/x`)", 39, id="whitespace-counts"),
        pytest.param("HostRegexp(`[a-z]+\\.traefik\\.com`)", 34, id="docs-example-router-1"),
        pytest.param("Host(`foobar.traefik.com`)", 26, id="docs-example-router-2"),
        pytest.param("Path(`/café`)", 14, id="go-len-counts-utf8-bytes"),
    ],
)
def test_default_priority(rule: str, want: int) -> None:
    assert default_priority(rule) == want


@pytest.mark.parametrize(
    ("configured", "want"),
    [
        pytest.param(None, 19, id="unset"),
        pytest.param(0, 19, id="zero-means-unset"),
        pytest.param(5, 5, id="explicit"),
        pytest.param(-3, -3, id="negative-allowed"),
    ],
)
def test_effective_priority(configured: int | None, want: int) -> None:
    assert effective_priority(configured, "Host(`example.org`)") == want
