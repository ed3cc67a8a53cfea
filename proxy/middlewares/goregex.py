"""Go regexp (RE2 syntax) on top of Python's `re`, for the patterns users write in Traefik's config.

`compile_go` translates what differs (flags set mid-pattern like `^(?i)/x`, `\\z`, `(?<name>)`, POSIX classes,
Go's `^`/`$` which anchor the whole text unless (?m)) and rejects what Go rejects (lookarounds, backreferences).
`replace_all` and `expand` follow Go's ReplaceAllString: `$1`, `${1}`, `$name`, `$$`, where `$1x` names a group
"1x" (empty text, as in Go), and an empty match right after a previous match is not replaced.
"""

from __future__ import annotations

import re

_GO_LETTER_ESCAPES = frozenset("afnrtvxdDsSwWbBAzpPQEC")
_POSIX = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ", "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9", "graph": "!-~", "lower": "a-z", "print": " -~", "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z", "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
}
_NAME = re.compile(r"[A-Za-z0-9_]+")
_FLAGS = re.compile(r"\(\?([imsU]*(?:-[imsU]*)?)([:)])")


class _Scope:
    """One open group: the Go flags in force inside it and the Python wrappers opened for mid-group flags."""

    def __init__(self, flags: set[str]) -> None:
        self.flags = set(flags)
        self.wrappers: list[str] = []  # "(?i-s:" openers to close at '|' and ')'


def _hex_brace(pattern: str, i: int) -> tuple[str, int] | None:
    """Go's `\\x{10FFFF}` at pattern[i] -> Python's `\\U0010ffff` form, or None if not that syntax."""
    if not pattern.startswith("\\x{", i):
        return None
    end = pattern.find("}", i)
    try:
        code = int(pattern[i + 3:end], 16)
        return f"\\U{code:08x}", end + 1
    except ValueError:
        raise ValueError(f"invalid escape sequence: {pattern[i:end + 1]!r}") from None


def _class(pattern: str, i: int) -> tuple[str, int]:
    """Translate the character class starting at pattern[i] == '['; return (python, index after ']')."""
    out = ["["]
    i += 1
    if pattern.startswith("^", i):
        out.append("^")
        i += 1
    first = True
    while i < len(pattern):
        ch = pattern[i]
        if ch == "]" and not first:
            return "".join(out) + "]", i + 1
        first = False
        if pattern.startswith("[:", i):
            end = pattern.find(":]", i + 2)
            name = pattern[i + 2:end] if end != -1 else ""
            if name not in _POSIX:
                raise ValueError(f"invalid character class range: {pattern[i:end + 2]!r}")
            out.append(_POSIX[name])
            i = end + 2
            continue
        braced = _hex_brace(pattern, i)
        if braced:
            out.append(braced[0])
            i = braced[1]
            continue
        if ch == "\\":
            esc = pattern[i + 1:i + 2]
            if esc in ("p", "P", "Q", "E", "C", "z", "A", "b", "B") or esc.isdigit() or (
                    esc.isalpha() and esc not in _GO_LETTER_ESCAPES):
                raise ValueError(f"unsupported escape in character class: \\{esc}")
            out.append(pattern[i:i + 2])
            i += 2
            continue
        # Escape what Python would read as set operations or nested sets (FutureWarning).
        if ch in "[&~|" or (ch == "-" and out[-1].endswith("-")):
            out.append("\\" + ch)
        else:
            out.append(ch)
        i += 1
    raise ValueError("missing closing ]")


def _open_group(pattern: str, i: int, scopes: list[_Scope], out: list[str]) -> int:
    """Handle '(' at pattern[i]; return the index after the group opener."""
    scope = _Scope(scopes[-1].flags)
    if not pattern.startswith("(?", i):
        scopes.append(scope)
        out.append("(")
        return i + 1
    named = re.compile(r"\(\?P?<([A-Za-z0-9_]+)>").match(pattern, i)
    if named:
        scopes.append(scope)
        out.append(f"(?P<{named.group(1)}>")
        return named.end()
    flags = _FLAGS.match(pattern, i)
    if flags and flags.group(0) == "(?:":
        scopes.append(scope)
        out.append("(?:")
        return flags.end()
    if not flags or flags.group(1) in ("", "-") or flags.group(1).endswith("-"):
        raise ValueError(f"invalid or unsupported Perl syntax: {pattern[i:i + 3]!r}")
    on, _, off = flags.group(1).partition("-")
    target = scope if flags.group(2) == ":" else scopes[-1]
    target.flags = (target.flags | set(on)) - set(off)
    opener = _python_flags(set(on), set(off))
    if flags.group(2) == ":":
        scopes.append(scope)
        out.append(opener or "(?:")
    elif opener:
        out.append(opener)
        scopes[-1].wrappers.append(opener)
    return flags.end()


def _python_flags(on: set[str], off: set[str]) -> str:
    """A Python scoped-flag opener for the i/s part of Go flags (m and U are handled in translation)."""
    py_on = "".join(sorted(on & {"i", "s"}))
    py_off = "".join(sorted(off & {"i", "s"}))
    if not py_on and not py_off:
        return ""
    return f"(?{py_on}{'-' + py_off if py_off else ''}:"


def _quantifier(pattern: str, i: int, ungreedy: bool) -> tuple[str, int]:
    ch = pattern[i]
    if ch == "{":
        m = re.compile(r"\{(\d+)(,(\d*))?\}").match(pattern, i)
        if not m:
            return "\\{", i + 1  # Go reads a '{' that starts no repeat as a literal
        text, end = m.group(0), m.end()
    else:
        text, end = ch, i + 1
    lazy = pattern.startswith("?", end)
    if lazy:
        end += 1
    return text + ("?" if lazy != ungreedy else ""), end


def translate(pattern: str) -> str:
    """Go regexp syntax -> equivalent Python `re` syntax (compile with re.ASCII, as Go's \\w \\d \\s \\b are)."""
    out: list[str] = []
    scopes = [_Scope(set())]
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        flags = scopes[-1].flags
        if ch == "\\":
            esc = pattern[i + 1:i + 2]
            if esc == "":
                raise ValueError("trailing backslash at end of expression")
            braced = _hex_brace(pattern, i)
            if braced:
                out.append(braced[0])
                i = braced[1]
                continue
            if esc == "Q":
                end = pattern.find("\\E", i + 2)
                end = len(pattern) if end == -1 else end
                out.append(re.escape(pattern[i + 2:end]))
                i = end + 2
                continue
            if esc.isdigit() or esc in ("p", "P", "C") or (esc.isalpha() and esc not in _GO_LETTER_ESCAPES):
                raise ValueError(f"invalid or unsupported escape sequence: \\{esc}")
            out.append("\\Z" if esc == "z" else pattern[i:i + 2])
            i += 2
        elif ch == "[":
            text, i = _class(pattern, i)
            out.append(text)
        elif ch == "(":
            i = _open_group(pattern, i, scopes, out)
        elif ch == ")":
            if len(scopes) == 1:
                raise ValueError("unexpected )")
            out.append(")" * len(scopes.pop().wrappers) + ")")
            i += 1
        elif ch == "|":
            wrappers = scopes[-1].wrappers
            out.append(")" * len(wrappers) + "|" + "".join(wrappers))
            i += 1
        elif ch in "*+?{":
            text, i = _quantifier(pattern, i, "U" in flags)
            out.append(text)
        elif ch == "^":
            out.append("(?m:^)" if "m" in flags else "^")
            i += 1
        elif ch == "$":
            out.append("(?m:$)" if "m" in flags else "\\Z")
            i += 1
        else:
            out.append(ch)
            i += 1
    if len(scopes) != 1:
        raise ValueError("missing closing )")
    return "".join(out) + ")" * len(scopes[0].wrappers)


def compile_go(pattern: str) -> re.Pattern[str]:
    """Compile a Go regexp; ValueError naming the pattern when Go (or the translation) rejects it."""
    try:
        return re.compile(translate(pattern), re.ASCII)
    except (ValueError, re.error) as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None


def _extract(template: str) -> tuple[str, str] | None:
    """Go's extract(): the group reference after a '$' -> (name, rest), or None when malformed."""
    brace = template.startswith("{")
    body = template[1:] if brace else template
    m = _NAME.match(body)
    if not m:
        return None
    name, rest = m.group(0), body[m.end():]
    if brace:
        if not rest.startswith("}"):
            return None
        rest = rest[1:]
    return name, rest


def _group_text(match: re.Match[str], name: str) -> str:
    if name.isdigit() and not (name[0] == "0" and len(name) > 1) and len(name) <= 8:
        index = int(name)
        if index > (match.re.groups or 0):
            return ""
        return match.group(index) or ""
    index = match.re.groupindex.get(name)
    return (match.group(index) or "") if index is not None else ""


def expand(template: str, match: re.Match[str]) -> str:
    """Go's Regexp.Expand for one match."""
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
        if ref is None:
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
