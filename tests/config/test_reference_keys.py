"""Every key of Traefik's reference files is either implemented or warned about (issue #12).

tests/data/traefik_reference_keys.json lists every key of Traefik's generated reference files
(docs/content/reference/{static,dynamic}-configuration/file.toml|yaml) as patterns; tests/data/traefik_reference/
holds those files with their placeholder values made valid, and check.txt what `python -m proxy check` says
about them: exactly the keys stripproxy accepts without acting on (or refuses where a router would need
them). All three are written by scripts/traefik_reference_keys.py.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxy.config import unimplemented
from proxy.config.loader import load_dynamic_file
from proxy.config.static_sources import load_static

ROOT = Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "tests" / "data"
DOCUMENTS = DATA / "traefik_reference"
TRAEFIK = Path("/work/.mirror/traefik+traefik/repo")
UPDATE = (
    "run `python scripts/traefik_reference_keys.py` (it rewrites tests/data/traefik_reference/check.txt) "
    "and review the diff"
)


def _script() -> Any:
    spec = importlib.util.spec_from_file_location(
        "traefik_reference_keys", ROOT / "scripts" / "traefik_reference_keys.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCRIPT = _script()
KEYS = json.loads((DATA / "traefik_reference_keys.json").read_text(encoding="utf-8"))
EXPECTED = (DOCUMENTS / "check.txt").read_text(encoding="utf-8").splitlines()


@pytest.mark.skipif(not TRAEFIK.exists(), reason="no Traefik checkout to read the reference files from")
def test_the_key_list_matches_traefiks_reference_files() -> None:
    derived = SCRIPT.derive(TRAEFIK, "HEAD")
    for kind in ("static", "dynamic"):
        new = sorted(set(derived[kind]) - set(KEYS[kind]))
        gone = sorted(set(KEYS[kind]) - set(derived[kind]))
        assert not new and not gone, f"Traefik's {kind} reference keys changed (new: {new}, gone: {gone}): {UPDATE}"


def test_check_on_the_reference_files_lists_exactly_the_unimplemented_keys() -> None:
    """`check` on a file using every Traefik key lists exactly what is accepted but not implemented."""
    lines = SCRIPT.check_lines(DOCUMENTS, sys.executable)
    newly_warned = sorted(set(lines) - set(EXPECTED))
    no_longer = sorted(set(EXPECTED) - set(lines))
    assert not newly_warned, (
        "keys newly warned about (or newly broken) by `check`: if stripproxy really does not act on them, "
        f"add them to tests/data/traefik_reference/check.txt ({UPDATE}); else fix the code:\n" + "\n".join(newly_warned)
    )
    assert not no_longer, (
        "keys no longer warned about: if they are implemented now, remove them from "
        f"proxy/config/unimplemented.py's tables and from tests/data/traefik_reference/check.txt ({UPDATE}):\n"
        + "\n".join(no_longer)
    )


_NAMES = re.compile(r"^(?:Router|Service|Middleware|ServersTransport|Options|Store|EntryPoint|CertificateResolver)\d+$")
_MIDDLEWARE_LINE = re.compile(
    r"^dynamic\.yaml: http\.middlewares\.\w+: (?:middleware type '(\w+)'|rateLimit: (redis\.\w+)|(\w+): (\w+))"
)


def _warned_patterns() -> set[str]:
    """The key patterns check.txt's lines are about (names as <name>)."""
    found: set[str] = set()
    for line in EXPECTED:
        middleware = _MIDDLEWARE_LINE.match(line)
        if middleware:
            kind, redis, option_of, option = middleware.groups()
            tail = kind or f"{option_of}.{option}" if not redis else f"rateLimit.{redis}"
            found.add(f"http.middlewares.<name>.{tail}")
            continue
        parts = line.split(": ")
        path = parts[1] if parts[0] in ("static.yaml", "dynamic.yaml") else parts[0]
        if path == "contentType":  # "contentType: the autoDetect option is deprecated" (as Traefik says)
            path = "http.middlewares.<name>.contentType.autoDetect"
        found.add(".".join("<name>" if _NAMES.match(part) else part for part in path.split(".")))
    return found


def _under(key: str, patterns: set[str]) -> bool:
    return any(key == pattern or key.startswith(pattern + ".") or key.startswith(pattern + "[") for pattern in patterns)


@pytest.mark.parametrize("kind", ["static", "dynamic"])
def test_every_reference_key_is_in_the_document_and_either_implemented_or_warned(kind: str) -> None:
    """A key no line of check.txt is about is implemented: it is in the loaded document and gives no warning.
    Only keys that cannot sit beside another one (mutually exclusive options, files) are left out of it."""
    document = yaml.safe_load((DOCUMENTS / f"{kind}.yaml").read_text(encoding="utf-8"))
    present = {key.replace("tls.stores.default.", "tls.stores.<name>.") for key in SCRIPT.key_patterns(document)}
    values = SCRIPT.STATIC_VALUES if kind == "static" else SCRIPT.DYNAMIC_VALUES
    dropped = {pattern for pattern, value in values.items() if value is SCRIPT.DROP}
    replaced = {pattern for pattern, value in values.items() if isinstance(value, dict)}  # set whole
    warned = _warned_patterns()
    missing = [key for key in KEYS[kind] if key not in present and not _under(key, dropped | warned | replaced)]
    assert not missing, f"reference keys absent from tests/data/traefik_reference/{kind}.yaml: {missing}"
    assert not [key for key in KEYS[kind] if _under(key, dropped) and _under(key, warned)]
    implemented = [key for key in KEYS[kind] if not _under(key, warned)]
    assert len(implemented) > (60 if kind == "static" else 200)  # most static keys are other providers'


def _field_names(model: Any, key: str) -> list[str] | None:
    """The pydantic field names along `key` (a pattern) from `model`, or None where the key falls in a loose
    mapping (a section kept as a dict: nothing reads its keys one by one)."""
    import typing

    from proxy.config.base import _is_model, _unwrap

    annotation, names = model, []
    for part in re.split(r"\.(?![^<]*>)", key):
        annotation = _unwrap(annotation)
        if part == "<name>":
            if typing.get_origin(annotation) is not dict:
                return None
            annotation = typing.get_args(annotation)[1]
            continue
        part = part.removesuffix("[]")
        if not _is_model(annotation):
            return None
        found = [(n, f) for n, f in annotation.model_fields.items() if (f.alias or n).lower() == part.lower()]
        if not found:
            return None
        names.append(found[0][0])
        annotation = _unwrap(found[0][1].annotation)
        if typing.get_origin(annotation) is list:
            annotation = typing.get_args(annotation)[0]
    return names


@pytest.mark.parametrize("kind", ["static", "dynamic"])
def test_every_key_taken_as_implemented_is_read_by_the_code(kind: str) -> None:
    """A guard against a key parsed and then silently dropped (as entryPoints.<name>.proxyProtocol was):
    each key no warning is about maps to a model field whose name the code outside proxy/config reads."""
    from proxy.config.dynamic import DynamicConfig
    from proxy.config.static import StaticConfig

    code = "\n".join(
        path.read_text(encoding="utf-8")
        for path in (ROOT / "proxy").rglob("*.py")
        if "config" not in path.relative_to(ROOT / "proxy").parts[:1]
    )
    words = set(re.findall(r"\w+", code))
    # a table entry whose reference value is what stripproxy does anyway (disableHTTP2 = true) warns for others
    warned = _warned_patterns() | {entry.pattern for entry in (*unimplemented.STATIC, *unimplemented.DYNAMIC)}
    unread, loose = [], []
    for key in KEYS[kind]:
        if _under(key, warned):
            continue
        names = _field_names(StaticConfig if kind == "static" else DynamicConfig, key)
        if names is None:
            loose.append(key)
        elif names[-1] not in words and key.rsplit(".", 1)[-1].removesuffix("[]") not in words:
            unread.append(key)
    assert not loose, f"keys kept in a loose mapping but not warned about: {loose}"
    assert not unread, (
        f"keys no code reads (implement them, or add them to proxy/config/unimplemented.py and {UPDATE}): {unread}"
    )


def _first_value(document: Any, parts: list[str]) -> tuple[list[str], Any]:
    """The concrete path and value of the first key matching `parts` (a pattern split on dots)."""
    if not parts:
        return [], document
    head, rest = parts[0], parts[1:]
    for key in document if head in ("<name>", "<any>") else [head]:  # the first name the rest is found under
        try:
            path, value = _first_value(document[key], rest)
        except (KeyError, TypeError, StopIteration):
            continue
        return [key, *path], value
    raise KeyError(".".join(parts))


def _nested(path: list[str], value: Any) -> dict[str, Any]:
    result: Any = value
    for part in reversed(path):
        result = {part: result}
    return result


def _case(entry: unimplemented.Unimplemented, kind: str) -> Any:
    return pytest.param(entry, kind, id=entry.pattern)


@pytest.mark.parametrize(
    ("entry", "kind"),
    [_case(entry, "static") for entry in unimplemented.STATIC]
    + [_case(entry, "dynamic") for entry in unimplemented.DYNAMIC],
)
def test_each_unimplemented_key_alone_in_a_minimal_file_is_warned_about(
    tmp_path: Path, entry: unimplemented.Unimplemented, kind: str
) -> None:
    """The key placed in a minimal valid file (its value from the reference document): one warning naming the
    file and the key path as written, saying what the user gets instead."""
    document = yaml.safe_load((DOCUMENTS / f"{kind}.yaml").read_text(encoding="utf-8"))
    path, value = _first_value(document, entry.pattern.split("."))
    if entry.same_as_ours is not None and entry.same_as_ours(value) and isinstance(value, bool):
        value = not value  # the reference's value is what stripproxy does anyway: ask for the other one
    if kind == "static" and path[0] == "entryPoints":
        value = _nested(path[2:], value) | {"address": "127.0.0.1:0"}
        path = path[:2]
    written = tmp_path / f"{kind}.yaml"
    written.write_text(yaml.safe_dump(_nested(path, value)), encoding="utf-8")
    if kind == "static":
        warnings = load_static(written, [], {}).warnings
    else:
        warnings = load_dynamic_file(written)[1]
    expected = ".".join(_first_value(document, entry.pattern.split("."))[0])
    assert [str(w) for w in warnings] == [f"{written}: {expected}: accepted but not implemented: {entry.instead}"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("[global]\ncheckNewVersion = false\nsendAnonymousUsage = false\n", [], id="global-off"),
        pytest.param("[global]\ncheckNewVersion = true\n", ["global.checkNewVersion"], id="global-on"),
        pytest.param('[log]\nlevel = "INFO"\nmaxSize = 0\ncompress = false\n', [], id="log-rotation-off"),
        pytest.param("[log]\nmaxBackups = 3\n", ["log.maxBackups"], id="log-rotation-on"),
        pytest.param(
            '[entryPoints.web]\naddress = ":80"\n[entryPoints.web.http]\nunderscoreHeadersStrategy = "keep"\n',
            [],
            id="underscore-keep",
        ),
        pytest.param(
            '[entryPoints.web]\naddress = ":80"\n[entryPoints.web.transport]\nKeepAliveMaxTime = "10s"\n',
            ["entryPoints.web.transport.KeepAliveMaxTime"],
            id="spelled-as-written",
        ),
    ],
)
def test_a_value_that_asks_for_what_stripproxy_does_is_not_warned_about(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    path = tmp_path / "traefik.toml"
    path.write_text(text, encoding="utf-8")
    warnings = load_static(path, [], {}).warnings
    assert [w.key_path for w in warnings] == expected


def test_strict_refuses_an_unimplemented_key(tmp_path: Path) -> None:
    """The real CLI: `--strict` does not start on a key it would not act on; without it, it is a warning."""
    static = tmp_path / "traefik.toml"
    static.write_text(
        '[entryPoints.web]\naddress = "127.0.0.1:0"\n[entryPoints.web.transport]\nkeepAliveMaxRequests = 10\n'
        '[providers.file]\nfilename = "dynamic.toml"\n',
        encoding="utf-8",
    )
    (tmp_path / "dynamic.toml").write_text(
        '[http.routers.r]\nrule = "PathPrefix(`/`)"\nservice = "s"\n'
        '[[http.services.s.loadBalancer.servers]]\nurl = "http://127.0.0.1:9"\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "proxy", "--config", str(static), "--strict"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 1
    assert f"{static}: entryPoints.web.transport.keepAliveMaxRequests: accepted but not implemented" in done.stderr
    assert "--strict: not starting: 1 problem(s)" in done.stderr


def test_the_fixtures_gateway_refuses_an_unimplemented_key(tmp_path: Path) -> None:
    from proxy.config.errors import ConfigError
    from proxy.server.gateway import Gateway

    dynamic = tmp_path / "dynamic.toml"
    dynamic.write_text(
        '[http.routers.r]\nrule = "PathPrefix(`/`)"\nservice = "s"\n[http.routers.r.observability]\ntracing = true\n'
        '[[http.services.s.loadBalancer.servers]]\nurl = "http://127.0.0.1:9"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        Gateway(dynamic, free_ports=True, strict=True)
    assert str(info.value) == (
        f"{dynamic}: http.routers.r.observability.tracing: accepted but not implemented: {unimplemented._NO_TRACES}"
    )
    Gateway(dynamic, free_ports=True)  # not strict: served, with the warning


def test_a_router_needing_spiffe_from_the_static_transport_is_disabled_with_the_reason(tmp_path: Path) -> None:
    """Never served in a weaker form: without SPIFFE the default transport would reach servers unchecked."""
    from proxy.server.gateway import Gateway

    static = tmp_path / "traefik.toml"
    static.write_text(
        '[entryPoints.web]\naddress = "127.0.0.1:0"\n[serversTransport.spiffe]\nids = ["spiffe://a/b"]\n'
        '[providers.file]\nfilename = "dynamic.toml"\n',
        encoding="utf-8",
    )
    (tmp_path / "dynamic.toml").write_text(
        '[http.routers.r]\nrule = "PathPrefix(`/`)"\nservice = "s"\n'
        '[[http.services.s.loadBalancer.servers]]\nurl = "http://127.0.0.1:9"\n',
        encoding="utf-8",
    )
    gateway = Gateway(static, free_ports=True)
    assert "r@file" not in gateway.routers
    assert gateway.problems == [
        "service s@file: the default serversTransport (static serversTransport.spiffe): spiffe is not supported",
        "router r@file: service 's' is broken: the default serversTransport (static serversTransport.spiffe): "
        "spiffe is not supported",
    ]


def test_the_readme_lists_every_unimplemented_key() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [
        entry.pattern
        for entry in (*unimplemented.STATIC, *unimplemented.DYNAMIC)
        if f"| `{entry.pattern}` |" not in readme
    ]
    assert not missing, f"README.md's table of keys accepted but not implemented lacks {missing}"
