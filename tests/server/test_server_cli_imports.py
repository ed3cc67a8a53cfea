"""The real CLI loads only what its configuration needs: every module it imports costs memory for the
whole life of the process (pydantic-settings ~9 MiB, watchfiles + anyio ~3 MiB, PyYAML ~1 MiB)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

# Runs proxy.cli.main() as `python -m proxy` does, and writes the modules loaded by the time it exits.
RUN_CLI = """
import atexit, pathlib, sys
modules_file = pathlib.Path(sys.argv.pop(1))
atexit.register(lambda: modules_file.write_text("\\n".join(sorted(sys.modules))))
from proxy.cli import main
sys.exit(main())
"""

# The FastAPI guide's routes file; its router names the `http` entry point.
ROUTES = (Path(__file__).resolve().parents[2] / "config" / "routes.toml").read_text()


def static_toml(watch: bool) -> str:
    return (
        f'[entryPoints.http]\naddress = "127.0.0.1:0"\n'
        f'[providers.file]\nfilename = "routes.toml"\nwatch = {str(watch).lower()}\n'
    )


def modules_of_cli_run(folder: Path, args: list[str]) -> set[str]:
    """Start the CLI, wait until it serves, stop it with SIGTERM; the modules it had loaded."""
    modules_file = folder / "modules.txt"
    with subprocess.Popen(
        [sys.executable, "-c", RUN_CLI, str(modules_file), *args],
        cwd=folder,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    ) as proc:
        try:
            assert proc.stderr is not None
            seen = []
            for line in proc.stderr:
                seen.append(line)
                if "serving on" in line:
                    break
            else:
                pytest.fail(f"the CLI exited with {proc.wait()} before serving:\n{''.join(seen)}")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=20) == 0, "".join(seen)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return set(modules_file.read_text().split())


@pytest.mark.parametrize(
    ("watch", "flags", "loaded", "not_loaded"),
    [
        pytest.param(
            False,
            [],
            {"proxy.server.gateway", "uvloop"},
            {"pydantic_settings", "yaml", "watchfiles", "anyio", "proxy.server.sources"},
            id="toml-file-alone-no-watch",
        ),
        pytest.param(True, [], {"watchfiles"}, {"pydantic_settings", "yaml"}, id="toml-file-alone-watching"),
        pytest.param(
            False,
            ["--log.level=INFO"],
            {"pydantic_settings"},
            {"yaml", "watchfiles"},
            id="file-and-flags-are-merged-by-pydantic-settings",
        ),
    ],
)
def test_cli_imports_only_what_the_config_needs(
    tmp_path: Path, watch: bool, flags: list[str], loaded: set[str], not_loaded: set[str]
) -> None:
    (tmp_path / "traefik.toml").write_text(static_toml(watch))
    (tmp_path / "routes.toml").write_text(ROUTES)
    modules = modules_of_cli_run(tmp_path, ["--config", "traefik.toml", *flags])
    assert loaded <= modules, f"expected to be loaded: {sorted(loaded - modules)}"
    assert not (not_loaded & modules), f"loaded without need: {sorted(not_loaded & modules)}"
