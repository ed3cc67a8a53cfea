"""The real CLI as a new user meets it (issue #12, CLI friction): what it says, once, about the problems it
meets. Each test runs `python -m proxy` in a subprocess on loopback ports."""

from __future__ import annotations

import os
import re
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
from e2e_helpers import ROOT, Proc, free_port, wait_until

SERVING = re.compile(r"entry point (\S+) serving on (\S+)")


def serving(proc: Proc, count: int = 1, timeout: float = 15) -> dict[str, str]:
    """Entry point -> the URL of its serving line, once `count` entry points serve."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = dict(SERVING.findall(proc.output()))
        if len(found) >= count:
            return found
        assert proc.popen.poll() is None, proc.output()
        time.sleep(0.05)
    raise AssertionError(f"not serving:\n{proc.output()}")


def get(port: int, target: str = "/", host: str = "localhost") -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1])


@pytest.fixture
def procs():
    started: list[Proc] = []
    yield started
    for proc in reversed(started):
        proc.stop()


def start_cli(procs: list[Proc], cwd: Path, *args: str) -> Proc:
    proc = Proc([sys.executable, "-m", "proxy", *args], cwd)
    procs.append(proc)
    return proc


ROUTES = """
[http.routers.app]
entryPoints = ["web"]
rule = "PathPrefix(`/`)"
service = "app"
[[http.services.app.loadBalancer.servers]]
url = "http://127.0.0.1:1"
"""


# -- 6. the watcher and the gateway's own files -------------------------------------------------------------
@pytest.mark.parametrize("provider", ["filename", "directory"])
def test_own_log_and_access_log_in_the_watched_folder_never_reload(tmp_path, procs, provider):
    """At DEBUG, with the log file and the access log beside the watched files: each line written is a change
    in the folder. Nothing may come of it (no reload, and no line about it, which would be one more change:
    watchfiles' own DEBUG lines made 10 lines a second, forever); a real change still reloads."""
    conf = tmp_path / "conf"
    conf.mkdir()
    port = free_port()
    (conf / "routes.toml").write_text(ROUTES)
    where = 'filename = "routes.toml"' if provider == "filename" else 'directory = "."'
    (conf / "traefik.toml").write_text(
        f'[entryPoints.web]\naddress = "127.0.0.1:{port}"\n[providers.file]\n{where}\nwatch = true\n'
        '[log]\nlevel = "DEBUG"\nfilePath = "gateway.log"\n[accessLog]\nfilePath = "access.log"\n'
    )
    proc = start_cli(procs, conf, "--config", "traefik.toml")
    log = conf / "gateway.log"
    assert wait_until(lambda: "serving on" in (log.read_text() if log.exists() else ""), 15), proc.output()
    for _ in range(20):
        assert get(port) == 502  # the upstream is a closed port: an access log line and a log line each
    time.sleep(1.5)  # several debounce periods: a feedback loop would show by now
    settled = log.read_text()
    time.sleep(1.5)
    assert log.read_text() == settled, "the idle gateway kept writing to its own log"
    assert "watchfiles" not in settled
    assert "reloaded" not in settled
    assert len((conf / "access.log").read_text().splitlines()) == 20
    (conf / "routes.toml").write_text(ROUTES.replace("PathPrefix(`/`)", "PathPrefix(`/v2`)"))
    assert wait_until(lambda: "configuration reloaded" in log.read_text(), 10), log.read_text()
    assert get(port, "/") == 404


# -- 1. TLS where plain HTTP is served, and the opposite --------------------------------------------------------
def tls_get(port: int, verify: str | None, server_name: str | None = None) -> tuple[int, bytes, dict]:
    """A GET over TLS to a loopback port: (status, body, the server certificate's subject as a dict).
    `verify`: a CA file to check the certificate against, None to take any certificate."""
    context = ssl.create_default_context(cafile=verify) if verify else ssl._create_unverified_context()
    if not verify:
        context.check_hostname = False
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=server_name) as sock:
            der = sock.getpeercert(binary_form=True)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
    from cryptography import x509

    subject = {attr.oid._name: attr.value for attr in x509.load_der_x509_certificate(der).subject}
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body, subject


def plain_setup(tmp_path: Path, level: str = "DEBUG", dynamic_extra: str = "") -> tuple[Path, int]:
    port = free_port()
    (tmp_path / "routes.toml").write_text(ROUTES + dynamic_extra)
    (tmp_path / "traefik.toml").write_text(
        f'[entryPoints.web]\naddress = "127.0.0.1:{port}"\n[providers.file]\nfilename = "routes.toml"\n'
        f'[log]\nlevel = "{level}"\n'
    )
    return tmp_path / "traefik.toml", port


def test_https_to_a_plain_entry_point_gets_the_default_certificate_and_404(tmp_path, procs):
    """Traefik's TCP router reads every connection's first bytes (pkg/server/router/tcp/router.go ServeTCP): a
    ClientHello on an entry point without TLS routers goes to its HTTPS forwarder, made with the default TLS
    config (manager.go: SetHTTPSHandler(handlerHTTPS, defaultTLSConf)), whose routes are none: a handshake with
    the generated default certificate, then 404. It is not parsed as HTTP ("Invalid method", a 400 that a TLS
    client reads as "wrong version number"). The log says what happened, at DEBUG only."""
    config, port = plain_setup(tmp_path)
    proc = start_cli(procs, tmp_path, "--config", str(config))
    serving(proc)
    status, body, subject = tls_get(port, verify=None)
    assert (status, body) == (404, b"404 page not found\n")
    assert subject["commonName"] == "TRAEFIK DEFAULT CERT"
    with pytest.raises(ssl.SSLCertVerificationError):  # what curl https:// says: a self-signed certificate
        tls_get(port, verify=certifi_or_system(), server_name="localhost")
    assert get(port) == 502  # plain HTTP on the same port is served as before
    output = proc.stop()
    line = "TLS handshake received on plain HTTP entry point web (from 127.0.0.1:"
    hellos = [entry for entry in output.splitlines() if line in entry]
    assert len(hellos) == 2, output
    assert all(
        " DBG " in entry and entry.endswith("): is the client using https:// on an http port?") for entry in hellos
    )
    assert "Invalid method" not in output and "bad request" not in output


def certifi_or_system() -> str:
    """A CA file that does not sign the gateway's certificate (the system's bundle)."""
    path = ssl.get_default_verify_paths().cafile
    if path is None:
        pytest.skip("no system CA bundle")
    return path


def test_https_to_a_plain_entry_point_is_not_logged_at_the_default_level(tmp_path, procs):
    config, port = plain_setup(tmp_path, level="ERROR")
    proc = start_cli(procs, tmp_path, "--config", str(config))
    serving(proc)
    assert tls_get(port, verify=None)[0] == 404
    output = proc.stop()
    assert "TLS" not in output and "bad request" not in output, output


def test_https_to_a_plain_entry_point_uses_the_configured_default_certificate(tmp_path, procs):
    """The default TLS config is the configuration's: the default store's defaultCertificate when set."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    store = '\n[tls.stores.default.defaultCertificate]\ncertFile = "cert.pem"\nkeyFile = "key.pem"\n'
    config, port = plain_setup(tmp_path, dynamic_extra=store)
    proc = start_cli(procs, tmp_path, "--config", str(config))
    serving(proc)
    status, body, _ = tls_get(port, verify=str(tmp_path / "ca.pem"), server_name="localhost")
    assert (status, body) == (404, b"404 page not found\n")


def test_plain_http_to_an_entry_point_with_only_tls_routers_gets_404(tmp_path, procs):
    """The opposite: plain HTTP where only TLS routers are (entry point http.tls). Traefik's TCP router sends a
    non-TLS connection to its HTTP forwarder (ServeTCP: !hello.isTLS -> httpForwarder), which has no router
    here: 404, on plain HTTP. Go's own "Client sent an HTTP request to an HTTPS server" comes from
    http.Server.ServeTLS, which Traefik does not use; nor does it log a TLS handshake error for it."""
    port = free_port()
    (tmp_path / "routes.toml").write_text(ROUTES)
    (tmp_path / "traefik.toml").write_text(
        f'[entryPoints.web]\naddress = "127.0.0.1:{port}"\n[entryPoints.web.http.tls]\n'
        '[providers.file]\nfilename = "routes.toml"\n[log]\nlevel = "DEBUG"\n'
    )
    proc = start_cli(procs, tmp_path, "--config", "traefik.toml")
    assert serving(proc)["web"].startswith("https://")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 404 Not Found\r\n"), data
    assert data.endswith(b"\r\n\r\n404 page not found\n")
    assert tls_get(port, verify=None)[0] == 502  # the TLS router is served
    output = proc.stop()
    assert "handshake" not in output.lower() and "Client sent an HTTP request" not in output


def raw_exchange(port: int, data: bytes) -> bytes:
    """Send `data` and read until the gateway closes (what it answers, b"" for nothing)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return received


@pytest.mark.parametrize(
    ("data", "answer"),
    [
        # Traefik reads a ClientHello from a first byte 0x16; one that does not parse is closed unanswered
        # (router.go clientHelloInfo -> "Error while reading client hello" at DEBUG).
        pytest.param(b"\x16\x03\x01\x00\x05hello", b"", id="broken-client-hello"),
        # 0x80: an SSLv2 hello, taken for TLS "and refused by the real TLS handshake".
        pytest.param(b"\x80\x2e\x01\x00\x02" + b"\x00" * 45, b"", id="sslv2-hello"),
        # Not TLS, not HTTP: Go's 400.
        pytest.param(b"\x01\x02 / HTTP/1.1\r\n\r\n", b"HTTP/1.1 400 Bad Request\r\n", id="garbage-400"),
        # After a request, a 0x16 is no ClientHello any more (Traefik looks at the first bytes only): 400.
        pytest.param(
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\x16\x03\x01\x00\x05hello",
            b"HTTP/1.1 400 Bad Request\r\n",
            id="later-0x16",
        ),
    ],
)
def test_first_bytes_as_traefik_reads_them(tmp_path, procs, data, answer):
    config, port = plain_setup(tmp_path)
    proc = start_cli(procs, tmp_path, "--config", str(config))
    serving(proc)
    received = raw_exchange(port, data)
    if answer:
        assert answer in received, received
    else:
        assert received == b""


def test_https_to_a_plain_entry_point_without_the_tls_extra_is_a_400(tmp_path):
    """Without cryptography (the `tls` extra) there is no default certificate to make: the ClientHello is
    answered as unparseable HTTP, as before, and the gateway keeps serving."""
    blocked = tmp_path / "blocked" / "cryptography"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text('raise ImportError("cryptography is not installed (test)")\n')
    config, port = plain_setup(tmp_path)
    env = {**os.environ, "PYTHONPATH": f"{tmp_path / 'blocked'}{os.pathsep}{ROOT}"}
    log = tmp_path / "out.txt"
    with log.open("wb") as out:
        popen = subprocess.Popen([sys.executable, "-m", "proxy", "--config", str(config)], cwd=tmp_path, env=env,
                                 stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            assert wait_until(lambda: "serving on" in log.read_text(), 15), log.read_text()
            with pytest.raises(ssl.SSLError):
                tls_get(port, verify=None)
            assert get(port) == 502  # still serving plain HTTP
        finally:
            popen.terminate()
            popen.wait(10)
    output = log.read_text()
    assert "no TLS without the tls extra" in output
    assert "bad request from 127.0.0.1" in output and "Traceback" not in output
