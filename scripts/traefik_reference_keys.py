"""Derive the list of every key Traefik documents from its reference files, as path patterns.

Traefik's docs ship generated reference files that set every key of the static and the dynamic
configuration once (docs/content/reference/static-configuration/file.toml|yaml and
dynamic-configuration/file.toml|yaml). This script reads them from a Traefik checkout (a bare git dir works)
and writes tests/data/traefik_reference_keys.json: for each of "static" and "dynamic", the sorted key
patterns, user-chosen names replaced by `<name>` and list positions by `[]`:

    http.routers.<name>.rule
    http.services.<name>.loadBalancer.servers[].url

tests/config/test_reference_keys.py holds each of them against our loader.

    python scripts/traefik_reference_keys.py [--traefik /work/.mirror/traefik+traefik/repo] [--ref HEAD]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml

REFERENCE_FILES = {
    "static": (
        "docs/content/reference/static-configuration/file.toml",
        "docs/content/reference/static-configuration/file.yaml",
    ),
    "dynamic": (
        "docs/content/reference/dynamic-configuration/file.toml",
        "docs/content/reference/dynamic-configuration/file.yaml",
    ),
}
# The names the generator gives to user-chosen map keys: Router0, Middleware12, name0, PluginConf1...
NAME = re.compile(
    r"^(?:Router|TCPRouter|UDPRouter|Service|TCPService|UDPService|Middleware|TCPMiddleware|ServersTransport"
    r"|TCPServersTransport|Options|Store|EntryPoint|CertificateResolver|Descriptor|LocalDescriptor|PluginConf"
    r"|name)\d+$"
)
DATA_FILE = Path(__file__).resolve().parent.parent / "tests" / "data" / "traefik_reference_keys.json"
DOCUMENTS = Path(__file__).resolve().parent.parent / "tests" / "data" / "traefik_reference"

DROP = object()
# The reference files' placeholder values ("foobar", 42) made valid, key by key (patterns as in the key
# list), so that the whole file loads: then `python -m proxy check` on it lists exactly what is not
# implemented. DROP removes a key that cannot sit beside another one (mutually exclusive options): every
# such key is still in the key list and in the other reference documents' tests.
STATIC_VALUES: dict[str, Any] = {
    "entryPoints.<name>.address": "127.0.0.1:0",
    "entryPoints.<name>.http.underscoreHeadersStrategy": "delete",
    "entryPoints.<name>.http.middlewares": ["foobar@file"],
    "entryPoints.<name>.http.redirections.entryPoint.to": "EntryPoint0",
    "entryPoints.<name>.http.redirections.entryPoint.scheme": "https",
    "entryPoints.<name>.http.tls.options": DROP,  # the redirect router has no domain for it (as in Traefik)
    "entryPoints.<name>.http.tls.certResolver": "CertificateResolver0",
    "entryPoints.<name>.http.tls.domains[].main": "example.com",
    "entryPoints.<name>.http.tls.domains[].sans": ["www.example.com"],
    "entryPoints.<name>.forwardedHeaders.trustedIPs": ["127.0.0.1/32"],
    "entryPoints.<name>.forwardedHeaders.connection": ["X-Foo"],
    "entryPoints.<name>.proxyProtocol.trustedIPs": ["127.0.0.1/32"],
    "entryPoints.<name>.http.maxHeaderBytes": 32768,
    "core.defaultRuleSyntax": "v3",
    "providers.file.filename": "dynamic.yaml",
    "providers.file.directory": DROP,
    "providers.file.watch": False,
    "log.level": "INFO",
    "log.filePath": os.devnull,  # not a file named "foobar" in the working folder
    "accessLog.filePath": os.devnull,
    "accessLog.format": "json",
    "accessLog.filters.statusCodes": ["500-599"],
    "accessLog.fields.defaultMode": "keep",
    "accessLog.fields.names.<name>": "drop",
    "accessLog.fields.headers.defaultMode": "drop",
    "accessLog.fields.headers.names.<name>": "keep",
    "api.basePath": "/",
    "ping.entryPoint": "EntryPoint0",
    "ping.terminatingStatusCode": 503,
    "metrics.prometheus.entryPoint": "EntryPoint0",
}
_CIPHER = ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]
_URL = "http://127.0.0.1:9"
DYNAMIC_VALUES: dict[str, Any] = {
    "http.routers.<name>.entryPoints": ["EntryPoint0"],
    "http.routers.<name>.rule": "Host(`example.com`)",
    "http.routers.<name>.ruleSyntax": "v3",
    "http.routers.<name>.tls.options": "Options0",
    "http.routers.<name>.tls.certResolver": "CertificateResolver0",
    "http.routers.<name>.tls.domains[].main": "example.com",
    "http.routers.<name>.tls.domains[].sans": ["www.example.com"],
    "http.routers.<name>.observability.traceVerbosity": "detailed",
    "http.services.<name>.loadBalancer.servers[].url": _URL,
    "http.services.<name>.loadBalancer.strategy": "wrr",
    "http.services.<name>.loadBalancer.sticky.cookie.sameSite": "lax",
    "http.services.<name>.weighted.sticky.cookie.sameSite": "lax",
    "http.services.<name>.loadBalancer.healthCheck.scheme": "http",
    "http.services.<name>.loadBalancer.healthCheck.mode": "http",
    "http.services.<name>.loadBalancer.healthCheck.method": "GET",
    "http.services.<name>.loadBalancer.healthCheck.path": "/health",
    "http.services.<name>.loadBalancer.healthCheck.status": 200,
    "http.services.<name>.loadBalancer.healthCheck.port": 9,
    "http.services.<name>.loadBalancer.healthCheck.hostname": "example.com",
    "http.services.<name>.mirroring.mirrors[].percent": 10,
    "http.middlewares.<name>.addPrefix.prefix": "/foo",
    "http.middlewares.<name>.basicAuth.users": ["test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"],
    "http.middlewares.<name>.basicAuth.usersFile": DROP,
    "http.middlewares.<name>.digestAuth.users": ["test:traefik:a2688e031edb4be6a3797f3882655c05"],
    "http.middlewares.<name>.digestAuth.usersFile": DROP,
    "http.middlewares.<name>.buffering.retryExpression": "IsNetworkError() && Attempts() < 2",
    "http.middlewares.<name>.circuitBreaker.expression": "NetworkErrorRatio() > 0.5",
    "http.middlewares.<name>.circuitBreaker.responseCode": 503,
    "http.middlewares.<name>.compress.excludedContentTypes": DROP,
    "http.middlewares.<name>.compress.includedContentTypes": ["text/html"],
    "http.middlewares.<name>.compress.encodings": ["gzip"],
    "http.middlewares.<name>.compress.defaultEncoding": "gzip",
    "http.middlewares.<name>.errors.status": ["500-599"],
    "http.middlewares.<name>.errors.query": "/{status}.html",
    "http.middlewares.<name>.errors.statusRewrites": {"418": 404},
    "http.middlewares.<name>.forwardAuth.address": _URL + "/auth",
    "http.middlewares.<name>.forwardAuth.authResponseHeadersRegex": "^X-",
    "http.middlewares.<name>.forwardAuth.tls.ca": DROP,  # files
    "http.middlewares.<name>.forwardAuth.tls.cert": DROP,
    "http.middlewares.<name>.forwardAuth.tls.key": DROP,
    "http.middlewares.<name>.ipAllowList.rejectStatusCode": 403,
    "http.middlewares.<name>.ipAllowList.sourceRange": ["127.0.0.1/32"],
    "http.middlewares.<name>.ipAllowList.ipStrategy.excludedIPs": DROP,  # depth wins (a warning, as in Traefik)
    "http.middlewares.<name>.ipAllowList.ipStrategy.ipv6Subnet": 64,
    "http.middlewares.<name>.ipWhiteList.sourceRange": ["127.0.0.1/32"],
    "http.middlewares.<name>.ipWhiteList.ipStrategy.excludedIPs": DROP,
    "http.middlewares.<name>.ipWhiteList.ipStrategy.ipv6Subnet": 64,
    "http.middlewares.<name>.inFlightReq.sourceCriterion.requestHeaderName": DROP,
    "http.middlewares.<name>.inFlightReq.sourceCriterion.requestHost": DROP,
    "http.middlewares.<name>.inFlightReq.sourceCriterion.ipStrategy.excludedIPs": ["127.0.0.2"],
    "http.middlewares.<name>.inFlightReq.sourceCriterion.ipStrategy.ipv6Subnet": 64,
    "http.middlewares.<name>.rateLimit.sourceCriterion.requestHeaderName": DROP,
    "http.middlewares.<name>.rateLimit.sourceCriterion.requestHost": DROP,
    "http.middlewares.<name>.rateLimit.sourceCriterion.ipStrategy.excludedIPs": ["127.0.0.2"],
    "http.middlewares.<name>.rateLimit.sourceCriterion.ipStrategy.ipv6Subnet": 64,
    "http.middlewares.<name>.rateLimit.redis.endpoints": ["127.0.0.1:6379"],
    "http.middlewares.<name>.rateLimit.redis.tls.ca": DROP,  # files
    "http.middlewares.<name>.rateLimit.redis.tls.cert": DROP,
    "http.middlewares.<name>.rateLimit.redis.tls.key": DROP,
    "http.middlewares.<name>.redirectRegex.regex": "^http://(.*)",
    "http.middlewares.<name>.redirectRegex.replacement": "https://$1",
    "http.middlewares.<name>.redirectScheme.scheme": "https",
    "http.middlewares.<name>.redirectScheme.port": "443",
    "http.middlewares.<name>.replacePath.path": "/foo",
    "http.middlewares.<name>.replacePathRegex.regex": "^/foo(.*)",
    "http.middlewares.<name>.replacePathRegex.replacement": "/bar$1",
    "http.middlewares.<name>.retry.attempts": 2,
    "http.middlewares.<name>.stripPrefix.prefixes": ["/foo"],
    "http.middlewares.<name>.stripPrefixRegex.regex": ["^/foo"],
    "http.serversTransports.<name>.rootCAs": DROP,
    "http.serversTransports.<name>.certificates": DROP,
    "http.serversTransports.<name>.cipherSuites": _CIPHER,
    "http.serversTransports.<name>.minVersion": "VersionTLS12",
    "http.serversTransports.<name>.maxVersion": "VersionTLS13",
    "http.serversTransports.<name>.peerCertSANs": DROP,
    "tls.options.<name>.cipherSuites": _CIPHER,
    "tls.options.<name>.curvePreferences": ["CurveP256"],
    "tls.options.<name>.minVersion": "VersionTLS12",
    "tls.options.<name>.maxVersion": "VersionTLS13",
    "tls.options.<name>.alpnProtocols": ["http/1.1"],
    "tls.options.<name>.preferServerCipherSuites": DROP,  # deprecated, a warning as in Traefik
    "tls.options.<name>.clientAuth.clientAuthType": "RequireAndVerifyClientCert",
    "tls.certificates[].stores": ["default"],
    "tls.stores.<name>.defaultGeneratedCert.resolver": "CertificateResolver0",
    "tls.stores.<name>.defaultGeneratedCert.domain.main": "example.com",
    "tls.stores.<name>.defaultGeneratedCert.domain.sans": ["www.example.com"],
}
# What the placeholders name ("foobar" as a service, middleware, transport), defined.
DYNAMIC_ADDED: dict[str, Any] = {
    # its own transport: the static one asks for SPIFFE, which would disable the reference's routers
    "services": {
        "foobar": {
            "loadBalancer": {
                "servers": [{"url": _URL}],
                "healthCheck": {"path": "/health"},
                "serversTransport": "foobar",
            }
        }
    },
    "middlewares": {"foobar": {"addPrefix": {"prefix": "/foo"}}},
    "serversTransports": {"foobar": {}},
}


def pem_pair() -> tuple[str, str, str]:
    """(certificate, key, CA certificate) PEM text for the reference document's tls keys: those of the
    document written before (so that a run changes nothing it need not), else new ones (trustme)."""
    previous = DOCUMENTS / "dynamic.yaml"
    if previous.is_file():
        tls = yaml.safe_load(previous.read_text(encoding="utf-8")).get("tls", {})
        certificate = (tls.get("certificates") or [{}])[0]
        cas = next(iter(tls.get("options", {}).values()), {}).get("clientAuth", {}).get("caFiles") or [None]
        if certificate.get("certFile", "").startswith("-----BEGIN") and cas[0]:
            return certificate["certFile"], certificate["keyFile"], cas[0]
    import trustme

    ca = trustme.CA()
    leaf = ca.issue_cert("example.com", "www.example.com")
    return leaf.cert_chain_pems[0].bytes().decode(), leaf.private_key_pem.bytes().decode(), ca.cert_pem.bytes().decode()


def completed_dynamic(document: dict[str, Any]) -> dict[str, Any]:
    """The names the placeholders refer to, defined; PEM text where a certificate file is expected; only the
    default TLS store (Traefik uses no other)."""
    for section, added in DYNAMIC_ADDED.items():
        document["http"][section].update(added)
    cert, key, ca = pem_pair()
    tls = document["tls"]
    for certificate in tls["certificates"]:
        certificate.update(certFile=cert, keyFile=key)
    for option in tls["options"].values():
        option["clientAuth"]["caFiles"] = [ca]
    store = next(iter(tls["stores"].values()))
    store["defaultCertificate"] = {"certFile": cert, "keyFile": key}
    tls["stores"] = {"default": store}
    return document


def key_patterns(document: Any, prefix: str = "") -> set[str]:
    """Every leaf key path of `document`, names as `<name>`, list items as `[]`; an empty section is a leaf."""
    found: set[str] = set()
    if isinstance(document, dict):
        if not document and prefix:
            return {prefix}
        for key, value in document.items():
            part = "<name>" if NAME.match(str(key)) else str(key)
            found |= key_patterns(value, f"{prefix}.{part}" if prefix else part)
    elif isinstance(document, list) and document and any(isinstance(item, (dict, list)) for item in document):
        for item in document:
            found |= key_patterns(item, prefix + "[]")
    else:
        found.add(prefix)
    return found


def parse(path: str, text: str) -> Any:
    return tomllib.loads(text) if path.endswith(".toml") else yaml.safe_load(text)


def read(traefik: Path, ref: str, path: str) -> str:
    if (traefik / path).is_file():
        return (traefik / path).read_text(encoding="utf-8")
    return subprocess.run(
        ["git", "-C", str(traefik), "show", f"{ref}:{path}"], check=True, capture_output=True, text=True
    ).stdout


def derive(traefik: Path, ref: str) -> dict[str, Any]:
    result: dict[str, Any] = {"source": {}, "static": [], "dynamic": []}
    for kind, paths in REFERENCE_FILES.items():
        union: set[str] = set()
        for path in paths:
            keys = key_patterns(parse(path, read(traefik, ref, path)))
            only = sorted(keys - union) if union else []
            if union and (only or union - keys):
                print(f"{path}: differs from the TOML file: {only or sorted(union - keys)}", file=sys.stderr)
            union |= keys
        result[kind] = sorted(union)
        result["source"][kind] = list(paths)
    return result


def made_valid(document: Any, values: dict[str, Any], prefix: str = "") -> Any:
    """`document` with the placeholder values of the keys in `values` replaced (see STATIC_VALUES)."""
    if isinstance(document, dict):
        result = {}
        for key, value in document.items():
            part = "<name>" if NAME.match(str(key)) else str(key)
            path = f"{prefix}.{part}" if prefix else part
            if path in values:
                if values[path] is not DROP:
                    result[key] = values[path]
                continue
            result[key] = made_valid(value, values, path)
        return result
    if isinstance(document, list) and any(isinstance(item, (dict, list)) for item in document):
        return [made_valid(item, values, prefix + "[]") for item in document]
    return document


def write_documents(traefik: Path, ref: str, output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    for kind, values in (("static", STATIC_VALUES), ("dynamic", DYNAMIC_VALUES)):
        toml_path = REFERENCE_FILES[kind][0]
        document = made_valid(parse(toml_path, read(traefik, ref, toml_path)), values)
        if kind == "dynamic":
            document = completed_dynamic(document)
        header = (
            f"# Traefik's {toml_path} (generated by scripts/traefik_reference_keys.py: do not edit),\n"
            "# its placeholder values made valid so that the whole file loads.\n"
        )
        text = header + yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
        (output / f"{kind}.yaml").write_text(text, encoding="utf-8")


_LOG_PREFIX = re.compile(r"^\S+Z [A-Z]{3} [\w.]+: ")


def check_lines(documents: Path, python: str = sys.executable) -> list[str]:
    """What `python -m proxy check` says about the reference document: one line per problem, sorted, log
    lines without their time stamp, file names relative to the documents' folder."""
    done = subprocess.run(
        [python, "-m", "proxy", "check", "--config", "static.yaml"],
        cwd=documents,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    lines = []
    for line in (done.stderr + done.stdout).splitlines():
        line = _LOG_PREFIX.sub("", line.replace(str(documents.resolve()) + "/", ""))
        if line.strip():
            lines.append(line)
    return sorted(set(lines))


EXPECTED = DOCUMENTS / "check.txt"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--traefik", type=Path, default=Path("/work/.mirror/traefik+traefik/repo"))
    parser.add_argument("--ref", default="HEAD")
    parser.add_argument("--output", type=Path, default=DATA_FILE)
    parser.add_argument("--documents", type=Path, default=DOCUMENTS)
    args = parser.parse_args()
    data = derive(args.traefik, args.ref)
    args.output.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    write_documents(args.traefik, args.ref, args.documents)
    lines = check_lines(args.documents)
    (args.documents / "check.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{args.documents / 'check.txt'}: {len(lines)} lines from python -m proxy check")
    print(f"{args.output}: {len(data['static'])} static and {len(data['dynamic'])} dynamic keys")
    return 0


if __name__ == "__main__":
    sys.exit(main())
