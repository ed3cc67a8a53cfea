"""Static configuration: models and defaults (Traefik pkg/config/static), file / flags / environment sources
(Traefik pkg/cli/loader_*.go, paerser flag/flagparser.go and env/env.go)."""

from pathlib import Path

import pytest

from proxy.config import ConfigError, load_static, split_address, static_flag_help

GUIDE_STATIC_TOML = """
[entryPoints]
  [entryPoints.http]
    address = ":9999"

[providers]
  [providers.file]
    filename = "routes.toml"
"""

GUIDE_STATIC_YAML = """
entryPoints:
  http:
    address: ":9999"
providers:
  file:
    filename: routes.toml
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("name", "text"),
    [
        pytest.param("traefik.toml", GUIDE_STATIC_TOML, id="toml"),
        pytest.param("traefik.yaml", GUIDE_STATIC_YAML, id="yaml"),
        pytest.param(
            "traefik.toml",
            GUIDE_STATIC_TOML.replace("entryPoints", "ENTRYPOINTS").replace("filename", "FileName"),
            id="keys-any-case",
        ),
    ],
)
def test_fastapi_guide_static_loads_with_defaults(tmp_path, name, text):
    path = _write(tmp_path, name, text)
    config = load_static(path, [], {})
    assert list(config.entry_points) == ["http"]
    entry = config.entry_points["http"]
    assert (entry.address, entry.host, entry.port, entry.protocol) == (":9999", "", 9999, "tcp")
    timeouts = entry.transport.responding_timeouts
    assert (timeouts.read_timeout, timeouts.write_timeout, timeouts.idle_timeout) == (60.0, 0.0, 180.0)
    assert entry.transport.life_cycle.grace_time_out == 10.0
    assert entry.transport.life_cycle.request_accept_grace_timeout == 0.0
    assert entry.http.sanitize_path is True and entry.http.encode_query_semicolons is False
    assert entry.http.encoded_characters.allow_encoded_slash is True
    assert entry.forwarded_headers.trusted_ips == [] and entry.forwarded_headers.insecure is False
    assert config.providers.file.filename == "routes.toml"
    assert config.providers.file.watch is True
    assert config.log.level == "ERROR"
    assert config.source_file == path


def test_entry_point_options(tmp_path):
    text = (
        GUIDE_STATIC_TOML
        + """
[entryPoints.http.forwardedHeaders]
  trustedIPs = ["127.0.0.1/32"]
[entryPoints.http.http]
  middlewares = ["auth@file"]
  encodeQuerySemicolons = true
[entryPoints.http.http.redirections.entryPoint]
  to = "websecure"
[entryPoints.http.transport.respondingTimeouts]
  readTimeout = "5s"
  idleTimeout = 30
"""
    )
    entry = load_static(_write(tmp_path, "traefik.toml", text), [], {}).entry_points["http"]
    assert entry.forwarded_headers.trusted_ips == ["127.0.0.1/32"]
    assert entry.http.middlewares == ["auth@file"] and entry.http.encode_query_semicolons is True
    redirect = entry.http.redirections.entry_point
    assert (redirect.to, redirect.scheme, redirect.permanent, redirect.priority) == (
        "websecure",
        "https",
        True,
        2**63 - 2,
    )
    assert entry.transport.responding_timeouts.read_timeout == 5.0
    assert entry.transport.responding_timeouts.idle_timeout == 30.0


def test_no_entry_point_means_http_on_port_80(tmp_path):
    config = load_static(_write(tmp_path, "traefik.toml", '[log]\nlevel = "debug"\n'), [], {})
    assert config.entry_points["http"].address == ":80"
    assert config.log.level == "DEBUG"


@pytest.mark.parametrize(
    ("address", "parts"),
    [
        pytest.param(":9999", ("", 9999, "tcp"), id="port-only"),
        pytest.param("127.0.0.1:80", ("127.0.0.1", 80, "tcp"), id="ipv4"),
        pytest.param("[::1]:80", ("::1", 80, "tcp"), id="ipv6"),
        pytest.param(":80/tcp", ("", 80, "tcp"), id="tcp"),
        pytest.param(":53/UDP", ("", 53, "udp"), id="udp-any-case"),
    ],
)
def test_split_address(address, parts):
    assert split_address(address) == parts


@pytest.mark.parametrize(
    ("address", "message"),
    [
        pytest.param(":80/sctp", "invalid protocol: sctp", id="protocol"),
        pytest.param("localhost", "address localhost: missing port in address", id="no-port"),
        pytest.param(":http", "address :http: invalid port 'http'", id="named-port"),
        pytest.param(
            "::1:80", "address ::1:80: too many colons in address (write IPv6 hosts as [::1]:80)", id="bare-ipv6"
        ),
    ],
)
def test_bad_addresses_are_reported(tmp_path, monkeypatch, address, message):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, "traefik.toml", f'[entryPoints.web]\naddress = "{address}"\n')
    with pytest.raises(ConfigError) as info:
        load_static(Path("traefik.toml"), [], {})
    assert str(info.value) == f"traefik.toml: entryPoints.web.address: {message}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            '[entryPoints.web]\naddres = ":80"\n',
            "traefik.toml: entryPoints.web.addres: unknown key (did you mean 'address'?)",
            id="unknown-nested",
        ),
        pytest.param(
            '[providers.file]\nwatch = "often"\n',
            "traefik.toml: providers.file.watch: invalid boolean 'often' (use true or false)",
            id="bool",
        ),
        pytest.param(
            '[providers.fiel]\nfilename = "x"\n',
            "traefik.toml: providers.fiel: unknown key (did you mean 'file'?)",
            id="unknown-provider",
        ),
    ],
)
def test_static_file_errors(tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, "traefik.toml", text)
    with pytest.raises(ConfigError) as info:
        load_static(Path("traefik.toml"), [], {})
    assert str(info.value) == message


def test_unknown_top_level_key_is_a_warning(tmp_path):
    path = _write(tmp_path, "traefik.toml", GUIDE_STATIC_TOML + "[entrypionts.x]\naddress = ':1'\n")
    config = load_static(path, [], {})
    assert [str(w) for w in config.warnings] == [f"{path}: entrypionts: unknown top-level key, ignored"]


# ------------------------------------------------------------------------------------------------ flags / env


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--entrypoints.web.address=:8081", "--providers.file.filename=x.toml"], id="equals"),
        pytest.param(["--entryPoints.web.address", ":8081", "--providers.file.filename", "x.toml"], id="two-tokens"),
        pytest.param(["--ENTRYPOINTS.web.ADDRESS=:8081", "--Providers.File.FileName=x.toml"], id="any-case"),
    ],
)
def test_flags_alone(argv):
    config = load_static(None, argv, {})
    assert config.entry_points["web"].address == ":8081"
    assert config.providers.file.filename == "x.toml"
    assert config.source_file is None


def test_boolean_flag_without_value_does_not_take_the_next_word():
    config = load_static(None, ["--providers.file.watch", "--log.level", "DEBUG", "--api"], {})
    assert config.providers.file.watch is True
    assert config.log.level == "DEBUG"
    assert config.api is not None and config.api.dashboard is True


def test_list_flags_split_on_commas_and_add_up():
    argv = [
        "--entrypoints.web.address=:1",
        "--entrypoints.web.forwardedHeaders.trustedIPs=10.0.0.1,10.0.0.2",
        "--entrypoints.web.forwardedHeaders.trustedIPs=10.0.0.3",
    ]
    entry = load_static(None, argv, {}).entry_points["web"]
    assert entry.forwarded_headers.trusted_ips == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]


def test_environment_alone():
    environ = {
        "TRAEFIK_ENTRYPOINTS_WEB_ADDRESS": ":8081",
        "TRAEFIK_PROVIDERS_FILE_FILENAME": "r.yml",
        "TRAEFIK_LOG_LEVEL": "INFO",
        "PATH": "/bin",
    }
    config = load_static(None, [], environ)
    assert config.entry_points["web"].address == ":8081"
    assert config.providers.file.filename == "r.yml"
    assert config.log.level == "INFO"


ENVIRON = {"TRAEFIK_LOG_LEVEL": "INFO", "TRAEFIK_ENTRYPOINTS_HTTP_ADDRESS": ":7000"}


def test_sources_are_exclusive_like_traefik(tmp_path):
    # Traefik uses the file if there is one, else the flags, else the environment - never a mix.
    path = _write(tmp_path, "traefik.toml", GUIDE_STATIC_TOML)
    from_file = load_static(path, ["--log.level=DEBUG"], ENVIRON)
    assert (from_file.log.level, from_file.entry_points["http"].address) == ("ERROR", ":9999")
    from_flags = load_static(None, ["--log.level=DEBUG"], ENVIRON)
    assert from_flags.log.level == "DEBUG" and list(from_flags.entry_points) == ["http"]
    assert from_flags.entry_points["http"].address == ":80"


def test_layered_flags_over_environment_over_file(tmp_path):
    path = _write(tmp_path, "traefik.toml", GUIDE_STATIC_TOML + '[log]\nlevel = "WARN"\nformat = "json"\n')
    config = load_static(path, ["--log.level=DEBUG"], ENVIRON, layered=True)
    assert config.log.level == "DEBUG"  # flag beats env and file
    assert config.log.format == "json"  # file only
    assert config.entry_points["http"].address == ":7000"  # env beats file
    assert config.providers.file.filename == "routes.toml"  # file, merged below the env's entry point
    assert config.entry_points["http"].transport.responding_timeouts.read_timeout == 60.0


def test_config_file_flag_names_the_file(tmp_path):
    path = _write(tmp_path, "traefik.yaml", GUIDE_STATIC_YAML)
    config = load_static(None, [f"--configFile={path}"], {})
    assert config.entry_points["http"].address == ":9999"
    assert config.source_file == path


@pytest.mark.parametrize(
    ("argv", "environ", "layered", "message"),
    [
        pytest.param(
            ["--log.levle=DEBUG"],
            {},
            False,
            "command line: log.levle: unknown key (did you mean 'level'?)",
            id="unknown-flag",
        ),
        pytest.param(
            ["--log.level"], {}, False, "command line: flag needs an argument: --log.level", id="missing-value"
        ),
        pytest.param(["--=x"], {}, False, "command line: bad flag syntax: --=x", id="bad-syntax"),
        pytest.param(
            [],
            {"TRAEFIK_ENTRYPOINTS_WEB_ADDRESS": "nope"},
            False,
            "environment: entrypoints.web.address: address nope: missing port in address",
            id="env-value",
        ),
        pytest.param(
            ["--entrypoints.web.address=:1"],
            {"TRAEFIK_ENTRYPOINTS_WEB_ADRESS": ":2"},
            True,
            "environment: entrypoints.web.adress: unknown key (did you mean 'address'?)",
            id="layered-blames-env",
        ),
    ],
)
def test_flag_and_env_errors(argv, environ, layered, message):
    with pytest.raises(ConfigError) as info:
        load_static(None, argv, environ, layered=layered)
    assert str(info.value) == message


def test_flag_help_lists_flags_with_defaults():
    text = static_flag_help()
    assert "  --entryPoints.<name>.address\n" in text
    assert "  --entryPoints.<name>.transport.respondingTimeouts.readTimeout  (default: 60s)" in text
    assert "  --providers.file.watch  (default: true)" in text
    assert "  --log.level  (default: ERROR)" in text
