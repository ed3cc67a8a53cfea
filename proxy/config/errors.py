"""Configuration problems, spelled for a Traefik user: which file, which key (as written there), what is wrong."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

# Key paths are tuples of dict keys (str) and list positions (int).
KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    key_path: str
    message: str

    def __str__(self) -> str:
        return ": ".join(part for part in (self.file, self.key_path, self.message) if part)


class ConfigError(Exception):
    """One or more problems that make a configuration unusable."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems: list[ConfigProblem] = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)


def format_key_path(path: Iterable[str | int]) -> str:
    """("http", "routers", "app", "servers", 0, "url") -> "http.routers.app.servers[0].url"."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def _plain_message(error_type: str, message: str) -> str:
    if error_type == "extra_forbidden":
        return "unknown key"
    if error_type == "missing":
        return "required key is missing"
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def _as_written(loc: KeyPath, spelled: Mapping[KeyPath, str]) -> KeyPath:
    """Swap each normalised key back to the spelling the user wrote (e.g. "entrypoints")."""
    return tuple(spelled.get(loc[: i + 1], part) for i, part in enumerate(loc))


def problems_from_validation(
    error: ValidationError,
    file: str,
    prefix: KeyPath = (),
    spelled: Mapping[KeyPath, str] | None = None,
    model: Any = None,
) -> list[ConfigProblem]:
    """Turn a pydantic ValidationError into ConfigProblems with Traefik key paths.

    `prefix` is where the validated mapping sits in the file; `spelled` maps normalised key paths
    (relative to the validated mapping) to the key as written in the file. With `model` (the validated
    model), an unknown key close to a real one says "did you mean ...".
    """
    problems: list[ConfigProblem] = []
    for item in error.errors(include_url=False):
        normalised = tuple(part for part in item["loc"] if isinstance(part, (str, int)))
        loc = _as_written(normalised, spelled or {})
        key_path = format_key_path(prefix + loc)
        message = _plain_message(item["type"], item["msg"])
        if item["type"] == "extra_forbidden" and model is not None and normalised:
            from proxy.config.base import suggest_key  # base imports this module

            suggestion = suggest_key(model, normalised)
            if suggestion:
                message += f" (did you mean {suggestion!r}?)"
            elif str(normalised[-1]).lower() == "prefixrewrite":  # stripproxy's own type, where no type goes
                message += " (prefixRewrite is a middleware type: http.middlewares.<name>.prefixRewrite)"
        problems.append(ConfigProblem(file, key_path, message))
    return problems
