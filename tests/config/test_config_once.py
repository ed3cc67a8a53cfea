"""Config read once: what several places used to spell out each on their own now comes from one definition.

- entry point addresses: the server's `parse_address` reads what the config's `split_address` accepted
  (Traefik's EntryPoint.GetAddress / GetProtocol, pkg/config/static/entrypoints.go);
- the seven allowEncoded* keys: the entry point's http.encodedCharacters (all true by default,
  pkg/config/static/entrypoints.go EncodedCharacters.SetDefaults) and the encodedCharacters middleware (all
  false, pkg/config/dynamic/middlewares.go) are one set of keys, the one normalize.PathOptions takes;
- passTLSClientCert's DN options: the subject's keys are the issuer's plus organizationalUnit
  (TLSClientCertificateSubjectDNInfo / IssuerDNInfo in pkg/config/dynamic/middlewares.go);
- the default serversTransport (static) and a named one (dynamic) give the same TransportSettings for the
  keys they share;
- the entry points a dynamic file served alone gets: the CLI's and proxy.server.sources' (config.loader's
  entry_point_names).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from proxy.cli import default_entry_points
from proxy.config.dynamic import ServersTransportConfig
from proxy.config.dynamic_middlewares import (
    EncodedCharactersConfig,
    TLSClientCertificateIssuerDNInfoConfig,
    TLSClientCertificateSubjectDNInfoConfig,
)
from proxy.config.loader import entry_point_names, load_dynamic_file, read_any_config
from proxy.config.static import (
    EntryPointEncodedCharactersConfig,
    StaticConfig,
    StaticServersTransportConfig,
    split_address,
)
from proxy.middlewares.encodedcharacters import EncodedCharacters
from proxy.normalize import ENCODED_FLAGS, PathOptions
from proxy.routing.builder import transport_settings
from proxy.server.entrypoint import parse_address
from proxy.server.gateway import default_transport, path_options
from proxy.server.sources import router_entry_points


@pytest.mark.parametrize(
    "address",
    [
        pytest.param(":9999", id="port-only"),
        pytest.param("127.0.0.1:80", id="ipv4"),
        pytest.param("[::1]:8080", id="ipv6"),
        pytest.param(":80/tcp", id="tcp"),
        pytest.param(":80/TCP", id="tcp-any-case"),
        pytest.param("0.0.0.0:0", id="any-port"),
    ],
)
def test_parse_address_reads_what_split_address_accepts(address: str) -> None:
    host, port, protocol = split_address(address)
    assert protocol == "tcp"
    assert parse_address(address) == (host or None, port)


@pytest.mark.parametrize(
    ("address", "message"),
    [
        pytest.param(":53/udp", "only tcp entry points are supported, not 'udp'", id="udp"),
        pytest.param(":80/sctp", "invalid protocol: sctp", id="protocol"),
        pytest.param("localhost", "missing port in address", id="no-port"),
        pytest.param(":http", "invalid port 'http'", id="named-port"),
        pytest.param(":65536", "invalid port '65536'", id="port-too-large"),
        pytest.param("::1:80", "too many colons in address", id="bare-ipv6"),
    ],
)
def test_parse_address_refuses_what_split_address_refuses(address: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_address(address)


def test_encoded_character_keys_are_one_set_with_opposite_defaults() -> None:
    entry_point, middleware = EntryPointEncodedCharactersConfig(), EncodedCharactersConfig()
    assert tuple(EntryPointEncodedCharactersConfig.model_fields) == ENCODED_FLAGS
    assert tuple(EncodedCharactersConfig.model_fields) == ENCODED_FLAGS
    assert tuple(f.name for f in dataclasses.fields(PathOptions) if f.name.startswith("allow_")) == ENCODED_FLAGS
    assert entry_point.model_dump() == dict.fromkeys(ENCODED_FLAGS, True)
    assert middleware.model_dump() == dict.fromkeys(ENCODED_FLAGS, False)
    # Traefik's keys, read the same way by both.
    raw = {"allowEncodedSlash": "false", "allowEncodedHash": True}
    assert EntryPointEncodedCharactersConfig.model_validate(raw).model_dump() == {
        **dict.fromkeys(ENCODED_FLAGS, True),
        "allow_encoded_slash": False,
    }
    assert EncodedCharactersConfig.model_validate(raw).model_dump() == {
        **dict.fromkeys(ENCODED_FLAGS, False),
        "allow_encoded_hash": True,
    }


def test_encoded_character_models_build_the_path_options_they_mean() -> None:
    static = StaticConfig.model_validate(
        {"entryPoints": {"web": {"address": ":80", "http": {"encodedCharacters": {"allowEncodedSlash": False}}}}}
    )
    assert path_options(static.entry_points["web"]) == PathOptions(allow_encoded_slash=False)
    built = EncodedCharacters(**EncodedCharactersConfig(allowEncodedPercent=True).model_dump())
    assert built.options == PathOptions(**{**dict.fromkeys(ENCODED_FLAGS, False), "allow_encoded_percent": True})


def test_subject_dn_keys_are_the_issuer_keys_and_organizational_unit() -> None:
    issuer = set(TLSClientCertificateIssuerDNInfoConfig.model_fields)
    assert set(TLSClientCertificateSubjectDNInfoConfig.model_fields) == issuer | {"organizational_unit"}
    assert "organizational_unit" not in issuer
    subject = TLSClientCertificateSubjectDNInfoConfig.model_validate({"organizationalUnit": True, "commonName": "true"})
    assert subject.organizational_unit and subject.common_name and not subject.country
    with pytest.raises(ValueError, match="organizationalUnit"):
        TLSClientCertificateIssuerDNInfoConfig.model_validate({"organizationalUnit": True})


SHARED_TRANSPORT = {
    "insecureSkipVerify": True,
    "rootCAs": ["/etc/ssl/ca.pem"],
    "maxIdleConnsPerHost": 7,
    "forwardingTimeouts": {"dialTimeout": "3s", "responseHeaderTimeout": "2s", "idleConnTimeout": "5s"},
}


def test_static_and_dynamic_transports_read_their_shared_keys_alike() -> None:
    static = transport_settings(StaticServersTransportConfig.model_validate(SHARED_TRANSPORT))
    dynamic = transport_settings(ServersTransportConfig.model_validate(SHARED_TRANSPORT))
    assert static == dynamic
    assert (static.dial_timeout, static.response_header_timeout, static.idle_conn_timeout) == (3.0, 2.0, 5.0)
    assert (static.max_idle_conns_per_host, static.insecure_skip_verify, static.root_cas) == (
        7,
        True,
        ("/etc/ssl/ca.pem",),
    )
    assert default_transport(StaticConfig.model_validate({"serversTransport": SHARED_TRANSPORT})) == static


def test_negative_max_idle_conns_means_no_reuse_in_both() -> None:
    for model in (StaticServersTransportConfig, ServersTransportConfig):
        assert transport_settings(model.model_validate({"maxIdleConnsPerHost": -1})).max_idle_conns_per_host == 0


ROUTER_FILES = [
    pytest.param("", ["http"], id="no-router"),
    pytest.param('[http.routers.r]\nrule = "Path(`/`)"\nservice = "s"\n', ["http"], id="router-names-none"),
    pytest.param(
        '[http.routers.a]\nrule = "Path(`/a`)"\nservice = "s"\nentryPoints = ["web", "admin"]\n'
        '[http.routers.b]\nrule = "Path(`/b`)"\nservice = "s"\nentryPoints = ["admin", "websecure"]\n',
        ["web", "admin", "websecure"],
        id="first-mention-order",
    ),
    pytest.param(
        '[http.routers.a]\nrule = "Path(`/a`)"\nservice = "s"\nentryPoints = "web, websecure"\n',
        ["web", "websecure"],
        id="scalar-split-on-commas",
    ),
]


@pytest.mark.parametrize(("text", "names"), ROUTER_FILES)
def test_cli_and_sources_name_the_same_entry_points(tmp_path: Path, text: str, names: list[str]) -> None:
    """A dynamic file served alone: the CLI (from the file's data) and proxy.testing's sources (from the
    loaded config) create the same entry points, in the same order."""
    path = tmp_path / "dynamic.toml"
    path.write_text(text + '[http.services.s.loadBalancer]\nservers = [{url = "http://127.0.0.1:1"}]\n')
    from_cli = default_entry_points(read_any_config(path))
    assert list(from_cli) == names
    assert [ep.address for ep in from_cli.values()] == [f"127.0.0.1:{9999 + i}" for i in range(len(names))]
    dynamic, _ = load_dynamic_file(path)
    assert router_entry_points(dynamic) == names


def test_entry_point_names_ignore_what_is_not_a_name() -> None:
    assert entry_point_names([None, 3, ["web", 7, "web"], "", " , admin ,"]) == ["web", "admin"]
