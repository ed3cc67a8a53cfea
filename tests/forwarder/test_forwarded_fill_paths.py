"""ForwardedHeaders keeps two ways of filling X-Forwarded-*: `_fill` (some managed header is present) and
`_fill_fresh` (none is, the usual case). For a request without managed headers both must agree exactly,
and the cached Connection plans must give what a fresh computation gives."""

from __future__ import annotations

import pytest

from proxy.forwarder.forwarded import ForwardedHeaders
from proxy.message import HeaderList, RequestHead


def _request(host: str, client_ip: str, scheme: str, extra: list[tuple[str, str]]) -> RequestHead:
    items = ([("Host", host)] if host else []) + [("Accept", "*/*")] + extra
    return RequestHead("GET", "/", None, HeaderList(list(items)), host, client_ip, scheme)


CASES = [
    pytest.param("example.com", "10.0.0.1", "http", [], id="plain-http"),
    pytest.param("example.com:8443", "10.0.0.1", "https", [], id="https-host-port"),
    pytest.param("[::1]:81", "fe80::1%eth0", "http", [], id="ipv6-host-zoned-client"),
    pytest.param("", "", "http", [], id="no-host-no-client"),
    pytest.param(
        "ws.example", "10.0.0.2", "https", [("Connection", "Upgrade"), ("Upgrade", "websocket")], id="websocket-tls"
    ),
    pytest.param(
        "ws.example",
        "10.0.0.2",
        "http",
        [("Connection", "keep-alive, Upgrade"), ("Upgrade", "h2c")],
        id="upgrade-not-websocket",
    ),
]


@pytest.mark.parametrize("scheme_headers", [False, True])
@pytest.mark.parametrize("hostname", ["", "proxy-1"])
@pytest.mark.parametrize(("host", "client_ip", "scheme", "extra"), CASES)
def test_fresh_fill_matches_general_fill(
    host: str, client_ip: str, scheme: str, extra: list[tuple[str, str]], hostname: str, scheme_headers: bool
) -> None:
    forwarded = ForwardedHeaders(False, [], hostname, add_x_forwarded_scheme_headers=scheme_headers)
    fresh, general = (_request(host, client_ip, scheme, extra) for _ in range(2))
    forwarded._fill_fresh(fresh)
    forwarded._fill(general)
    assert fresh.headers.items == general.headers.items
    assert fresh.headers.keys == general.headers.keys


@pytest.mark.parametrize(
    "connection",
    [
        pytest.param(["keep-alive"], id="keep-alive"),
        pytest.param(["close"], id="close"),
        pytest.param(["Keep-Alive, X-Drop"], id="listed-header-dropped"),
        pytest.param(["Upgrade"], id="upgrade"),
        pytest.param(["x-kept, X-Forwarded-For"], id="kept-and-managed"),
        pytest.param(["keep-alive", "x-drop"], id="two-values"),
    ],
)
def test_cached_connection_plan_gives_the_same_result(connection: list[str]) -> None:
    def run(forwarded: ForwardedHeaders) -> list[tuple[str, str]]:
        extra = [("Connection", value) for value in connection]
        extra += [("X-Drop", "1"), ("X-Kept", "2"), ("Keep-Alive", "timeout=5"), ("Upgrade", "websocket")]
        req = _request("example.com", "10.0.0.1", "http", extra)
        forwarded.apply(req)
        return req.headers.items

    shared = ForwardedHeaders(False, [], "", connection=["X-Kept"])
    first, second = run(shared), run(shared)  # a miss then a hit of the plan cache
    assert first == second == run(ForwardedHeaders(False, [], "", connection=["X-Kept"]))
    listed = {token.strip().lower() for value in connection for token in value.split(",")}
    dropped = listed - {"x-kept", "x-forwarded-for", "upgrade"}
    assert not any(name.lower() in dropped for name, _ in first)
