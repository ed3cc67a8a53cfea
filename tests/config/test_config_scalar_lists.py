"""A scalar where Traefik takes a list: paerser (parser/element_fill.go setSlice) splits its text on commas
and trims each item, in files as in flags. Every list-of-scalars field of our models gets that treatment."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from proxy.config import ConfigError, DynamicConfig, StaticConfig, load_dynamic_file
from proxy.config.base import KeyNormaliser, _is_model, _unwrap
from proxy.config.static_sources import load_static


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('entryPoints = "https"', ["https"], id="one"),
        pytest.param('entryPoints = "web, websecure"', ["web", "websecure"], id="comma-separated-trimmed"),
        pytest.param('entryPoints = ""', [], id="empty-is-none"),
        pytest.param('entryPoints = ["web"]', ["web"], id="a-real-list"),
    ],
)
def test_router_entry_points_from_a_scalar(tmp_path: Path, text, expected):
    path = tmp_path / "dyn.toml"
    path.write_text(f'[http.routers.r]\nrule = "Path(`/`)"\nservice = "s"\n{text}\n')
    config, _ = load_dynamic_file(path)
    assert config.http.routers["r"].entry_points == expected


def test_cors_origin_list_from_a_scalar(tmp_path: Path):
    path = tmp_path / "dyn.yml"
    path.write_text(
        'http:\n  middlewares:\n    cors:\n      headers:\n        accessControlAllowOriginList: "*"\n'
        "        accessControlAllowMethods: GET, POST\n"
    )
    config, _ = load_dynamic_file(path)
    headers = config.http.middlewares["cors"].headers
    assert headers.access_control_allow_origin_list == ["*"]
    assert headers.access_control_allow_methods == ["GET", "POST"]


def test_a_number_for_a_list_of_strings(tmp_path: Path):
    path = tmp_path / "dyn.toml"
    path.write_text("[http.services.f.failover.errors]\nstatus = 500\n")
    config, _ = load_dynamic_file(path)
    assert config.http.services["f"].failover.errors.status == ["500"]


def test_static_list_from_a_scalar(tmp_path: Path):
    path = tmp_path / "traefik.yml"
    path.write_text(
        'entryPoints:\n  web:\n    address: ":80"\n    forwardedHeaders:\n'
        '      trustedIPs: "10.0.0.0/8, 127.0.0.1"\n    http:\n      middlewares: "a@file"\n'
    )
    static = load_static(path, [], {})
    web = static.entry_points["web"]
    assert web.forwarded_headers.trusted_ips == ["10.0.0.0/8", "127.0.0.1"]
    assert web.http.middlewares == ["a@file"]


def test_a_list_of_sections_still_needs_a_list(tmp_path: Path):
    path = tmp_path / "dyn.toml"
    path.write_text('[http.services.s.loadBalancer]\nservers = "http://127.0.0.1:1"\n')
    with pytest.raises(ConfigError, match="servers: Input should be a valid list"):
        load_dynamic_file(path)


def _scalar_list_fields(model: type[BaseModel], prefix: tuple[str, ...] = (), seen=None):
    """(path, model, alias) for every list-of-scalars field reachable from `model`."""
    seen = set() if seen is None else seen
    if model in seen:
        return
    seen.add(model)
    for name, field in model.model_fields.items():
        alias = field.alias or name
        annotation = _unwrap(field.annotation)
        origin = typing.get_origin(annotation)
        if origin is list:
            item = _unwrap(typing.get_args(annotation)[0])
            if not _is_model(item) and typing.get_origin(item) not in (dict, list):
                yield prefix + (alias,), model, alias
            elif _is_model(item):
                yield from _scalar_list_fields(item, prefix + (alias, "0"), seen)
        elif origin is dict and _is_model(_unwrap(typing.get_args(annotation)[1])):
            yield from _scalar_list_fields(_unwrap(typing.get_args(annotation)[1]), prefix + (alias, "<name>"), seen)
        elif _is_model(annotation):
            yield from _scalar_list_fields(annotation, prefix + (alias,), seen)


FIELDS = [*_scalar_list_fields(StaticConfig), *_scalar_list_fields(DynamicConfig)]


@pytest.mark.parametrize(("path", "model", "alias"), [pytest.param(p, m, a, id=".".join(p)) for p, m, a in FIELDS])
def test_every_list_field_splits_a_scalar(path, model, alias):
    normalised = KeyNormaliser().normalise({alias: "a, b"}, model)
    assert normalised[alias] == ["a", "b"]


def test_the_walk_found_the_fields_the_issue_names():
    names = {".".join(p) for p, _, _ in FIELDS}
    assert "http.routers.<name>.entryPoints" in names
    assert any(name.endswith("accessControlAllowOriginList") for name in names)
    assert len(names) > 20
