"""Where the static configuration comes from: a file, Traefik-style flags, TRAEFIK_* environment variables.

Traefik (pkg/cli/loader_*.go) treats these as mutually exclusive: the configuration file if one is found,
otherwise the flags if any are given, otherwise the environment. That is the default here. The CLI uses
`flags_over_file=True`: flags override the file (our addition), and the environment is still read only
when there is neither. `layered=True` merges all three (flags over environment over file) through
pydantic-settings.

Flag syntax follows paerser (flag/flagparser.go): `--a.b=value` or `--a.b value`; a boolean or a whole
section given without `=` means "true" and never takes the next word; repeated list flags add up; list
values are comma separated. Keys are case-insensitive; entry point names from the environment are lower case.
"""

from __future__ import annotations

import functools
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from proxy.config.base import KeyNormaliser, _is_model, _unwrap
from proxy.config.errors import ConfigError, ConfigProblem, problems_from_validation
from proxy.config.loader import STATIC_ROOT_KEYS, read_config_file
from proxy.config.static import StaticConfig

ENV_PREFIX = "TRAEFIK_"
_CONFIG_FILE_FLAGS = {"configfile"}
_DEFAULT_BASES = ("/etc/traefik/traefik", "$XDG_CONFIG_HOME/traefik", "$HOME/.config/traefik", "./traefik")


class FlagError(ValueError):
    pass


# ------------------------------------------------------------------------------------------------ flags


def _optional(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _optional(typing.get_args(annotation)[0])
    return origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(annotation)


def _kind_of(path: list[str]) -> str:
    """ "bool", "section" (a model, or an optional section: a Go pointer), "list", "loose" (a key inside
    a section we keep as a plain mapping) or "value" for a dotted flag path (paerser getFlagType); "value"
    when unknown."""
    annotation: Any = StaticConfig
    optional = False
    for segment in path:
        annotation = _unwrap(annotation)
        if _is_model(annotation):
            fields = {(f.alias or n).lower(): f.annotation for n, f in annotation.model_fields.items()}
            if segment.lower() not in fields:
                return "value"
            annotation = fields[segment.lower()]
            optional = _optional(annotation)
        elif typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
            optional = _optional(annotation)
        elif annotation is Any:
            return "loose"  # inside a section we keep as a mapping (metrics, providers.docker, ...)
        else:
            return "value"
    annotation = _unwrap(annotation)
    if annotation is Any:
        return "loose"
    if annotation is bool:
        return "bool"
    if _is_model(annotation) or optional:
        return "section"
    return "list" if typing.get_origin(annotation) is list else "value"


def parse_flags(argv: list[str]) -> dict[str, str]:
    """Traefik flags -> {"entryPoints.web.address": ":8081"} (names as first written). Stops at the first
    non-flag. As in paerser (flag/flagparser.go): a bool or an optional section (`--api`,
    `--providers.docker`) given alone is "true"; a repeated list flag adds up, any other repeat wins."""
    values: dict[str, str] = {}
    spelled: dict[str, str] = {}  # lower-cased name -> first spelling
    args = list(argv)
    while args and len(args[0]) >= 2 and args[0].startswith("-"):
        arg = args.pop(0)
        if arg == "--":
            break
        name = arg.lstrip("-") if arg.startswith("--") else arg[1:]
        if not name or name[0] in "-=":
            raise FlagError(f"bad flag syntax: {arg}")
        name, has_value, value = name.partition("=")
        kind = _kind_of(name.split("."))
        if not has_value:
            if kind in ("bool", "section") or kind == "loose" and (not args or args[0].startswith("-")):
                value = "true"  # in a loose section Traefik knows the type; a bare flag there is a switch
            elif args:
                value = args.pop(0)
            else:
                raise FlagError(f"flag needs an argument: --{name}")
        key = spelled.setdefault(name.lower(), name)
        values[key] = f"{values[key]},{value}" if key in values and kind == "list" else value
    return values


def _nest(flat: Mapping[str, str]) -> dict[str, Any]:
    """{"a.b.c": v} -> {"a": {"b": {"c": v}}}; a section set to "true" and given sub-keys becomes a mapping.
    Segments merge case-insensitively, the first spelling kept (paerser DecodeToNode compares with
    EqualFold), so `--entrypoints.web.address` and `--entryPoints.web.transport...` are one entry point."""
    root: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = root
        *parents, leaf = dotted.split(".")
        for part in parents:
            part = _existing_key(node, part)
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        leaf = _existing_key(node, leaf)
        if not isinstance(node.get(leaf), dict):
            node[leaf] = value
    return root


def _existing_key(node: dict[str, Any], key: str) -> str:
    lower = key.lower()
    return next((existing for existing in node if existing.lower() == lower), key)


def env_values(environ: Mapping[str, str]) -> dict[str, str]:
    """TRAEFIK_ENTRYPOINTS_WEB_ADDRESS=:81 -> {"entrypoints.web.address": ":81"} (paerser env.Decode)."""
    return {
        key[len(ENV_PREFIX) :].lower().replace("_", "."): value
        for key, value in environ.items()
        if key.upper().startswith(ENV_PREFIX) and len(key) > len(ENV_PREFIX)
    }


# ------------------------------------------------------------------------------------------------ sources


class _Layer:
    """One source of static settings (flags, environment or file), normalised, labelled for error messages."""

    def __init__(self, label: str, raw: dict[str, Any], csv: bool) -> None:
        self.label = label
        self.normaliser = KeyNormaliser(split_csv=csv)
        self.data: dict[str, Any] = self.normaliser.normalise(raw, StaticConfig)


@functools.cache
def _layered_settings() -> type[BaseModel]:
    """StaticConfig as pydantic-settings model whose sources are our layers (flags over environment over
    file). Built on first use: pydantic-settings costs ~9 MiB of memory, and a run whose settings come from
    one place alone (the usual `--config traefik.toml`) does not need it."""
    from pydantic.fields import FieldInfo
    from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

    class LayerSource(PydanticBaseSettingsSource):
        def __init__(self, settings_cls: type[BaseSettings], layer: _Layer) -> None:
            super().__init__(settings_cls)
            self.layer = layer

        def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
            return self.layer.data.get(field.alias or field_name), field_name, False

        def __call__(self) -> dict[str, Any]:
            return dict(self.layer.data)

    class LayeredStatic(BaseSettings, StaticConfig):
        model_config = SettingsConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True)
        layers: typing.ClassVar[list[_Layer]] = []

        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], *args: Any, **kwargs: Any
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return tuple(LayerSource(settings_cls, layer) for layer in cls.layers)

    return LayeredStatic


# ------------------------------------------------------------------------------------------------ load_static


def find_default_config(environ: Mapping[str, str]) -> Path | None:
    """Traefik's default locations: /etc/traefik, $XDG_CONFIG_HOME, $HOME/.config, then the working folder."""
    for base in _DEFAULT_BASES:
        if "$" in base and not all(environ.get(var) for var in ("XDG_CONFIG_HOME", "HOME") if f"${var}" in base):
            continue
        expanded = base.replace("$XDG_CONFIG_HOME", environ.get("XDG_CONFIG_HOME", ""))
        expanded = expanded.replace("$HOME", environ.get("HOME", ""))
        for ext in ("toml", "yaml", "yml"):
            candidate = Path(f"{expanded}.{ext}")
            if candidate.is_file():
                return candidate
    return None


def _split_config_flag(flags: dict[str, str]) -> tuple[dict[str, str], str | None]:
    config_file = None
    rest: dict[str, str] = {}
    for name, value in flags.items():
        if name.lower() in _CONFIG_FILE_FLAGS:
            config_file = value
        else:
            rest[name] = value
    return rest, config_file


def load_static(
    config_path: Path | None,
    argv: list[str],
    environ: Mapping[str, str] | None = None,
    *,
    layered: bool = False,
    flags_over_file: bool = False,
    search_default_locations: bool = False,
) -> StaticConfig:
    """Build the static configuration. ConfigError lists every problem (file, key path, message).

    Default: Traefik's rule, the first of file / flags / environment that is present is used alone.
    `flags_over_file=True`: flags override the file; TRAEFIK_* variables only count when neither is given.
    `layered=True`: flags override environment variables, which override the file.
    `--configFile=path` in argv is honoured when `config_path` is None.
    """
    environ = os.environ if environ is None else environ
    try:
        flags, flag_config = _split_config_flag(parse_flags(argv))
    except FlagError as err:
        raise ConfigError([ConfigProblem("command line", "", str(err))]) from None
    if config_path is None and flag_config:
        config_path = Path(flag_config)
    if config_path is None and search_default_locations:
        config_path = find_default_config(environ)

    file_raw, warnings = _read_static_file(config_path) if config_path else ({}, [])
    layers = [
        ("command line", _nest(flags), True),
        ("environment", _nest(env_values(environ)), True),
        (str(config_path or ""), file_raw, False),
    ]
    if flags_over_file and not layered and (config_path is not None or flags):
        layers = [layers[0], layers[2]]
    elif not layered:
        chosen = (config_path is not None and layers[2]) or (flags and layers[0]) or layers[1]
        layers = [chosen]
    config, sources = _build(layers)
    config._source_file = config_path
    config._label = _UNLABELLED
    config._warnings = warnings
    config.with_effective_defaults()
    config._warnings = [_labelled(problem, sources) for problem in config._warnings]
    config._name_source = functools.partial(_source_problem, sources)  # a partial: workers get it pickled
    return config


_UNLABELLED = "\0static"  # a warning of with_effective_defaults, named after its source below


def _source_problem(sources: list[_Layer], key_path: str, message: str) -> ConfigProblem:
    """A warning found after the load (StaticConfig.problem), named after the source that set the key."""
    return _labelled(ConfigProblem(_UNLABELLED, key_path, message), sources)


def _labelled(problem: ConfigProblem, sources: list[_Layer]) -> ConfigProblem:
    """A warning about a key (log.level, providers.docker) names the source that set it."""
    if problem.file != _UNLABELLED:
        return problem
    path = tuple(problem.key_path.split("."))
    given = [src for src in sources if src.data]
    source = next((src for src in given if _has_path(src.data, path)), given[0] if given else None)
    label = source.label if source is not None else "static configuration"
    if source is not None:  # the key path as written in that source (KeepAliveMaxTime, not keepAliveMaxTime)
        spelled = source.normaliser.spelled
        written = ".".join(spelled.get(path[: i + 1], part) for i, part in enumerate(path))
        return ConfigProblem(label, written, problem.message)
    return ConfigProblem(label, problem.key_path, problem.message)


def _read_static_file(path: Path) -> tuple[dict[str, Any], list[ConfigProblem]]:
    raw = read_config_file(path)
    warnings = [
        ConfigProblem(str(path), str(key), "unknown top-level key, ignored")
        for key in raw
        if str(key).lower() not in STATIC_ROOT_KEYS
    ]
    return {k: v for k, v in raw.items() if str(k).lower() in STATIC_ROOT_KEYS}, warnings


def _build(layers: list[tuple[str, dict[str, Any], bool]]) -> tuple[StaticConfig, list[_Layer]]:
    sources = [_Layer(label, raw, csv) for label, raw, csv in layers]
    problems = [
        ConfigProblem(src.label, ".".join(map(str, path[:-1] + (written,))), f"key given twice (also as {path[-1]!r})")
        for src in sources
        for path, written in src.normaliser.duplicates
    ]
    if problems:
        raise ConfigError(problems)
    try:
        settings = _merge(sources)
    except ValidationError as err:
        raise ConfigError(_attribute(err, sources)) from None
    dumped = settings.model_dump(by_alias=True, exclude_unset=True)
    return StaticConfig.model_validate(dumped, by_alias=True), sources


def _merge(sources: list[_Layer]) -> BaseModel:
    """Validate the layers merged, the first one winning. One layer with data (the usual case) is
    validated as it is; several go through pydantic-settings, which merges them."""
    given = [src for src in sources if src.data]
    if len(given) <= 1:
        return StaticConfig.model_validate(given[0].data if given else {}, by_alias=True)
    settings_class = _layered_settings()
    settings_class.layers = sources  # type: ignore[attr-defined]  # LayeredStatic's ClassVar: the type says BaseModel
    try:
        return settings_class()
    finally:
        settings_class.layers = []  # type: ignore[attr-defined]  # as above


def _attribute(err: ValidationError, sources: list[_Layer]) -> list[ConfigProblem]:
    """Each error goes to the highest-priority source that sets the failing key."""
    problems: list[ConfigProblem] = []
    for item in err.errors(include_url=False):
        loc = tuple(part for part in item["loc"] if isinstance(part, (str, int)))
        source = next((src for src in sources if _has_path(src.data, loc)), sources[0])
        single = ValidationError.from_exception_data(err.title, [item])  # type: ignore[list-item]  # ErrorDetails fits
        problems += problems_from_validation(
            single, source.label, spelled=source.normaliser.spelled, model=StaticConfig
        )
    return problems


def _has_path(data: Any, loc: tuple[str | int, ...]) -> bool:
    for part in loc:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return False
    return True


# ------------------------------------------------------------------------------------------------ help


def _flag_lines(model: type[BaseModel], prefix: str) -> list[str]:
    lines: list[str] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        annotation = _unwrap(field.annotation)
        if typing.get_origin(annotation) is dict and _is_model(_unwrap(typing.get_args(annotation)[1])):
            lines += _flag_lines(_unwrap(typing.get_args(annotation)[1]), f"{key}.<name>.")
        elif _is_model(annotation):
            lines += _flag_lines(annotation, f"{key}.")
        else:
            default = field.get_default(call_default_factory=True)
            shown = "" if default in (None, "", [], {}) else f"  (default: {_show(default)})"
            lines.append(f"  --{key}{shown}")
    return lines


def _show(default: Any) -> str:
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, float):  # every float of the static config is a duration in seconds
        return f"{default:g}s"
    return str(default)


def static_flag_help() -> str:
    """Every supported static flag, one a line, with its default."""
    header = "Static configuration flags (also TRAEFIK_<PATH> environment variables, '.' written as '_'):"
    return "\n".join([header, "  --configFile=<path>", *_flag_lines(StaticConfig, "")])
