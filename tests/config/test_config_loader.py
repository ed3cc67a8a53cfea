"""The file provider's reading of files and directories (Traefik pkg/provider/file/file.go, provider/merge.go)."""

from pathlib import Path

import pytest

from proxy.config import ConfigError, FileProviderConfig, classify, dynamic_files, load_dynamic, read_config_file

ROUTER = '[http.routers.{name}]\nrule = "Host(`{host}`)"\nservice = "svc"\n'
SERVICE = '[[http.services.svc.loadBalancer.servers]]\nurl = "{url}"\n'


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        pytest.param({"entryPoints": {}}, "static", id="entrypoints"),
        pytest.param({"providers": {}}, "static", id="providers"),
        pytest.param({"LOG": {}}, "static", id="log-any-case"),
        pytest.param({"http": {}}, "dynamic", id="http"),
        pytest.param({"tcp": {}}, "dynamic", id="tcp"),
        pytest.param({"tls": {}}, "dynamic", id="tls"),
    ],
)
def test_classify(raw, kind):
    assert classify(raw) == kind


def test_classify_rejects_unknown():
    with pytest.raises(ConfigError) as info:
        classify({"foo": 1})
    assert str(info.value) == (
        "neither a static nor a dynamic configuration (no known top-level key such as entryPoints or http)"
    )


def test_read_config_file_toml_and_yaml(tmp_path):
    assert read_config_file(_write(tmp_path / "a.toml", 'x = "1"\n')) == {"x": "1"}
    assert read_config_file(_write(tmp_path / "a.YML", "x: 1\n")) == {"x": 1}
    assert read_config_file(_write(tmp_path / "empty.yaml", "")) == {}


def test_directory_is_read_recursively_in_name_order(tmp_path):
    _write(tmp_path / "b.toml", ROUTER.format(name="b", host="b"))
    _write(tmp_path / "a.yml", "http: {}\n")
    _write(tmp_path / "sub" / "c.yaml", "http: {}\n")
    _write(tmp_path / "notes.txt", "ignored")
    files = dynamic_files(FileProviderConfig(directory=str(tmp_path)))
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["a.yml", "b.toml", "sub/c.yaml"]


def test_relative_provider_paths_resolve_against_the_static_file_folder(tmp_path):
    assert dynamic_files(FileProviderConfig(filename="routes.toml"), tmp_path) == [tmp_path / "routes.toml"]
    assert dynamic_files(FileProviderConfig(filename="/abs/r.toml"), tmp_path) == [Path("/abs/r.toml")]


def test_provider_without_filename_or_directory_is_an_error():
    with pytest.raises(ConfigError) as info:
        dynamic_files(FileProviderConfig())
    assert str(info.value) == "providers.file: neither filename nor directory is defined for the file provider"


def test_directory_merge_first_definition_wins(tmp_path):
    # provider.Merge with ResourceStrategySkipDuplicates: a later duplicate is skipped with a warning.
    a = _write(tmp_path / "a.toml", ROUTER.format(name="web", host="first") + SERVICE.format(url="http://a"))
    b = _write(
        tmp_path / "b.toml",
        ROUTER.format(name="web", host="second")
        + ROUTER.format(name="api", host="api")
        + SERVICE.format(url="http://b"),
    )
    config, warnings = load_dynamic([a, b])
    assert config.http.routers["web"].rule == "Host(`first`)"
    assert config.http.routers["api"].rule == "Host(`api`)"
    assert config.http.services["svc"].load_balancer.servers[0].url == "http://a"
    assert [str(w) for w in warnings] == [
        f"{b}: http.routers.web: HTTP router already configured in {a}, skipping",
        f"{b}: http.services.svc: HTTP service already configured in {a}, skipping",
    ]


def test_one_bad_file_fails_the_whole_directory(tmp_path):
    # Traefik's collectFileConfigs returns the first file error: nothing of the directory is applied.
    good = _write(tmp_path / "a.toml", ROUTER.format(name="web", host="a"))
    bad1 = _write(tmp_path / "b.toml", '[http.routers.x]\nrulee = "y"\n')
    bad2 = _write(tmp_path / "c.yaml", "http: [\n")
    with pytest.raises(ConfigError) as info:
        load_dynamic([good, bad1, bad2])
    assert [p.file for p in info.value.problems] == [str(bad1), str(bad2)]
    assert str(info.value).splitlines()[0] == f"{bad1}: http.routers.x.rulee: unknown key (did you mean 'rule'?)"


@pytest.mark.parametrize("section", ["tcp", "udp"])
def test_tcp_and_udp_sections_are_warned_about(tmp_path: Path, section: str) -> None:
    path = tmp_path / "dyn.toml"
    path.write_text(f'[{section}.routers.r]\nservice = "s"\n[http.routers.a]\nrule = "Path(`/`)"\nservice = "s"\n')
    _, warnings = load_dynamic([path])
    assert [str(w) for w in warnings] == [
        f"{path}: {section}: accepted but not implemented: "
        + {"tcp": "TCP routers, services and middlewares", "udp": "UDP routers and services"}[section]
        + " are not served (stripproxy serves HTTP only)"
    ]
