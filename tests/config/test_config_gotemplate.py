"""The Go template subset the file provider renders (Traefik pkg/provider/file/file.go CreateConfiguration:
text/template + sprig.TxtFuncMap + `split`, data `false`). Expected outputs are what Go gives."""

from pathlib import Path

import pytest

from proxy.config import ConfigError, load_dynamic_file
from proxy.config.gotemplate import TemplateError, render
from proxy.config.loader import read_any_config

ENV = {
    "DOMAIN": "example.com",
    "IPS": "10.0.0.1, 10.0.0.2,192.168.0.0/16",
    "QUOTED": '"v1"',
    "EMPTY": "",
    "MIXED": "MiXeD",
    "ON": "true",
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        pytest.param('plain {{ env "DOMAIN" }} text', "plain example.com text", id="env"),
        pytest.param('[{{ env "MISSING" }}]', "[]", id="env-missing-is-empty"),
        pytest.param('{{ env "MISSING" | default "fallback" }}', "fallback", id="default-pipeline"),
        pytest.param('{{ default "fallback" (env "DOMAIN") }}', "example.com", id="default-given"),
        pytest.param('{{ env "EMPTY" | default "fallback" }}', "fallback", id="default-on-empty"),
        pytest.param('{{ default "x" }}', "x", id="default-nothing-given"),
        pytest.param('{{ env "QUOTED" | trimAll "\\"" }}', "v1", id="trimAll"),
        pytest.param('{{ trimAll "$" "$5.00$" }}', "5.00", id="trimAll-sprig-example"),
        pytest.param('{{ trim "  a b \\n" }}', "a b", id="trim"),
        pytest.param('{{ "a\\"b" | quote }}', '"a\\"b"', id="quote-escapes"),
        pytest.param('{{ quote "a" 1 true nil }}', '"a" "1" "true"', id="quote-many"),
        pytest.param('{{ env "MIXED" | lower }}/{{ env "MIXED" | upper }}', "mixed/MIXED", id="lower-upper"),
        pytest.param('{{ upper "ß" }}', "ß", id="upper-one-rune-per-rune"),
        pytest.param('{{ if env "ON" }}on{{ end }}', "on", id="if-true"),
        pytest.param('{{ if env "EMPTY" }}on{{ else }}off{{ end }}', "off", id="if-else"),
        pytest.param('{{ if env "EMPTY" }}1{{ else if eq (env "ON") "true" }}2{{ else }}3{{ end }}', "2", id="else-if"),
        pytest.param('{{ if and (env "ON") (env "EMPTY") }}1{{ else }}0{{ end }}', "0", id="and"),
        pytest.param('{{ if or (env "EMPTY") (env "ON") }}1{{ end }}', "1", id="or"),
        pytest.param('{{ if not (env "EMPTY") }}1{{ end }}', "1", id="not"),
        pytest.param('{{ if ne (env "ON") "false" }}1{{ end }}', "1", id="ne"),
        pytest.param(
            '{{ range $ip := splitList "," (env "IPS") }}<{{ trim $ip }}>{{ end }}',
            "<10.0.0.1><10.0.0.2><192.168.0.0/16>",
            id="range-splitList",
        ),
        pytest.param(
            '{{ range $i, $e := splitList "," "a,b" }}{{ $i }}={{ $e }};{{ end }}', "0=a;1=b;", id="range-index-element"
        ),
        pytest.param('{{ range splitList "," "a,b" }}{{ . }}{{ end }}', "ab", id="range-dot"),
        pytest.param('{{ range splitList "," "" }}[{{ . }}]{{ end }}', "[]", id="splitList-empty-is-one-empty"),
        pytest.param("{{ range until 0 }}x{{ else }}none{{ end }}", "none", id="range-else"),
        pytest.param('{{ range split "a;b" ";" }}{{ . }}.{{ end }}', "a.b.", id="traefik-split"),
        pytest.param('{{ normalize "my_app.v2 (beta)" }}', "my-app-v2-beta", id="traefik-normalize"),
        pytest.param(
            '{{ $d := env "DOMAIN" }}{{ $d }}|{{ $d = "other" }}{{ $d }}', "example.com|other", id="variables"
        ),
        pytest.param("{{ if true }}{{ $x := 1 }}{{ end }}{{ $x := 2 }}{{ $x }}", "2", id="variable-scope"),
        pytest.param('a  \n\t{{- "b" -}}\n  c', "abc", id="trim-markers"),
        pytest.param("a {{-3}} b", "a -3 b", id="dash-without-space-is-a-number"),
        pytest.param("a{{/* comment */}}b{{- /* trimmed */ -}}  c", "abc", id="comments"),
        pytest.param("x = 1\n{{ if true -}}\ny = 2\n{{- end }}\n", "x = 1\ny = 2\n", id="block-lines"),
        pytest.param("{{ . }} {{ $ }}", "false false", id="data-is-false"),
        pytest.param("{{ `raw \\n` }}", "raw \\n", id="raw-string"),
        pytest.param('{{ len "abc" }} {{ 42 }} {{ true }}', "3 42 true", id="literals"),
        pytest.param('{{ "}}" }}', "}}", id="delimiter-in-string"),
    ],
)
def test_render(template, expected):
    assert render(template, "dyn.toml", ENV) == expected


@pytest.mark.parametrize(
    ("template", "line", "message"),
    [
        pytest.param('a\n{{ b64enc "x" }}', 2, "function 'b64enc' is not supported", id="unsupported-function"),
        pytest.param("{{ with $x }}{{ end }}", 1, "{{with}} is not supported", id="with"),
        pytest.param("\n\n{{ .Name }}", 3, "field access .Name", id="field-access"),
        pytest.param("{{ if true }}\nx", 1, "unexpected EOF", id="unclosed-if"),
        pytest.param("x\n{{ end }}", 2, "unexpected {{end}}", id="stray-end"),
        pytest.param("{{ env }}", 1, "wrong number of args for env: want 1 got 0", id="arity"),
        pytest.param("{{ upper 3 }}", 1, "expected string; got int", id="arg-type"),
        pytest.param("{{ $nope }}", 1, "undefined variable: $nope", id="undefined-variable"),
        pytest.param('{{ "a" | "b" }}', 1, "can't give argument to non-function", id="pipe-into-literal"),
        pytest.param("{{ 1 ", 1, "unclosed action", id="unclosed-action"),
        pytest.param("{{/* x */ }}", 1, "comment ends before closing delimiter", id="bad-comment"),
    ],
)
def test_render_errors_name_file_line_and_what(template, line, message):
    with pytest.raises(TemplateError) as info:
        render(template, "dyn.toml", ENV)
    assert info.value.line == line
    assert message in info.value.message
    assert str(info.value).startswith(f"template dyn.toml:{line}: ")


def test_traefik_fixture_template_file(tmp_path: Path):
    """pkg/provider/file/fixtures/toml/template_file.toml: 20 routers from `range until 20`."""
    path = tmp_path / "template_file.toml"
    path.write_text(
        "[http.routers]\n{{ range $i, $e := until 20 }}\n  [http.routers.router{{ $e }}]\n"
        '  service = "application"\n{{ end }}\n[http.services.application.loadBalancer]\n'
        '[[http.services.application.loadBalancer.servers]]\nurl = "http://127.0.0.1:1"\n'
    )
    config, _ = load_dynamic_file(path)
    assert sorted(config.http.routers) == sorted(f"router{i}" for i in range(20))


def test_dynamic_file_rendered_with_the_environment(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("TRAEFIK_WHITELIST_IP", "10.0.0.1,10.0.0.2")
    monkeypatch.delenv("STRIPPROXY_UNSET", raising=False)
    path = tmp_path / "dyn.yml"
    path.write_text(
        "http:\n  routers:\n    r:\n"
        '      rule: Host(`{{ env "STRIPPROXY_UNSET" | default "a.test" }}`)\n'
        '      service: s\n      middlewares:\n{{- range $ip := splitList "," (env "TRAEFIK_WHITELIST_IP") }}\n'
        '        - "{{ trim $ip }}"\n{{- end }}\n'
        "  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: http://127.0.0.1:1\n"
    )
    config, _ = load_dynamic_file(path)
    router = config.http.routers["r"]
    assert router.rule == "Host(`a.test`)"
    assert router.middlewares == ["10.0.0.1", "10.0.0.2"]
    assert read_any_config(path)["http"]["routers"]["r"]["rule"] == "Host(`a.test`)"


def test_template_error_names_file_and_line(tmp_path: Path):
    path = tmp_path / "dyn.toml"
    path.write_text('[http.routers.r]\nrule = "{{ sha256sum `x` }}"\n')
    with pytest.raises(ConfigError) as info:
        load_dynamic_file(path)
    assert str(info.value).startswith(f"{path}: template line 2: function 'sha256sum' is not supported")


def test_a_file_without_actions_is_not_rendered(tmp_path: Path):
    """`{{` is the only trigger: a regexp with braces in a file without actions stays as written."""
    path = tmp_path / "dyn.toml"
    path.write_text('[http.routers.r]\nrule = "PathRegexp(`^/a{1,2}$`)"\nservice = "s"\n')
    config, _ = load_dynamic_file(path)
    assert config.http.routers["r"].rule == "PathRegexp(`^/a{1,2}$`)"


def test_static_file_is_never_a_template(tmp_path: Path):
    path = tmp_path / "traefik.toml"
    path.write_text('[entryPoints.web]\naddress = ":80"\n[providers.file]\nfilename = "{{x}}.toml"\n')
    assert read_any_config(path)["providers"]["file"]["filename"] == "{{x}}.toml"


DOCS_EXAMPLE = """\
# template-rules.toml (docs/content/reference/routing-configuration/other-providers/file.md, Go Templating)
[http]

  [http.routers]
  {{ range $i, $e := until 100 }}
    [http.routers.router{{ $e }}-{{ env "MY_ENV_VAR" }}]
    # ...
  {{ end }}

  [http.services]
  {{ range $i, $e := until 100 }}
      [http.services.service{{ $e }}]
      # ...
  {{ end }}

{{ range $i, $e := until 10 }}
[[tls.certificates]]
  certFile = "/etc/traefik/cert-{{ $e }}.pem"
  keyFile = "/etc/traefik/cert-{{ $e }}.key"
  stores = ["my-store-foo-{{ $e }}", "my-store-bar-{{ $e }}"]
{{ end }}
"""


def test_traefik_docs_example(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("MY_ENV_VAR", "prod")
    path = tmp_path / "template-rules.toml"
    path.write_text(DOCS_EXAMPLE)
    raw = read_any_config(path)
    assert sorted(raw["http"]["routers"]) == sorted(f"router{i}-prod" for i in range(100))
    assert len(raw["http"]["services"]) == 100
    assert raw["tls"]["certificates"][9] == {
        "certFile": "/etc/traefik/cert-9.pem",
        "keyFile": "/etc/traefik/cert-9.key",
        "stores": ["my-store-foo-9", "my-store-bar-9"],
    }
