"""A broken production file in a fixture (issue #12): the test fails with the problem said once, naming the
dynamic file and key path it is in, never only the static file that points at it. Run as a user's project
runs it: pytest in a subprocess, the plugin from its entry point, every fixture kind."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

STATIC = '[entryPoints.web]\naddress = "127.0.0.1:0"\n[providers.file]\ndirectory = "dynamic"\n'
GOOD = """
[http.routers.ok]
rule = "Path(`/ok`)"
service = "app"
[[http.services.app.loadBalancer.servers]]
url = "http://127.0.0.1:1"
"""
BROKEN = """
[http.routers.app]
rule = "PathPrefix(`/`)"
service = "app"
middlewares = ["nope"]
"""
PROBLEM = "http.routers.app: middleware 'nope' does not exist"

TESTS = """
import pytest

@pytest.mark.asyncio
async def test_async(stripproxy):
    await stripproxy("traefik.toml")

def test_sync(stripproxy_sync):
    stripproxy_sync("traefik.toml")

def test_process(stripproxy_process):
    stripproxy_process("traefik.toml")

@pytest.mark.asyncio
async def test_dynamic_alone(stripproxy):
    await stripproxy("dynamic/z-broken.toml", services={"app": "http://127.0.0.1:1"})
"""


@pytest.mark.parametrize("test", ["test_async", "test_sync", "test_process", "test_dynamic_alone"])
def test_a_broken_dynamic_file_is_named_once(pytester: pytest.Pytester, test: str) -> None:
    (pytester.path / "traefik.toml").write_text(STATIC)
    (pytester.path / "dynamic").mkdir()
    (pytester.path / "dynamic" / "a-good.toml").write_text(GOOD)
    (pytester.path / "dynamic" / "z-broken.toml").write_text(BROKEN + ("" if test != "test_dynamic_alone" else GOOD))
    pytester.makepyfile(test_user=TESTS)
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-o",
        "asyncio_mode=strict",
        "-o",
        "asyncio_default_fixture_loop_scope=function",
        "-rN",
        "-k",
        test,  # fmt: skip
    )
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    lines = [line for line in output.splitlines() if "does not exist" in line]
    assert len(lines) == 1, output
    assert f"z-broken.toml: {PROBLEM}" in lines[0], output
    assert "traefik.toml: " not in lines[0]
