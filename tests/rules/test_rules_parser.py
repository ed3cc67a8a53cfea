"""Rule parser: syntax accepted and refused, with columns.

Cases ported from traefik/traefik pkg/rules/parser_test.go (TestRuleMatch) and pkg/muxer/http/mux_test.go
(TestMuxer error cases, rule name spellings), plus Go-expression details of vulcand/predicate.
"""

from __future__ import annotations

import pytest

from proxy.rules.parser import And, Call, Not, Or, RuleSyntaxError, parse_rule


def host(value: str, column: int = 1) -> Call:
    return Call("Host", (value,), column, (column + 5,))


@pytest.mark.parametrize(
    ("rule", "tree"),
    [
        pytest.param("Host(`a`)", host("a"), id="single-call"),
        pytest.param("(Host(`a`))", Call("Host", ("a",), 2, (7,)), id="superfluous-parens"),
        pytest.param('Host("a")', host("a"), id="double-quotes"),
        pytest.param("Host(`a`,)", host("a"), id="trailing-comma-like-go"),
        pytest.param("Host (`a`)", Call("Host", ("a",), 1, (7,)), id="space-before-paren"),
        pytest.param("!Host(`a`)", Not(Call("Host", ("a",), 2, (7,))), id="not"),
        pytest.param("!!Host(`a`)", Not(Not(Call("Host", ("a",), 3, (8,)))), id="double-not"),
        pytest.param(
            "Host(`a`) || Host(`b`) && Host(`c`)",
            Or(host("a"), And(host("b", 14), host("c", 27))),
            id="and-binds-tighter",
        ),
        pytest.param(
            "(Host(`a`) || Host(`b`)) && Host(`c`)",
            And(Or(host("a", 2), host("b", 15)), host("c", 29)),
            id="parens-group",
        ),
        pytest.param(
            "Host(`a`) && Host(`b`) && Host(`c`)", And(And(host("a"), host("b", 14)), host("c", 27)), id="left-assoc"
        ),
        pytest.param("\tHost(`a`)\n", Call("Host", ("a",), 2, (7,)), id="newline-at-end-allowed"),
        pytest.param("Host(`a`) &&\nHost(`b`)", And(host("a"), host("b", 14)), id="newline-after-operator"),
        pytest.param("Host(\n`a`,\n)", Call("Host", ("a",), 1, (7,)), id="newline-after-comma-and-paren"),
    ],
)
def test_parse_tree(rule: str, tree: object) -> None:
    assert parse_rule(rule) == tree


@pytest.mark.parametrize(
    ("rule", "name"),
    [
        pytest.param("PathPrefix(`/`)", "PathPrefix", id="canonical"),
        pytest.param("pathprefix(`/`)", "PathPrefix", id="lower"),
        pytest.param("PATHPREFIX(`/`)", "PathPrefix", id="upper"),
        pytest.param("Pathprefix(`/`)", "PathPrefix", id="title"),
        pytest.param("clientip(`::1`)", "ClientIP", id="clientip-lower"),
        pytest.param("Clientip(`::1`)", "ClientIP", id="clientip-title"),
        pytest.param("HEADERREGEXP(`a`, `b`)", "HeaderRegexp", id="upper-two-args"),
    ],
)
def test_name_spellings(rule: str, name: str) -> None:
    node = parse_rule(rule)
    assert isinstance(node, Call) and node.name == name


@pytest.mark.parametrize(
    ("rule", "args"),
    [
        pytest.param(r'Path("/a\tb")', ("/a\tb",), id="go-escape-tab"),
        pytest.param(r'Path("/\x41\101\u00e9\U0001F9AD")', ("/AA\u00e9\U0001f9ad",), id="go-hex-octal-unicode"),
        pytest.param(r'Path("/q\"\\")', ('/q"\\',), id="escaped-quote-backslash"),
        pytest.param(r"Path(`/a\tb`)", ("/a\\tb",), id="raw-string-no-escapes"),
        pytest.param("Path(`/a\r\nb`)", ("/a\nb",), id="raw-string-drops-cr"),
        pytest.param('Path(`/a"b`)', ('/a"b',), id="raw-string-with-double-quote"),
    ],
)
def test_string_literals(rule: str, args: tuple[str, ...]) -> None:
    node = parse_rule(rule)
    assert isinstance(node, Call) and node.args == args


@pytest.mark.parametrize(
    ("rule", "column", "message"),
    [
        pytest.param("", 1, "empty rule", id="no-rule"),
        pytest.param("   ", 4, "empty rule", id="blank-rule"),
        pytest.param("rulewithnotmatcher", 1, "unknown matcher 'rulewithnotmatcher'", id="bare-identifier"),
        pytest.param("Host(example.com)", 6, "expected a quoted string", id="unquoted-value"),
        pytest.param("Host(`a`) &&", 13, "found end of rule", id="dangling-and"),
        pytest.param("Host(`a`) ||", 13, "found end of rule", id="dangling-or"),
        pytest.param("Host(`a)", 6, "missing closing backtick", id="unterminated-raw"),
        pytest.param('Host("a)', 6, "missing closing '\"'", id="unterminated-quoted"),
        pytest.param("Host(`a`))", 10, "found ')'", id="extra-closing-paren"),
        pytest.param("(Host(`a`)", 11, "expected ')'", id="missing-closing-paren"),
        pytest.param("Foobar(`a`)", 1, "unknown matcher 'Foobar'", id="unknown-matcher"),
        pytest.param("pAthPrefix(`/`)", 1, "unknown matcher", id="mixed-case-spelling-refused"),
        pytest.param("Host('a')", 6, "single quotes", id="single-quotes"),
        pytest.param("Host(`a`) & Host(`b`)", 11, "'&&'", id="single-ampersand"),
        pytest.param("Host(`a`) | Host(`b`)", 11, "'||'", id="single-pipe"),
        pytest.param("Host(`a`) Host(`b`)", 11, "found 'Host'", id="missing-operator"),
        pytest.param("Host(`a`)\n&& Path(`/`)", 10, "found newline", id="newline-before-operator"),
        pytest.param("Host(`a`\n)", 9, "found newline", id="newline-after-arg"),
        pytest.param("Host(1)", 6, "expected a quoted string", id="number-arg"),
        pytest.param("Host((`a`))", 6, "expected a quoted string", id="parenthesised-arg"),
        pytest.param("Host(`a` `b`)", 10, "expected ',' or ')'", id="missing-comma"),
        pytest.param("Host(,)", 6, "expected a quoted string", id="lone-comma"),
        pytest.param("Host", 5, "expected '(' after Host", id="name-without-call"),
        pytest.param("`a`", 1, "expected a matcher", id="bare-string"),
        pytest.param("Host(`a`) == Host(`b`)", 11, "unexpected character '='", id="comparison"),
        pytest.param(r'Path("\q")', 7, r"unknown escape sequence \q", id="bad-go-escape"),
        pytest.param(r'Path("\'")', 7, "unknown escape sequence", id="single-quote-escape-in-string"),
        pytest.param(r'Path("\400")', 7, "greater than 255", id="octal-too-big"),
        pytest.param(r'Path("\uD800")', 7, "not a valid Unicode code point", id="surrogate-escape"),
    ],
)
def test_syntax_errors(rule: str, column: int, message: str) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_rule(rule)
    assert caught.value.column == column
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"rule `{rule}`: column {column}: ")


@pytest.mark.parametrize(
    ("rule", "column", "message"),
    [
        # pkg/muxer/http/matcher.go httpFuncs: every v3 matcher takes exactly one value, except Header*/Query*.
        pytest.param("Host(`a`, `b`)", 11, "Host takes 1 argument(s), got 2", id="host-two-values"),
        pytest.param("Host()", 6, "got 0", id="host-no-value"),
        pytest.param("ClientIP(`1.2.3.4`, `::1`)", 21, "ClientIP takes 1", id="clientip-two"),
        pytest.param("Method(`GET`, `POST`)", 15, "Method takes 1", id="method-two"),
        pytest.param("Path(`/a`, `/b`)", 12, "Path takes 1", id="path-two"),
        pytest.param("PathPrefix(`/a`, `/b`)", 18, "PathPrefix takes 1", id="pathprefix-two"),
        pytest.param("PathRegexp(`/a`, `/b`)", 18, "PathRegexp takes 1", id="pathregexp-two"),
        pytest.param("HostRegexp(`a`, `b`)", 17, "HostRegexp takes 1", id="hostregexp-two"),
        pytest.param("Header(`X-A`)", 13, "Header takes 2", id="header-one"),
        pytest.param("HeaderRegexp(`X-A`, `a`, `b`)", 26, "HeaderRegexp takes 2", id="headerregexp-three"),
        pytest.param("Query(`q`, `a`, `b`)", 17, "Query takes 1 or 2", id="query-three"),
        pytest.param("QueryRegexp()", 13, "QueryRegexp takes 1 or 2", id="queryregexp-none"),
        # pkg/rules/parser.go CheckRule: no empty values.
        pytest.param("Host(``)", 6, "empty argument for matcher Host", id="empty-value"),
        pytest.param("Header(`X-A`, ``)", 15, "empty argument for matcher Header", id="empty-second-value"),
        pytest.param("Query(``, `v`)", 7, "empty argument for matcher Query", id="empty-key"),
    ],
)
def test_arity_and_empty_values(rule: str, column: int, message: str) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_rule(rule)
    assert (caught.value.column, message in caught.value.reason) == (column, True), caught.value


def test_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"rule `Host\(bad.test\)`: column 6: expected a quoted string"):
        parse_rule("Host(bad.test)")
