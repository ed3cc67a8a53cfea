"""Reading Traefik configuration files and building the dynamic configuration like the file provider does.

Traefik facts mirrored here (pkg/provider/file/file.go, pkg/provider/merge.go, paerser file/raw_node.go):
  * .toml, .yaml and .yml files are read; any other extension is an error (skipped inside a directory);
  * a directory is read recursively, entries in name order; a resource name (router, service, middleware,
    servers transport) defined again in a later file is skipped with a warning: the first one wins;
  * one file that cannot be read or decoded fails the whole provider configuration;
  * unknown top-level keys are ignored (we report them as warnings), unknown nested keys are errors.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from proxy.config.base import normalise_keys
from proxy.config.dynamic import DynamicConfig
from proxy.config.dynamic_tls import TLSSectionConfig
from proxy.config.errors import ConfigError, ConfigProblem, KeyPath, format_key_path, problems_from_validation
from proxy.config.static import FileProviderConfig

SUPPORTED_EXTENSIONS = (".toml", ".yaml", ".yml")
STATIC_ROOT_KEYS = frozenset(
    key.lower()
    for key in (
        "entryPoints",
        "providers",
        "log",
        "accessLog",
        "api",
        "ping",
        "metrics",
        "tracing",
        "global",
        "serversTransport",
        "tcpServersTransport",
        "experimental",
        "certificatesResolvers",
        "hostResolver",
        "core",
        "spiffe",
        "ocsp",
    )
)
DYNAMIC_ROOT_KEYS = frozenset(("http", "tcp", "udp", "tls"))
_RESOURCE_KINDS = {
    "routers": "HTTP router",
    "services": "HTTP service",
    "middlewares": "HTTP middleware",
    "serversTransports": "HTTP servers transport",
    "models": "HTTP model",
}


def read_config_file(path: Path | str, template: bool = False) -> dict[str, Any]:
    """The raw mapping of a TOML or YAML file; ConfigError (with line/column for syntax errors) otherwise.

    `template=True` (dynamic files, as Traefik's file provider reads them): text holding `{{` is first
    rendered as a Go template (see gotemplate.py); other text is parsed as it is."""
    path = Path(path)
    return parse_config_text(path, _read_text(path), template)


def _read_text(path: Path) -> str:
    if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
        raise ConfigError([ConfigProblem(str(path), "", "unsupported file extension (use .toml, .yaml or .yml)")])
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError([ConfigProblem(str(path), "", f"cannot read file: {err}")]) from None


def parse_config_text(path: Path, text: str, template: bool = False) -> dict[str, Any]:
    """`text` read from `path` (its extension says TOML or YAML) as a mapping; see read_config_file."""
    if template and needs_rendering(text):
        text = render_template(path, text)
    data = _parse_toml(path, text) if path.suffix.lower() == ".toml" else _parse_yaml(path, text)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(str(path), "", "the file must hold a mapping of keys at its top level")])
    return data


def render_template(path: Path, text: str) -> str:
    from proxy.config.gotemplate import TemplateError, render  # only files holding `{{` load the renderer

    try:
        return render(text, str(path))
    except TemplateError as err:
        raise ConfigError([ConfigProblem(str(path), "", f"template line {err.line}: {err.message}")]) from None


def read_any_config(path: Path | str) -> dict[str, Any]:
    """A file that may be static or dynamic, read to find out which (`classify`). Dynamic files are
    templates in Traefik, static files never: text holding `{{` that renders into a dynamic file is taken
    rendered, anything else as written."""
    path = Path(path)
    text = _read_text(path)
    if not needs_rendering(text):
        return parse_config_text(path, text)
    try:
        rendered = parse_config_text(path, text, template=True)
    except ConfigError as template_error:
        try:
            return parse_config_text(path, text)
        except ConfigError:
            raise template_error from None
    keys = {str(key).lower() for key in rendered}
    if keys & DYNAMIC_ROOT_KEYS and not keys & STATIC_ROOT_KEYS:
        return rendered
    return parse_config_text(path, text)


def needs_rendering(text: str) -> bool:
    """Only text holding a template action pays for the renderer."""
    return "{{" in text


def _parse_toml(path: Path, text: str) -> Any:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError([ConfigProblem(str(path), "", f"invalid TOML: {err}")]) from None


def _parse_yaml(path: Path, text: str) -> Any:
    import yaml  # here, not at the top: a TOML-only run never loads PyYAML (~1 MiB)

    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = err.problem or err.context or "syntax error"
        raise ConfigError([ConfigProblem(str(path), "", f"invalid YAML{where}: {what}")]) from None
    except yaml.YAMLError as err:
        raise ConfigError([ConfigProblem(str(path), "", f"invalid YAML: {err}")]) from None


def classify(raw: dict[str, Any], source: str = "") -> Literal["static", "dynamic"]:
    """Whether a raw file mapping is a static (entryPoints, providers...) or dynamic (http, tcp...) config.

    `source` names the file in the error raised when it is neither."""
    keys = {str(key).lower() for key in raw}
    if keys & STATIC_ROOT_KEYS:
        return "static"
    if keys & DYNAMIC_ROOT_KEYS:
        return "dynamic"
    raise ConfigError(
        [
            ConfigProblem(
                source,
                "",
                "neither a static nor a dynamic configuration (no known top-level key such as entryPoints or http)",
            )
        ]
    )


def validate_section(
    raw: dict[str, Any], model: type[BaseModel], file: str, known_roots: frozenset[str]
) -> tuple[Any, list[ConfigProblem]]:
    """Normalise keys and validate `raw` as `model`. Returns (model, warnings); ConfigError on problems."""
    kept = {key: value for key, value in raw.items() if str(key).lower() in known_roots}
    warnings = [ConfigProblem(file, str(key), "unknown top-level key, ignored") for key in raw if key not in kept]
    normalised, normaliser = normalise_keys(kept, model)
    problems = [
        ConfigProblem(file, format_key_path(path[:-1] + (written,)), f"key given twice (also as {path[-1]!r})")
        for path, written in normaliser.duplicates
    ]
    try:
        result = model.model_validate(normalised, by_alias=True, by_name=False)
    except ValidationError as err:
        problems += problems_from_validation(err, file, spelled=normaliser.spelled, model=model)
        result = None
    if problems:
        raise ConfigError(problems)
    if isinstance(result, DynamicConfig):  # accepted, never acted on: said, not silently dropped
        from proxy.config import unimplemented

        dumped = result.model_dump(by_alias=True, exclude_unset=True)
        warnings += unimplemented.find(dumped, unimplemented.DYNAMIC, file, normaliser.spelled)
    return result, warnings


def load_dynamic_file(path: Path | str) -> tuple[DynamicConfig, list[ConfigProblem]]:
    """One dynamic configuration file. Returns (config, warnings); ConfigError if it cannot be used."""
    raw = read_config_file(path, template=True)
    return validate_section(raw, DynamicConfig, str(path), DYNAMIC_ROOT_KEYS)


def entry_point_names(listed: Iterable[object]) -> list[str]:
    """The entry points a dynamic config's routers ask for, from each router's `entryPoints` (a list, or a
    scalar split on commas as paerser does), in order of first mention; ["http"] when none names any.
    What serving a dynamic file alone creates (the CLI, proxy.server.sources)."""
    names: dict[str, None] = {}
    for value in listed:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        for name in value if isinstance(value, list) else ():
            if isinstance(name, str):
                names[name] = None
    return list(names) or ["http"]


def dynamic_files(provider: FileProviderConfig, base_dir: Path | None = None) -> list[Path]:
    """The files a file provider reads: its filename, or every supported file under its directory.

    Relative paths resolve against `base_dir` (the static configuration file's folder).
    """

    def resolve(name: str) -> Path:
        candidate = Path(name).expanduser()
        return candidate if candidate.is_absolute() or base_dir is None else base_dir / candidate

    if provider.directory:
        return _walk_directory(resolve(provider.directory))
    if provider.filename:
        return [resolve(provider.filename)]
    raise ConfigError(
        [ConfigProblem("", "providers.file", "neither filename nor directory is defined for the file provider")]
    )


def _walk_directory(directory: Path) -> list[Path]:
    try:
        entries = sorted(directory.iterdir(), key=lambda entry: entry.name)
    except OSError as err:
        raise ConfigError([ConfigProblem(str(directory), "", f"cannot read directory: {err}")]) from None
    files: list[Path] = []
    for entry in entries:
        if entry.is_dir():
            files += _walk_directory(entry)
        elif entry.suffix.lower() in SUPPORTED_EXTENSIONS:
            files.append(entry)
    return files


def load_dynamic(paths: list[Path]) -> tuple[DynamicConfig, list[ConfigProblem]]:
    """Merge several dynamic files as Traefik's file provider does in directory mode.

    Returns (merged config, warnings). Raises ConfigError listing every problem of every unusable file:
    in Traefik one bad file fails the whole provider, so nothing from the other files is served either.
    """
    loaded: list[tuple[str, DynamicConfig]] = []
    warnings: list[ConfigProblem] = []
    errors: list[ConfigProblem] = []
    for path in paths:
        try:
            config, file_warnings = load_dynamic_file(path)
        except ConfigError as err:
            errors += err.problems
            continue
        loaded.append((str(path), config))
        warnings += file_warnings
    if errors:
        raise ConfigError(errors)
    merged, merge_warnings = merge_dynamic(loaded)
    return merged, warnings + merge_warnings


def merge_dynamic(configs: list[tuple[str, DynamicConfig]]) -> tuple[DynamicConfig, list[ConfigProblem]]:
    """First definition of a name wins; later ones are skipped with a warning (ResourceStrategySkipDuplicates)."""
    merged = DynamicConfig()
    origins: dict[KeyPath, str] = {}
    warnings: list[ConfigProblem] = []
    for file, config in configs:
        for section, kind in _RESOURCE_KINDS.items():
            target = getattr(merged.http, _field_name(section))
            for name, resource in getattr(config.http, _field_name(section)).items():
                key = (section, name)
                if key in origins:
                    message = f"{kind} already configured in {origins[key]}, skipping"
                    warnings.append(ConfigProblem(file, f"http.{section}.{name}", message))
                    continue
                origins[key] = file
                target[name] = resource
        for loose in ("tcp", "udp"):
            section_value = getattr(config, loose)
            if section_value:
                setattr(merged, loose, {**(getattr(merged, loose) or {}), **section_value})
        if config.tls is not None:
            warnings += _merge_tls(merged, config.tls, file, origins)
    merged._origins = origins
    return merged, warnings


def _merge_tls(
    merged: DynamicConfig, tls: TLSSectionConfig, file: str, origins: dict[KeyPath, str]
) -> list[ConfigProblem]:
    """tls.certificates add up across files; an option or store defined twice keeps the first definition."""
    if merged.tls is None:
        merged.tls = TLSSectionConfig()
    merged.tls.certificates += tls.certificates
    warnings = []
    for section in ("options", "stores"):
        target = getattr(merged.tls, section)
        for name, value in getattr(tls, section).items():
            key = ("tls", section, name)
            if key in origins:
                warnings.append(
                    ConfigProblem(file, f"tls.{section}.{name}", f"already configured in {origins[key]}, skipping")
                )
                continue
            origins[key] = file
            target[name] = value
    return warnings


def _field_name(alias: str) -> str:
    return "servers_transports" if alias == "serversTransports" else alias
