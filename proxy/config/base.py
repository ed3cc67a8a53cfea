"""Shared pieces of the config models: the strict base model, Traefik-style scalars, key normalisation.

Traefik (paerser) turns every file scalar into text and parses it into the target field type, and it matches
keys to fields case-insensitively. We mirror both: scalars are coerced the way Go parses them, and
`normalise_keys` renames keys to the model's spelling before pydantic validates.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic.alias_generators import to_camel

from proxy.config.durations import _go_number_text
from proxy.config.errors import KeyPath


class TraefikModel(BaseModel):
    """Base of every config section: Traefik's key spelling, unknown keys rejected."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        frozen=False,
    )


def _to_go_string(value: Any) -> Any:
    """A file scalar as the text paerser would make of it (numbers and booleans become strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _go_number_text(value)
    return value


_GO_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_GO_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def _to_go_bool(value: Any) -> Any:
    """strconv.ParseBool on the scalar's text form."""
    if isinstance(value, bool):
        return value
    text = _to_go_string(value)
    if isinstance(text, str):
        if text in _GO_TRUE:
            return True
        if text in _GO_FALSE:
            return False
        raise ValueError(f"invalid boolean {value!r} (use true or false)")
    return value


TraefikStr = Annotated[str, BeforeValidator(_to_go_string)]
GoBool = Annotated[bool, BeforeValidator(_to_go_bool)]
LooseDict = dict[str, Any]


# ----------------------------------------------------------------------------------------- key normalisation
def _unwrap(annotation: Any) -> Any:
    """Strip Annotated[...] and `X | None` down to X."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            candidates = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            annotation = candidates[0] if len(candidates) == 1 else Any
        else:
            return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _field_lookup(model: type[BaseModel]) -> dict[str, tuple[str, Any]]:
    """lower-cased key -> (canonical alias, field annotation)."""
    lookup: dict[str, tuple[str, Any]] = {}
    for name, field in model.model_fields.items():
        alias = field.alias or name
        lookup[alias.lower()] = (alias, field.annotation)
    return lookup


class KeyNormaliser:
    """Walks a raw mapping alongside a model and renames keys to the model's spelling.

    User-chosen map keys (router names, header names) are kept verbatim. `None` values are dropped, as
    paerser skips them. `true`/`false` given for a whole section means "enabled with defaults"/"absent".
    """

    def __init__(self, split_csv: bool = False) -> None:
        self.split_csv = split_csv  # kept for callers; every source splits a scalar given for a list
        self.spelled: dict[KeyPath, str] = {}  # normalised path -> key as the user wrote it
        self.duplicates: list[tuple[KeyPath, str]] = []

    def normalise(self, raw: Any, annotation: Any, path: KeyPath = ()) -> Any:
        annotation = _unwrap(annotation)
        if _is_model(annotation):
            return self._model(raw, annotation, path)
        origin = typing.get_origin(annotation)
        if origin is dict and (raw is True or raw == "true"):
            return {}  # a whole section switched on with its defaults
        if origin is list and not isinstance(raw, (list, dict)) and raw is not None:
            raw = self._scalar_as_list(raw, typing.get_args(annotation)[0] if typing.get_args(annotation) else Any)
        if origin is dict and isinstance(raw, dict):
            value_type = typing.get_args(annotation)[1]
            return {key: self.normalise(val, value_type, path + (key,)) for key, val in raw.items() if val is not None}
        if origin is list and isinstance(raw, list):
            item_type = typing.get_args(annotation)[0]
            return [self.normalise(item, item_type, path + (i,)) for i, item in enumerate(raw)]
        return raw

    @staticmethod
    def _scalar_as_list(raw: Any, item_type: Any) -> Any:
        """A scalar where a list of scalars is expected: paerser (parser/element_fill.go setSlice) takes its
        text, splits it on commas and trims each item; empty text is an empty list. So `entryPoints =
        "web, websecure"` is ["web", "websecure"], in a file as in a flag. A list of sections stays an
        error (pydantic reports it)."""
        item = _unwrap(item_type)
        if _is_model(item) or typing.get_origin(item) in (dict, list):
            return raw
        text = _to_go_string(raw)
        if not isinstance(text, str):
            return raw
        return [part.strip() for part in text.split(",")] if text else []

    def _model(self, raw: Any, model: type[BaseModel], path: KeyPath) -> Any:
        if raw is True or raw == "true":
            return {}
        if not isinstance(raw, dict):
            return raw
        lookup = _field_lookup(model)
        result: dict[Any, Any] = {}
        for key, value in raw.items():
            match = lookup.get(key.lower()) if isinstance(key, str) else None
            if match is None:
                if value is not None:
                    result[key] = value  # pydantic reports it as an unknown key, spelled as written
                continue
            canonical, field_type = match
            if value is None or (value is False or value == "false") and _is_model(_unwrap(field_type)):
                continue
            if canonical in result:
                self.duplicates.append((path + (canonical,), key))
                continue
            if key != canonical:
                self.spelled[path + (canonical,)] = key
            result[canonical] = self.normalise(value, field_type, path + (canonical,))
        return result


def normalise_keys(raw: Any, model: type[BaseModel]) -> tuple[Any, KeyNormaliser]:
    normaliser = KeyNormaliser()
    return normaliser.normalise(raw, model), normaliser


def exactly_one_set(model: BaseModel, kind: str) -> str:
    """The name (as Traefik spells it) of the single section set on `model`; ValueError otherwise."""
    chosen = [
        field.alias or name
        for name, field in type(model).model_fields.items()
        if getattr(model, name) is not None and name not in _NOT_A_TYPE
    ]
    if not chosen:
        raise ValueError(f"invalid {kind} configuration: no {kind} type is set")
    if len(chosen) > 1:
        raise ValueError(
            f"multi-types {kind} not supported ({', '.join(chosen)}), "
            f"consider declaring two different pieces of {kind} instead"
        )
    return chosen[0]


# Fields that sit next to the type sections without being one (ServiceConfig.middlewares).
_NOT_A_TYPE = {"middlewares"}


def suggest_key(model: type[BaseModel], loc: tuple[str | int, ...]) -> str | None:
    """For an unknown key at `loc` (normalised key path from `model`), the closest key Traefik has there
    (difflib), e.g. "rulee" -> "rule"; None when nothing is close."""
    import difflib  # only a misspelt file pays for it

    annotation: Any = model
    for part in loc[:-1]:
        annotation = _unwrap(annotation)
        origin = typing.get_origin(annotation)
        if _is_model(annotation):
            field = next((f for n, f in annotation.model_fields.items() if (f.alias or n) == part), None)
            if field is None:
                return None
            annotation = field.annotation
        elif origin is dict:
            annotation = typing.get_args(annotation)[1]
        elif origin is list:
            annotation = typing.get_args(annotation)[0]
        else:
            return None
    annotation = _unwrap(annotation)
    if not _is_model(annotation) or not isinstance(loc[-1], str):
        return None
    names = [field.alias or name for name, field in annotation.model_fields.items()]
    by_lower = {name.lower(): name for name in names}
    close = difflib.get_close_matches(loc[-1].lower(), list(by_lower), n=1, cutoff=0.75)
    return by_lower[close[0]] if close else None
