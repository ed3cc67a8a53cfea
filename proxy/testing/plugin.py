"""pytest plugin (entry point `pytest11: stripproxy`): a local stack of gateway + apps, on free ports.

Fixtures (each a factory; everything it started is stopped at teardown):
  stripproxy          async: `gateway = await stripproxy("routes.toml", services={"app": url})` -> Gateway
  stripproxy_sync     sync:  the same on a background thread -> BackgroundGateway
  stripproxy_process  sync:  the real CLI in a subprocess -> GatewayProcess
  serve_app           async: `served = await serve_app(app, root_path="")` -> ServedApp (aiohttp or ASGI app)
  serve_app_sync      sync:  the same on a background thread -> ServedApp
  stripproxy_access_log  `log = stripproxy_access_log(gateway)` -> AccessLogCapture: each request the
                      gateway finishes from then on, as the record Traefik's JSON access log writes (a dict)

Gateways get free loopback ports (safe under pytest-xdist) and are strict: a broken router, service or
middleware fails the test at once. When a test fails, the requests that got a 404 from no router or an
error made by the proxy itself (502, 504...) are explained in a "stripproxy" report section.

The async fixtures need pytest-asyncio (pytest-aiohttp 1.x brings it) and run on its event loop.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest

_FAILURES = pytest.StashKey[list[Callable[[], list[str]]]]()
_TEST_DEFAULTS = {"free_ports": True, "strict": True}


@pytest.fixture(scope="session")
def stripproxy_ca_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixtures' local development CA (for routers with a certResolver): one per test session, in a
    scratch folder, never the user's own. `gateway.ca_file` / `gateway.client_ssl_context()` trust it."""
    return tmp_path_factory.mktemp("stripproxy-ca")


def _explainers(request: pytest.FixtureRequest) -> list[Callable[[], list[str]]]:
    explainers: list[Callable[[], list[str]]] = request.node.stash.setdefault(_FAILURES, [])
    return explainers


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pluggy.Result[pytest.TestReport], None]:
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    lines: list[str] = []
    for explainer in item.stash.get(_FAILURES, []):
        with contextlib.suppress(Exception):  # a stopped gateway must not hide the real failure
            lines += explainer()
    if lines:
        report.sections.append(("stripproxy: requests the proxy could not route or forward", "\n".join(lines)))


# -- synchronous fixtures -------------------------------------------------------------------------------
@pytest.fixture
def stripproxy_sync(request: pytest.FixtureRequest, stripproxy_ca_dir: Path) -> Iterator[Callable[..., Any]]:
    """Factory: `stripproxy_sync(config, services=..., **Gateway options)` -> a started BackgroundGateway."""
    from proxy.testing.sync import BackgroundGateway

    started: list[BackgroundGateway] = []

    def start(config: Any, **options: Any) -> BackgroundGateway:
        gateway = BackgroundGateway(config, **{**_TEST_DEFAULTS, "local_ca": stripproxy_ca_dir, **options}).start()
        started.append(gateway)
        _explainers(request).append(gateway.failures)
        return gateway

    yield start
    while started:
        started.pop().stop()


@pytest.fixture
def stripproxy_process(
    request: pytest.FixtureRequest, tmp_path: Path, stripproxy_ca_dir: Path
) -> Iterator[Callable[..., Any]]:
    """Factory: `stripproxy_process(config_file, services=..., args=[...])` -> a started GatewayProcess."""
    from proxy.testing.process import GatewayProcess

    started: list[GatewayProcess] = []

    def start(config: str | Path, **options: Any) -> GatewayProcess:
        workdir = tmp_path / f"stripproxy-process-{len(started)}"
        process = GatewayProcess(config, workdir=workdir, **{"ca_dir": stripproxy_ca_dir, **options}).start()
        started.append(process)
        _explainers(request).append(lambda: [line for line in process.output if " -> " in line])
        return process

    yield start
    while started:
        started.pop().stop()


@pytest.fixture
def serve_app_sync() -> Iterator[Callable[..., Any]]:
    """Factory: `serve_app_sync(app, root_path="")` -> ServedApp, served from a background thread."""
    from proxy.testing.upstreams import serve_app_in_thread

    with contextlib.ExitStack() as stack:
        yield lambda app, **options: stack.enter_context(serve_app_in_thread(app, **options))


@pytest.fixture
def stripproxy_access_log() -> Iterator[Callable[..., Any]]:
    """Factory: `stripproxy_access_log(gateway, fields=None, filters=None)` -> AccessLogCapture, a list of
    Traefik-shaped JSON access log records of the requests `gateway` (Gateway or BackgroundGateway) finishes."""
    from proxy.testing.accesslog import AccessLogCapture

    made: list[AccessLogCapture] = []

    def capture(gateway: Any, **options: Any) -> AccessLogCapture:
        log = AccessLogCapture(**options).attach(gateway)
        made.append(log)
        return log

    yield capture
    for log in made:
        log.detach()


# -- asynchronous fixtures (pytest-asyncio's loop) ------------------------------------------------------
try:
    import pytest_asyncio

    HAVE_PYTEST_ASYNCIO = True
except ImportError:  # pragma: no cover - sync fixtures only
    HAVE_PYTEST_ASYNCIO = False

if HAVE_PYTEST_ASYNCIO:

    @pytest_asyncio.fixture
    async def stripproxy(request: pytest.FixtureRequest, stripproxy_ca_dir: Path) -> AsyncIterator[Callable[..., Any]]:
        """Factory: `await stripproxy(config, services=..., **Gateway options)` -> a started Gateway."""
        from proxy.server.gateway import Gateway

        started: list[Gateway] = []

        async def start(config: Any, **options: Any) -> Gateway:
            gateway = Gateway(config, **{**_TEST_DEFAULTS, "local_ca": stripproxy_ca_dir, **options})
            await gateway.start()
            started.append(gateway)
            _explainers(request).append(gateway.failures)
            return gateway

        yield start
        while started:
            await started.pop().stop()

    @pytest_asyncio.fixture
    async def serve_app() -> AsyncIterator[Callable[..., Any]]:
        """Factory: `await serve_app(app, root_path="")` -> ServedApp (aiohttp app, or ASGI app via uvicorn)."""
        from proxy.testing.upstreams import ServedApp
        from proxy.testing.upstreams import serve_app as serve

        async with contextlib.AsyncExitStack() as stack:

            async def start(app: Any, **options: Any) -> ServedApp:
                return await stack.enter_async_context(serve(app, **options))

            yield start
