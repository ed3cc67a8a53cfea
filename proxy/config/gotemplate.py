"""The Go templating Traefik's file provider applies to every dynamic file before decoding it.

Traefik (pkg/provider/file/file.go CreateConfiguration) runs each dynamic file through Go's text/template
with sprig's function map (plus `split` = strings.Split), with `false` as the data. We render the part of
that language real files use, with Go's results:

* text and `{{ actions }}`; `{{-` / `-}}` trim the white space (space, tab, CR, LF) before / after;
  `{{/* comments */}}` (also `{{- /* ... */ -}}`);
* pipelines `a | b c` (the previous value becomes the last argument), parenthesised pipelines;
* `{{ $x := ... }}`, `{{ $x = ... }}`, `$` (the data), `.` (the data, or the element inside `range`);
* `if` / `else if` / `else` / `end` (Go's truth: false, 0, "", nil and empty lists are false),
  `range` over a list with optional `$i, $e :=` and an `else` branch;
* Go's `eq`, `ne`, `not`, `and`, `or`, `len`; sprig's `env` (a missing variable is ""), `default`, `trim`,
  `trimAll`, `quote`, `lower`, `upper`, `splitList`, `until`; Traefik's `split` and `normalize`.

Anything else (another function, `with`, `define`, field access on the data...) is a TemplateError naming
the file, the line and what is not supported. `render` is only called for text containing `{{`.
"""

from __future__ import annotations

import functools
import os
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

_SPACE = " \t\r\n"
_NO_VALUE = "<no value>"


class TemplateError(ValueError):
    """A template Traefik would refuse, or one using what we do not render; `str()` names file and line."""

    def __init__(self, file: str, line: int, message: str) -> None:
        self.file, self.line, self.message = file, line, message
        super().__init__(f"template {file}:{line}: {message}")


# ------------------------------------------------------------------------------------------------ values


def _truth(value: Any) -> bool:
    """text/template's IsTrue."""
    if value is None or value is False:
        return False
    if isinstance(value, (str, list, dict, tuple)):
        return len(value) > 0
    if isinstance(value, (int, float)):
        return value != 0
    return True


def _go_print(value: Any) -> str:
    """fmt.Sprint as text/template prints a pipeline's value."""
    if value is None:
        return _NO_VALUE
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(_go_print(item) for item in value) + "]"
    return str(value)


def _go_quote(text: str) -> str:
    """strconv.Quote (what sprig's `quote` writes through %q)."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append("\\" + "abfnrtv"["\a\b\f\n\r\t\v".index(ch)])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _go_type(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    return type(value).__name__


def _strval(value: Any) -> str:
    """sprig's strval: strings as they are, anything else as fmt prints it."""
    return value if isinstance(value, str) else _go_print(value) if value is not None else ""


def _go_split(text: str, sep: str) -> list[str]:
    """strings.Split: an empty separator splits after each character."""
    return list(text) if sep == "" else text.split(sep)


def _go_trim(text: str, cutset: str) -> str:
    return text.strip(cutset) if cutset else text


# unicode.IsSpace, what strings.TrimSpace removes.
_GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


def _per_rune(text: str, change: Callable[[str], str]) -> str:
    """strings.ToLower/ToUpper map each rune to one rune (Python's "ß".upper() is "SS"; Go's is "ß")."""
    changed = change(text)
    if len(changed) == len(text):
        return changed
    return "".join(c if len(d := change(c)) != 1 else d for c in text)


def _normalize(text: str) -> str:
    """provider.Normalize: runs of letters and digits (Unicode), joined by "-"."""
    words, word = [], []
    for ch in text:
        if ch.isalpha() or unicodedata.category(ch).startswith("N"):
            word.append(ch)
        elif word:
            words.append("".join(word))
            word = []
    if word:
        words.append("".join(word))
    return "-".join(words)


def _default(default: Any, *given: Any) -> Any:
    return default if not given or not _truth(given[0]) else given[0]


def _eq(first: Any, *others: Any) -> bool:
    if not others:
        raise _CallError("missing argument for comparison")
    for other in others:
        if type(first) is not type(other):
            raise _CallError(f"incompatible types for comparison: {_go_type(first)} and {_go_type(other)}")
        if first == other:
            return True
    return False


def _ne(first: Any, second: Any) -> bool:
    return not _eq(first, second)


def _go_len(value: Any) -> int:
    if isinstance(value, (str, list, dict)):
        return len(value.encode("utf-8")) if isinstance(value, str) else len(value)
    raise _CallError(f"len of type {_go_type(value)}")


def _until(count: Any) -> list[int]:
    if not isinstance(count, int) or isinstance(count, bool):
        raise _CallError(f"wrong type for value; expected int; got {_go_type(count)}")
    return list(range(count)) if count >= 0 else list(range(0, count, -1))


class _CallError(Exception):
    pass


@dataclass(frozen=True)
class _Func:
    call: Callable[..., Any]
    params: tuple[str, ...]  # "str" or "any" per fixed parameter
    variadic: str | None = None  # type of the trailing variadic parameters, if any


def _functions(environ: Mapping[str, str]) -> dict[str, _Func]:
    return {
        "env": _Func(lambda name: environ.get(name, ""), ("str",)),
        "default": _Func(_default, ("any",), "any"),
        "trim": _Func(lambda s: s.strip(_GO_SPACE), ("str",)),
        "trimAll": _Func(_go_trim, ("str", "str"), None),
        "quote": _Func(lambda *args: " ".join(_go_quote(_strval(a)) for a in args if a is not None), (), "any"),
        "lower": _Func(lambda s: _per_rune(s, str.lower), ("str",)),
        "upper": _Func(lambda s: _per_rune(s, str.upper), ("str",)),
        "splitList": _Func(lambda sep, text: _go_split(text, sep), ("str", "str")),
        "split": _Func(_go_split, ("str", "str")),  # Traefik's: strings.Split(s, sep)
        "normalize": _Func(_normalize, ("str",)),  # Traefik's provider.Normalize
        "until": _Func(_until, ("any",)),
        "eq": _Func(_eq, ("any",), "any"),
        "ne": _Func(_ne, ("any", "any")),
        "not": _Func(lambda value: not _truth(value), ("any",)),
        "len": _Func(_go_len, ("any",)),
    }


# trimAll's parameters are (cutset, s) in sprig; strings.Trim wants (s, cutset).
_ARG_ORDER = {"trimAll": lambda args: (args[1], args[0])}
_BUILTIN_LOGIC = {"and", "or"}  # evaluated lazily, like Go's
_KEYWORDS = {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue", "nil"}


# ------------------------------------------------------------------------------------------------ lexing


@dataclass(frozen=True)
class _Tok:
    kind: str  # "str", "num", "bool", "nil", "ident", "var", "dot", "(", ")", "|", ":=", "=", ","
    value: Any
    line: int


_NUMBER = re.compile(
    r"[+-]?(0[xX][0-9a-fA-F_]+|0[oO]?[0-7_]+|0[bB][01_]+"
    r"|[0-9][0-9_]*(\.[0-9_]*)?([eE][+-]?[0-9]+)?|\.[0-9]+([eE][+-]?[0-9]+)?)"
)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VAR = re.compile(r"\$[A-Za-z0-9_]*")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", '"': '"', "'": "'"}


@dataclass
class _Action:
    tokens: list[_Tok]
    line: int


@dataclass
class _Text:
    text: str


class _Lexer:
    """Splits template text into _Text and _Action items, applying the trim markers."""

    def __init__(self, text: str, file: str) -> None:
        self.text, self.file = text, file
        self.pos, self.line = 0, 1
        self.items: list[_Text | _Action] = []

    def error(self, message: str, line: int | None = None) -> TemplateError:
        return TemplateError(self.file, line or self.line, message)

    def run(self) -> list[_Text | _Action]:
        text = self.text
        trim_next = False
        while True:
            start = text.find("{{", self.pos)
            chunk = text[self.pos :] if start == -1 else text[self.pos : start]
            if trim_next:
                self.line += chunk.count("\n") - chunk.lstrip(_SPACE).count("\n")
                chunk = chunk.lstrip(_SPACE)
                # the line count above already moved past the trimmed part; count the rest below
            if start == -1:
                self._add_text(chunk)
                return self.items
            trim_before = text.startswith("{{-", start) and start + 3 < len(text) and text[start + 3] in _SPACE
            if trim_before:
                stripped = chunk.rstrip(_SPACE)
                self._add_text(stripped)
                self.line += chunk[len(stripped) :].count("\n")
            else:
                self._add_text(chunk)
            self.pos = start + (4 if trim_before else 2)
            trim_next = self._action()

    def _add_text(self, chunk: str) -> None:
        if chunk:
            self.items.append(_Text(chunk))
            self.line += chunk.count("\n")

    def _close(self) -> bool | None:
        """At pos: ' -}}' or '}}' ends the action; return whether it trims what follows (None: not here)."""
        text, pos = self.text, self.pos
        if text.startswith("}}", pos):
            self.pos = pos + 2
            return False
        if text[pos : pos + 1] in tuple(_SPACE) and text.startswith("-}}", pos + 1):
            self.line += text[pos] == "\n"
            self.pos = pos + 4
            return True
        return None

    def _action(self) -> bool:
        text = self.text
        line = self.line
        # A comment must follow the delimiter (and its trim marker) at once.
        if text.startswith("/*", self.pos):
            end = text.find("*/", self.pos + 2)
            if end == -1:
                raise self.error("unclosed comment")
            self.line += text.count("\n", self.pos, end)
            self.pos = end + 2
            closed = self._close()
            if closed is None:
                raise self.error("comment ends before closing delimiter")
            return closed
        tokens: list[_Tok] = []
        while True:
            while self.pos < len(text) and text[self.pos] in _SPACE:
                closed = self._close()
                if closed is not None:
                    self.items.append(_Action(tokens, line))
                    return closed
                self.line += text[self.pos] == "\n"
                self.pos += 1
            if self.pos >= len(text):
                raise self.error("unclosed action", line)
            closed = self._close()
            if closed is not None:
                self.items.append(_Action(tokens, line))
                return closed
            tokens.append(self._token())

    def _token(self) -> _Tok:
        text, pos, line = self.text, self.pos, self.line
        ch = text[pos]
        if ch == '"':
            return self._quoted()
        if ch == "`":
            end = text.find("`", pos + 1)
            if end == -1:
                raise self.error("unterminated raw quoted string")
            self.line += text.count("\n", pos, end)
            self.pos = end + 1
            return _Tok("str", text[pos + 1 : end], line)
        if ch == "'":
            raise self.error("character constants are not supported by stripproxy's template renderer")
        if text.startswith(":=", pos):
            self.pos += 2
            return _Tok(":=", ":=", line)
        if ch in "()|=,":
            self.pos += 1
            return _Tok(ch, ch, line)
        if ch == "$":
            match = _VAR.match(text, pos)
            assert match is not None
            self.pos = match.end()
            return _Tok("var", match.group(), line)
        if ch == "." and not text[pos + 1 : pos + 2].isdigit():
            match = _IDENT.match(text, pos + 1)
            if match:
                raise self.error(
                    f"field access .{match.group()}: the file provider's template data is `false`, which has no fields"
                )
            self.pos += 1
            return _Tok("dot", ".", line)
        match = _NUMBER.match(text, pos)
        if match and (ch.isdigit() or ch in "+-."):
            self.pos = match.end()
            literal = match.group().replace("_", "")
            try:
                value: Any
                if re.fullmatch(r"[+-]?0[0-7]+", literal):
                    value = int(literal, 8)
                elif literal.lstrip("+-")[:2].lower() == "0x" or not re.search(r"[.eE]", literal):
                    value = int(literal, 0)
                else:
                    value = float(literal)
            except ValueError:
                raise self.error(f"bad number syntax: {match.group()!r}") from None
            return _Tok("num", value, line)
        match = _IDENT.match(text, pos)
        if match:
            self.pos = match.end()
            word = match.group()
            if word in ("true", "false"):
                return _Tok("bool", word == "true", line)
            if word == "nil":
                return _Tok("nil", None, line)
            return _Tok("ident", word, line)
        raise self.error(f"unexpected {ch!r} in action")

    def _quoted(self) -> _Tok:
        text, line = self.text, self.line
        i = self.pos + 1
        out: list[str] = []
        while True:
            if i >= len(text) or text[i] == "\n":
                raise self.error("unterminated quoted string")
            ch = text[i]
            if ch == '"':
                break
            if ch != "\\":
                out.append(ch)
                i += 1
                continue
            code = text[i + 1 : i + 2]
            if code in _ESCAPES:
                out.append(_ESCAPES[code])
                i += 2
            elif code in ("x", "u", "U"):
                width = {"x": 2, "u": 4, "U": 8}[code]
                digits = text[i + 2 : i + 2 + width]
                if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                    raise self.error(f"invalid escape \\{code} in quoted string")
                out.append(chr(int(digits, 16)) if code != "x" else bytes([int(digits, 16)]).decode("latin-1"))
                i += 2 + width
            elif len(text[i + 1 : i + 4]) == 3 and all(c in "01234567" for c in text[i + 1 : i + 4]):
                out.append(chr(int(text[i + 1 : i + 4], 8)))
                i += 4
            else:
                raise self.error(f"unknown escape sequence \\{code} in quoted string")
        self.pos = i + 1
        return _Tok("str", "".join(out), line)


# ------------------------------------------------------------------------------------------------ tree


@dataclass
class _Pipeline:
    decl: list[str]  # variable names declared (":=") or assigned ("=")
    assign: bool  # "=": assign existing variables
    commands: list[list[Any]]  # each command: operands (_Tok or _Pipeline)
    line: int


@dataclass
class _If:
    branches: list[tuple[_Pipeline, list[Any]]]
    otherwise: list[Any] = field(default_factory=list)


@dataclass
class _Range:
    pipe: _Pipeline
    body: list[Any]
    otherwise: list[Any] = field(default_factory=list)


class _Parser:
    def __init__(self, items: list[_Text | _Action], file: str) -> None:
        self.items, self.file, self.index = items, file, 0

    def error(self, line: int, message: str) -> TemplateError:
        return TemplateError(self.file, line, message)

    def parse(self) -> list[Any]:
        body, stop = self._list(())
        if stop is not None:
            raise self.error(stop.line, f"unexpected {{{{{stop.tokens[0].value}}}}}")
        return body

    def _list(self, stops: tuple[str, ...], opened: int = 1) -> tuple[list[Any], _Action | None]:
        body: list[Any] = []
        while self.index < len(self.items):
            item = self.items[self.index]
            self.index += 1
            if isinstance(item, _Text):
                body.append(item)
                continue
            if not item.tokens:
                raise self.error(item.line, "missing value for command")
            head = item.tokens[0]
            word = head.value if head.kind == "ident" else None
            if word in ("end", "else"):
                if word not in stops:
                    raise self.error(item.line, f"unexpected {{{{{word}}}}}")
                return body, item
            if word == "if":
                body.append(self._if(item))
            elif word == "range":
                body.append(self._range(item))
            elif word in _KEYWORDS:
                raise self.error(
                    item.line,
                    f"{{{{{word}}}}} is not supported by stripproxy's template renderer (if, else, range and end are)",
                )
            else:
                body.append(self._pipeline(item.tokens, item.line, allow_decl=True))
        if stops:
            raise self.error(opened, "unexpected EOF (the block opened here is not closed with {{end}})")
        return body, None

    def _if(self, action: _Action) -> _If:
        node = _If([(self._pipeline(action.tokens[1:], action.line, allow_decl=True, context="if"), [])])
        while True:
            body, stop = self._list(("else", "end"), action.line)
            node.branches[-1][1].extend(body)
            assert stop is not None
            rest = stop.tokens[1:]
            if stop.tokens[0].value == "end":
                if rest:
                    raise self.error(stop.line, "unexpected arguments after {{end}}")
                return node
            if rest and rest[0].kind == "ident" and rest[0].value == "if":
                node.branches.append((self._pipeline(rest[1:], stop.line, allow_decl=True, context="if"), []))
                continue
            if rest:
                raise self.error(stop.line, "unexpected arguments after {{else}}")
            node.otherwise, stop = self._list(("end",), action.line)
            assert stop is not None
            if stop.tokens[0].value != "end" or len(stop.tokens) > 1:
                raise self.error(stop.line, "expected {{end}} after {{else}}")
            return node

    def _range(self, action: _Action) -> _Range:
        node = _Range(self._pipeline(action.tokens[1:], action.line, allow_decl=True, context="range"), [])
        body, stop = self._list(("else", "end"), action.line)
        node.body = body
        assert stop is not None
        if stop.tokens[0].value == "else":
            if len(stop.tokens) > 1:
                raise self.error(stop.line, "{{else ...}} after {{range}} is not supported (only {{else}})")
            node.otherwise, stop = self._list(("end",), action.line)
            assert stop is not None
            if stop.tokens[0].value != "end":
                raise self.error(stop.line, "expected {{end}}")
        if len(stop.tokens) > 1:
            raise self.error(stop.line, "unexpected arguments after {{end}}")
        return node

    def _pipeline(self, tokens: list[_Tok], line: int, allow_decl: bool, context: str = "") -> _Pipeline:
        decl: list[str] = []
        assign = False
        if allow_decl and tokens and tokens[0].kind == "var":
            # `$x :=`, `$x =`, or in range `$i, $e :=`
            if len(tokens) > 1 and tokens[1].kind in (":=", "="):
                decl, assign, tokens = [tokens[0].value], tokens[1].kind == "=", tokens[2:]
            elif (
                context == "range"
                and len(tokens) > 3
                and tokens[1].kind == ","
                and tokens[2].kind == "var"
                and tokens[3].kind in (":=", "=")
            ):
                decl, assign, tokens = [tokens[0].value, tokens[2].value], tokens[3].kind == "=", tokens[4:]
        commands: list[list[Any]] = [[]]
        index = 0
        while index < len(tokens):
            tok = tokens[index]
            index += 1
            if tok.kind == "|":
                if not commands[-1]:
                    raise self.error(tok.line, "missing command before '|'")
                commands.append([])
            elif tok.kind == "(":
                depth, end = 1, index
                while end < len(tokens) and depth:
                    depth += {"(": 1, ")": -1}.get(tokens[end].kind, 0)
                    end += 1
                if depth:
                    raise self.error(tok.line, "unclosed left paren")
                commands[-1].append(self._pipeline(tokens[index : end - 1], tok.line, allow_decl=False))
                index = end
            elif tok.kind in (")", ":=", "=", ","):
                raise self.error(tok.line, f"unexpected {tok.value!r} in {context or 'command'}")
            else:
                commands[-1].append(tok)
        if not commands[-1]:
            raise self.error(line, f"missing value for {context or 'command'}")
        return _Pipeline(decl, assign, commands, line)


# ------------------------------------------------------------------------------------------------ evaluation


class _Renderer:
    def __init__(self, file: str, environ: Mapping[str, str]) -> None:
        self.file = file
        self.funcs = _functions(environ)
        self.out: list[str] = []

    def error(self, line: int, message: str) -> TemplateError:
        return TemplateError(self.file, line, message)

    def run(self, body: list[Any], dot: Any, scopes: list[dict[str, Any]]) -> None:
        scopes.append({})
        try:
            for node in body:
                if isinstance(node, _Text):
                    self.out.append(node.text)
                elif isinstance(node, _Pipeline):
                    value = self.pipeline(node, dot, scopes)
                    if not node.decl:
                        self.out.append(_go_print(value))
                elif isinstance(node, _If):
                    self._if(node, dot, scopes)
                else:
                    self._range(node, dot, scopes)
        finally:
            scopes.pop()

    def _if(self, node: _If, dot: Any, scopes: list[dict[str, Any]]) -> None:
        scopes.append({})  # variables declared in the condition live until {{end}}
        try:
            for pipe, body in node.branches:
                if _truth(self.pipeline(pipe, dot, scopes)):
                    self.run(body, dot, scopes)
                    return
            self.run(node.otherwise, dot, scopes)
        finally:
            scopes.pop()

    def _range(self, node: _Range, dot: Any, scopes: list[dict[str, Any]]) -> None:
        pipe = node.pipe
        items = self.pipeline(_Pipeline([], False, pipe.commands, pipe.line), dot, scopes)
        if isinstance(items, int) and not isinstance(items, bool):
            items = list(range(items))
        if isinstance(items, str) or not isinstance(items, (list, tuple)):
            raise self.error(pipe.line, f"range can't iterate over {_go_print(items)}")
        if not items:
            self.run(node.otherwise, dot, scopes)
            return
        for index, item in enumerate(items):
            scopes.append({})
            try:
                if len(pipe.decl) == 1:
                    self._set(pipe, [item], scopes)
                elif len(pipe.decl) == 2:
                    self._set(pipe, [index, item], scopes)
                self.run(node.body, item, scopes)
            finally:
                scopes.pop()

    def _set(self, pipe: _Pipeline, values: list[Any], scopes: list[dict[str, Any]]) -> None:
        for name, value in zip(pipe.decl, values, strict=False):
            if pipe.assign:
                for scope in reversed(scopes):
                    if name in scope:
                        scope[name] = value
                        break
                else:
                    raise self.error(pipe.line, f"undefined variable: {name}")
            else:
                scopes[-1][name] = value

    def pipeline(self, pipe: _Pipeline, dot: Any, scopes: list[dict[str, Any]]) -> Any:
        value: Any = _MISSING
        for command in pipe.commands:
            value = self.command(command, value, dot, scopes, pipe.line)
        if pipe.decl:
            self._set(pipe, [value], scopes)
        return value

    def command(self, operands: list[Any], previous: Any, dot: Any, scopes: list[dict[str, Any]], line: int) -> Any:
        head = operands[0]
        if isinstance(head, _Tok) and head.kind == "ident":
            return self.call(head, operands[1:], previous, dot, scopes)
        if len(operands) > 1 or previous is not _MISSING:
            raise self.error(line, f"can't give argument to non-function {self._describe(head)}")
        return self.operand(head, dot, scopes)

    def _describe(self, operand: Any) -> str:
        return "(...)" if isinstance(operand, _Pipeline) else str(operand.value)

    def operand(self, operand: Any, dot: Any, scopes: list[dict[str, Any]]) -> Any:
        if isinstance(operand, _Pipeline):
            return self.pipeline(operand, dot, scopes)
        if operand.kind == "ident":
            return self.call(operand, [], _MISSING, dot, scopes)
        if operand.kind == "var":
            if operand.value == "$":
                return False  # the file provider's template data
            for scope in reversed(scopes):
                if operand.value in scope:
                    return scope[operand.value]
            raise self.error(operand.line, f"undefined variable: {operand.value}")
        if operand.kind == "dot":
            return dot
        return operand.value

    def call(self, name_tok: _Tok, args: list[Any], previous: Any, dot: Any, scopes: list[dict[str, Any]]) -> Any:
        name, line = name_tok.value, name_tok.line
        if name in _BUILTIN_LOGIC:
            return self._logic(name, args, previous, dot, scopes, line)
        func = self.funcs.get(name)
        if func is None:
            supported = ", ".join(sorted([*self.funcs, *_BUILTIN_LOGIC]))
            raise self.error(
                line, f"function {name!r} is not supported by stripproxy's template renderer (supported: {supported})"
            )
        values = [self.operand(arg, dot, scopes) for arg in args]
        if previous is not _MISSING:
            values.append(previous)
        fixed = len(func.params)
        if len(values) < fixed or (func.variadic is None and len(values) > fixed):
            want = f"at least {fixed}" if func.variadic else str(fixed)
            raise self.error(line, f"wrong number of args for {name}: want {want} got {len(values)}")
        kinds = [*func.params, *[func.variadic or "any"] * (len(values) - fixed)]
        for value, kind in zip(values, kinds, strict=True):
            if kind == "str" and not isinstance(value, str):
                raise self.error(
                    line, f"error calling {name}: wrong type for value; expected string; got {_go_type(value)}"
                )
        if name in _ARG_ORDER:
            values = list(_ARG_ORDER[name](values))
        try:
            return func.call(*values)
        except _CallError as err:
            raise self.error(line, f"error calling {name}: {err}") from None

    def _logic(
        self, name: str, args: list[Any], previous: Any, dot: Any, scopes: list[dict[str, Any]], line: int
    ) -> Any:
        """Go's and/or: evaluate left to right, stop at the first false (and) / true (or) argument."""
        thunks: list[Callable[[], Any]] = [functools.partial(self.operand, arg, dot, scopes) for arg in args]
        if previous is not _MISSING:
            thunks.append(lambda: previous)
        if not thunks:
            raise self.error(line, f"wrong number of args for {name}: want at least 1 got 0")
        value = None
        for thunk in thunks:
            value = thunk()
            if _truth(value) != (name == "and"):
                return value
        return value


_MISSING = object()


def render(text: str, file: str, environ: Mapping[str, str] | None = None) -> str:
    """Render `text` as Traefik's file provider would; TemplateError (file, line, what) otherwise."""
    items = _Lexer(text, file).run()
    body = _Parser(items, file).parse()
    renderer = _Renderer(file, os.environ if environ is None else environ)
    renderer.run(body, False, [])
    return "".join(renderer.out)


def needs_rendering(text: str) -> bool:
    """Only text holding an action pays for the renderer."""
    return "{{" in text
