"""Traefik v3 rule language: parse rule text, compile it into a matcher with index hints."""

from proxy.goregex import GoRegexpError, compile_go_regexp
from proxy.rules.matchers import MAX_USER_PRIORITY, CompiledRule, compile_rule, default_priority, effective_priority
from proxy.rules.parser import RuleNode, RuleSyntaxError, parse_rule
from proxy.rules.request_view import MatchRequest, canonical_host, parse_query, routing_path

__all__ = [
    "MAX_USER_PRIORITY",
    "CompiledRule",
    "GoRegexpError",
    "MatchRequest",
    "RuleNode",
    "RuleSyntaxError",
    "canonical_host",
    "compile_go_regexp",
    "compile_rule",
    "default_priority",
    "effective_priority",
    "parse_query",
    "parse_rule",
    "routing_path",
]
