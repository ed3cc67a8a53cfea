"""basicAuth, from traefik/traefik pkg/middlewares/auth/basic_auth_test.go (TestNewBasicEmpty,
TestBasicAuthFail, TestBasicAuthSuccess, TestBasicAuthUserHeader, TestBasicAuthUserHeaderCanonical,
TestBasicAuthHeaderRemoved, TestBasicAuthHeaderPresent, TestBasicAuthConcurrentHashOnce,
TestBasicAuthUsersFromFile) and goauth's basic_test.go hash table; live through a gateway with httpx,
requests and curl."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
import requests
from aiohttp import web
from passlib.hash import ldap_sha1, md5_crypt

import proxy.middlewares.basicauth as basicauth_module
from proxy.config.errors import ConfigError
from proxy.middlewares.basicauth import BasicAuth, WaitingBasicAuth, basic_auth, basic_credentials, check_secret
from tests.middlewares.live import echo, live_gateway, routes, sent_headers

# Traefik's test users (password = user name, test2's override has password "overridden").
TEST = "test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"
TEST2 = "test2:$apr1$d9hr9HBB$4HxwgUir3HP4EsggP/QNo0"
TEST3 = "test3:$apr1$3rJbDP0q$RfzJiorTk78jQ1EcKqWso0"
TEST2_OVERRIDDEN = "test2:$apr1$mK.GtItK$ncnLYvNLek0weXdxo68690"
SHA_TEST = "test:" + ldap_sha1.hash("test")
BCRYPT_FAST = bcrypt.hashpw(b"test", bcrypt.gensalt(4)).decode()  # "$2b$04$..."


@pytest.mark.parametrize(
    ("password", "secret", "ok"),
    [
        # goauth basic_test.go TestAuthBasic / htpasswd formats
        pytest.param(b"test", "$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/", True, id="apr1"),
        pytest.param(b"tesT", "$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/", False, id="apr1-wrong"),
        pytest.param(b"hello", md5_crypt.hash("hello"), True, id="md5-crypt $1$"),
        pytest.param(b"hello", "{SHA}qvTGHdzF6KLavt4PO0gs2a6pQ00=", True, id="sha1"),
        pytest.param(b"hellO", "{SHA}qvTGHdzF6KLavt4PO0gs2a6pQ00=", False, id="sha1-wrong"),
        pytest.param(b"test", BCRYPT_FAST, True, id="bcrypt $2b$"),
        pytest.param(b"test", "$2y$" + BCRYPT_FAST[4:], True, id="bcrypt $2y$ (htpasswd -B)"),
        pytest.param(b"test", "$2a$" + BCRYPT_FAST[4:], True, id="bcrypt $2a$"),
        pytest.param(b"test", "$2x$" + BCRYPT_FAST[4:], True, id="bcrypt $2x$ (as Go: same as $2y$)"),
        pytest.param(b"tesT", BCRYPT_FAST, False, id="bcrypt-wrong"),
        pytest.param(
            b"x" * 80, bcrypt.hashpw(b"x" * 72, bcrypt.gensalt(4)).decode(), True, id="bcrypt counts 72 bytes, as Go's"
        ),
        pytest.param(b"test", "test", False, id="plain text is refused (TestBasicAuthFail)"),
        pytest.param(b"test", "$5$rounds=5000$salt$hash", False, id="other crypt magic"),
        pytest.param(b"test", "$2y$04$short", False, id="malformed bcrypt"),
        pytest.param(b"test", "{SHA}not base64!", False, id="malformed sha"),
        pytest.param(b"test", "$apr1$toolongsalt$IgXLP6ewTrSuBkTrqE8wj/", False, id="apr1 salt over 8"),
    ],
)
def test_check_secret(password: bytes, secret: str, ok: bool) -> None:
    assert check_secret(password, secret.encode()) is ok


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("Basic dGVzdDp0ZXN0", (b"test", b"test"), id="plain"),
        pytest.param("bAsIc dGVzdDp0ZXN0", (b"test", b"test"), id="scheme any case"),
        pytest.param("Basic dGVzdDo=", (b"test", b""), id="empty password"),
        pytest.param("Basic OnB3", (b"", b"pw"), id="empty user"),
        pytest.param("Basic dGVzdDphOmI=", (b"test", b"a:b"), id="colon in password"),
        pytest.param("Basic dGVzdA==", None, id="no colon"),
        pytest.param("Basic dGVzdDp0ZXN0=", None, id="bad padding"),
        pytest.param("Basic  dGVzdDp0ZXN0", None, id="two spaces"),
        pytest.param("Basic", None, id="no credentials"),
        pytest.param("Bearer dGVzdDp0ZXN0", None, id="other scheme"),
    ],
)
def test_basic_credentials(header: str, expected: tuple[bytes, bytes] | None) -> None:
    assert basic_credentials(header) == expected


@pytest.mark.parametrize(
    ("users", "message"),
    [
        pytest.param([], "no users found", id="TestNewBasicEmpty"),
        pytest.param(["test"], "error parsing BasicUser entry for 'test'", id="TestBasicAuthFail: no hash"),
        pytest.param(["a:b:c"], "error parsing BasicUser entry for 'a'", id="two colons"),
    ],
)
def test_new_refuses(users: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        basic_auth(users)


def test_hash_kinds_decide_whether_it_waits() -> None:
    assert type(basic_auth([SHA_TEST])) is BasicAuth
    assert type(basic_auth([TEST])) is WaitingBasicAuth
    assert not WaitingBasicAuth.waits  # a cache hit stays synchronous; a miss returns an awaitable
    assert type(basic_auth([SHA_TEST, "b:" + BCRYPT_FAST])) is WaitingBasicAuth
    assert basic_auth([TEST, TEST2]).not_found_secret == TEST.split(":")[1].encode()  # TestNewBasicNotFoundSecretIsSet


def test_error_never_shows_the_hash() -> None:
    with pytest.raises(ValueError) as caught:
        basic_auth(["alice:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/:x"])
    assert "apr1" not in str(caught.value)


# -- live -------------------------------------------------------------------------------------------------


def auth(**options: Any) -> dict[str, Any]:
    return {"auth": {"basicAuth": options}}


async def fetch(gateway: Any, user: str | None = None, password: str = "", headers: Any = None) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(
            gateway.url + "/x", auth=(user, password) if user is not None else None, headers=headers
        )


def assert_challenged(response: httpx.Response, realm: str = "traefik") -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == f'Basic realm="{realm}"'
    assert response.headers["content-type"] == "text/plain"
    assert response.content == b"401 Unauthorized\n"
    assert "x-webauth-user" not in response.headers


@pytest.mark.parametrize(
    "users",
    [
        pytest.param([SHA_TEST], id="sha (sync)"),
        pytest.param([TEST], id="apr1"),
        pytest.param(["test:" + BCRYPT_FAST], id="bcrypt"),
    ],
)
async def test_success_and_failure(tmp_path: Path, users: list[str]) -> None:
    async with live_gateway(tmp_path, auth(users=users)) as gateway:
        ok = await fetch(gateway, "test", "test")
        assert ok.status_code == 200, gateway.explain()
        assert sent_headers(ok.json())["authorization"] == ["Basic dGVzdDp0ZXN0"]  # TestBasicAuthHeaderPresent
        assert_challenged(await fetch(gateway, "test", "wrong"))
        assert_challenged(await fetch(gateway, "nobody", "test"))
        assert_challenged(await fetch(gateway))
        assert_challenged(await fetch(gateway, headers={"Authorization": "Basic !!!"}))
        again = await fetch(gateway, "test", "test")  # now from the cache
        assert again.status_code == 200


async def test_plain_text_user_is_refused(tmp_path: Path) -> None:
    async with live_gateway(tmp_path, auth(users=["test:test"])) as gateway:  # TestBasicAuthFail
        assert_challenged(await fetch(gateway, "test", "test"))


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param(
            {"headerField": "X-Webauth-User"},
            {"x-webauth-user": ["test"], "authorization": ["Basic dGVzdDp0ZXN0"]},
            id="TestBasicAuthUserHeader",
        ),
        pytest.param({"headerField": "x-user"}, {"x-user": ["test"]}, id="TestBasicAuthUserHeaderCanonical"),
        pytest.param({"removeHeader": True}, {"authorization": None}, id="TestBasicAuthHeaderRemoved"),
    ],
)
async def test_headers_sent_upstream(tmp_path: Path, options: dict[str, Any], expected: dict[str, Any]) -> None:
    async with live_gateway(tmp_path, auth(users=[TEST], **options)) as gateway:
        response = await fetch(gateway, "test", "test", headers={"X-User": "admin", "X-Webauth-User": "admin"})
    assert response.status_code == 200, gateway.explain()
    sent = sent_headers(response.json())
    for name, values in expected.items():
        assert sent.get(name) == values
    if options.get("headerField") == "x-user":  # the client's X-User is gone, the name is as configured
        assert [n for n, _ in response.json()["headers"] if n.lower() == "x-user"] == ["x-user"]


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
        pytest.param(
            f"{TEST}\n{TEST2}\n",
            [TEST2_OVERRIDDEN],
            {"test": "test", "test2": "overridden"},
            "traefik",
            id="realm traefik",
        ),
        pytest.param(
            f"#Comment\n{TEST}\n  \n\t{TEST2}  \r\n",
            [],
            {"test": "test", "test2": "test2"},
            "traefiker",
            id="skips comments and blanks, trims",
        ),
    ],
)
async def test_users_from_file(
    tmp_path: Path, content: str, given: list[str], expected: dict[str, str], realm: str
) -> None:
    users_file = tmp_path / "auth-users"
    users_file.write_text(content)
    options = {"usersFile": str(users_file), "users": given, **({"realm": realm} if realm else {})}
    async with live_gateway(tmp_path, auth(**options)) as gateway:
        for user, password in expected.items():
            assert (await fetch(gateway, user, password)).status_code == 200, user
        assert_challenged(await fetch(gateway, "foo", "foo"), realm or "traefik")


async def test_relative_users_file_is_read_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "users.htpasswd").write_text(TEST + "\n")
    monkeypatch.chdir(tmp_path)
    async with live_gateway(tmp_path / "conf", auth(usersFile="users.htpasswd")) as gateway:
        assert (await fetch(gateway, "test", "test")).status_code == 200


async def test_users_file_is_read_again_on_reload(tmp_path: Path) -> None:
    users_file = tmp_path / "users"
    users_file.write_text(TEST + "\n")
    async with live_gateway(tmp_path, auth(usersFile=str(users_file))) as gateway:
        assert (await fetch(gateway, "test", "test")).status_code == 200
        users_file.write_text(TEST2 + "\n")
        gateway.reload()
        assert_challenged(await fetch(gateway, "test", "test"))  # the cache went with the old middleware
        assert (await fetch(gateway, "test2", "test2")).status_code == 200


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param({"users": []}, "no users found", id="no users"),
        pytest.param({"usersFile": "/nonexistent/users"}, "usersFile '/nonexistent/users'", id="missing file"),
        pytest.param({"users": ["bob"]}, "error parsing BasicUser entry for 'bob'", id="bad entry"),
    ],
)
async def test_config_errors(tmp_path: Path, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        async with live_gateway(tmp_path, auth(**options)):
            pass


async def test_concurrent_identical_misses_hash_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TestBasicAuthConcurrentHashOnce: two requests with the same credentials at once, one check."""
    calls: list[bytes] = []

    def slow_check(password: bytes, secret: bytes) -> bool:
        calls.append(password)
        time.sleep(0.2)
        return True

    monkeypatch.setattr(basicauth_module, "check_secret", slow_check)
    async with live_gateway(tmp_path, auth(users=["test:" + BCRYPT_FAST])) as gateway:
        async with httpx.AsyncClient() as client:
            first, second = await asyncio.gather(
                *(client.get(gateway.url + "/x", auth=("test", "pw")) for _ in range(2))
            )
            assert (first.status_code, second.status_code) == (200, 200)
            assert len(calls) == 1
            assert (await client.get(gateway.url + "/x", auth=("test", "pw"))).status_code == 200
            assert len(calls) == 1  # remembered


async def test_a_slow_check_does_not_hold_up_a_known_client(tmp_path: Path) -> None:
    slow = bcrypt.hashpw(b"slow", bcrypt.gensalt(13)).decode()  # some 0.5-1 s of CPU
    async with live_gateway(tmp_path, auth(users=["test:" + BCRYPT_FAST, "slow:" + slow])) as gateway:
        async with httpx.AsyncClient(timeout=30) as client:
            assert (await client.get(gateway.url + "/x", auth=("test", "test"))).status_code == 200
            started = time.monotonic()
            pending = asyncio.ensure_future(client.get(gateway.url + "/x", auth=("slow", "slow")))
            await asyncio.sleep(0.05)
            known = await client.get(gateway.url + "/x", auth=("test", "test"))
            known_after = time.monotonic() - started
            assert not pending.done()
            assert (await pending).status_code == 200
            slow_after = time.monotonic() - started
    assert known.status_code == 200
    assert known_after < slow_after / 2, (known_after, slow_after)


def test_requests_and_curl(tmp_path: Path, serve_app_sync: Any, stripproxy_sync: Any) -> None:
    (tmp_path / "users").write_text(TEST + "\n")
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    upstream = serve_app_sync(app)
    gateway = stripproxy_sync(
        routes(auth(usersFile=str(tmp_path / "users"), realm="my realm")), services={"app": upstream.url}
    )
    ok = requests.get(gateway.url + "/x", auth=("test", "test"), timeout=5)
    assert ok.status_code == 200
    refused = requests.get(gateway.url + "/x", auth=("test", "nope"), timeout=5)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == 'Basic realm="my realm"'
    if shutil.which("curl"):
        out = subprocess.run(
            ["curl", "-sS", "-i", "-u", "test:test", gateway.url + "/x"], capture_output=True, timeout=10, check=True
        ).stdout
        assert out.startswith(b"HTTP/1.1 200 ")
        out = subprocess.run(
            ["curl", "-sS", "-i", gateway.url + "/x"], capture_output=True, timeout=10, check=True
        ).stdout
        assert out.startswith(b"HTTP/1.1 401 ") and b'Www-Authenticate: Basic realm="my realm"\r\n' in out
        assert out.endswith(b"\r\n\r\n401 Unauthorized\n")


@pytest.mark.parametrize(
    ("users", "expected"),
    [
        pytest.param([TEST, TEST2], TEST, id="same kind: the first, as TestNewBasicNotFoundSecretIsSet"),
        pytest.param([SHA_TEST, "b:" + BCRYPT_FAST], "b:" + BCRYPT_FAST, id="mixed: bcrypt, not the quick SHA"),
        pytest.param([SHA_TEST, TEST2], TEST2, id="mixed: MD5-crypt over SHA"),
        pytest.param(
            ["a:" + BCRYPT_FAST, "c:" + BCRYPT_FAST.replace("$04$", "$05$", 1)],
            "c:" + BCRYPT_FAST.replace("$04$", "$05$", 1),
            id="the highest bcrypt cost",
        ),
    ],
)
def test_an_unknown_user_is_checked_against_the_slowest_hash(users: list[str], expected: str) -> None:
    assert basic_auth(users).not_found_secret == expected.split(":", 1)[1].encode()


@pytest.mark.parametrize("user", [pytest.param("nobody", id="unknown user"), pytest.param("b", id="wrong password")])
async def test_bcrypt_runs_for_an_unknown_user_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user: str) -> None:
    """Counted, not timed: an unknown user costs one bcrypt check, as a known user's wrong password does."""
    checked: list[bytes] = []
    real = bcrypt.checkpw
    monkeypatch.setattr(basicauth_module.bcrypt, "checkpw", lambda pw, h: checked.append(h) or real(pw, h))
    async with live_gateway(tmp_path, auth(users=[SHA_TEST, "b:" + BCRYPT_FAST])) as gateway:
        response = await fetch(gateway, user, "wrong")
    assert response.status_code == 401
    assert checked == [BCRYPT_FAST.encode()]
