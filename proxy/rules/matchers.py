"""Compile a Traefik v3 rule into a fast predicate plus index hints for the route table.

Matcher semantics follow pkg/muxer/http/matcher.go (Traefik v3); each builder below says what it checks.
Closures are built once per rule; a request is read through `MatchRequest` (see request_view.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from proxy.goregex import GoRegexpError, compile_go_regexp
from proxy.message import RequestHead
from proxy.netutil import IPChecker, host_of
from proxy.rules.parser import And, Call, Not, Or, RuleNode, RuleSyntaxError, parse_rule
from proxy.rules.request_view import MatchRequest, regexp_subject, rule_bytes

Predicate = Callable[[MatchRequest], bool]

# Traefik refuses user priorities above this (pkg/server/router/router.go maxUserPriority, 64-bit).
MAX_USER_PRIORITY = 2**63 - 1 - 1000
# Go's net/http moves Host out of the header map and drops Transfer-Encoding: Header() never sees them.
_HIDDEN_HEADERS = frozenset({"host", "transfer-encoding"})


class _ArgError(Exception):
    """A bad matcher argument; compile_rule turns it into RuleSyntaxError at the arg's column."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason


def default_priority(rule_text: str) -> int:
    """Traefik's default router priority: the rule's length in bytes (Go len), whitespace included."""
    return len(rule_text.encode("utf-8"))


def effective_priority(priority: int | None, rule_text: str) -> int:
    """The priority Traefik uses: a configured 0 (or none) means the default length priority."""
    return default_priority(rule_text) if not priority else priority


def _regexp(index: int, pattern: str) -> re.Pattern[str]:
    try:
        return compile_go_regexp(pattern, eager=True)
    except GoRegexpError as exc:
        raise _ArgError(index, str(exc)) from exc


def _domain_matches(domain: str, expr: str) -> bool:
    """muxer.DomainMatchHostExpression on lower-cased input: `*.x` stands for exactly one label."""
    if expr.startswith("*"):
        dot = domain.find(".")
        return expr == ("*" if dot == -1 else "*" + domain[dot:])
    return domain == expr


def wildcard_key(domain: str) -> str:
    """The `*.`-form of a domain, as a wildcard Host expression would have to be spelled to match it."""
    dot = domain.find(".")
    return "*" if dot == -1 else "*" + domain[dot:]


def _host(args: tuple[str, ...]) -> Predicate:
    expr = args[0]
    if expr == "*":  # a bare * matches every request, even one without a host
        return lambda req: True
    if not expr.isascii():
        raise _ArgError(0, f"invalid value {expr!r} for Host matcher: non-ASCII characters are not allowed")
    expr = expr.lower()
    expr_no_dot = expr[:-1] if expr.endswith(".") else None

    def match(req: MatchRequest) -> bool:
        host = req.host
        if not host:
            return False
        if _domain_matches(host, expr):
            return True
        if expr_no_dot is not None and _domain_matches(host, expr_no_dot):
            return True
        return host.endswith(".") and _domain_matches(host[:-1], expr)

    return match


def _host_regexp(args: tuple[str, ...]) -> Predicate:
    if not args[0].isascii():
        raise _ArgError(0, f"invalid value {args[0]!r} for HostRegexp matcher: non-ASCII characters are not allowed")
    search = _regexp(0, args[0]).search
    # Traefik also tries the (empty, without a host resolver) CNAME-flattened host.
    if search(""):
        return lambda req: True
    return lambda req: search(regexp_subject(req.host)) is not None


def _check_path(value: str) -> str:
    if not value.startswith("/"):
        raise _ArgError(0, f"path {value!r} does not start with a '/'")
    return rule_bytes(value)


def _path(args: tuple[str, ...]) -> Predicate:
    path = _check_path(args[0])
    return lambda req: req.path == path


def _path_prefix(args: tuple[str, ...]) -> Predicate:
    prefix = _check_path(args[0])
    return lambda req: req.path is not None and req.path.startswith(prefix)


def _path_regexp(args: tuple[str, ...]) -> Predicate:
    search = _regexp(0, args[0]).search
    return lambda req: req.path is not None and search(regexp_subject(req.path)) is not None


def _method(args: tuple[str, ...]) -> Predicate:
    method = rule_bytes(args[0].upper())
    return lambda req: req.head.method == method


def _header_values(req: MatchRequest, lower_name: str) -> list[str]:
    values = req.head.headers.get_all(lower_name)
    if not values and lower_name == "cache-control":
        # Go's server adds Cache-Control: no-cache for a first Pragma: no-cache (fixPragmaCacheControl).
        pragma = req.head.headers.get_all("pragma")
        if pragma and pragma[0] == "no-cache":
            return ["no-cache"]
    return values


def _header(args: tuple[str, ...]) -> Predicate:
    name, value = args[0].lower(), rule_bytes(args[1])
    if name in _HIDDEN_HEADERS:
        return lambda req: False
    return lambda req: value in _header_values(req, name)


def _header_regexp(args: tuple[str, ...]) -> Predicate:
    name, search = args[0].lower(), _regexp(1, args[1]).search
    if name in _HIDDEN_HEADERS:
        return lambda req: False
    return lambda req: any(search(regexp_subject(v)) for v in _header_values(req, name))


def _query(args: tuple[str, ...]) -> Predicate:
    # With one argument the key must be present with an empty value (`?mobile` or `?mobile=`).
    key = rule_bytes(args[0])
    value = rule_bytes(args[1]) if len(args) == 2 else ""
    return lambda req: value in req.query.get(key, ())


def _query_regexp(args: tuple[str, ...]) -> Predicate:
    if len(args) == 1:
        return _query(args)
    key, search = rule_bytes(args[0]), _regexp(1, args[1]).search
    return lambda req: any(search(regexp_subject(v)) for v in req.query.get(key, ()))


def _client_ip(args: tuple[str, ...]) -> Predicate:
    """ClientIP: Traefik's ip.Checker over the one argument, against ip.RemoteAddrStrategy's address."""
    try:
        contains = IPChecker(args).contains
    except ValueError:
        raise _ArgError(0, f"invalid IP or CIDR {args[0]!r} for ClientIP matcher") from None
    return lambda req: contains(host_of(req.head.client_ip))


_BUILDERS: dict[str, Callable[[tuple[str, ...]], Predicate]] = {
    "Host": _host,
    "HostRegexp": _host_regexp,
    "Path": _path,
    "PathPrefix": _path_prefix,
    "PathRegexp": _path_regexp,
    "Method": _method,
    "Header": _header,
    "HeaderRegexp": _header_regexp,
    "Query": _query,
    "QueryRegexp": _query_regexp,
    "ClientIP": _client_ip,
}


def _build(node: RuleNode, rule: str, builders: dict[str, Callable[[tuple[str, ...]], Predicate]]) -> Predicate:
    if isinstance(node, Call):
        try:
            return builders[node.name](node.args)
        except _ArgError as exc:
            raise RuleSyntaxError(rule, node.arg_columns[exc.index], exc.reason) from None
    if isinstance(node, Not):
        inner = _build(node.operand, rule, builders)
        return lambda req: not inner(req)
    left, right = _build(node.left, rule, builders), _build(node.right, rule, builders)
    if isinstance(node, And):
        return lambda req: left(req) and right(req)
    return lambda req: left(req) or right(req)


def _host_hint(node: RuleNode) -> frozenset[str] | None:
    """Host keys one of which a request must have (see request_host_keys), or None."""
    if isinstance(node, Call):
        if node.name != "Host" or node.args[0] == "*":
            return None
        expr = node.args[0].lower()
        return frozenset({expr, expr[:-1]}) if expr.endswith(".") else frozenset({expr})
    return combine_hints(node, _host_hint)


def _path_hint(node: RuleNode) -> frozenset[str] | None:
    """Literal prefixes one of which the routing path must start with, or None."""
    if isinstance(node, Call):
        return frozenset({rule_bytes(node.args[0])}) if node.name in ("Path", "PathPrefix") else None
    return combine_hints(node, _path_hint)


def combine_hints(node: RuleNode, hint: Callable[[RuleNode], frozenset[str] | None]) -> frozenset[str] | None:
    if isinstance(node, And):
        left, right = hint(node.left), hint(node.right)
        if left is None or right is None:
            return left if right is None else right
        return left if len(left) <= len(right) else right
    if isinstance(node, Or):
        left, right = hint(node.left), hint(node.right)
        return None if left is None or right is None else left | right
    return None  # Not: a negated constraint constrains nothing


def request_host_keys(host: str, wildcards: bool) -> tuple[str, ...]:
    """The keys under which routes that may match this canonical host are indexed."""
    keys = [host]
    if host.endswith("."):
        keys.append(host[:-1])
    if wildcards:
        keys.extend([wildcard_key(key) for key in keys])
    return tuple(keys)


class CompiledRule:
    """A parsed and compiled rule: `.match(req)` plus index hints `.hosts` and `.path_prefixes`.

    `hosts`: lower-cased Host keys (exact hosts, or `*.domain` for a wildcard) of which the request must
    have one (per request_host_keys) for the rule to possibly match; None when unconstrained.
    `path_prefixes`: literal prefixes of the routing path, one of which is required; None when unconstrained.
    """

    __slots__ = ("text", "tree", "hosts", "path_prefixes", "predicate")

    def __init__(self, text: str, tree: RuleNode, predicate: Predicate, hints: bool = True) -> None:
        self.text = text
        self.tree = tree
        self.hosts = _host_hint(tree) if hints else None
        self.path_prefixes = _path_hint(tree) if hints else None
        self.predicate = predicate  # MatchRequest -> bool

    def match(self, req: RequestHead) -> bool:
        return self.predicate(MatchRequest(req))

    def match_view(self, view: MatchRequest) -> bool:
        """Match a request already wrapped once (the route table shares one view across rules)."""
        return self.predicate(view)

    def __repr__(self) -> str:
        return f"CompiledRule({self.text!r})"


RULE_SYNTAXES = ("v3", "v2")


def compile_rule(text: str, syntax: str = "v3") -> CompiledRule:
    """Parse and compile rule text in Traefik's v3 syntax (or v2: see matchers_v2.py); raise RuleSyntaxError
    (a ValueError) when Traefik would. Like Traefik, any syntax other than "v2" means v3."""
    if syntax == "v2":
        from proxy.rules.matchers_v2 import BUILDERS_V2, host_hint_v2, path_hint_v2  # only v2 rules load it

        tree = parse_rule(text, "v2")
        compiled = CompiledRule(text, tree, _build(tree, text, BUILDERS_V2), hints=False)
        compiled.hosts = host_hint_v2(tree)
        compiled.path_prefixes = path_hint_v2(tree)
        return compiled
    tree = parse_rule(text)
    return CompiledRule(text, tree, _build(tree, text, _BUILDERS))
