"""Dynamic configuration files: models, defaults, case-insensitive keys, error messages.

Defaults come from Traefik pkg/config/dynamic/http_config.go and middlewares.go (SetDefaults).
"""

from pathlib import Path

import pytest

from proxy.config import ConfigError, DynamicConfig, load_dynamic_file

GUIDE_ROUTES_TOML = """
[http]
  [http.middlewares]
    [http.middlewares.api-stripprefix.stripPrefix]
      prefixes = ["/api/v1"]

  [http.routers]
    [http.routers.app-http]
      entryPoints = ["http"]
      service = "app"
      rule = "PathPrefix(`/api/v1`)"
      middlewares = ["api-stripprefix"]

  [http.services]
    [http.services.app]
      [http.services.app.loadBalancer]
        [[http.services.app.loadBalancer.servers]]
          url = "http://127.0.0.1:8000"
"""

GUIDE_ROUTES_YAML = """
http:
  middlewares:
    api-stripprefix:
      stripPrefix:
        prefixes:
          - "/api/v1"
  routers:
    app-http:
      entryPoints:
        - http
      service: app
      rule: "PathPrefix(`/api/v1`)"
      middlewares:
        - api-stripprefix
  services:
    app:
      loadBalancer:
        servers:
          - url: "http://127.0.0.1:8000"
"""

LOWERCASE_ROUTES_YAML = """
HTTP:
  Middlewares:
    api-stripprefix:
      stripprefix:
        PREFIXES: ["/api/v1"]
  routers:
    app-http:
      entrypoints: [http]
      Service: app
      RULE: "PathPrefix(`/api/v1`)"
      middlewares: [api-stripprefix]
  services:
    app:
      loadbalancer:
        passhostheader: false
        servers:
          - URL: "http://127.0.0.1:8000"
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _assert_guide(config: DynamicConfig) -> None:
    router = config.http.routers["app-http"]
    assert router.entry_points == ["http"]
    assert router.service == "app"
    assert router.rule == "PathPrefix(`/api/v1`)"
    assert router.middlewares == ["api-stripprefix"]
    assert router.priority == 0
    middleware = config.http.middlewares["api-stripprefix"]
    assert middleware.type_name() == "stripPrefix"
    assert middleware.options().prefixes == ["/api/v1"]
    assert middleware.is_supported
    service = config.http.services["app"]
    assert service.type_name() == "loadBalancer"
    assert [server.url for server in service.load_balancer.servers] == ["http://127.0.0.1:8000"]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        pytest.param("routes.toml", GUIDE_ROUTES_TOML, id="toml"),
        pytest.param("routes.yaml", GUIDE_ROUTES_YAML, id="yaml"),
        pytest.param("routes.yml", GUIDE_ROUTES_YAML, id="yml"),
        pytest.param("routes.yaml", LOWERCASE_ROUTES_YAML, id="keys-any-case"),
    ],
)
def test_fastapi_guide_routes_load(tmp_path, name, text):
    config, warnings = load_dynamic_file(_write(tmp_path, name, text))
    _assert_guide(config)
    assert warnings == []


def test_user_chosen_names_and_header_names_are_kept_verbatim(tmp_path):
    text = """
[http.routers.MyRouter]
  rule = "Host(`a`)"
  service = "Svc"
[http.middlewares.Hdr.headers.customRequestHeaders]
  X-Script-Name = "test"
  x-lower = ""
[http.services.Svc.loadBalancer]
  [[http.services.Svc.loadBalancer.servers]]
    url = "http://127.0.0.1:1"
"""
    config, _ = load_dynamic_file(_write(tmp_path, "r.toml", text))
    assert list(config.http.routers) == ["MyRouter"]
    assert config.http.middlewares["Hdr"].headers.custom_request_headers == {"X-Script-Name": "test", "x-lower": ""}


def test_load_balancer_defaults(tmp_path):
    text = '[[http.services.s.loadBalancer.servers]]\nurl = "http://x"\n'
    config, _ = load_dynamic_file(_write(tmp_path, "r.toml", text))
    lb = config.http.services["s"].load_balancer
    assert lb.pass_host_header is True
    assert lb.response_forwarding.flush_interval == 0.1
    assert lb.strategy == "wrr"
    assert lb.servers[0].preserve_path is False and lb.servers[0].weight is None
    assert lb.health_check is None and lb.sticky is None


def test_health_check_sticky_and_transport_defaults(tmp_path):
    text = """
[http.services.s.loadBalancer]
  serversTransport = "t"
  [http.services.s.loadBalancer.healthCheck]
    path = "/health"
  [http.services.s.loadBalancer.sticky.cookie]
    name = "lb"
[http.services.w.weighted]
  [[http.services.w.weighted.services]]
    name = "s"
[http.serversTransports.t]
  maxIdleConnsPerHost = 0
  [http.serversTransports.t.forwardingTimeouts]
    responseHeaderTimeout = "2s"
"""
    config, _ = load_dynamic_file(_write(tmp_path, "r.toml", text))
    check = config.http.services["s"].load_balancer.health_check
    assert (check.path, check.interval, check.timeout, check.mode, check.follow_redirects) == (
        "/health",
        30.0,
        5.0,
        "http",
        True,
    )
    cookie = config.http.services["s"].load_balancer.sticky.cookie
    assert (cookie.name, cookie.path, cookie.http_only, cookie.secure) == ("lb", "/", False, False)
    assert config.http.services["w"].weighted.services[0].weight == 1
    transport = config.http.servers_transports["t"]
    assert transport.max_idle_conns_per_host == 200  # 0 means Go's default
    timeouts = transport.forwarding_timeouts
    assert (timeouts.dial_timeout, timeouts.response_header_timeout, timeouts.idle_conn_timeout) == (30.0, 2.0, 90.0)


def test_scalars_are_read_as_traefik_reads_them(tmp_path):
    # paerser turns every scalar into text first: numbers become strings, "true" becomes a bool.
    text = """
[http.middlewares.r.redirectScheme]
  scheme = "https"
  port = 8443
  permanent = "true"
[http.routers.a]
  rule = "Host(`a`)"
  priority = "10"
"""
    config, _ = load_dynamic_file(_write(tmp_path, "r.toml", text))
    redirect = config.http.middlewares["r"].redirect_scheme
    assert (redirect.port, redirect.permanent) == ("8443", True)
    assert config.http.routers["a"].priority == 10


def test_unsupported_middleware_is_recognised_with_loose_options(tmp_path):
    text = '[http.middlewares.web.grpcWeb]\nallowOrigins = ["*"]\nwhatever = 1\n'  # grpcWeb needs HTTP/2
    config, _ = load_dynamic_file(_write(tmp_path, "r.toml", text))
    middleware = config.http.middlewares["web"]
    assert middleware.type_name() == "grpcWeb"
    assert not middleware.is_supported
    assert middleware.options() == {"allowOrigins": ["*"], "whatever": 1}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "[http.middlewares.m]\n", "invalid middleware configuration: no middleware type is set", id="none"
        ),
        pytest.param(
            '[http.middlewares.m.addPrefix]\nprefix = "/a"\n[http.middlewares.m.replacePath]\npath = "/b"\n',
            "multi-types middleware not supported (addPrefix, replacePath), "
            "consider declaring two different pieces of middleware instead",
            id="two",
        ),
    ],
)
def test_middleware_type_count_is_checked_per_middleware(tmp_path, text, message):
    # Traefik reports this when building the middleware, without rejecting the rest of the file.
    config, _ = load_dynamic_file(_write(tmp_path, "r.toml", text))
    with pytest.raises(ValueError) as info:
        config.http.middlewares["m"].type_name()
    assert str(info.value) == message


def test_tcp_udp_sections_are_kept_loose_and_tls_is_modelled(tmp_path):
    text = '[tcp.routers.t]\nrule = "HostSNI(`*`)"\n[tls.options.default]\nminVersion = "VersionTLS12"\n'
    config, _ = load_dynamic_file(_write(tmp_path, "r.toml", text))
    assert config.ignored_sections() == ["tcp"]
    assert config.tls is not None and config.tls.options["default"].min_version == "VersionTLS12"


def test_unknown_top_level_key_is_ignored_with_a_warning(tmp_path):
    # paerser keeps only the root keys the configuration type knows (file/raw_node.go sortKeys filters).
    path = _write(tmp_path, "routes.toml", '[htpp.routers.x]\nrule = "y"\n')
    config, warnings = load_dynamic_file(path)
    assert config.http.routers == {}
    assert [str(w) for w in warnings] == [f"{path}: htpp: unknown top-level key, ignored"]


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        pytest.param(
            '[http.services.s.loadBalancer]\nservers = "http://127.0.0.1:1"\n',
            ["routes.toml: http.services.s.loadBalancer.servers: Input should be a valid list"],
            id="not-a-list-of-sections",
        ),
        pytest.param(
            '[http.routers.app]\nrulee = "Host(`a`)"\n',
            ["routes.toml: http.routers.app.rulee: unknown key (did you mean 'rule'?)"],
            id="unknown-key",
        ),
        pytest.param(
            '[HTTP.Services.app.LoadBalancer]\n[[HTTP.Services.app.LoadBalancer.servers]]\nurl = "x"\nwieght = 3\n',
            ["routes.toml: HTTP.Services.app.LoadBalancer.servers[0].wieght: unknown key (did you mean 'weight'?)"],
            id="path-spelled-as-written",
        ),
        pytest.param(
            '[http.routers.a]\nrule = "x"\npriority = "high"\n',
            [
                "routes.toml: http.routers.a.priority: Input should be a valid integer, "
                "unable to parse string as an integer"
            ],
            id="wrong-type",
        ),
        pytest.param(
            '[http.services.s.loadBalancer]\npassHostHeader = "maybe"\n',
            ["routes.toml: http.services.s.loadBalancer.passHostHeader: invalid boolean 'maybe' (use true or false)"],
            id="bad-bool",
        ),
        pytest.param(
            '[http.services.s.loadBalancer.healthCheck]\ninterval = "10x"\n',
            [
                "routes.toml: http.services.s.loadBalancer.healthCheck.interval: "
                'invalid duration \'10x\': time: unknown unit "x" in duration "10x"'
            ],
            id="bad-duration",
        ),
        pytest.param(
            '[http.routers.a]\nrule = "x"\nRule = "y"\n',
            ["routes.toml: http.routers.a.Rule: key given twice (also as 'rule')"],
            id="same-key-two-spellings",
        ),
        pytest.param(
            "[http.routers.a]\nrulee = 1\n[http.routers.b]\nservice = []\n",
            [
                "routes.toml: http.routers.a.rulee: unknown key (did you mean 'rule'?)",
                "routes.toml: http.routers.b.service: Input should be a valid string",
            ],
            id="every-problem-listed",
        ),
        pytest.param(
            "a = [1,\nb = 2\n", ["routes.toml: invalid TOML: Invalid value (at line 2, column 1)"], id="toml-syntax"
        ),
    ],
)
def test_error_messages(tmp_path, monkeypatch, text, lines):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, "routes.toml", text)
    with pytest.raises(ConfigError) as info:
        load_dynamic_file(Path("routes.toml"))
    assert str(info.value).splitlines() == lines


def test_yaml_syntax_error_has_line_and_column(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, "routes.yaml", 'http:\n  routers:\n    a: {rule: "x"\n  b: 1\n')
    with pytest.raises(ConfigError) as info:
        load_dynamic_file(Path("routes.yaml"))
    assert str(info.value) == "routes.yaml: invalid YAML at line 4, column 3: expected ',' or '}', but got '<scalar>'"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("routes.json", "routes.json: unsupported file extension (use .toml, .yaml or .yml)", id="ext"),
        pytest.param("list.yaml", "list.yaml: the file must hold a mapping of keys at its top level", id="list"),
    ],
)
def test_file_level_errors(tmp_path, monkeypatch, name, message):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, name, "- a\n")
    with pytest.raises(ConfigError) as info:
        load_dynamic_file(Path(name))
    assert str(info.value) == message


def test_empty_yaml_values_are_skipped_like_traefik(tmp_path):
    # paerser skips nil values, so an empty `routers:` is no error.
    config, _ = load_dynamic_file(_write(tmp_path, "r.yaml", "http:\n  routers:\n  services:\n"))
    assert config.http.routers == {} and config.http.services == {}
