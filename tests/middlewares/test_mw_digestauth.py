"""digestAuth, from traefik/traefik pkg/middlewares/auth/digest_auth_test.go (TestDigestAuthError,
TestDigestAuthFail, TestDigestAuthUsersFromFile, TestDigestAuthUserHeaderCanonical) and goauth's
digest_test.go (TestAuthDigest: nonce counts, stale, replays, the uri prefix rule); live through a
gateway with real clients (httpx.DigestAuth, requests' HTTPDigestAuth, curl --digest) and hand-made
answers for the cases a client library would never send."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from aiohttp import web
from requests.auth import HTTPDigestAuth

from proxy.config.errors import ConfigError
from proxy.middlewares.digestauth import digest_auth, digest_params, parse_list
from tests.middlewares.live import echo, live_gateway, routes, sent_headers

# Traefik's test users: password = user name; test2's override has password "overridden"; test in
# realm traefiker has password test2.
TEST = "test:traefik:a2688e031edb4be6a3797f3882655c05"
TEST2 = "test2:traefik:518845800f9e2bfb1f1f740ec24f074e"
TEST3 = "test3:traefik:c8e9f57ce58ecb4424407f665a91646c"
TEST2_OVERRIDDEN = "test2:traefik:8de60a1c52da68ccf41f0c0ffb7c51a0"
TEST_TRAEFIKER = "test:traefiker:a3d334dff2645b914918de78bec50bf4"
CHALLENGE = re.compile(
    r'Digest realm="(?P<realm>[^"]*)", nonce="(?P<nonce>[A-Za-z0-9+/]{16})", '
    r'opaque="(?P<opaque>[A-Za-z0-9+/]{16})", (?P<stale>stale="true", )?algorithm="MD5", '
    r'qop="auth"'
)


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # goauth misc_test.go TestParseList / TestParsePairs
        pytest.param("foo, bar", ["foo", "bar"], id="plain"),
        pytest.param('foo="bar, baz", qux', ['foo="bar, baz"', "qux"], id="quoted comma"),
        pytest.param('a="b\\"c", d', ['a="b"c"', "d"], id="escape in quotes"),
        pytest.param("a\\b, c", ["a\\b", "c"], id="backslash outside quotes kept"),
    ],
)
def test_parse_list(value: str, expected: list[str]) -> None:
    assert parse_list(value) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param('Digest username="a", nc=00000001', {"username": "a", "nc": "00000001"}, id="pairs"),
        pytest.param("Digest flag", {"flag": ""}, id="key without value"),
        pytest.param("Digest nonce=", {"nonce": ""}, id="empty value (goauth panics)"),
        pytest.param('Digest nonce="', {"nonce": '"'}, id="lone quote (goauth panics)"),
        pytest.param("digest username=a", None, id="scheme is case-sensitive"),
        pytest.param("Basic dGVzdDp0ZXN0", None, id="other scheme"),
    ],
)
def test_digest_params(header: str, expected: dict[str, str] | None) -> None:
    assert digest_params(header) == expected


def test_new_refuses_a_bad_entry() -> None:  # TestDigestAuthError
    with pytest.raises(ValueError, match="error parsing DigestUser entry for 'test'"):
        digest_auth(["test"])


def test_no_users_is_allowed() -> None:
    assert digest_auth([]).users == {}


# -- live ---------------------------------------------------------------------------------------------------


def auth(**options: Any) -> dict[str, Any]:
    return {"auth": {"digestAuth": options}}


def challenge_of(response: httpx.Response) -> re.Match[str]:
    assert response.status_code == 401
    assert response.headers["content-type"] == "text/plain"
    assert response.content == b"401 Unauthorized\n"
    match = CHALLENGE.fullmatch(response.headers["www-authenticate"])
    assert match, response.headers["www-authenticate"]
    return match


def answer(
    challenge: re.Match[str],
    *,
    user: str = "test",
    password: str = "test",
    uri: str = "/x",
    nc: str = "00000001",
    method: str = "GET",
    ha1: str | None = None,
    **overrides: str,
) -> str:
    """An Authorization value computed as RFC 2617 says (qop=auth, MD5), with fields to override."""
    realm, nonce, cnonce = challenge["realm"], challenge["nonce"], "0a4f113b"
    ha1 = md5(f"{user}:{realm}:{password}") if ha1 is None else ha1
    response = md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{md5(f'{method}:{uri}')}")
    fields = {
        "username": f'"{user}"',
        "realm": f'"{realm}"',
        "nonce": f'"{nonce}"',
        "uri": f'"{uri}"',
        "algorithm": "MD5",
        "qop": "auth",
        "nc": nc,
        "cnonce": f'"{cnonce}"',
        "response": f'"{response}"',
        "opaque": f'"{challenge["opaque"]}"',
        **overrides,
    }
    return "Digest " + ", ".join(f"{k}={v}" for k, v in fields.items() if v != "<omit>")


async def test_basic_credentials_are_challenged(tmp_path: Path) -> None:  # TestDigestAuthFail
    async with live_gateway(tmp_path, auth(users=[TEST])) as gateway, httpx.AsyncClient() as client:
        response = await client.get(gateway.url + "/x", auth=("test", "test"))
    assert challenge_of(response)["realm"] == "traefik"


@pytest.mark.parametrize(
    ("content", "given", "expected", "realm"),
    [
        pytest.param(f"{TEST}\n{TEST2}\n", [], {"test": "test", "test2": "test2"}, "", id="finds the users"),
        pytest.param(
            f"{TEST}\n",
            [TEST2, TEST3],
            {"test": "test", "test2": "test2", "test3": "test3"},
            "",
            id="merges given users",
        ),
        pytest.param(
            f"{TEST}\n{TEST2}\n", [TEST2_OVERRIDDEN], {"test": "test", "test2": "overridden"}, "", id="given users win"
        ),
        pytest.param(f"{TEST}\n{TEST_TRAEFIKER}\n", [], {"test": "test2"}, "traefiker", id="realm picks the user"),
    ],
)
async def test_users_from_file(
    tmp_path: Path, content: str, given: list[str], expected: dict[str, str], realm: str
) -> None:
    (tmp_path / "users").write_text(content)
    options = {"usersFile": str(tmp_path / "users"), "users": given, **({"realm": realm} if realm else {})}
    async with live_gateway(tmp_path, auth(**options)) as gateway, httpx.AsyncClient() as client:
        for user, password in expected.items():
            response = await client.get(gateway.url + "/x", auth=httpx.DigestAuth(user, password))
            assert response.status_code == 200, user
            assert response.json()["path"] == "/x"
        refused = await client.get(gateway.url + "/x", auth=httpx.DigestAuth("foo", "foo"))
        assert challenge_of(refused)["realm"] == (realm or "traefik")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param({"headerField": "x-user"}, {"x-user": ["test"]}, id="TestDigestAuthUserHeaderCanonical"),
        pytest.param({"removeHeader": True}, {"authorization": None}, id="removeHeader"),
        pytest.param({}, {"x-user": ["admin"]}, id="nothing touched"),
    ],
)
async def test_headers_sent_upstream(tmp_path: Path, options: dict[str, Any], expected: dict[str, Any]) -> None:
    async with live_gateway(tmp_path, auth(users=[TEST], **options)) as gateway, httpx.AsyncClient() as client:
        response = await client.get(
            gateway.url + "/x", headers={"X-User": "admin"}, auth=httpx.DigestAuth("test", "test")
        )
    assert response.status_code == 200, gateway.explain()
    sent = sent_headers(response.json())
    for name, values in expected.items():
        assert sent.get(name) == values
    if options:
        assert "authorization" not in sent or sent["authorization"][0].startswith("Digest ")


@pytest.mark.parametrize(
    ("steps", "outcome"),
    [
        # goauth TestAuthDigest: each step is (nc, expected status, stale?)
        pytest.param([("00000001", 200), ("00000002", 200)], None, id="counting up"),
        pytest.param([("00000001", 200), ("00000001", 401)], "replay", id="replay refused"),
        pytest.param([("00000002", 200), ("00000001", 401)], "stale", id="lower count is stale"),
        pytest.param([("00000000", 200), ("00000000", 200)], None, id="count 0 again, as goauth"),
        pytest.param([("0x1", 401)], None, id="count not hex"),
    ],
)
async def test_nonce_counts(tmp_path: Path, steps: list[tuple[str, int]], outcome: str | None) -> None:
    async with live_gateway(tmp_path, auth(users=[TEST])) as gateway, httpx.AsyncClient() as client:
        challenge = challenge_of(await client.get(gateway.url + "/x"))
        last: httpx.Response | None = None
        for nc, status in steps:
            last = await client.get(gateway.url + "/x", headers={"Authorization": answer(challenge, nc=nc)})
            assert last.status_code == status, nc
    assert last is not None
    if outcome is not None:
        again = challenge_of(last)
        assert bool(again["stale"]) is (outcome == "stale")
        assert again["opaque"] == challenge["opaque"] and again["nonce"] != challenge["nonce"]


@pytest.mark.parametrize(
    ("path", "fields", "status"),
    [
        pytest.param("/x", {}, 200, id="good"),
        pytest.param("/x", {"algorithm": "<omit>"}, 200, id="no algorithm is MD5"),
        pytest.param("/x", {"algorithm": "SHA-256"}, 401, id="other algorithm"),
        pytest.param("/x", {"qop": "auth-int"}, 401, id="other qop"),
        pytest.param("/x", {"opaque": '"nope"'}, 401, id="wrong opaque"),
        pytest.param("/x", {"nonce": '"AAAAAAAAAAAAAAAA"'}, 401, id="nonce never issued"),
        pytest.param("/x/y?q=1", {"uri": "/x"}, 200, id="uri a prefix of the path (goauth)"),
        pytest.param("/x", {"uri": "/x/y"}, 401, id="uri longer than the path"),
        pytest.param("/z", {"uri": "/x"}, 401, id="uri elsewhere"),
        pytest.param("/x", {"user": "nobody", "ha1": ""}, 401, id="unknown user with empty HA1 (Traefik lets it in)"),
        pytest.param("/x", {"password": "wrong"}, 401, id="wrong password"),
        pytest.param("/x", {"method": "POST"}, 401, id="answer for another method"),
    ],
)
async def test_hand_made_answers(tmp_path: Path, path: str, fields: dict[str, str], status: int) -> None:
    async with live_gateway(tmp_path, auth(users=[TEST])) as gateway, httpx.AsyncClient() as client:
        challenge = challenge_of(await client.get(gateway.url + path))
        options = {k: fields.pop(k) for k in ("user", "password", "method", "ha1") if k in fields}
        uri = fields.pop("uri", path)
        value = answer(challenge, uri=uri, **options, **fields)
        response = await client.get(gateway.url + path, headers={"Authorization": value})
    assert response.status_code == status, gateway.explain()


async def test_config_error_names_the_entry(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="error parsing DigestUser entry for 'bob'"):
        async with live_gateway(tmp_path, auth(users=["bob:hash"])):
            pass


def test_requests_and_curl(tmp_path: Path, serve_app_sync: Any, stripproxy_sync: Any) -> None:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    upstream = serve_app_sync(app)
    gateway = stripproxy_sync(
        routes(auth(users=[TEST2_OVERRIDDEN], headerField="X-WebAuth-User")), services={"app": upstream.url}
    )
    with requests.Session() as session:
        session.auth = HTTPDigestAuth("test2", "overridden")
        for _ in range(3):  # the same nonce with a growing count
            response = session.get(gateway.url + "/x?q=1", timeout=5)
            assert response.status_code == 200
            assert sent_headers(response.json())["x-webauth-user"] == ["test2"]
    assert requests.get(gateway.url + "/x", auth=HTTPDigestAuth("test2", "test2"), timeout=5).status_code == 401
    if shutil.which("curl"):
        out = subprocess.run(
            [
                "curl",
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--digest",
                "-u",
                "test2:overridden",
                gateway.url + "/x",
            ],
            capture_output=True,
            timeout=10,
            check=True,
        ).stdout
        assert out == b"200"


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"user": "nobody"}, id="unknown user"),
        pytest.param({"user": "nobody", "ha1": ""}, id="unknown user answering for an empty HA1"),
        pytest.param({"user": ""}, id="no user name"),
    ],
)
async def test_an_unknown_user_costs_what_a_wrong_password_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fields: dict[str, str]
) -> None:
    """Timing must not tell which users exist: an unknown user is hashed (against a dummy HA1) and compared
    exactly as a known user with a wrong password is. Counted, not timed: the same MD5 work either way."""
    from proxy.middlewares import digestauth

    hashed: list[str] = []
    real_md5 = digestauth._md5
    monkeypatch.setattr(digestauth, "_md5", lambda text: hashed.append(text) or real_md5(text))
    compared: list[bytes] = []
    real_compare = digestauth.hmac.compare_digest
    monkeypatch.setattr(digestauth.hmac, "compare_digest", lambda a, b: compared.append(a) or real_compare(a, b))

    async def attempt(client: httpx.AsyncClient, url: str, **options: str) -> tuple[int, int, int]:
        challenge = challenge_of(await client.get(url))
        hashed.clear()
        compared.clear()
        response = await client.get(url, headers={"Authorization": answer(challenge, **options)})
        return response.status_code, len(hashed), len(compared)

    async with live_gateway(tmp_path, auth(users=[TEST])) as gateway, httpx.AsyncClient() as client:
        wrong_password = await attempt(client, gateway.url + "/x", password="wrong")
        unknown = await attempt(client, gateway.url + "/x", **fields)
    assert wrong_password == (401, 2, 1)  # HA2, the response digest, one constant-time comparison
    assert unknown == wrong_password
