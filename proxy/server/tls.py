"""The static side of TLS for the gateway: entry point http.tls and http.redirections, the local CA."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from proxy.config.dynamic import RouterTLSConfig
from proxy.config.static import EntryPointConfig, StaticConfig
from proxy.routing.builder import EntryPointRedirect

if TYPE_CHECKING:
    from proxy.server.entrypoint import EntryPointServer
    from proxy.tls.localca import LocalCA

log = logging.getLogger("proxy.server")

_PORT_ONLY = re.compile(r"^:(\d+)$")


def entry_point_tls(ep: EntryPointConfig) -> RouterTLSConfig | None:
    """http.tls, as the TLS that the entry point's routers without any get (Traefik's entry point model)."""
    tls = ep.http.tls
    if tls is None:
        return None
    return RouterTLSConfig(options=tls.options, cert_resolver=tls.cert_resolver, domains=list(tls.domains))


def entry_point_redirect(
    name: str, static: StaticConfig, servers: Mapping[str, EntryPointServer]
) -> EntryPointRedirect | None:
    """http.redirections.entryPoint resolved to a port (Traefik's internal provider, getRedirectPort): `to`
    is ":port" or an entry point name, whose port is the one it listens on (known once started)."""
    redirections = static.entry_points[name].http.redirections
    if redirections is None:
        return None
    target = redirections.entry_point
    if target is None or not target.to:
        log.error("entry point %s: unable to create redirection: the entry point or the port is missing", name)
        return None
    match = _PORT_ONLY.match(target.to)
    if match:
        port = match.group(1)
    elif target.to in static.entry_points:
        server = servers.get(target.to)
        port = str(server.port if server is not None and server.port else static.entry_points[target.to].port)
    else:
        from proxy.routing.problems import did_you_mean

        log.error(
            "entry point %s: 'to' entry point field references a non-existing entry point: %s%s",
            name,
            target.to,
            did_you_mean(target.to, static.entry_points),
        )
        return None
    return EntryPointRedirect(
        target.to, target.scheme, port, target.permanent, target.priority, static.entry_points[name].allow_acme_by_pass
    )


def tls_local_ca(setting: bool | str | Path | LocalCA) -> LocalCA | None:
    """Gateway(local_ca=...): True, the per-user CA; a path, a CA in that directory; False, none."""
    from proxy.tls.localca import LocalCA

    if isinstance(setting, LocalCA):
        return setting
    if setting is False:
        return None
    return LocalCA(None if setting is True else setting)


_ANNOUNCED: set[Path] = set()
_HTTP2_SAID: list[bool] = []


def announce_tls(serving: bool) -> None:
    """Say once per process, when TLS is first served, that HTTP/2 is not (ALPN offers http/1.1 only)."""
    if serving and not _HTTP2_SAID:
        _HTTP2_SAID.append(True)
        log.warning(
            "TLS: HTTP/2 is not served by stripproxy, connections negotiate HTTP/1.1 (ALPN offers "
            "http/1.1 only, whatever alpnProtocols lists)"
        )


def announce_local_ca(ca: LocalCA | None) -> None:
    """Say once per process, when it first served a router, that the local CA signs certResolver certificates."""
    if ca is None or not ca.in_use or ca.cert_path in _ANNOUNCED:
        return
    _ANNOUNCED.add(ca.cert_path)
    log.warning(
        "certificate resolvers: ACME cannot be reached, routers with a certResolver get certificates "
        "from the local development CA %s (trust it: curl --cacert %s); --no-local-ca turns this off",
        ca.cert_path,
        ca.cert_path,
    )
