"""Parse Traefik v3 rule text (`Host(`a.test`) && !PathPrefix(`/admin`)`) into a small tree.

Traefik hands the rule to Go's expression parser (vulcand/predicate over go/parser), so the accepted
syntax is a subset of Go expressions; this module reproduces the parts a rule can use:

* calls `Name(arg, ...)`; the name in its canonical spelling, all lower case, all upper case or
  Title case (`PathPrefix`, `pathprefix`, `PATHPREFIX`, `Pathprefix`), nothing else (pkg/rules/parser.go);
* args are Go string literals: raw `` `...` `` (carriage returns dropped) or interpreted "..." with Go
  escapes; single quotes are rejected; a trailing comma inside the call is allowed, as in Go;
* `!` binds tightest, then `&&`, then `||`; parentheses group;
* whitespace anywhere, except that Go ends a statement at a newline that follows a name, a string or `)`,
  so such a newline is only allowed at the very end of the rule (it is an error anywhere else).

Arity and empty-argument checks follow pkg/muxer/http/matcher.go (httpFuncs) and pkg/rules/parser.go
(CheckRule). Errors are `RuleSyntaxError` with a 1-based column into the rule text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Canonical matcher name -> accepted argument counts (Traefik v3 httpFuncs).
MATCHER_ARITY: dict[str, tuple[int, ...]] = {
    "ClientIP": (1,),
    "Method": (1,),
    "Host": (1,),
    "HostRegexp": (1,),
    "Path": (1,),
    "PathRegexp": (1,),
    "PathPrefix": (1,),
    "Header": (2,),
    "HeaderRegexp": (2,),
    "Query": (1, 2),
    "QueryRegexp": (1, 2),
}


# The v2 syntax (pkg/muxer/http/matcher_v2.go httpFuncsV2): every matcher takes one or more arguments; the
# matchers themselves check pairs (Headers, HeadersRegexp, Query).
MATCHER_ARITY_V2: dict[str, tuple[int, ...] | None] = dict.fromkeys(
    (
        "Host",
        "HostHeader",
        "HostRegexp",
        "ClientIP",
        "Path",
        "PathPrefix",
        "Method",
        "Headers",
        "HeadersRegexp",
        "Query",
    )
)


def _spellings(names: Iterable[str] = MATCHER_ARITY) -> dict[str, str]:
    # predicate registers each matcher under four spellings only (pkg/rules/parser.go NewParser).
    out: dict[str, str] = {}
    for name in names:
        for form in (name, name.lower(), name.upper(), name.lower().capitalize()):
            out[form] = name
    return out


_NAME_SPELLINGS = _spellings()
_NAME_SPELLINGS_V2 = _spellings(MATCHER_ARITY_V2)


class RuleSyntaxError(ValueError):
    """A rule Traefik would refuse; `.column` is 1-based into `.rule`."""

    def __init__(self, rule: str, column: int, reason: str) -> None:
        self.rule = rule
        self.column = column
        self.reason = reason
        super().__init__(f"rule `{rule}`: column {column}: {reason}")


@dataclass(frozen=True, slots=True)
class Call:
    """A matcher call; `name` is canonical (`PathPrefix`), `arg_columns` locate each arg for errors."""

    name: str
    args: tuple[str, ...]
    column: int
    arg_columns: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class And:
    left: RuleNode
    right: RuleNode


@dataclass(frozen=True, slots=True)
class Or:
    left: RuleNode
    right: RuleNode


@dataclass(frozen=True, slots=True)
class Not:
    operand: RuleNode


RuleNode = Call | And | Or | Not


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # IDENT STRING NUMBER ( ) , && || ! NEWLINE EOF
    text: str  # the value: identifier, decoded string, operator
    column: int


_SEMICOLON_AFTER = frozenset({"IDENT", "STRING", "NUMBER", ")"})
_SIMPLE_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}


class _Lexer:
    def __init__(self, rule: str) -> None:
        self.rule = rule
        self.pos = 0
        self.tokens: list[_Token] = []

    def error(self, pos: int, reason: str) -> RuleSyntaxError:
        return RuleSyntaxError(self.rule, pos + 1, reason)

    def run(self) -> list[_Token]:
        rule = self.rule
        while self.pos < len(rule):
            ch = rule[self.pos]
            if ch == "\n":
                if self.tokens and self.tokens[-1].kind in _SEMICOLON_AFTER:
                    self.tokens.append(_Token("NEWLINE", "\n", self.pos + 1))
                self.pos += 1
            elif ch in " \t\r":
                self.pos += 1
            else:
                self.tokens.append(self.lex_one(ch))
        self.tokens.append(_Token("EOF", "", len(rule) + 1))
        return self.tokens

    def lex_one(self, ch: str) -> _Token:
        start = self.pos
        two = self.rule[start : start + 2]
        if two in ("&&", "||"):
            self.pos += 2
            return _Token(two, two, start + 1)
        if ch in "()!,":
            self.pos += 1
            return _Token(ch, ch, start + 1)
        if ch == "`":
            return self.raw_string()
        if ch == '"':
            return self.quoted_string()
        if ch == "'":
            raise self.error(start, 'single quotes are not accepted; quote values with backticks or "')
        if ch.isalpha() or ch == "_":
            end = start + 1
            while end < len(self.rule) and (self.rule[end].isalnum() or self.rule[end] == "_"):
                end += 1
            self.pos = end
            return _Token("IDENT", self.rule[start:end], start + 1)
        if ch.isdigit() or ch == ".":
            end = start + 1
            while end < len(self.rule) and (self.rule[end].isalnum() or self.rule[end] in "._"):
                end += 1
            self.pos = end
            return _Token("NUMBER", self.rule[start:end], start + 1)
        if ch in "&|":
            raise self.error(start, f"unsupported operator {ch!r}; use '{ch}{ch}'")
        raise self.error(start, f"unexpected character {ch!r}")

    def raw_string(self) -> _Token:
        start = self.pos
        end = self.rule.find("`", start + 1)
        if end == -1:
            raise self.error(start, "string not terminated: missing closing backtick")
        self.pos = end + 1
        return _Token("STRING", self.rule[start + 1 : end].replace("\r", ""), start + 1)

    def quoted_string(self) -> _Token:
        start = self.pos
        out = bytearray()
        i = start + 1
        rule = self.rule
        while True:
            if i >= len(rule) or rule[i] == "\n":
                raise self.error(start, "string not terminated: missing closing '\"'")
            ch = rule[i]
            if ch == '"':
                break
            if ch == "\\":
                i = self.escape(i, out)
            else:
                out += ch.encode("utf-8", "surrogateescape")
                i += 1
        self.pos = i + 1
        return _Token("STRING", out.decode("utf-8", "surrogateescape"), start + 1)

    def escape(self, i: int, out: bytearray) -> int:
        """Decode the Go escape at rule[i] (a backslash) into `out`; return the index after it."""
        rule = self.rule
        code = rule[i + 1 : i + 2]
        if code in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[code])
            return i + 2
        width = {"x": 2, "u": 4, "U": 8}.get(code)
        if width is not None:
            digits = rule[i + 2 : i + 2 + width]
            if len(digits) != width or any(c not in "0123456789abcdefABCDEF" for c in digits):
                raise self.error(i, f"invalid escape \\{code}: expected {width} hex digits")
            value = int(digits, 16)
            if code == "x":
                out.append(value)
            elif value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
                raise self.error(i, f"escape \\{code}{digits} is not a valid Unicode code point")
            else:
                out += chr(value).encode("utf-8")
            return i + 2 + width
        digits = rule[i + 1 : i + 4]
        if len(digits) == 3 and all(c in "01234567" for c in digits):
            value = int(digits, 8)
            if value > 255:
                raise self.error(i, f"octal escape \\{digits} is greater than 255")
            out.append(value)
            return i + 4
        raise self.error(i, f"unknown escape sequence \\{code}")


class _Parser:
    def __init__(self, rule: str, tokens: list[_Token], v2: bool = False) -> None:
        self.rule = rule
        self.tokens = tokens
        self.index = 0
        self.v2 = v2
        self.spellings = _NAME_SPELLINGS_V2 if v2 else _NAME_SPELLINGS

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        tok = self.tokens[self.index]
        self.index += 1
        return tok

    def error(self, tok: _Token, reason: str) -> RuleSyntaxError:
        return RuleSyntaxError(self.rule, tok.column, reason)

    def unexpected(self, tok: _Token, wanted: str) -> RuleSyntaxError:
        found = {"EOF": "end of rule", "NEWLINE": "newline"}.get(tok.kind, repr(tok.text))
        return self.error(tok, f"expected {wanted}, found {found}")

    def parse(self) -> RuleNode:
        if self.token.kind == "EOF":
            raise self.error(self.token, "empty rule")
        node = self.or_expr()
        if self.token.kind == "NEWLINE" and self.tokens[self.index + 1].kind == "EOF":
            self.advance()
        if self.token.kind != "EOF":
            raise self.unexpected(self.token, "'&&', '||' or end of rule")
        return node

    def or_expr(self) -> RuleNode:
        node = self.and_expr()
        while self.token.kind == "||":
            self.advance()
            node = Or(node, self.and_expr())
        return node

    def and_expr(self) -> RuleNode:
        node = self.unary()
        while self.token.kind == "&&":
            self.advance()
            node = And(node, self.unary())
        return node

    def unary(self) -> RuleNode:
        if self.token.kind == "!":
            self.advance()
            return Not(self.unary())
        return self.primary()

    def primary(self) -> RuleNode:
        tok = self.advance()
        if tok.kind == "(":
            node = self.or_expr()
            if self.token.kind != ")":
                raise self.unexpected(self.token, "')'")
            self.advance()
            return node
        if tok.kind == "IDENT":
            return self.call(tok)
        raise self.unexpected(tok, "a matcher such as Host(`example.com`), '!' or '('")

    def call(self, name_tok: _Token) -> Call:
        name = self.spellings.get(name_tok.text)
        if name is None:
            raise self.error(name_tok, f"unknown matcher {name_tok.text!r}")
        if self.token.kind != "(":
            raise self.unexpected(self.token, f"'(' after {name_tok.text}")
        self.advance()
        args: list[str] = []
        columns: list[int] = []
        while self.token.kind != ")":
            if self.token.kind != "STRING":
                raise self.unexpected(self.token, "a quoted string")
            arg = self.advance()
            args.append(arg.text)
            columns.append(arg.column)
            if self.token.kind == ",":
                self.advance()
            elif self.token.kind != ")":
                raise self.unexpected(self.token, "',' or ')'")
        close = self.advance()
        self.check_args(name, name_tok, args, columns, close)
        return Call(name, tuple(args), name_tok.column, tuple(columns))

    def check_args(self, name: str, name_tok: _Token, args: list[str], columns: list[int], close: _Token) -> None:
        arity = MATCHER_ARITY_V2[name] if self.v2 else MATCHER_ARITY[name]
        if arity is None:
            if not args:
                raise RuleSyntaxError(self.rule, close.column, f"no args for matcher {name}")
        elif len(args) not in arity:
            wanted = " or ".join(str(n) for n in arity)
            # Point at the first extra argument, or at the ')' where one is missing.
            column = columns[max(arity)] if len(args) > max(arity) else close.column
            raise RuleSyntaxError(self.rule, column, f"{name} takes {wanted} argument(s), got {len(args)}")
        for arg, column in zip(args, columns, strict=False):
            if arg == "":
                raise RuleSyntaxError(self.rule, column, f"empty argument for matcher {name}")


def parse_rule(rule: str, syntax: str = "v3") -> RuleNode:
    """Parse rule text (Traefik's v3 syntax, or v2 with syntax="v2") into a tree; RuleSyntaxError for
    anything Traefik refuses."""
    return _Parser(rule, _Lexer(rule).run(), v2=syntax == "v2").parse()
