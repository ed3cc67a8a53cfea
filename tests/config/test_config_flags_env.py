"""Static settings as Traefik reads them: paerser's flag parser (flag/flagparser.go), its EqualFold node
merge (parser/labels_decode.go), cmd/traefik/logger.go getLogLevel, and which source counts
(pkg/cli loaders: the file, else the flags, else the environment; our flags also override the file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.config.static import effective_log_level
from proxy.config.static_sources import _nest, load_static, parse_flags


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(["--api"], {"api": "true"}, id="bare-section"),
        pytest.param(["--api.insecure"], {"api.insecure": "true"}, id="bare-bool"),
        pytest.param(["--providers.docker"], {"providers.docker": "true"}, id="bare-optional-section"),
        pytest.param(
            ["--providers.docker", "--api"],
            {"providers.docker": "true", "api": "true"},
            id="bare-does-not-take-the-next-flag",
        ),
        pytest.param(["--log.level", "DEBUG"], {"log.level": "DEBUG"}, id="value-as-next-word"),
        pytest.param(
            ["--metrics.prometheus", "--api"],
            {"metrics.prometheus": "true", "api": "true"},
            id="bare-key-in-a-loose-section-before-a-flag",
        ),
        pytest.param(
            ["--metrics.prometheus.buckets", "0.1"], {"metrics.prometheus.buckets": "0.1"}, id="loose-key-with-a-value"
        ),
        pytest.param(["--log.level=DEBUG", "--LOG.LEVEL=INFO"], {"log.level": "INFO"}, id="repeat-last-wins"),
        pytest.param(
            ["--providers.precedence=a", "--providers.precedence=b"],
            {"providers.precedence": "a,b"},
            id="repeated-list-adds-up",
        ),
        pytest.param(
            [
                "--entryPoints.web.forwardedHeaders.trustedIPs=10.0.0.1",
                "--entrypoints.web.forwardedheaders.trustedips=10.0.0.2",
            ],
            {"entryPoints.web.forwardedHeaders.trustedIPs": "10.0.0.1,10.0.0.2"},
            id="first-spelling-kept",
        ),
    ],
)
def test_parse_flags(argv, expected):
    assert parse_flags(argv) == expected


def test_nest_merges_case_insensitively():
    nested = _nest({"entrypoints.web.address": ":80", "entryPoints.Web.transport.lifeCycle.graceTimeOut": "1s"})
    assert nested == {"entrypoints": {"web": {"address": ":80", "transport": {"lifeCycle": {"graceTimeOut": "1s"}}}}}


def test_flags_differing_in_case_are_one_entry_point():
    static = load_static(
        None, ["--entrypoints.web.address=:81", "--entryPoints.web.transport.respondingTimeouts.readTimeout=5s"], {}
    )
    assert list(static.entry_points) == ["web"]
    assert static.entry_points["web"].address == ":81"
    assert static.entry_points["web"].transport.responding_timeouts.read_timeout == 5.0


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        pytest.param("debug", "DEBUG", id="lower"),
        pytest.param("WARN", "WARN", id="warn"),
        pytest.param("", "ERROR", id="empty-default"),
        pytest.param("disabled", "DISABLED", id="disabled"),
        pytest.param("-1", "TRACE", id="numeric-trace"),
        pytest.param("2", "WARN", id="numeric-warn"),
        pytest.param("WARNING", None, id="warning-is-not-a-zerolog-level"),
        pytest.param("loud", None, id="unknown"),
    ],
)
def test_effective_log_level(level, expected):
    assert effective_log_level(level) == expected


@pytest.mark.parametrize(
    ("text", "level", "warned"),
    [
        pytest.param('[log]\nlevel = "WARNING"\n', "ERROR", True, id="fallback"),
        pytest.param('[log]\nlevel = "info"\n', "INFO", False, id="known"),
    ],
)
def test_unknown_log_level_falls_back_with_a_warning(tmp_path: Path, text, level, warned):
    path = tmp_path / "traefik.toml"
    path.write_text(text)
    static = load_static(path, [], {})
    assert static.log.level == level
    messages = [str(w) for w in static.warnings]
    assert any(m.startswith(f"{path}: log.level: unknown log level") for m in messages) is warned


def test_other_providers_are_warned_about_by_source(tmp_path: Path):
    path = tmp_path / "traefik.yml"
    path.write_text("providers:\n  docker: {}\n  file:\n    filename: dyn.toml\n")
    static = load_static(path, ["--providers.kubernetesCRD"], {}, flags_over_file=True)
    assert [str(w) for w in static.warnings] == [
        f"{path}: providers.docker: provider docker is not available here; its routers are not served "
        "(only the file provider is)",
        "command line: providers.kubernetesCRD: provider kubernetesCRD is not available here; its routers are "
        "not served (only the file provider is)",
    ]


def test_debug_log_generated_template_is_warned_about(tmp_path: Path):
    path = tmp_path / "traefik.toml"
    path.write_text('[providers.file]\nfilename = "dyn.toml"\ndebugLogGeneratedTemplate = true\n')
    assert [str(w) for w in load_static(path, [], {}).warnings] == [
        f"{path}: providers.file.debugLogGeneratedTemplate: accepted but not implemented: rendered templates are "
        "not logged (a template error still names the file and the line)"
    ]


ENV = {"TRAEFIK_ENTRYPOINTS_WEB_ADDRESS": ":7", "TRAEFIK_WHITELIST_IP_DASHBOARD": "10.0.0.1"}


@pytest.mark.parametrize(
    ("use_file", "argv", "expected"),
    [
        pytest.param(True, [], {"web": ":1"}, id="file-alone-env-ignored"),
        pytest.param(True, ["--entrypoints.web.address=:2"], {"web": ":2"}, id="flags-over-file-env-ignored"),
        pytest.param(False, ["--entrypoints.other.address=:3"], {"other": ":3"}, id="flags-alone-env-ignored"),
        pytest.param(False, [], None, id="environment-alone-is-read"),
    ],
)
def test_which_sources_count(tmp_path: Path, use_file, argv, expected):
    path = tmp_path / "traefik.toml"
    path.write_text('[entryPoints.web]\naddress = ":1"\n')
    environ = dict(ENV)
    if expected is None:
        environ.pop("TRAEFIK_WHITELIST_IP_DASHBOARD")  # not a static key: alone it would be an unknown key
        expected = {"web": ":7"}
    static = load_static(path if use_file else None, argv, environ, flags_over_file=True)
    assert {name: ep.address for name, ep in static.entry_points.items()} == expected
