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


def _router(**router: Any) -> dict[str, Any]:
    return {
        "http": {
            "routers": {"r": {"rule": "Path(`/`)", "service": "app", **router}},
            "middlewares": {"strip-api": {"stripPrefix": {"prefixes": ["/api"]}}},
            "services": {
                "app": {"loadBalancer": {"servers": [{"url": "http://127.0.0.1:1"}], "serversTransport": "tr"}}
            },
            "serversTransports": {"tr": {}},
        }
    }


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        pytest.param(
            _router(middlewares=["strip-api@fiel"]),
            "router r@file: 'strip-api@fiel' refers to provider 'fiel'; stripproxy only has the file provider "
            "(did you mean 'strip-api@file'?)",
            id="provider suffix",
        ),
        pytest.param(
            _router(middlewares=["strip-api@docker"]),
            "router r@file: 'strip-api@docker' refers to provider 'docker'; stripproxy only has the file provider",
            id="another provider: no suggestion",
        ),
        pytest.param(
            _router(service="app@intenral"),
            "router r@file: 'app@intenral' refers to provider 'intenral'; stripproxy only has the file provider "
            "(did you mean 'app@internal'?)",
            id="internal suffix",
        ),
        pytest.param(
            _router(service="dashbaord@internal"),
            "router r@file: unknown internal service dashbaord@internal (did you mean 'dashboard@internal'?)",
            id="internal service",
        ),
    ],
)
def test_misspelt_provider_and_internal_names_get_a_suggestion(config: dict[str, Any], problem: str) -> None:
    assert Gateway(config).problems == [problem]


def test_a_misspelt_entry_point_gets_a_suggestion() -> None:
    static = {"entryPoints": {"web": {"address": "127.0.0.1:0"}, "websecure": {"address": "127.0.0.1:0"}}}
    from proxy.config.dynamic import DynamicConfig

    gateway = Gateway(static, free_ports=True)
    dynamic = DynamicConfig.model_validate(_router(entryPoints=["webb"]), by_alias=True)
    problems = [str(p) for p in gateway.build(dynamic).problems]
    assert problems == [
        "router r@file: entryPoint 'webb' doesn't exist (did you mean 'web'?)",
        "router r@file: no valid entryPoint for this router",
    ]


def test_a_misspelt_servers_transport_gets_a_suggestion() -> None:
    config = _router()
    config["http"]["services"]["app"]["loadBalancer"]["serversTransport"] = "trr"
    assert Gateway(config).problems == [
        "service app@file: serversTransport 'trr' does not exist (did you mean 'tr'?)",
        "router r@file: service 'app' is broken: serversTransport 'trr' does not exist (did you mean 'tr'?)",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param(
            '[http.middlewares.m.addPrefix]\nprefx = "/a"\n',
            "http.middlewares.m.addPrefix.prefx: unknown key (did you mean 'prefix'?)",
            id="middleware option",
        ),
        pytest.param(
            '[http.middlewares.m.addPrefx]\nprefix = "/a"\n',
            "http.middlewares.m.addPrefx: unknown key (did you mean 'addPrefix'?)",
            id="middleware type",
        ),
    ],
)
def test_a_misspelt_dynamic_key_gets_a_suggestion(tmp_path: Any, text: str, problem: str) -> None:
    from proxy.config import ConfigError
    from proxy.config.loader import load_dynamic_file

    path = tmp_path / "dynamic.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_dynamic_file(path)
    assert str(info.value) == f"{path}: {problem}"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param(
            '[providers.fiel]\nfilename = "d.toml"\n',
            "providers.fiel: unknown key (did you mean 'file'?)",
            id="provider",
        ),
        pytest.param(
            '[entryPoints.web]\nadress = ":80"\n',
            "entryPoints.web.adress: unknown key (did you mean 'address'?)",
            id="static key",
        ),
    ],
)
def test_a_misspelt_static_key_or_provider_gets_a_suggestion(tmp_path: Any, text: str, problem: str) -> None:
    from proxy.config import ConfigError
    from proxy.config.static_sources import load_static

    path = tmp_path / "traefik.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_static(path, [], {})
    assert str(info.value) == f"{path}: {problem}"


def test_a_misspelt_redirection_target_gets_a_suggestion(caplog: pytest.LogCaptureFixture) -> None:
    static = {
        "entryPoints": {
            "web": {"address": "127.0.0.1:0", "http": {"redirections": {"entryPoint": {"to": "websecur"}}}},
            "websecure": {"address": "127.0.0.1:0"},
        }
    }
    with caplog.at_level("ERROR"):
        Gateway(static, free_ports=True)
    assert (
        "entry point web: 'to' entry point field references a non-existing entry point: websecur "
        "(did you mean 'websecure'?)"
    ) in caplog.messages


def test_a_misspelt_ping_entry_point_gets_a_suggestion() -> None:
    static = {"entryPoints": {"web": {"address": "127.0.0.1:0"}}, "ping": {"entryPoint": "wbe"}}
    problems = Gateway(static, free_ports=True).problems
    assert "router ping@internal: entryPoint 'wbe' doesn't exist (did you mean 'web'?)" in problems
