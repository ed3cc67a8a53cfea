"""Property tests of the config loader: arbitrary TOML/YAML text and arbitrary config-shaped mappings give a
model or a ConfigError whose every problem names the file, a key path and what is wrong; never another
exception. A dynamic model that validates also builds (routers disabled with a reason, never a crash).

The mappings are drawn from the models' own key vocabulary (every alias of every config section, so the
generator reaches deep into routers, services and each middleware's options), mixed with stray keys and
every kind of scalar a YAML file can hold (null, booleans, huge and negative numbers, NaN, dates, text).
"""

from __future__ import annotations

import datetime
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from prop_settings import budget
from pydantic import BaseModel

from proxy.config.base import TraefikModel
from proxy.config.dynamic import DynamicConfig
from proxy.config.errors import ConfigError
from proxy.config.loader import (
    DYNAMIC_ROOT_KEYS,
    STATIC_ROOT_KEYS,
    load_dynamic_file,
    read_config_file,
    validate_section,
)
from proxy.config.static import EntryPointConfig, StaticConfig
from proxy.server.gateway import Gateway


def _vocabulary() -> list[str]:
    """Every key spelling a config section accepts (the camelCase aliases), from the models themselves."""
    keys: set[str] = set()
    seen: set[type[BaseModel]] = set()
    todo: list[type[BaseModel]] = [DynamicConfig, StaticConfig]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            keys.add(field.alias or name)
        todo += [sub for sub in model.__subclasses__() if issubclass(sub, TraefikModel)]
    todo = list(TraefikModel.__subclasses__())
    while todo:  # sections reachable only through annotations are subclasses of TraefikModel too
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            keys.add(field.alias or name)
        todo += model.__subclasses__()
    return sorted(keys)


VOCABULARY = _vocabulary()
NAMES = st.sampled_from(["app", "web", "a@file", "b", ""])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, -1, 65535, 65536]),
    st.floats(allow_nan=True),
    st.just(math.inf),
    st.dates(),
    st.just(datetime.datetime(2026, 1, 1)),
    st.text(max_size=12),
    st.sampled_from(
        [
            "10s",
            "-1",
            "1h",
            "0",
            "true",
            "false",
            "http://127.0.0.1:1",
            "127.0.0.1:0",
            ":80",
            "Host(`a.test`)",
            "PathPrefix(`/api`)",
            "^/api(.*)",
            "/$1",
            "10.0.0.0/8",
            "::1",
            "(",
            "*",
            "admin:$apr1$x$y",
            "X-Forwarded-For",
            "web",
            "app",
            "v2",
            "v3",
        ]
    ),
)
KEYS = st.one_of(
    st.sampled_from(VOCABULARY), st.sampled_from(VOCABULARY).map(str.lower), st.text(max_size=8), st.integers(-3, 3)
)


def values(depth: int = 3) -> st.SearchStrategy[Any]:
    return st.recursive(
        SCALARS,
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=5)),
        max_leaves=12,
    )


def sections(kinds: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """{name: {kind: options}}: how routers' siblings (middlewares, services) are spelled."""
    return st.dictionaries(
        NAMES,
        st.one_of(
            st.dictionaries(st.sampled_from(kinds), st.dictionaries(KEYS, values(), max_size=5), max_size=2), values()
        ),
        max_size=3,
    )


MIDDLEWARE_KINDS = [
    "stripPrefix",
    "stripPrefixRegex",
    "addPrefix",
    "replacePath",
    "replacePathRegex",
    "headers",
    "basicAuth",
    "digestAuth",
    "forwardAuth",
    "ipAllowList",
    "ipWhiteList",
    "rateLimit",
    "inFlightReq",
    "compress",
    "buffering",
    "retry",
    "circuitBreaker",
    "chain",
    "errors",
    "redirectRegex",
    "redirectScheme",
    "contentType",
    "passTLSClientCert",
    "grpcWeb",
    "plugin",
]
SERVICE_KINDS = ["loadBalancer", "weighted", "mirroring", "failover", "highestRandomWeight"]

DYNAMIC = st.fixed_dictionaries(
    {},
    optional={
        "http": st.fixed_dictionaries(
            {},
            optional={
                "routers": st.dictionaries(NAMES, st.dictionaries(KEYS, values(), max_size=6) | values(), max_size=3),
                "middlewares": sections(MIDDLEWARE_KINDS),
                "services": sections(SERVICE_KINDS),
                "serversTransports": st.dictionaries(NAMES, values(), max_size=2),
            },
        )
        | values(),
        "tls": values(),
        "tcp": values(),
        "extra": values(),
    },
)
STATIC = st.dictionaries(
    st.sampled_from(
        [
            "entryPoints",
            "providers",
            "log",
            "accessLog",
            "api",
            "ping",
            "metrics",
            "serversTransport",
            "core",
            "global",
            "experimental",
            "other",
        ]
    ),
    st.dictionaries(KEYS, values(), max_size=4) | values(),
    max_size=4,
)


def check_problems(error: ConfigError, file: str) -> None:
    assert error.problems
    for problem in error.problems:
        assert problem.file == file, problem
        assert problem.message, problem
        assert str(problem).startswith(file)


@budget(150)
@given(raw=DYNAMIC)
def test_dynamic_mappings_give_a_model_or_a_config_error(raw: dict[str, Any]) -> None:
    try:
        model, warnings = validate_section(raw, DynamicConfig, "dyn.yaml", DYNAMIC_ROOT_KEYS)
    except ConfigError as error:
        check_problems(error, "dyn.yaml")
        # a problem inside a section names its key path (the file as a whole is only blamed at the top)
        assert all(problem.key_path for problem in error.problems if "http" in raw), error
        return
    assert all(problem.file == "dyn.yaml" for problem in warnings)
    gateway = Gateway(StaticConfig(entry_points={"web": EntryPointConfig(address="127.0.0.1:0")}))
    result = gateway.build(model)  # broken routers are disabled with a reason, never raise
    for problem in result.problems:
        assert str(problem)


@budget(100)
@given(raw=STATIC)
def test_static_mappings_give_a_model_or_a_config_error(raw: dict[str, Any]) -> None:
    try:
        validate_section(raw, StaticConfig, "traefik.yaml", STATIC_ROOT_KEYS)
    except ConfigError as error:
        check_problems(error, "traefik.yaml")
        assert all(problem.key_path for problem in error.problems), error


@pytest.mark.parametrize("suffix", [".yaml", ".toml"])
@budget(150)
@given(
    text=st.one_of(
        st.text(max_size=80),
        st.lists(
            st.sampled_from(
                [
                    "[http.routers.a]",
                    "http:",
                    "  routers:",
                    "    a: {rule: x}",
                    "rule = 'x'",
                    "&a",
                    "*a",
                    "<<: *a",
                    "!!python/object:os.system",
                    "{{ .X }}",
                    "{{",
                    "- 1",
                    "x = [1,",
                    "\t",
                    "a = 1979-05-27T07:32:00Z",
                    "key: value",
                    '"',
                    "'",
                    "---",
                    "...",
                    "? x",
                    "%YAML 1.1",
                    "[[tls.certificates]]",
                    "certFile = 1",
                    "0x1F",
                    "inf",
                    "nan",
                ]
            ),
            max_size=10,
        ).map("\n".join),
    )
)
def test_config_text_gives_a_mapping_or_a_config_error(
    tmp_path_factory: pytest.TempPathFactory, suffix: str, text: str
) -> None:
    path = tmp_path_factory.mktemp("cfg") / f"dyn{suffix}"
    path.write_text(text, encoding="utf-8")
    try:
        raw = read_config_file(path, template=True)
    except ConfigError as error:
        check_problems(error, str(path))
        return
    assert isinstance(raw, dict)
    try:
        validate_section(raw, DynamicConfig, str(path), DYNAMIC_ROOT_KEYS)
    except ConfigError as error:
        check_problems(error, str(path))


@budget(80)
@given(raw=DYNAMIC)
def test_yaml_files_load_like_their_mapping(tmp_path_factory: pytest.TempPathFactory, raw: dict[str, Any]) -> None:
    """The same mapping through a real file and load_dynamic_file: the same verdict, the file named."""
    path = tmp_path_factory.mktemp("cfg") / "dyn.yml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    try:
        expected: Any = validate_section(
            yaml.safe_load(path.read_text()) or {}, DynamicConfig, str(path), DYNAMIC_ROOT_KEYS
        )[0]
    except ConfigError as error:
        expected = [(problem.key_path, problem.message) for problem in error.problems]
    try:
        got: Any = load_dynamic_file(path)[0]
    except ConfigError as error:
        check_problems(error, str(path))
        got = [(problem.key_path, problem.message) for problem in error.problems]
    assert got == expected


def test_vocabulary_reaches_the_middlewares() -> None:
    """The generator would be shallow if the vocabulary missed the middleware options."""
    for key in (
        "prefixes",
        "regex",
        "replacement",
        "sourceRange",
        "ipStrategy",
        "authResponseHeaders",
        "maxRequestBodyBytes",
        "average",
        "amount",
        "servers",
        "passHostHeader",
    ):
        assert key in VOCABULARY, key
    assert Path(__file__).exists()
