"""Traefik's v2 rule syntax (`core.defaultRuleSyntax = "v2"` or a router's `ruleSyntax = "v2"`).

Traefik v3 keeps the v2 matchers in pkg/muxer/http/matcher_v2.go, built on its gorilla/mux fork
(github.com/containous/mux). What each one checks, as ported here:

* `Host(a, b...)` / `HostHeader(...)`: the canonical request host equals one of them (lower-cased, a
  trailing dot on either side ignored), as v3's Host without wildcards;
* `HostRegexp(tpl...)`: a mux host template: literal text plus `{name}` / `{name:regexp}` placeholders
  (default `[^.]+`), anchored, case-insensitive, against the Host header without its port. Text outside
  placeholders is literal: `HostRegexp(`^[a-z]+\\.com$`)` only matches that very string;
* `Path(tpl...)` / `PathPrefix(tpl...)`: mux path templates (placeholders default to `[^/]+`), anchored at
  the start (and, for Path, the end) of the routing path; each must start with `/`;
* `Method(m...)`: the request method is one of them, upper-cased;
* `Headers(k, v, ...)`: pairs; each header is present with that exact value among its values;
* `HeadersRegexp(k, re, ...)`: pairs; one of the header's values matches the (unanchored) regexp;
* `Query(k=v, ...)`: each `k=v` is a mux query template matched against `k=<first value of k>`; `k=`
  accepts any value, placeholders default to `.*`; a pair without `=` is an error;
* `ClientIP(ip or cidr...)`: the peer address is one of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from proxy.goregex import GoRegexpError, compile_go_regexp
from proxy.netutil import host_of
from proxy.rules.matchers import _HIDDEN_HEADERS, Predicate, _ArgError, _client_ip, _header_values, combine_hints
from proxy.rules.parser import Call, RuleNode
from proxy.rules.request_view import MatchRequest, regexp_subject, rule_bytes

_GO_META = frozenset("\\.+*?()|[]{}^$")


def _quote_meta(text: str) -> str:
    """Go's regexp.QuoteMeta."""
    return "".join("\\" + ch if ch in _GO_META else ch for ch in text)


def _brace_indices(index: int, template: str) -> list[tuple[int, int]]:
    """mux braceIndices: the (start, end) of each top-level `{...}`; unbalanced braces are an error."""
    level, start, spans = 0, 0, []
    for i, ch in enumerate(template):
        if ch == "{":
            level += 1
            if level == 1:
                start = i
        elif ch == "}":
            level -= 1
            if level == 0:
                spans.append((start, i + 1))
            elif level < 0:
                raise _ArgError(index, f"mux: unbalanced braces in {template!r}")
    if level != 0:
        raise _ArgError(index, f"mux: unbalanced braces in {template!r}")
    return spans


def _template_regexp(
    index: int,
    template: str,
    default: str,
    *,
    prefix: bool = False,
    fold: bool = False,
    empty_value_pattern: bool = False,
) -> re.Pattern[str]:
    """mux newRouteRegexp: literal text quoted, each `{name:pattern}` a group, anchored."""
    out = ["(?i)" if fold else "", "^"]
    end = 0
    for start, stop in _brace_indices(index, template):
        out.append(_quote_meta(template[end:start]))
        name, colon, pattern = template[start + 1 : stop - 1].partition(":")
        pattern = pattern if colon else default
        if not name or not pattern:
            raise _ArgError(index, f"mux: missing name or pattern in {template[start:stop]!r}")
        _compile(index, f"^{pattern}$")  # mux compiles each variable's pattern on its own too
        out.append(f"({pattern})")
        end = stop
    out.append(_quote_meta(template[end:]))
    if empty_value_pattern:
        out.append(default)
    if not prefix:
        out.append("$")
    return _compile(index, "".join(out))


def _compile(index: int, pattern: str) -> re.Pattern[str]:
    try:
        return compile_go_regexp(pattern)
    except GoRegexpError as exc:
        raise _ArgError(index, str(exc)) from exc


def _any(predicates: list[Predicate]) -> Predicate:
    if len(predicates) == 1:
        return predicates[0]
    return lambda req: any(predicate(req) for predicate in predicates)


def _all(predicates: list[Predicate]) -> Predicate:
    if len(predicates) == 1:
        return predicates[0]
    return lambda req: all(predicate(req) for predicate in predicates)


def _check_ascii(args: tuple[str, ...], matcher: str) -> None:
    for index, arg in enumerate(args):
        if not arg.isascii():
            raise _ArgError(index, f"invalid value {arg!r} for {matcher} matcher: non-ASCII characters are not allowed")


def _host(args: tuple[str, ...]) -> Predicate:
    _check_ascii(args, "Host")
    hosts = tuple(arg.lower() for arg in args)

    def match(req: MatchRequest) -> bool:
        host = req.host
        if not host:
            return False
        for expr in hosts:
            if host == expr or (expr.endswith(".") and host == expr[:-1]) or (host.endswith(".") and host[:-1] == expr):
                return True
        return False

    return match


def _host_regexp(args: tuple[str, ...]) -> Predicate:
    _check_ascii(args, "HostRegexp")
    searches = [_template_regexp(i, arg, "[^.]+", fold=True).search for i, arg in enumerate(args)]

    def match(req: MatchRequest) -> bool:
        host = regexp_subject(host_of(req.head.host))  # mux parseHost
        return any(search(host) is not None for search in searches)

    return match


def _path_templates(args: tuple[str, ...], prefix: bool) -> Predicate:
    searches = []
    for index, arg in enumerate(args):
        if not arg.startswith("/"):
            raise _ArgError(index, f"mux: path must start with a slash, got {arg!r}")
        searches.append(_template_regexp(index, arg, "[^/]+", prefix=prefix).search)

    def match(req: MatchRequest) -> bool:
        path = req.path
        if path is None:
            return False
        subject = regexp_subject(path)
        return any(search(subject) is not None for search in searches)

    return match


def _path(args: tuple[str, ...]) -> Predicate:
    return _path_templates(args, prefix=False)


def _path_prefix(args: tuple[str, ...]) -> Predicate:
    return _path_templates(args, prefix=True)


def _method(args: tuple[str, ...]) -> Predicate:
    methods = frozenset(rule_bytes(arg.upper()) for arg in args)
    return lambda req: req.head.method in methods


def _pairs(args: tuple[str, ...]) -> list[tuple[str, str]]:
    if len(args) % 2:
        raise _ArgError(len(args) - 1, f"mux: number of parameters must be multiple of 2, got {list(args)}")
    pairs: dict[str, str] = {}
    for i in range(0, len(args), 2):
        pairs[args[i]] = args[i + 1]  # a Go map: a key given again replaces the earlier value
    return list(pairs.items())


def _headers(args: tuple[str, ...]) -> Predicate:
    checks = []
    for name, value in _pairs(args):
        lower, wanted = name.lower(), rule_bytes(value)
        if lower in _HIDDEN_HEADERS:
            return lambda req: False
        checks.append((lower, wanted))

    def match(req: MatchRequest) -> bool:
        for lower, wanted in checks:
            values = _header_values(req, lower)
            if not values or wanted not in values:
                return False
        return True

    return match


def _headers_regexp(args: tuple[str, ...]) -> Predicate:
    checks: list[tuple[str, Callable[[str], object]]] = []
    for position, (name, pattern) in enumerate(_pairs(args)):
        lower = name.lower()
        search = _compile(2 * position + 1, pattern).search
        if lower in _HIDDEN_HEADERS:
            return lambda req: False
        checks.append((lower, search))

    def match(req: MatchRequest) -> bool:
        for lower, search in checks:
            values = _header_values(req, lower)
            if not values or not any(search(regexp_subject(v)) is not None for v in values):
                return False
        return True

    return match


def _query(args: tuple[str, ...]) -> Predicate:
    parts: list[str] = []
    for arg in args:
        parts.extend(arg.split("=", 1))
    if len(parts) % 2:
        raise _ArgError(len(args) - 1, f"mux: number of parameters must be multiple of 2, got {parts}")
    checks = []
    for i in range(0, len(parts), 2):
        key, value = parts[i], parts[i + 1]
        template = f"{key}={value}"
        search = _template_regexp(i // 2, template, ".*", empty_value_pattern=value == "").search
        checks.append((rule_bytes(key), search))

    def match(req: MatchRequest) -> bool:
        for key, search in checks:
            values = req.query.get(key)
            subject = f"{key}={values[0]}" if values else ""
            if search(regexp_subject(subject)) is None:
                return False
        return True

    return match


def _client_ips(args: tuple[str, ...]) -> Predicate:
    predicates = []
    for index, arg in enumerate(args):
        try:
            predicates.append(_client_ip((arg,)))
        except _ArgError as exc:
            raise _ArgError(index, exc.reason) from None
    return _any(predicates)


BUILDERS_V2: dict[str, Callable[[tuple[str, ...]], Predicate]] = {
    "Host": _host,
    "HostHeader": _host,
    "HostRegexp": _host_regexp,
    "ClientIP": _client_ips,
    "Path": _path,
    "PathPrefix": _path_prefix,
    "Method": _method,
    "Headers": _headers,
    "HeadersRegexp": _headers_regexp,
    "Query": _query,
}


# Regexps are built from the rule text and matched against text (regexp_subject decodes the request's
# bytes as Go's regexp reads UTF-8); lookups and index keys use byte strings (rule_bytes).

# ------------------------------------------------------------------------------------------------ index hints


def host_hint_v2(node: RuleNode) -> frozenset[str] | None:
    """Host keys one of which the request must have for the rule to match, or None."""
    if isinstance(node, Call):
        if node.name not in ("Host", "HostHeader"):
            return None
        keys: set[str] = set()
        for arg in node.args:
            expr = arg.lower()
            keys.update((expr, expr[:-1]) if expr.endswith(".") else (expr,))
        return frozenset(keys)
    return combine_hints(node, host_hint_v2)


def path_hint_v2(node: RuleNode) -> frozenset[str] | None:
    """Literal path prefixes (the text before any placeholder) one of which is required, or None."""
    if isinstance(node, Call):
        if node.name not in ("Path", "PathPrefix"):
            return None
        return frozenset(rule_bytes(arg.partition("{")[0]) for arg in node.args)
    return combine_hints(node, path_hint_v2)
