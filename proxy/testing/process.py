"""The real CLI in a subprocess (`python -m proxy --config FILE`), for process-level isolation.

Entry points are bound to port 0 through Traefik-style flags and the real ports are read from the CLI's
"entry point NAME serving on URL" lines, so there is no port race. `services=` overrides are applied to
copies of the config files (YAML, in a scratch folder); the originals are never touched.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from proxy.config.errors import ConfigError, ConfigProblem
from proxy.config.loader import classify, dynamic_files, read_any_config, read_config_file
from proxy.config.static_sources import load_static
from proxy.server.sources import resolve, router_entry_points

START_TIMEOUT = 20.0
SERVING_LINE = re.compile(r"entry point (\S+) serving on (\S+)")


def loopback_url(url: str) -> str:
    """A serving line's URL to connect to: a wildcard bind (0.0.0.0, [::]) is reached on loopback."""
    scheme, sep, rest = url.partition("://")
    host, colon, port = rest.rpartition(":")
    if host in ("0.0.0.0", "[::]"):
        return f"{scheme}{sep}{'127.0.0.1' if host == '0.0.0.0' else '[::1]'}{colon}{port}"
    return url


class GatewayProcess:
    """`start()` runs the CLI and waits until every entry point serves; `stop()` sends SIGTERM."""

    def __init__(
        self,
        config: str | Path,
        *,
        services: Mapping[str, str] | None = None,
        free_ports: bool = True,
        strict: bool = True,
        args: Iterable[str] = (),
        workdir: str | Path | None = None,
        ca_dir: str | Path | None = None,
    ) -> None:
        self.config = Path(config)
        self.ca_dir = Path(ca_dir) if ca_dir is not None else None  # STRIPPROXY_CA_DIR: the local CA's folder
        self.services = dict(services or {})
        self.free_ports = free_ports
        self.strict = strict
        self.args = list(args)
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="stripproxy-"))
        self.urls: dict[str, str] = {}
        self.output: list[str] = []  # the CLI's stderr lines
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._all_serving = threading.Event()
        self._names: list[str] = []

    @property
    def url(self) -> str:
        if len(self.urls) != 1:
            raise ValueError(f"the gateway has entry points {sorted(self.urls)}: use .urls[name]")
        return next(iter(self.urls.values()))

    @property
    def pid(self) -> int | None:
        """The CLI's process id while it runs (for /proc readings, signals), else None."""
        return self._process.pid if self._process is not None else None

    @property
    def ca_file(self) -> str:
        """The local development CA's certificate the CLI signs certResolver routers' certificates with."""
        from proxy.tls.localca import CA_CERT, default_ca_dir

        return str((self.ca_dir or default_ca_dir()) / CA_CERT)

    @property
    def log(self) -> str:
        return "\n".join(self.output)

    def command(self) -> list[str]:
        config = write_with_services(self.config, self.services, self.workdir) if self.services else self.config
        resolved = resolve(config)
        self._names = (
            list(resolved.static.entry_points)
            if resolved.static
            else router_entry_points(resolved.dynamic)
            if self.free_ports
            else ["http"]
        )  # the CLI's default
        flags = [f"--entrypoints.{name}.address=127.0.0.1:0" for name in self._names] if self.free_ports else []
        return [
            sys.executable,
            "-m",
            "proxy",
            "--config",
            str(config),
            *(["--strict"] if self.strict else []),
            *flags,
            *self.args,
        ]

    def start(self) -> GatewayProcess:
        command = self.command()
        env = None if self.ca_dir is None else {**os.environ, "STRIPPROXY_CA_DIR": str(self.ca_dir)}
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=env,
        )
        self._reader = threading.Thread(target=self._read_stderr, name="stripproxy-cli-log", daemon=True)
        self._reader.start()
        serving = self._all_serving.wait(START_TIMEOUT) and set(self._names) <= set(self.urls)
        if not serving or self._process.poll() is not None:
            status = self.stop()
            raise RuntimeError(f"stripproxy did not start (exit status {status}): {' '.join(command)}\n{self.log}")
        return self

    def _read_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        for line in self._process.stderr:
            self.output.append(line.rstrip("\n"))
            if found := SERVING_LINE.search(line):
                self.urls[found.group(1)] = loopback_url(found.group(2))
                if set(self._names) <= set(self.urls):
                    self._all_serving.set()
        self._all_serving.set()  # the process ended: let start() see it

    def stop(self) -> int | None:
        """Terminate the CLI; returns its exit status."""
        process, self._process = self._process, None
        status = None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            status = process.returncode
            if self._reader is not None:
                self._reader.join(5)
            if process.stderr is not None:
                process.stderr.close()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return status

    def __enter__(self) -> GatewayProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def write_with_services(config: Path, services: Mapping[str, str], workdir: Path) -> Path:
    """Copies of `config` (and the dynamic files a static config names) with `services` repointed."""
    workdir.mkdir(parents=True, exist_ok=True)
    raw = read_any_config(config)  # a dynamic file alone may be a Go template, rendered as Traefik does
    pending = dict(services)
    if classify(raw) == "dynamic":
        target = workdir / "routes.yaml"
        target.write_text(yaml.safe_dump(_repointed(raw, pending)), encoding="utf-8")
    else:
        static = load_static(config, [], {}, layered=True)
        if static.providers.file is None:
            raise ConfigError([ConfigProblem(str(config), "providers.file", "no dynamic files to repoint")])
        folder = workdir / "dynamic"
        folder.mkdir(exist_ok=True)
        for index, path in enumerate(dynamic_files(static.providers.file, config.resolve().parent)):
            copy = _repointed(read_config_file(path, template=True), pending)
            (folder / f"{index:03d}-{path.stem}.yaml").write_text(yaml.safe_dump(copy), encoding="utf-8")
        providers = _key(raw, "providers", {})
        providers[_name_of(providers, "file")] = {"directory": str(folder), "watch": False}
        target = workdir / "traefik.yaml"
        target.write_text(yaml.safe_dump(raw), encoding="utf-8")
    if pending:
        raise ConfigError(
            [
                ConfigProblem(str(config), "", f"services override {name!r}: no such loadBalancer service")
                for name in pending
            ]
        )
    return target


def _repointed(raw: dict[str, Any], pending: dict[str, str]) -> dict[str, Any]:
    services = _key(_key(raw, "http", {}), "services", {})
    for name in list(pending):
        service = services.get(name.partition("@")[0])
        if isinstance(service, dict) and _name_of(service, "loadBalancer") in service:
            balancer = service[_name_of(service, "loadBalancer")]
            balancer[_name_of(balancer, "servers")] = [{"url": pending.pop(name)}]
    return raw


def _name_of(mapping: dict[str, Any], key: str) -> str:
    """The key as spelled in `mapping` (Traefik keys are case-insensitive), else `key`."""
    return next((name for name in mapping if str(name).lower() == key.lower()), key)


def _key(mapping: dict[str, Any], key: str, default: Any) -> Any:
    return mapping.setdefault(_name_of(mapping, key), default)
