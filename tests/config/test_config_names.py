"""The naming rule of the config models (README, Layout): every pydantic model in proxy/config ends in `Config`.

So a config model never shares its name with the runtime class it configures (`StripPrefixConfig` builds
`StripPrefix`, `LoadBalancerConfig` a `LoadBalancer`), and no module imports one under another name: a
reader who sees `RouterConfig` anywhere knows it is the model of Traefik's `http.routers.<name>` keys.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

from proxy.config.base import TraefikModel

ROOT = Path(__file__).resolve().parents[2]
CONFIG_MODULES = ("dynamic", "dynamic_middlewares", "dynamic_tls", "static")


def config_models() -> dict[str, str]:
    """Every TraefikModel subclass the config modules define: name -> module."""
    models = {}
    for short in CONFIG_MODULES:
        module = importlib.import_module(f"proxy.config.{short}")
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, TraefikModel) and value.__module__ == module.__name__:
                models[name] = short
    return models


def class_names_outside_config() -> dict[str, Path]:
    names = {}
    for path in sorted((ROOT / "proxy").rglob("*.py")):
        if path.parent.name == "config":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                names.setdefault(node.name, path.relative_to(ROOT))
    return names


def test_the_walk_finds_the_models() -> None:
    models = config_models()
    assert {"StaticConfig", "DynamicConfig", "RouterConfig", "MiddlewareConfig", "StripPrefixConfig"} <= set(models)
    assert len(models) > 80


@pytest.mark.parametrize("module", CONFIG_MODULES)
def test_every_config_model_ends_in_config(module: str) -> None:
    offenders = sorted(
        name for name, where in config_models().items() if where == module and not name.endswith("Config")
    )
    assert offenders == []


def test_no_config_model_shares_a_name_with_a_runtime_class() -> None:
    runtime = class_names_outside_config()
    assert {"StripPrefix", "LoadBalancer", "Middleware", "AccessLog"} <= set(runtime)  # the walk sees them
    shared = {name: str(runtime[name]) for name in config_models() if name in runtime}
    assert shared == {}


def test_config_models_are_imported_by_their_own_name() -> None:
    """`from proxy.config.static import AccessLogConfig`, never `... import AccessLog as AccessLogConfig`."""
    models = set(config_models())
    aliased = []
    for folder in ("proxy", "tests", "benchmarks", "scripts"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("proxy.config"):
                    aliased += [
                        f"{path.relative_to(ROOT)}:{node.lineno}: {alias.name} as {alias.asname}"
                        for alias in node.names
                        if alias.asname and alias.name in models
                    ]
    assert aliased == []
