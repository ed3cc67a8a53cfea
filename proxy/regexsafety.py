"""Which Go regexps Python's backtracking `re` matches in time linear in the subject, decided once per pattern.

Go runs every config regexp on RE2 (linear time). Python's `re` backtracks: `^/(a+)+$` against `/aaaa...ab`
takes exponential time, `^/(.*)/(.*)/(.*)/x$` polynomial. RE2 through its Python binding costs 0.6-1.5 us a
call against `re`'s 0.1-0.3 us, so goregex keeps `re` for the patterns shown safe here and hands every other
one to RE2. The check is conservative: anything it does not fully understand is "not safe" (RE2 then).

A pattern is safe when, walking it as written:
- it has no loop (a repeat with a choice of counts: `*`, `+`, `{m,}`, `{m,n}` with m < n): a match attempt
  costs at most the pattern's length, so a search is linear; or
- every top-level alternative starts with `^` and every loop but the last one written is *deterministic*:
  what may follow it (its next element, through group ends) cannot start with a character the loop's class
  accepts, or is the end. Giving back a character of such a loop fails at once, so one attempt is linear.
  The last loop may be anything: each of its choices is followed by a loop-free continuation.
Repeats apply to single characters only (a literal, `.`, `\\d`-style classes, bracket classes of ranges and
escaped punctuation); a group may carry `?` when it holds no loop. Alternatives multiply the work by a
constant: their product is capped. Lazy repeats, flags other than a leading `(?i)`, `\\b`, POSIX and Unicode
classes, multiline anchors: not safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_RUNE = 0x10FFFF
MAX_CHOICES = 64  # product of the alternatives' counts a safe pattern may have

Ranges = tuple[tuple[int, int], ...]

_PERL = {"d": ((48, 57),), "s": ((9, 10), (12, 13), (32, 32)), "w": ((48, 57), (65, 90), (95, 95), (97, 122))}
_CHAR_ESCAPES = {"a": 7, "f": 12, "t": 9, "n": 10, "r": 13, "v": 11}
DOT: Ranges = ((0, 9), (11, MAX_RUNE))


class _Unsafe(Exception):
    """Something the check does not handle: the pattern goes to RE2."""


@dataclass
class _Set:
    ranges: Ranges
    low: int = 1
    high: int | None = 1  # None: unbounded

    @property
    def loop(self) -> bool:
        return self.high is None or self.high > self.low


@dataclass
class _Group:
    branches: list[list[_Node]]
    optional: bool = False


@dataclass
class _Anchor:
    start: bool  # ^ (True) or $ (False)


_Node = _Set | _Group | _Anchor


def _complement(ranges: Ranges) -> Ranges:
    out, low = [], 0
    for lo, hi in sorted(ranges):
        if lo > low:
            out.append((low, lo - 1))
        low = max(low, hi + 1)
    if low <= MAX_RUNE:
        out.append((low, MAX_RUNE))
    return tuple(out)


def _folded(ranges: Ranges) -> Ranges:
    """A class under (?i), widened: ASCII letters in both cases, and any non-ASCII rune when the class holds a
    letter or a non-ASCII rune (Unicode folds such as K / U+212A)."""
    out = list(ranges)
    wide = False
    for lo, hi in ranges:
        for a, b, shift in ((65, 90, 32), (97, 122, -32)):
            if lo <= b and hi >= a:
                out.append((max(lo, a) + shift, min(hi, b) + shift))
                wide = True
        if hi >= 0x80:
            wide = True
    if wide:
        out.append((0x80, MAX_RUNE))
    return tuple(out)


def _disjoint(a: Ranges, b: Ranges) -> bool:
    return all(hi1 < lo2 or hi2 < lo1 for lo1, hi1 in a for lo2, hi2 in b)


@dataclass
class _Parser:
    pattern: str
    pos: int = 0
    fold: bool = False
    loops: list[_Set] = field(default_factory=list)

    def peek(self) -> str:
        return self.pattern[self.pos : self.pos + 1]

    def parse(self) -> list[list[_Node]]:
        if self.pattern.startswith("(?i)"):
            self.fold = True
            self.pos = 4
        branches = self.alternation()
        if self.pos != len(self.pattern):
            raise _Unsafe
        return branches

    def alternation(self) -> list[list[_Node]]:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.sequence())
        return branches

    def sequence(self) -> list[_Node]:
        nodes: list[_Node] = []
        while self.peek() not in ("", "|", ")"):
            nodes.append(self.element())
        return nodes

    def element(self) -> _Node:
        node = self.atom()
        low, high = self.repeat()
        if (low, high) == (1, 1):
            return node
        if self.peek() == "?":  # lazy
            raise _Unsafe
        if isinstance(node, _Set):
            node.low, node.high = low, high
            if node.loop:
                self.loops.append(node)
            return node
        if isinstance(node, _Group) and (low, high) == (0, 1) and not _has_loop(node.branches):
            node.optional = True
            return node
        raise _Unsafe

    def repeat(self) -> tuple[int, int | None]:
        ch = self.peek()
        if ch in ("*", "+", "?"):
            self.pos += 1
            return {"*": (0, None), "+": (1, None), "?": (0, 1)}[ch]
        if ch == "{":
            end = self.pattern.find("}", self.pos)
            body = self.pattern[self.pos + 1 : end] if end > 0 else ""
            low_text, comma, high_text = body.partition(",")
            if low_text.isdigit() and (not comma or high_text == "" or high_text.isdigit()):
                self.pos = end + 1
                low = int(low_text)
                return low, (low if not comma else (int(high_text) if high_text else None))
            raise _Unsafe  # a literal `{`: rare, not worth modelling
        return 1, 1

    def atom(self) -> _Node:
        ch = self.peek()
        if ch == "(":
            return self.group()
        if ch == "[":
            return _Set(self.bracket())
        if ch == ".":
            self.pos += 1
            return _Set(DOT)
        if ch == "^":
            self.pos += 1
            return _Anchor(True)
        if ch == "$":
            self.pos += 1
            return _Anchor(False)
        if ch == "\\":
            return _Set(self.escape())
        self.pos += 1
        return _Set(((ord(ch), ord(ch)),))

    def group(self) -> _Group:
        pattern = self.pattern
        self.pos += 1
        if pattern.startswith("?:", self.pos):
            self.pos += 2
        elif pattern.startswith("?P<", self.pos) or pattern.startswith("?<", self.pos):
            self.pos = pattern.index(">", self.pos) + 1
        elif pattern.startswith("?", self.pos):
            raise _Unsafe  # flags inside the pattern
        branches = self.alternation()
        if self.peek() != ")":
            raise _Unsafe
        self.pos += 1
        return _Group(branches)

    def escape(self) -> Ranges:
        code = self.pattern[self.pos + 1 : self.pos + 2]
        self.pos += 2
        if code.lower() in _PERL:
            ranges = _PERL[code.lower()]
            return _complement(ranges) if code.isupper() else ranges
        if code in _CHAR_ESCAPES:
            return ((_CHAR_ESCAPES[code],) * 2,)
        if code and code.isascii() and not code.isalnum():
            return ((ord(code), ord(code)),)
        raise _Unsafe  # \b, \A, \z, \Q, \x, \p, octal...

    def bracket(self) -> Ranges:
        pattern = self.pattern
        self.pos += 1
        negate = self.peek() == "^"
        self.pos += negate
        items: list[tuple[int, int]] = []
        first = True
        while True:
            ch = self.peek()
            if ch == "":
                raise _Unsafe
            if ch == "]" and not first:
                self.pos += 1
                break
            first = False
            if pattern.startswith("[:", self.pos):
                raise _Unsafe
            if ch == "\\":
                escaped = self.escape()
                if len(escaped) != 1 or escaped[0][0] != escaped[0][1]:
                    items.extend(escaped)  # \d inside a class
                    continue
                low = escaped[0][0]
            else:
                self.pos += 1
                low = ord(ch)
            if self.peek() == "-" and pattern[self.pos + 1 : self.pos + 2] not in ("]", ""):
                self.pos += 1
                if self.peek() == "\\":
                    high_ranges = self.escape()
                    if len(high_ranges) != 1 or high_ranges[0][0] != high_ranges[0][1]:
                        raise _Unsafe
                    high = high_ranges[0][0]
                else:
                    high = ord(self.peek())
                    self.pos += 1
                items.append((low, high))
            else:
                items.append((low, low))
        ranges = tuple(items)
        return _complement(ranges) if negate else ranges


def _has_loop(branches: list[list[_Node]]) -> bool:
    return any(
        (isinstance(n, _Set) and n.loop) or (isinstance(n, _Group) and _has_loop(n.branches))
        for branch in branches
        for n in branch
    )


def _choices(branches: list[list[_Node]]) -> int:
    total = len(branches) if len(branches) > 1 else 1
    for branch in branches:
        for node in branch:
            if isinstance(node, _Group):
                total *= _choices(node.branches) * (2 if node.optional else 1)
                if total > MAX_CHOICES:
                    return total
    return total


_END = object()  # what follows the last element of a top-level alternative


def _first(node: _Node | object, fold: bool) -> Ranges | None:
    """The runes the text may start with where `node` begins; None: unknown or possibly empty."""
    if node is _END or isinstance(node, _Anchor):
        return None
    if isinstance(node, _Set):
        return (_folded(node.ranges) if fold else node.ranges) if node.low >= 1 else None
    assert isinstance(node, _Group)
    if node.optional:
        return None
    out: list[tuple[int, int]] = []
    for branch in node.branches:
        first = _first(branch[0], fold) if branch else None
        if first is None:
            return None
        out.extend(first)
    return tuple(out)


def _check(branches: list[list[_Node]], follow: _Node | object, parser: _Parser) -> None:
    """Raise _Unsafe unless every loop but the last one written is deterministic."""
    for branch in branches:
        for i, node in enumerate(branch):
            after = branch[i + 1] if i + 1 < len(branch) else follow
            if isinstance(node, _Group):
                _check(node.branches, after, parser)
            elif isinstance(node, _Set) and node.loop and node is not parser.loops[-1]:
                if after is _END or (isinstance(after, _Anchor) and not after.start):
                    continue
                nxt = _first(after, parser.fold)
                mine = _folded(node.ranges) if parser.fold else node.ranges
                if nxt is None or not _disjoint(mine, nxt):
                    raise _Unsafe


def backtrack_safe(pattern: str) -> bool:
    """True when Python's `re` matches (already Go-validated) `pattern` in linear time (see module doc)."""
    parser = _Parser(pattern)
    try:
        branches = parser.parse()
        if _choices(branches) > MAX_CHOICES:
            return False
        if not parser.loops:
            return True
        for branch in branches:
            if not branch or not (isinstance(branch[0], _Anchor) and branch[0].start):
                return False
        _check(branches, _END, parser)
    except (_Unsafe, ValueError, IndexError):
        return False
    return True
