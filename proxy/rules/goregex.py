"""Compile Go (RE2) regular expressions with Python's `re`, keeping Go's meaning.

Traefik compiles every regexp with Go's `regexp.Compile`; this module translates that syntax, one atom at
a time, into an equivalent Python pattern and refuses what Go refuses (backreferences, lookarounds,
possessive and stacked repetitions, repeat counts over 1000, unknown escapes...).

Go semantics kept: `$` without `(?m)` is end of text (Python's `$` also matches before a final newline);
flags `(?i)`, `(?m)`, `(?s)`, `(?U)` may appear anywhere and last until the enclosing group closes
(Python only allows global flags at the start); `\\d \\w \\s \\b` are ASCII-only; `\\z`, `\\Q...\\E`,
`\\x{...}`, octal escapes, POSIX classes `[[:alpha:]]`, `(?P<n>...)` and `(?<n>...)`; `{` that is not a
valid repeat is a literal (`{value:x}`), `x{,3}` is literal too.

Not supported (raise GoRegexpError although Go accepts them): Unicode classes `\\pL`, `\\p{Greek}`, `\\PL`,
negated POSIX classes `[[:^alpha:]]`. Small differences left: `\\S` inside a bracket class does not
match `\\v`; case folding under `(?i)` follows Python's Unicode folding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

MAX_REPEAT = 1000

_POSIX = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f", "digit": "0-9", "graph": "!-~", "lower": "a-z", "print": " -~",
    "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z", "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
# Perl classes: (outside a bracket class, inside a bracket class).
_PERL = {
    "d": ("[0-9]", "0-9"), "D": ("[^0-9]", "\\D"),
    "w": ("[0-9A-Za-z_]", "0-9A-Za-z_"), "W": ("[^0-9A-Za-z_]", "\\W"),
    "s": ("[\\t\\n\\f\\r ]", "\\t\\n\\f\\r "), "S": ("[^\\t\\n\\f\\r ]", "\\S"),
}
_CHAR_ESCAPES = {"a": "\x07", "f": "\f", "t": "\t", "n": "\n", "r": "\r", "v": "\v"}
_REPEAT = re.compile(r"\{(0|[1-9][0-9]*)(,((0|[1-9][0-9]*)?))?\}")
_NAME = re.compile(r"[A-Za-z0-9_]+")


class GoRegexpError(ValueError):
    """A pattern Go's regexp package rejects (or one this translator cannot express)."""

    def __init__(self, pattern: str, reason: str) -> None:
        self.pattern = pattern
        super().__init__(f"invalid regexp {pattern!r}: {reason}")


@dataclass(frozen=True, slots=True)
class _Flags:
    fold: bool = False  # (?i)
    multiline: bool = False  # (?m)
    dotall: bool = False  # (?s)
    ungreedy: bool = False  # (?U)


class _Translator:
    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.pos = 0
        self.out: list[str] = []
        self.atom_start: int | None = None  # index in `out` where the last repeatable atom starts
        self.flags = _Flags()
        self.groups: list[tuple[_Flags, int]] = []  # saved flags and out index per open group
        self.names: set[str] = set()
        self.base_fold = False

    def fail(self, reason: str) -> GoRegexpError:
        return GoRegexpError(self.pattern, reason)

    def translate(self) -> str:
        lead = re.match(r"\(\?([imsU]+)\)", self.pattern)
        self.base_fold = bool(lead and "i" in lead.group(1))
        pattern = self.pattern
        while self.pos < len(pattern):
            ch = pattern[self.pos]
            if ch == "(":
                self.open_group()
            elif ch == ")":
                self.close_group()
            elif ch == "|":
                self.pos += 1
                self.out.append("|")
                self.atom_start = None
            elif ch in "*+?" or (ch == "{" and _REPEAT.match(pattern, self.pos)):
                self.repeat()
            elif ch == "[":
                self.emit_atom(self.fold_wrap(self.bracket_class()))
            elif ch == "\\":
                self.escape()
            else:
                self.pos += 1
                self.literal(ch)
        if self.groups:
            raise self.fail("missing closing )")
        return "".join(self.out)

    # --- atoms -----------------------------------------------------------------------------------
    def emit_atom(self, text: str) -> None:
        self.atom_start = len(self.out)
        self.out.append(text)

    def fold_wrap(self, text: str) -> str:
        if self.flags.fold == self.base_fold:
            return text
        return f"(?i:{text})" if self.flags.fold else f"(?-i:{text})"

    def literal(self, ch: str) -> None:
        if ch == ".":
            self.emit_atom("(?s:.)" if self.flags.dotall else ".")
        elif ch == "^":
            self.emit_atom("(?m:^)" if self.flags.multiline else "\\A")
        elif ch == "$":
            self.emit_atom("(?m:$)" if self.flags.multiline else "\\Z")
        else:
            self.emit_atom(self.fold_wrap(re.escape(ch)))

    def escape(self) -> None:
        pattern = self.pattern
        code = pattern[self.pos + 1:self.pos + 2]
        if code == "":
            raise self.fail("trailing backslash at end of expression")
        if code in ("A", "z"):
            self.pos += 2
            self.emit_atom("\\A" if code == "A" else "\\Z")
        elif code in ("b", "B"):
            self.pos += 2
            self.emit_atom(f"(?a:\\{code})")
        elif code in _PERL:
            self.pos += 2
            self.emit_atom(_PERL[code][0])
        elif code == "Q":
            end = pattern.find("\\E", self.pos + 2)
            stop = len(pattern) if end == -1 else end
            for ch in pattern[self.pos + 2:stop]:
                self.emit_atom(self.fold_wrap(re.escape(ch)))
            self.pos = stop if end == -1 else end + 2
        else:
            self.emit_atom(self.fold_wrap(re.escape(self.char_escape())))

    def char_escape(self) -> str:
        """Decode the single-character escape at self.pos (a backslash); advance past it."""
        pattern = self.pattern
        code = pattern[self.pos + 1:self.pos + 2]
        if code in _CHAR_ESCAPES:
            self.pos += 2
            return _CHAR_ESCAPES[code]
        if code in "01234567" and code:
            digits = re.match(r"[0-7]{1,3}", pattern[self.pos + 1:self.pos + 4])
            assert digits is not None
            if code != "0" and len(digits.group()) == 1:
                raise self.fail(f"invalid escape sequence \\{code} (backreferences are not supported)")
            self.pos += 1 + len(digits.group())
            return chr(int(digits.group(), 8))
        if code == "x":
            return self.hex_escape()
        if code in ("p", "P"):
            raise self.fail(f"Unicode class \\{code} is not supported by this proxy")
        if code.isascii() and not code.isalnum():
            self.pos += 2
            return code
        raise self.fail(f"invalid escape sequence \\{code}")

    def hex_escape(self) -> str:
        pattern = self.pattern
        braced = re.match(r"\{([0-9A-Fa-f]+)\}", pattern[self.pos + 2:])
        if braced:
            value = int(braced.group(1), 16)
            self.pos += 2 + len(braced.group())
        else:
            digits = pattern[self.pos + 2:self.pos + 4]
            if not re.fullmatch(r"[0-9A-Fa-f]{2}", digits):
                raise self.fail("invalid escape sequence \\x")
            value = int(digits, 16)
            self.pos += 4
        if value > 0x10FFFF:
            raise self.fail("invalid escape sequence \\x{...}: beyond Unicode")
        return chr(value)

    # --- bracket classes -------------------------------------------------------------------------
    def bracket_class(self) -> str:
        pattern = self.pattern
        start = self.pos
        self.pos += 1
        negate = pattern.startswith("^", self.pos)
        self.pos += negate
        items: list[str] = []
        first = True
        while True:
            if self.pos >= len(pattern):
                raise self.fail(f"missing closing ]: {pattern[start:]!r}")
            ch = pattern[self.pos]
            if ch == "]" and not first:
                self.pos += 1
                break
            first = False
            posix = re.match(r"\[:(\^?)([a-z]+):\]", pattern[self.pos:])
            if posix:
                if posix.group(2) not in _POSIX:
                    raise self.fail(f"invalid character class range {posix.group()!r}")
                if posix.group(1):
                    raise self.fail(f"negated POSIX class {posix.group()!r} is not supported")
                items.append(_POSIX[posix.group(2)])
                self.pos += len(posix.group())
                continue
            if ch == "\\" and pattern[self.pos + 1:self.pos + 2] in _PERL:
                items.append(_PERL[pattern[self.pos + 1]][1])
                self.pos += 2
                continue
            low = self.class_char()
            if pattern.startswith("-", self.pos) and pattern[self.pos + 1:self.pos + 2] not in ("]", ""):
                self.pos += 1
                high = self.class_char()
                if high < low:
                    raise self.fail(f"invalid character class range {low}-{high}")
                items.append(f"{re.escape(low)}-{re.escape(high)}")
            else:
                items.append(re.escape(low) if low != "-" else "\\-")
        body = "".join(items)
        text = f"[{'^' if negate else ''}{body}]"
        # Negated Perl classes inside brackets must stay ASCII, like Go's.
        return f"(?a:{text})" if any(k in body for k in ("\\D", "\\W", "\\S")) else text

    def class_char(self) -> str:
        if self.pattern[self.pos] == "\\":
            if self.pattern[self.pos + 1:self.pos + 2] == "Q":
                raise self.fail("\\Q is not allowed in a character class")
            return self.char_escape()
        self.pos += 1
        return self.pattern[self.pos - 1]

    # --- groups and repetition -------------------------------------------------------------------
    def open_group(self) -> None:
        pattern = self.pattern
        if not pattern.startswith("(?", self.pos):
            self.pos += 1
            self.push_group("(")
            return
        named = re.match(r"\(\?P?<([^>]*)>", pattern[self.pos:])
        if named:
            name = named.group(1)
            if not _NAME.fullmatch(name):
                raise self.fail(f"invalid named capture {named.group()!r}")
            if name in self.names:
                raise self.fail(f"duplicate capture group name {name!r}")
            self.names.add(name)
            self.pos += len(named.group())
            self.push_group("(")
            return
        self.perl_flags()

    def perl_flags(self) -> None:
        match = re.match(r"\(\?([imsU]*)(?:-([imsU]+))?([:)])", self.pattern[self.pos:])
        if not match:
            raise self.fail(f"invalid or unsupported Perl syntax at {self.pattern[self.pos:self.pos + 4]!r}")
        flags = self.flags
        for letter, value in [(c, True) for c in match.group(1)] + [(c, False) for c in match.group(2) or ""]:
            field = {"i": "fold", "m": "multiline", "s": "dotall", "U": "ungreedy"}[letter]
            flags = replace(flags, **{field: value})
        self.pos += len(match.group())
        if match.group(3) == ":":
            self.push_group("(?:")
        self.flags = flags

    def push_group(self, opener: str) -> None:
        self.groups.append((self.flags, len(self.out)))
        self.out.append(opener)
        self.atom_start = None

    def close_group(self) -> None:
        if not self.groups:
            raise self.fail(f"unexpected ) at offset {self.pos}")
        self.flags, start = self.groups.pop()
        self.pos += 1
        self.out.append(")")
        self.atom_start = start

    def repeat(self) -> None:
        pattern = self.pattern
        start = self.pos
        op = pattern[self.pos]
        if op == "{":
            match = _REPEAT.match(pattern, self.pos)
            assert match is not None
            low = int(match.group(1))
            high = low if match.group(2) is None else (int(match.group(3)) if match.group(3) else -1)
            if low > MAX_REPEAT or high > MAX_REPEAT or (high >= 0 and low > high):
                raise self.fail(f"invalid repeat count {match.group()}")
            op = match.group()
            self.pos = match.end()
        else:
            self.pos += 1
        lazy = pattern.startswith("?", self.pos)
        self.pos += lazy
        if self.atom_start is None:
            raise self.fail(f"missing argument to repetition operator {pattern[start:self.pos]!r}")
        if self.pos < len(pattern) and pattern[self.pos] in "*+?{":
            raise self.fail(f"invalid nested repetition operator {pattern[start:self.pos + 1]!r}")
        atom = "".join(self.out[self.atom_start:])
        del self.out[self.atom_start:]
        self.out.append(f"(?:{atom}){op}{'?' if lazy != self.flags.ungreedy else ''}")
        self.atom_start = None


def translate_go_regexp(pattern: str) -> tuple[str, int]:
    """The Python pattern text and `re` flags equivalent to Go regexp `pattern`."""
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in pattern):
        raise GoRegexpError(pattern, "invalid UTF-8")
    translator = _Translator(pattern)
    text = translator.translate()
    return text, re.IGNORECASE if translator.base_fold else 0


def compile_go_regexp(pattern: str) -> re.Pattern[str]:
    """Compile Go regexp syntax; raise GoRegexpError where Go's regexp.Compile would fail."""
    text, flags = translate_go_regexp(pattern)
    try:
        return re.compile(text, flags)
    except re.error as exc:  # a translation gap, not a user error Go would report the same way
        raise GoRegexpError(pattern, f"cannot be compiled: {exc}") from exc
