"""Client TLS settings (Traefik's ClientTLS: ca, cert, key, insecureSkipVerify) as an ssl.SSLContext.

Source (traefik/traefik): pkg/types/tls.go CreateTLSConfig: each of ca, cert and key is a file path when such a
file exists, else PEM text; cert and key come together; no ca means the system's trust store.
"""

from __future__ import annotations

import atexit
import os
import ssl
import tempfile
from typing import Any

_written: list[str] = []


def _cleanup() -> None:
    for path in _written:
        try:
            os.unlink(path)
        except OSError:
            pass


atexit.register(_cleanup)


def pem_path(value: str, key: str) -> str:
    """A file holding `value`: the path itself when it names a file, else PEM text written to a private
    temporary file (Python's ssl module loads certificates and keys from files only)."""
    if os.path.isfile(value):
        return value
    if "-----BEGIN" not in value:
        raise ValueError(f"{key}: {value!r} is neither an existing file nor PEM text")
    fd, path = tempfile.mkstemp(prefix="stripproxy-", suffix=".pem")
    with os.fdopen(fd, "w") as handle:  # mkstemp: mode 0600
        handle.write(value)
    _written.append(path)
    return path


def ssl_context(tls: Any, where: str) -> ssl.SSLContext:
    """The SSLContext for a ClientTLSConfig model; ValueError naming `where` ("forwardAuth.tls") when unusable."""
    context = ssl.create_default_context()
    if tls is None:
        return context
    if bool(tls.cert) != bool(tls.key):
        raise ValueError(f"{where}: both TLS cert and key must be defined")
    try:
        if tls.ca:
            # Only that CA is trusted then (Go's RootCAs), not the system's store.
            if os.path.isfile(tls.ca):
                context = ssl.create_default_context(cafile=tls.ca)
            elif "-----BEGIN" in tls.ca:
                context = ssl.create_default_context(cadata=tls.ca)
            else:
                raise ValueError(f"{where}.ca: {tls.ca!r} is neither an existing file nor PEM text")
        if tls.cert:
            context.load_cert_chain(pem_path(tls.cert, f"{where}.cert"), pem_path(tls.key, f"{where}.key"))
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"{where}: {exc}") from None
    if tls.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
