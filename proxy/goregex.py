"""Go (RE2) regular expressions on Python's `re`, with Go's meaning: one translator for every regexp in the config.

Traefik compiles rule regexps (HostRegexp, PathRegexp, HeaderRegexp, QueryRegexp) and middleware regexps
(replacePathRegex, stripPrefixRegex, redirectRegex, CORS origin lists) with Go's `regexp.Compile`; this module
translates that syntax one atom at a time into an equivalent Python pattern and refuses what Go refuses
(backreferences, lookarounds, possessive and stacked repetitions, repeat counts over 1000, unknown escapes...).
`replace_all` and `expand` are Go's ReplaceAllString and Regexp.Expand (`$1`, `${1}`, `$name`, `$$`).

Go semantics kept: `$` without `(?m)` is end of text (Python's `$` also matches before a final newline);
flags `(?i)`, `(?m)`, `(?s)`, `(?U)` may appear anywhere and last until the enclosing group closes
(Python only allows global flags at the start); `\\d \\w \\s \\b` and POSIX classes are ASCII-only while `.`
and `(?i)` work on Unicode runes; `\\z`, `\\Q...\\E`, `\\x{...}`, octal escapes, `[[:alpha:]]`, `[[:^alpha:]]`,
`(?P<n>...)` and `(?<n>...)` (names may start with a digit: Python sees them as `go_<n>`); `{` that is not a
valid repeat is a literal (`{value:x}`, `x{,3}`, `x{01}`).

Patterns Python's `re` could take exponential or polynomial time on (proxy.regexsafety decides) run on RE2
instead (google-re2, linear time like Go), and so do Unicode classes `\\pL`, `\\p{Greek}`, `\\PL`, which `re`
lacks. On `re`, differences left: case folding under `(?i)` follows Python's simple Unicode folding (`(?i)i`
also matches U+0130), and Go's limit on nested repeat counts (`(a{500}){3}`) is not enforced (RE2 enforces
it like Go).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import re
import unicodedata
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any

from proxy.regexsafety import backtrack_safe

log = logging.getLogger("proxy.config")

MAX_REPEAT = 1000
MAX_RUNE = 0x10FFFF
GROUP_PREFIX = "go_"  # Go group names may start with a digit; Python's may not

_Ranges = tuple[tuple[int, int], ...]


def _ranges(spec: str) -> _Ranges:
    """ASCII ranges from a spec like "09AZ__": each pair of chars is one inclusive range."""
    return tuple((ord(spec[i]), ord(spec[i + 1])) for i in range(0, len(spec), 2))


_POSIX = {
    "alnum": _ranges("09AZaz"),
    "alpha": _ranges("AZaz"),
    "ascii": _ranges("\x00\x7f"),
    "blank": _ranges("\t\t  "),
    "cntrl": _ranges("\x00\x1f\x7f\x7f"),
    "digit": _ranges("09"),
    "graph": _ranges("!~"),
    "lower": _ranges("az"),
    "print": _ranges(" ~"),
    "punct": _ranges("!/:@[`{~"),
    "space": _ranges("\t\r  "),
    "upper": _ranges("AZ"),
    "word": _ranges("09AZ__az"),
    "xdigit": _ranges("09AFaf"),
}
# Perl classes: \\d \\s \\w and their upper-case negations.
_PERL = {"d": _ranges("09"), "s": _ranges("\t\n\x0c\r  "), "w": _ranges("09AZ__az")}
_CHAR_ESCAPES = {"a": "\x07", "f": "\f", "t": "\t", "n": "\n", "r": "\r", "v": "\v"}
_REPEAT = re.compile(r"\{(0|[1-9][0-9]*)(,((0|[1-9][0-9]*)?))?\}")
_NAME = re.compile(r"[A-Za-z0-9_]+")


def _class_body(ranges: _Ranges, negate: bool) -> str:
    """Python bracket-class items for `ranges` (sorted, disjoint), or for their complement over all runes."""
    if negate:
        edges = [(-1, -1), *ranges, (MAX_RUNE + 1, MAX_RUNE + 1)]
        ranges = tuple((lo[1] + 1, hi[0] - 1) for lo, hi in pairwise(edges) if hi[0] - lo[1] > 1)
    return "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in ranges)


def _perl_class(code: str) -> str:
    """Bracket-class items for a Perl class letter (d, D, s, S, w, W)."""
    return _class_body(_PERL[code.lower()], negate=code.isupper())


class GoRegexpError(ValueError):
    """A pattern Go's regexp package rejects (or one this translator cannot express)."""

    def __init__(self, pattern: str, reason: str) -> None:
        self.pattern = pattern
        super().__init__(f"invalid regexp {pattern!r}: {reason}")


class _Re2Only(GoRegexpError):
    """Valid Go syntax Python's re cannot express (Unicode classes): RE2 runs such a pattern."""


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
        code = pattern[self.pos + 1 : self.pos + 2]
        if code == "":
            raise self.fail("trailing backslash at end of expression")
        if code in ("A", "z"):
            self.pos += 2
            self.emit_atom("\\A" if code == "A" else "\\Z")
        elif code in ("b", "B"):
            self.pos += 2
            self.emit_atom(f"(?a:\\{code})")
        elif code.lower() in _PERL:
            self.pos += 2
            # Negate outside the class (not by complement ranges) so (?i) folds the class first, as Go does.
            self.emit_atom(f"[{'^' if code.isupper() else ''}{_class_body(_PERL[code.lower()], False)}]")
        elif code == "Q":
            end = pattern.find("\\E", self.pos + 2)
            stop = len(pattern) if end == -1 else end
            for ch in pattern[self.pos + 2 : stop]:
                self.emit_atom(self.fold_wrap(re.escape(ch)))
            self.pos = stop if end == -1 else end + 2
        else:
            self.emit_atom(self.fold_wrap(re.escape(self.char_escape())))

    def char_escape(self) -> str:
        """Decode the single-character escape at self.pos (a backslash); advance past it."""
        pattern = self.pattern
        code = pattern[self.pos + 1 : self.pos + 2]
        if code in _CHAR_ESCAPES:
            self.pos += 2
            return _CHAR_ESCAPES[code]
        if code in "01234567" and code:
            digits = re.match(r"[0-7]{1,3}", pattern[self.pos + 1 : self.pos + 4])
            assert digits is not None
            if code != "0" and len(digits.group()) == 1:
                raise self.fail(f"invalid escape sequence \\{code} (backreferences are not supported)")
            self.pos += 1 + len(digits.group())
            return chr(int(digits.group(), 8))
        if code == "x":
            return self.hex_escape()
        if code in ("p", "P"):
            raise _Re2Only(self.pattern, f"Unicode class \\{code} needs RE2 (pip install google-re2)")
        if code.isascii() and not code.isalnum():
            self.pos += 2
            return code
        raise self.fail(f"invalid escape sequence \\{code}")

    def hex_escape(self) -> str:
        pattern = self.pattern
        braced = re.match(r"\{([0-9A-Fa-f]+)\}", pattern[self.pos + 2 :])
        if braced:
            value = int(braced.group(1), 16)
            self.pos += 2 + len(braced.group())
        else:
            digits = pattern[self.pos + 2 : self.pos + 4]
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
            named = self.posix_class()
            if named is not None:
                items.append(named)
                continue
            if ch == "\\" and pattern[self.pos + 1 : self.pos + 2].lower() in _PERL:
                items.append(_perl_class(pattern[self.pos + 1]))
                self.pos += 2
                continue
            low = self.class_char()
            if pattern.startswith("-", self.pos) and pattern[self.pos + 1 : self.pos + 2] not in ("]", ""):
                self.pos += 1
                high = self.class_char()
                if high < low:
                    raise self.fail(f"invalid character class range {low}-{high}")
                items.append(f"{re.escape(low)}-{re.escape(high)}")
            else:
                items.append(re.escape(low) if low != "-" else "\\-")
        return f"[{'^' if negate else ''}{''.join(items)}]"

    def posix_class(self) -> str | None:
        """Items for a `[:name:]` / `[:^name:]` at self.pos, or None when the text there is not one (Go's rule)."""
        pattern = self.pattern
        end = pattern.find(":]", self.pos + 2) if pattern.startswith("[:", self.pos) else -1
        if end == -1:
            return None
        text = pattern[self.pos : end + 2]
        negate = text.startswith("[:^")
        ranges = _POSIX.get(text[3 if negate else 2 : -2])
        if ranges is None:
            raise self.fail(f"invalid character class range {text!r}")
        self.pos = end + 2
        return _class_body(ranges, negate)

    def class_char(self) -> str:
        if self.pattern[self.pos] == "\\":
            if self.pattern[self.pos + 1 : self.pos + 2] == "Q":
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
        named = re.match(r"\(\?P?<([^>]*)>", pattern[self.pos :])
        if named:
            name = named.group(1)
            if not _NAME.fullmatch(name):
                raise self.fail(f"invalid named capture {named.group()!r}")
            if name in self.names:
                raise self.fail(f"duplicate capture group name {name!r}")
            self.names.add(name)
            self.pos += len(named.group())
            self.push_group(f"(?P<{GROUP_PREFIX}{name}>")
            return
        self.perl_flags()

    def perl_flags(self) -> None:
        match = re.match(r"\(\?([imsU]*)(?:-([imsU]+))?([:)])", self.pattern[self.pos :])
        if not match:
            raise self.fail(f"invalid or unsupported Perl syntax at {self.pattern[self.pos : self.pos + 4]!r}")
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
            raise self.fail(f"missing argument to repetition operator {pattern[start : self.pos]!r}")
        following = pattern[self.pos : self.pos + 1]
        if following in ("*", "+", "?") or (following == "{" and _REPEAT.match(pattern, self.pos)):
            raise self.fail(f"invalid nested repetition operator {pattern[start : self.pos + 1]!r}")
        atom = "".join(self.out[self.atom_start :])
        del self.out[self.atom_start :]
        self.out.append(f"(?:{atom}){op}{'?' if lazy != self.flags.ungreedy else ''}")
        self.atom_start = None


def translate_go_regexp(pattern: str) -> tuple[str, int]:
    """The Python pattern text and `re` flags equivalent to Go regexp `pattern`."""
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in pattern):
        raise GoRegexpError(pattern, "invalid UTF-8")
    translator = _Translator(pattern)
    text = translator.translate()
    return text, re.IGNORECASE if translator.base_fold else 0


def compile_go_regexp(pattern: str, engine: str = "auto", eager: bool = False) -> re.Pattern[str]:
    """Compile Go regexp syntax; raise GoRegexpError where Go's regexp.Compile would fail.

    The translation to Python's `re` checks the syntax with Go's rules either way. A pattern that `re`
    matches in linear time (proxy.regexsafety) runs on `re`, the fastest here; any other runs on RE2, as
    in Go (a Re2Pattern, with the part of re.Pattern's interface the proxy uses). `engine` forces one
    ("re" or "re2") for tests and benchmarks. An RE2 program is built on first use unless `eager`
    (config regexps: RE2's own refusals, such as nested repeats over 1000, then show at build time).
    """
    try:
        text, flags = translate_go_regexp(pattern)
    except _Re2Only:
        if engine == "re" or not _re2_available():
            raise
        return Re2Pattern(pattern).compile_now()  # type: ignore[return-value]  # RE2 checks the rest
    if engine == "re2" or (engine == "auto" and not backtrack_safe(pattern)):
        if _re2_available():
            compiled = Re2Pattern(pattern)
            return compiled.compile_now() if eager else compiled  # type: ignore[return-value]  # a stand-in
        log.warning("regexp %r may take exponential time on Python's re: install google-re2", pattern)
    try:
        return re.compile(text, flags)
    except re.error as exc:  # a translation gap, not a user error Go would report the same way
        raise GoRegexpError(pattern, f"cannot be compiled: {exc}") from exc


@functools.cache
def _re2_available() -> bool:
    return importlib.util.find_spec("re2") is not None


# --- RE2 (google-re2), for the patterns Python's re could take exponential time on ----------------------

RE2_MAX_MEM = 8 << 20  # RE2's default budget for one program and its DFA cache (bounded memory per regexp)


class Re2Pattern:
    """A Go regexp on RE2 through google-re2's own binding (its re-like wrapper costs 2-4 us a call).

    Matching runs on the subject's UTF-8 bytes, as Go's regexp does (surrogate-escaped bytes go back to the
    byte they stand for); spans are mapped back to str offsets. The RE2 program is built on first use, so
    importing a module that holds one costs nothing until a request needs it. Config regexps are compiled
    eagerly (compile_go_regexp(..., eager=True)): RE2's few refusals of Go-valid text (a program over its
    8 MiB budget) then show when the config is built.
    """

    __slots__ = ("pattern", "_re2", "_match", "_anchors", "groups", "groupindex")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._re2: Any = None
        self._match: Any = None  # the program's bound Match
        self._anchors: tuple[Any, Any, Any] = (None, None, None)  # unanchored, start, both
        self.groups = 0
        self.groupindex: dict[str, int] = {}

    def _program(self) -> Any:
        from re2 import _re2  # google-re2

        options = _re2.RE2.Options()
        options.max_mem = RE2_MAX_MEM
        options.log_errors = False
        program = _re2.RE2(self.pattern.encode("utf-8"), options)
        if not program.ok():
            raise GoRegexpError(self.pattern, f"RE2: {program.error().decode(errors='replace')}")
        self.groups = program.NumberOfCapturingGroups()
        self.groupindex = {GROUP_PREFIX + name.decode(): index for name, index in program.NamedCapturingGroups()}
        anchor = _re2.RE2.Anchor
        self._anchors = (anchor.UNANCHORED, anchor.ANCHOR_START, anchor.ANCHOR_BOTH)
        self._match = program.Match
        self._re2 = program
        return program

    def compile_now(self) -> Re2Pattern:
        if self._re2 is None:
            self._program()
        return self

    def _run(self, anchor: int, text: str, pos: int) -> Re2Match | None:
        if self._re2 is None:
            self._program()
        if text.isascii():
            data = text.encode("ascii")
            spans = self._match(self._anchors[anchor], data, pos, len(data))
            return None if spans[0][0] < 0 else Re2Match(self, text, spans)
        data = text.encode("utf-8", "surrogateescape")
        start = len(text[:pos].encode("utf-8", "surrogateescape"))
        spans = self._match(self._anchors[anchor], data, start, len(data))
        if spans[0][0] < 0:
            return None
        return Re2Match(self, text, [(-1, -1) if a < 0 else (_chars(data, a), _chars(data, b)) for a, b in spans])

    def search(self, text: str, pos: int = 0) -> Re2Match | None:
        return self._run(0, text, pos)

    def match(self, text: str, pos: int = 0) -> Re2Match | None:
        return self._run(1, text, pos)

    def fullmatch(self, text: str, pos: int = 0) -> Re2Match | None:
        return self._run(2, text, pos)


def _chars(data: bytes, offset: int) -> int:
    return len(data[:offset].decode("utf-8", "surrogateescape"))


class Re2Match:
    """The part of re.Match the proxy uses: group(n), span(n), start(), end(), re, string."""

    __slots__ = ("re", "string", "_spans")

    def __init__(self, regex: Re2Pattern, text: str, spans: list[tuple[int, int]]) -> None:
        self.re = regex
        self.string = text
        self._spans = spans

    def span(self, group: int = 0) -> tuple[int, int]:
        return self._spans[group]

    def start(self, group: int = 0) -> int:
        return self._spans[group][0]

    def end(self, group: int = 0) -> int:
        return self._spans[group][1]

    def group(self, group: int = 0) -> str | None:
        start, end = self._spans[group]
        return None if start < 0 else self.string[start:end]


# --- Go's Regexp.Expand / ReplaceAllString -----------------------------------------------------------------


def _is_name_char(ch: str) -> bool:
    """Go's extract(): letters, decimal digits (Unicode) and '_' make up a `$name`."""
    return ch == "_" or unicodedata.category(ch)[0] == "L" or unicodedata.category(ch) == "Nd"


def _extract(template: str) -> tuple[str, str] | None:
    """Go's extract(): the group reference after a '$' -> (name, rest), or None when malformed."""
    brace = template.startswith("{")
    body = template[1:] if brace else template
    end = 0
    while end < len(body) and _is_name_char(body[end]):
        end += 1
    if end == 0:
        return None
    name, rest = body[:end], body[end:]
    if brace:
        if not rest.startswith("}"):
            return None
        rest = rest[1:]
    return name, rest


def _group_number(name: str) -> int | None:
    """A `$name` Go reads as a group number: ASCII digits, no leading zero, at most 9 digits."""
    if not (name.isascii() and name.isdigit()) or (name[0] == "0" and len(name) > 1) or len(name) > 9:
        return None
    return int(name)


def _group_text(match: re.Match[str], name: str) -> str:
    number = _group_number(name)
    if number is None:
        number = match.re.groupindex.get(GROUP_PREFIX + name)
    if number is None or number > match.re.groups:
        return ""
    return match.group(number) or ""


def expand(template: str, match: re.Match[str]) -> str:
    """Go's Regexp.Expand for one match: `$1`, `${1}`, `$name`, `$$`; `$1x` names group "1x"."""
    out: list[str] = []
    while template:
        before, dollar, after = template.partition("$")
        if not dollar:
            break
        out.append(before)
        template = after
        if template.startswith("$"):
            out.append("$")
            template = template[1:]
            continue
        ref = _extract(template)
        if ref is None:  # malformed: the '$' is literal text
            out.append("$")
            continue
        name, template = ref
        out.append(_group_text(match, name))
    out.append(template)
    return "".join(out)


def replace_all(regex: re.Pattern[str], text: str, template: str) -> str:
    """Go's ReplaceAllString: every non-overlapping match, skipping empty matches that abut the previous one."""
    out: list[str] = []
    last_end = search_pos = 0
    while search_pos <= len(text):
        m = regex.search(text, search_pos)
        if m is None:
            break
        start, end = m.span()
        out.append(text[last_end:start])
        if end > last_end or start == 0:
            out.append(expand(template, m))
        last_end = end
        search_pos = end if end > search_pos else search_pos + 1
    out.append(text[last_end:])
    return "".join(out)
