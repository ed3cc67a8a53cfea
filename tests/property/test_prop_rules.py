"""Property tests of the rule parser (proxy/rules/parser.py) and compiler (matchers.py), v3 and v2 syntax.

- printing a tree as rule text and parsing it back gives the same tree (every quoting, every spelling
  Traefik accepts for a name, any whitespace between tokens);
- on arbitrary text (random characters, or random sequences of the language's own tokens) the parser and
  the compiler either succeed or raise RuleSyntaxError with a column inside the rule, nothing else;
- a compiled rule matches any request head without raising.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prop_settings import budget

from proxy.message import HeaderList, RequestHead
from proxy.rules.matchers import compile_rule
from proxy.rules.parser import (
    MATCHER_ARITY,
    MATCHER_ARITY_V2,
    And,
    Call,
    Not,
    Or,
    RuleNode,
    RuleSyntaxError,
    parse_rule,
)

SYNTAXES = [pytest.param("v3", id="v3"), pytest.param("v2", id="v2")]


def shape(node: RuleNode) -> Any:
    """The tree without source columns: what a re-parse must give back."""
    if isinstance(node, Call):
        return ("call", node.name, node.args)
    if isinstance(node, Not):
        return ("not", shape(node.operand))
    return (type(node).__name__.lower(), shape(node.left), shape(node.right))


# --- printing ----------------------------------------------------------------------------------------------


def quote(arg: str, raw: bool) -> str:
    """A Go string literal for `arg`: raw (backticks) when it can be, else interpreted with escapes."""
    if raw and "`" not in arg and "\r" not in arg:
        return f"`{arg}`"
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def render(node: RuleNode, draw_style: Any, parent: str = "or") -> str:
    """Rule text for `node`; `draw_style()` picks the spelling, quoting and spacing of each part."""
    space = draw_style("space")
    if isinstance(node, Call):
        name = draw_style("name", node.name)
        args = [quote(arg, draw_style("raw")) for arg in node.args]
        trailing = "," if args and draw_style("trailing_comma") else ""
        return f"{name}({space}{(',' + space).join(args)}{trailing})"
    if isinstance(node, Not):
        return f"!{space}{render(node.operand, draw_style, 'not')}"
    op, kind = ("&&", "and") if isinstance(node, And) else ("||", "or")
    # Left-associative: the right operand of the same operator needs parentheses to keep the tree.
    text = f"{render(node.left, draw_style, kind)}{space}{op}{space}{render(node.right, draw_style, kind + '-right')}"
    needs_parens = parent in ("not", "and-right", "or-right") or (parent == "and" and kind == "or")
    if parent == kind + "-right" or needs_parens or draw_style("extra_parens"):
        return f"({space}{text}{space})"
    return text


# --- strategies ------------------------------------------------------------------------------------------

ARG_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)


def calls(syntax: str) -> st.SearchStrategy[Call]:
    def for_name(name: str) -> st.SearchStrategy[Call]:
        arity = MATCHER_ARITY_V2[name] if syntax == "v2" else MATCHER_ARITY[name]
        counts = st.integers(1, 3) if arity is None else st.sampled_from(arity)
        return counts.flatmap(lambda n: st.lists(ARG_TEXT, min_size=n, max_size=n)).map(
            lambda args: Call(name, tuple(args), 0, ())
        )

    names = sorted(MATCHER_ARITY_V2 if syntax == "v2" else MATCHER_ARITY)
    return st.sampled_from(names).flatmap(for_name)


def trees(syntax: str) -> st.SearchStrategy[RuleNode]:
    return st.recursive(
        calls(syntax),
        lambda inner: st.one_of(
            inner.map(Not),
            st.tuples(inner, inner).map(lambda p: And(*p)),
            st.tuples(inner, inner).map(lambda p: Or(*p)),
        ),
        max_leaves=8,
    )


def styler(data: st.DataObject) -> Any:
    def draw_style(what: str, name: str = "") -> Any:
        if what == "space":
            return data.draw(st.sampled_from(["", " ", "  ", "\t", " \r "]))
        if what == "name":
            return data.draw(st.sampled_from([name, name.lower(), name.upper(), name.lower().capitalize()]))
        return data.draw(st.booleans())

    return draw_style


# --- properties ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("syntax", SYNTAXES)
@budget(120)
@given(data=st.data())
def test_print_then_parse_gives_the_tree_back(syntax: str, data: st.DataObject) -> None:
    tree = data.draw(trees(syntax))
    text = render(tree, styler(data))
    assert shape(parse_rule(text, syntax)) == shape(tree), text


@pytest.mark.parametrize("syntax", SYNTAXES)
@budget(200)
@given(data=st.data())
def test_parse_print_parse_is_stable(syntax: str, data: st.DataObject) -> None:
    """Whatever the parser accepts prints back to text that parses to the same tree."""
    text = data.draw(token_soup(syntax))
    try:
        tree = parse_rule(text, syntax)
    except RuleSyntaxError:
        return
    again = render(tree, styler(data))
    assert shape(parse_rule(again, syntax)) == shape(tree), (text, again)


def token_soup(syntax: str) -> st.SearchStrategy[str]:
    """Random sequences of the language's own tokens (and a few strays): text that gets deep into the parser."""
    names = sorted(MATCHER_ARITY_V2 if syntax == "v2" else MATCHER_ARITY)
    tokens = st.one_of(
        st.sampled_from(names),
        st.sampled_from(
            ["(", ")", ",", "&&", "||", "!", " ", "\n", "\t", "&", "|", "'", "`", '"', "\\", "1", "_x", ".5"]
        ),
        ARG_TEXT.map(lambda arg: f"`{arg}`"),
        ARG_TEXT.map(lambda arg: '"' + arg + '"'),
        st.sampled_from(['"\\x4', '"\\u12"', '"\\400"', '"\\q"', '"\\U00110000"', '"\\ud800"', '"\\101"']),
    )
    return st.lists(tokens, max_size=24).map("".join)


def assert_rule_error(text: str, error: RuleSyntaxError) -> None:
    assert error.rule == text
    assert 1 <= error.column <= len(text) + 1, (text, error.column)
    assert error.reason


@pytest.mark.parametrize("syntax", SYNTAXES)
@pytest.mark.parametrize("source", [pytest.param("text", id="any-text"), pytest.param("tokens", id="token-soup")])
@budget(300)
@given(data=st.data())
def test_arbitrary_text_parses_or_raises_rule_syntax_error(syntax: str, source: str, data: st.DataObject) -> None:
    text = data.draw(st.text(max_size=60) if source == "text" else token_soup(syntax))
    try:
        parse_rule(text, syntax)
    except RuleSyntaxError as error:
        assert_rule_error(text, error)
    try:
        compile_rule(text, syntax)
    except RuleSyntaxError as error:
        assert_rule_error(text, error)


REQUEST_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=16)


@pytest.mark.parametrize("syntax", SYNTAXES)
@budget(80)
@given(data=st.data())
def test_compiled_rules_match_any_request_without_raising(syntax: str, data: st.DataObject) -> None:
    """Compiling a well-formed tree may refuse its arguments (a bad regexp, an IP that is not one), with a
    RuleSyntaxError; a rule that compiles answers True or False for any request head."""
    text = render(data.draw(trees(syntax)), styler(data))
    try:
        rule = compile_rule(text, syntax)
    except RuleSyntaxError as error:
        assert_rule_error(text, error)
        return
    for _ in range(3):
        head = RequestHead(
            method=data.draw(st.sampled_from(["GET", "POST", "get", "PURGE"])),
            path="/" + data.draw(REQUEST_TEXT),
            query=data.draw(st.none() | REQUEST_TEXT),
            headers=HeaderList([(data.draw(st.sampled_from(["X-A", "Content-Type", "x-a"])), data.draw(REQUEST_TEXT))]),
            host=data.draw(REQUEST_TEXT),
            client_ip=data.draw(st.sampled_from(["127.0.0.1", "::1", "10.1.2.3", ""])),
        )
        assert rule.match(head) in (True, False)
