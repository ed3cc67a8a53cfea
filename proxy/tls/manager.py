"""One configuration's TLS: its options, its certificate store, and per entry point the choice of a server
context for a ClientHello (Traefik pkg/tls/tlsmanager.go, pkg/server/router/tcp/manager.go, aggregator.go).

As in Traefik, the TLS options of a connection come from its SNI: a router with `Host(a)` and options `x`
makes a connection for SNI `a` use `x`; any other name (or none) uses `default`. A host that routers serve
with different options falls back to `default` for those routers (a warning). Within the options the
certificate is the store's best match for the SNI (the local address when there is none), else the
default certificate, or none at all with `sniStrict` (the handshake fails).
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass, field

from proxy.config.dynamic_tls import OptionsConfig, TLSSectionConfig
from proxy.rules.parser import And, Call, Not, Or, RuleNode, parse_rule
from proxy.tls.certs import CertificateError, CertificateStore, KeyPair, default_certificate, load_certificate
from proxy.tls.localca import LocalCA
from proxy.tls.options import PreparedOptions, prepare_options

log = logging.getLogger("proxy.tls")

DEFAULT = "default"
DEFAULT_OPTIONS = OptionsConfig(min_version="VersionTLS12")


@dataclass(frozen=True, slots=True)
class TLSProblem:
    kind: str
    name: str
    message: str
    level: str = "error"


def rule_domains(rule: str) -> list[str]:
    """Traefik's ParseDomains: the lower-cased arguments of every Host matcher in the rule."""
    found: list[str] = []

    def walk(node: RuleNode) -> None:
        if isinstance(node, Call):
            if node.name == "Host":
                found.extend(arg.lower() for arg in node.args)
        elif isinstance(node, (And, Or)):
            walk(node.left)
            walk(node.right)
        elif isinstance(node, Not):
            walk(node.operand)

    walk(parse_rule(rule))
    return found


class TLSManager:
    def __init__(
        self, section: TLSSectionConfig | None, local_ca: LocalCA | None = None, resolvers: frozenset[str] | None = None
    ) -> None:
        self.section = section or TLSSectionConfig()
        self.local_ca = local_ca
        self.resolvers = resolvers  # None: no static configuration to check resolver names against
        self.problems: list[TLSProblem] = []
        self._contexts: dict[tuple[str, str], ssl.SSLContext] = {}
        self.options: dict[str, PreparedOptions | str] = {}
        for name, options in {DEFAULT: DEFAULT_OPTIONS, **self.section.options}.items():
            try:
                prepared = prepare_options(name, options)
            except ValueError as exc:
                self.options[name] = f"building TLS config: {exc}"
                self.problems.append(TLSProblem("tlsOption", name, str(exc)))
                continue
            self.options[name] = prepared
            if options.prefer_server_cipher_suites is not None:
                prepared.warnings.append("preferServerCipherSuites is deprecated and ineffective (as in Traefik)")
            for warning in prepared.warnings:
                self.problems.append(TLSProblem("tlsOption", name, warning, "warning"))
        self.store = CertificateStore(self._default_certificate())
        for index, cert in enumerate(self.section.certificates):
            where = f"certificates[{index}]"
            try:
                pair = load_certificate(cert.cert_file, cert.key_file)
            except CertificateError as exc:
                self.problems.append(TLSProblem("tlsCertificate", where, f"unable to parse certificate: {exc}"))
                continue
            stores = cert.stores or [DEFAULT]
            if DEFAULT in stores:
                self.store.add(pair)
            others = [s for s in stores if s != DEFAULT]
            if others:
                self.problems.append(
                    TLSProblem(
                        "tlsCertificate",
                        where,
                        f"stores {others}: only the default store is used by routers, as in Traefik",
                        "warning",
                    )
                )

    def _default_certificate(self) -> KeyPair:
        store = self.section.stores.get(DEFAULT)
        if store is not None and store.default_certificate is not None:
            try:
                return load_certificate(store.default_certificate.cert_file, store.default_certificate.key_file)
            except CertificateError as exc:
                self.problems.append(
                    TLSProblem(
                        "tlsStore", DEFAULT, f"defaultCertificate: {exc}; the generated default certificate is used"
                    )
                )
        generated = store.default_generated_cert if store is not None else None
        if generated is not None and generated.resolver and generated.domain is not None:
            names = generated.domain.names()
            if not names:
                self.problems.append(
                    TLSProblem(
                        "tlsStore",
                        DEFAULT,
                        "defaultGeneratedCert: no domain was given; the generated default certificate is used",
                    )
                )
            elif self.local_ca is None:
                self.problems.append(
                    TLSProblem(
                        "tlsStore",
                        DEFAULT,
                        "defaultGeneratedCert: ACME cannot be reached "
                        "and the local CA is off; the generated default certificate is used",
                    )
                )
            else:
                return self.local_ca.mint(names)
        for name in self.section.stores:
            if name != DEFAULT:
                self.problems.append(
                    TLSProblem("tlsStore", name, "only the default store is used, as in Traefik", "warning")
                )
        return default_certificate()

    # -- what the builder asks, per router ---------------------------------------------------------
    def resolve_options(self, reference: str) -> str:
        """The options name a router's tls.options refers to; ValueError when it is unknown or broken."""
        name = reference.partition("@")[0] if reference else DEFAULT
        prepared = self.options.get(name or DEFAULT)
        if prepared is None:
            raise ValueError(f"unknown TLS options: {reference}")
        if isinstance(prepared, str):
            raise ValueError(prepared)
        return name or DEFAULT

    def resolver_certificate(self, resolver: str, names: list[str]) -> None:
        """A router with a certResolver: its names get a certificate from the local CA.
        ValueError when that cannot be (the router is disabled with it)."""
        if self.local_ca is None:
            raise ValueError(
                f"certResolver {resolver!r}: ACME cannot be reached from stripproxy and the local "
                "development CA is off (--no-local-ca)"
            )
        if not names:
            raise ValueError(
                f"certResolver {resolver!r}: no domain in the rule nor in tls.domains to get a certificate for"
            )
        self.store.add(self.local_ca.mint(names))

    def entry_point(self, name: str, routers: list[tuple[str, list[str], str]]) -> EntryPointTLS:
        """routers: (router name, domains, resolved options) of the entry point's TLS routers."""
        by_host: dict[str, dict[str, list[str]]] = {}
        conflicting: set[str] = set()
        for router, domains, options in routers:
            if not domains and options != DEFAULT:
                self.problems.append(
                    TLSProblem(
                        "router",
                        router,
                        f"no domain found in rule, the TLS option {options} cannot be applied",
                        "warning",
                    )
                )
                conflicting.add(router)
            for domain in domains:
                by_host.setdefault(domain, {}).setdefault(options, []).append(router)
        sni: dict[str, str] = {}
        for domain, groups in by_host.items():
            if len(groups) > 1:
                names = sorted(r for group in groups.values() for r in group)
                conflicting.update(names)
                self.problems.append(
                    TLSProblem(
                        "entryPoint",
                        name,
                        f"host {domain!r} is served by routers with different TLS options, the "
                        f"default TLS options are used for {names}",
                        "warning",
                    )
                )
                sni[domain] = DEFAULT
            else:
                sni[domain] = next(iter(groups))
        return EntryPointTLS(self, sni, conflicting)

    # -- connections ---------------------------------------------------------------------------------
    def context(self, options_name: str, server_name: str) -> ssl.SSLContext | None:
        prepared = self.options.get(options_name)
        if not isinstance(prepared, PreparedOptions):
            return None
        pair = self.store.best(server_name) if server_name else None
        if pair is None and not prepared.options.sni_strict:
            pair = self.store.default
        key = (options_name, pair.key if pair is not None else "")
        ctx = self._contexts.get(key)
        if ctx is None:
            ctx = self._contexts[key] = prepared.context(pair)
        return ctx


@dataclass
class EntryPointTLS:
    """What one entry point's TLS connections get: options per SNI, contexts from the manager."""

    manager: TLSManager
    sni_options: dict[str, str]
    conflicting: set[str] = field(default_factory=set)

    def choose(self, server_name: str, local_ip: str) -> tuple[str, ssl.SSLContext | None]:
        """The options name and server context for a ClientHello; no context: close the connection."""
        options = self.sni_options.get(server_name.lower(), DEFAULT) if server_name else DEFAULT
        return options, self.manager.context(options, server_name or local_ip)
