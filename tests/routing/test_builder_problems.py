"""What a disabled router says: misspelt references get a suggestion."""

from __future__ import annotations

from typing import Any

import pytest

from proxy import Gateway
from proxy.rules import MAX_USER_PRIORITY


def routes(service: str, middlewares: list[str]) -> dict[str, Any]:
    return {
        "http": {
            "routers": {"r": {"rule": "Path(`/`)", "service": service, "middlewares": middlewares}},
            "middlewares": {"strip-api": {"stripPrefix": {"prefixes": ["/api"]}}},
            "services": {"app": {"loadBalancer": {"servers": [{"url": "http://127.0.0.1:1"}]}}},
        }
    }


@pytest.mark.parametrize(
    ("service", "middlewares", "problem"),
    [
        pytest.param("ap", [], "router r@file: the service 'ap' does not exist (did you mean 'app'?)", id="service"),
        pytest.param(
            "app",
            ["strip-ap"],
            "router r@file: middleware 'strip-ap' does not exist (did you mean 'strip-api'?)",
            id="middleware",
        ),
        pytest.param("zzz", [], "router r@file: the service 'zzz' does not exist", id="nothing close"),
    ],
)
def test_misspelt_references_get_a_suggestion(service: str, middlewares: list[str], problem: str) -> None:
    assert Gateway(routes(service, middlewares)).problems == [problem]


@pytest.mark.parametrize(
    ("priority", "problems"),
    [
        pytest.param(MAX_USER_PRIORITY, [], id="the max itself"),
        pytest.param(
            MAX_USER_PRIORITY + 1,
            [
                f"router r@file: the router priority {MAX_USER_PRIORITY + 1} exceeds the max user-defined "
                f"priority {MAX_USER_PRIORITY}"
            ],
            id="one above",
        ),
    ],
)
def test_user_priority_above_the_max_disables_the_router(priority: int, problems: list[str]) -> None:
    """Traefik's router manager (pkg/server/router/router.go, maxUserPriority = MaxInt - 1000): the range
    above is kept for its internal routers."""
    config = routes("app", [])
    config["http"]["routers"]["r"]["priority"] = priority
    gateway = Gateway(config)
    assert gateway.problems == problems
    assert ("r@file" in gateway.routers) == (not problems)  # disabled: not served
