"""What a Gateway can be built from: a config object, a mapping, TOML/YAML text or a file path.

A static configuration brings entry points and (through `providers.file`) the dynamic files; a dynamic
configuration alone is served on loopback entry points named after the ones its routers use.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from proxy.config.dynamic import DynamicConfig
from proxy.config.errors import ConfigError, ConfigProblem
from proxy.config.loader import (
    DYNAMIC_ROOT_KEYS,
    STATIC_ROOT_KEYS,
    SUPPORTED_EXTENSIONS,
    classify,
    dynamic_files,
    entry_point_names,
    load_dynamic,
    read_any_config,
    validate_section,
)
from proxy.config.static import EntryPointConfig, StaticConfig
from proxy.config.static_sources import load_static

ConfigSource = Union[StaticConfig, DynamicConfig, Mapping[str, Any], str, "os.PathLike[str]"]
LOOPBACK_FREE_PORT = "127.0.0.1:0"


@dataclass
class ResolvedConfig:
    """A config source read once: the static part (None for a dynamic config alone) and how to re-read it."""

    static: StaticConfig | None
    dynamic: DynamicConfig
    label: str  # where it came from, for messages
    dynamic_paths: list[Path] = field(default_factory=list)  # files that `reload()` re-reads
    warnings: list[ConfigProblem] = field(default_factory=list)


def resolve(source: ConfigSource, base_dir: Path | None = None) -> ResolvedConfig:
    """Read `source`; ConfigError (every problem listed) when it cannot be used."""
    if isinstance(source, StaticConfig):
        return _from_static(source, "static config", base_dir)
    if isinstance(source, DynamicConfig):
        return ResolvedConfig(None, source, "dynamic config")
    if isinstance(source, Mapping):
        return _from_raw(dict(source), "mapping", base_dir)
    if isinstance(source, os.PathLike) or (isinstance(source, str) and _looks_like_path(source)):
        return _from_file(Path(source))
    if isinstance(source, str):
        return _from_raw(parse_text(source), "text", base_dir)
    raise TypeError(
        f"cannot build a gateway from {type(source).__name__}: expected a StaticConfig, "
        "DynamicConfig, mapping, TOML/YAML text or a file path"
    )


def _looks_like_path(text: str) -> bool:
    return "\n" not in text and text.strip().lower().endswith(SUPPORTED_EXTENSIONS)


def parse_text(text: str) -> dict[str, Any]:
    """TOML, else YAML; the TOML error is the one reported when neither reads as a mapping."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as toml_error:
        import yaml  # only for text that is not TOML: a TOML-only run never loads PyYAML

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            data = None
        if isinstance(data, dict):
            return data
        raise ConfigError([ConfigProblem("text", "", f"neither TOML ({toml_error}) nor a YAML mapping")]) from None


def _from_file(path: Path) -> ResolvedConfig:
    if not path.is_file():
        raise ConfigError([ConfigProblem(str(path), "", "no such file")])
    if classify(read_any_config(path), str(path)) == "dynamic":
        dynamic, warnings = load_dynamic([path])
        return ResolvedConfig(None, dynamic, str(path), [path], warnings)
    static = load_static(path, [], {}, layered=True)
    return _from_static(static, str(path), path.resolve().parent)


def _from_raw(raw: dict[str, Any], label: str, base_dir: Path | None) -> ResolvedConfig:
    if classify(raw) == "dynamic":
        dynamic, warnings = validate_section(raw, DynamicConfig, label, DYNAMIC_ROOT_KEYS)
        return ResolvedConfig(None, dynamic, label, warnings=warnings)
    static, warnings = validate_section(raw, StaticConfig, label, STATIC_ROOT_KEYS)
    resolved = _from_static(static.with_effective_defaults(), label, base_dir)
    resolved.warnings[:0] = warnings
    return resolved


def _from_static(static: StaticConfig, label: str, base_dir: Path | None) -> ResolvedConfig:
    provider = static.providers.file
    warnings = list(static.warnings)
    if provider is None:
        return ResolvedConfig(static, DynamicConfig(), label, warnings=warnings)
    if base_dir is None:
        base_dir = Path(static.source_file).resolve().parent if static.source_file else Path.cwd()
    paths = dynamic_files(provider, base_dir)
    dynamic, dynamic_warnings = load_dynamic(paths)
    return ResolvedConfig(static, dynamic, label, paths, warnings + dynamic_warnings)


def router_entry_points(dynamic: DynamicConfig) -> list[str]:
    """The entry point names the routers ask for, in first-use order; ["http"] when none names any."""
    return entry_point_names(router.entry_points for router in dynamic.http.routers.values())


def effective_static(
    resolved: ResolvedConfig, entry_points: Mapping[str, str] | None, free_ports: bool
) -> StaticConfig:
    """The static config to serve: entry points rebound to free loopback ports and/or given addresses."""
    static = resolved.static
    if static is None:
        static = StaticConfig(
            entry_points={
                name: EntryPointConfig(address=LOOPBACK_FREE_PORT) for name in router_entry_points(resolved.dynamic)
            }
        )
    elif free_ports or entry_points:
        static = static.model_copy(deep=True)
    if free_ports:
        for name, ep in static.entry_points.items():
            static.entry_points[name] = ep.model_copy(update={"address": LOOPBACK_FREE_PORT})
    for name, address in (entry_points or {}).items():
        ep = static.entry_points.get(name) or EntryPointConfig()
        static.entry_points[name] = ep.model_copy(update={"address": address})
    return static


class MiddlewarePatch(dict[str, Any]):
    """A `middlewares=` override that changes some options of the file's own middleware (`{"address": url}`
    for a forwardAuth): merged into it once the file is read (`apply_middleware_patches`)."""


def parse_middleware_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`middlewares=` overrides: name -> None (pass-through), a replacement middleware config (its type as
    the key, validated as the file's middlewares are), or options to change in the file's own middleware
    (no type key: `{"address": "http://127.0.0.1:8001/verify"}`); ConfigError names the override and the key."""
    from proxy.config.dynamic import DynamicConfig
    from proxy.config.dynamic_middlewares import MiddlewareConfig
    from proxy.config.loader import validate_section

    types = {(field.alias or name).lower() for name, field in MiddlewareConfig.model_fields.items()}
    parsed: dict[str, Any] = {}
    for reference, replacement in overrides.items():
        name = reference.partition("@")[0]
        if replacement is None:
            parsed[name] = None
            continue
        if isinstance(replacement, Mapping) and not {str(key).lower() for key in replacement} & types:
            parsed[name] = MiddlewarePatch(replacement)
            continue
        section, _ = validate_section(
            {"http": {"middlewares": {name: replacement}}},
            DynamicConfig,
            f"middlewares override {name!r}",
            frozenset({"http"}),
        )
        parsed[name] = section.http.middlewares[name]
    return parsed


def apply_middleware_patches(dynamic: DynamicConfig, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The overrides with each MiddlewarePatch merged into the file's middleware of that name (known: see
    check_middleware_overrides) and validated; ConfigError names the override and the key."""
    from proxy.config.loader import validate_section

    resolved: dict[str, Any] = {}
    for name, override in overrides.items():
        original = dynamic.http.middlewares.get(name)
        if not isinstance(override, MiddlewarePatch) or original is None:
            resolved[name] = override
            continue
        dumped = original.model_dump(by_alias=True, exclude_unset=True)
        kind = original.type_name()
        options = {**dumped.get(kind, {}), **override}
        section, _ = validate_section(
            {"http": {"middlewares": {name: {**dumped, kind: options}}}},
            DynamicConfig,
            f"middlewares override {name!r}",
            frozenset({"http"}),
        )
        resolved[name] = section.http.middlewares[name]
    return resolved


def did_you_mean(name: str, known: Any) -> str:
    from proxy.routing.problems import did_you_mean as suggest

    return suggest(name, known)


def check_middleware_overrides(dynamic: DynamicConfig, overrides: Mapping[str, Any]) -> list[str]:
    """Problems with `middlewares=` overrides: names the configuration does not define (typos)."""
    known = dynamic.http.middlewares
    return [
        f"middlewares override {name!r}: no such middleware{did_you_mean(name, known)} (known: "
        f"{', '.join(known) or 'none'})"
        for name in overrides
        if name not in known
    ]


def check_service_overrides(dynamic: DynamicConfig, overrides: Mapping[str, str]) -> list[str]:
    """Problems with `services=` overrides: unknown names (typos) and services that are not load balancers."""
    problems = []
    known = dynamic.http.services
    for name in overrides:
        service = known.get(name.partition("@")[0])
        if service is None:
            problems.append(
                f"services override {name!r}: no such service{did_you_mean(name.partition('@')[0], known)} "
                f"(known: {', '.join(known) or 'none'})"
            )
        elif service.load_balancer is None:
            problems.append(f"services override {name!r}: only loadBalancer services can be pointed elsewhere")
    return problems
