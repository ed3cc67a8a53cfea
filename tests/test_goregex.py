"""Go regexp syntax compiled with Python's re (proxy.goregex): Go's meaning kept, Go's refusals kept.

Expectations follow Go's regexp/syntax documentation and behaviour (regexp.MatchString, ReplaceAllString).
"""

from __future__ import annotations

import pytest

from proxy.goregex import GoRegexpError, compile_go_regexp, replace_all


@pytest.mark.parametrize(
    ("pattern", "subject", "want"),
    [
        pytest.param(r"^/foo$", "/foo\n", False, id="dollar-is-end-of-text"),
        pytest.param(r"(?m)^/foo$", "/foo\nx", True, id="multiline-dollar"),
        pytest.param(r"a(?i)b|c", "C", True, id="mid-pattern-flag-covers-later-alternatives"),
        pytest.param(r"a(?i)b|c", "Ab", False, id="mid-pattern-flag-not-before"),
        pytest.param(r"(?i)^abc$", "ABC", True, id="leading-fold"),
        pytest.param(r"(?i)a(?-i)b", "Ab", True, id="fold-switched-off"),
        pytest.param(r"(?i)a(?-i)b", "AB", False, id="fold-switched-off-2"),
        pytest.param(r"(?i:a)b", "AB", False, id="scoped-flag-ends-with-group"),
        pytest.param(r"(?s)^a.b$", "a\nb", True, id="dotall"),
        pytest.param(r"^a.b$", "a\nb", False, id="dot-excludes-newline"),
        pytest.param(r"^(?U)a+", "aaa", True, id="ungreedy-still-matches"),
        pytest.param(r"\d+", "\u0663", False, id="digit-is-ascii-only"),
        pytest.param(r"^\w+$", "é", False, id="word-is-ascii-only"),
        pytest.param(r"^[\D]$", "\u0663", True, id="negated-digit-in-class-ascii"),
        pytest.param(r"\bé", " é", False, id="word-boundary-ascii"),
        pytest.param(r"^\s$", "\v", False, id="space-excludes-vt"),
        pytest.param(r"abc\z", "xabc", True, id="backslash-z"),
        pytest.param(r"^\Qa.b\E$", "a.b", True, id="quoted-literal"),
        pytest.param(r"^\Qa.b\E$", "axb", False, id="quoted-literal-dot"),
        pytest.param(r"^[[:alpha:]]+$", "abZ", True, id="posix-class"),
        pytest.param(r"^[[:digit:]-]+$", "1-2", True, id="posix-class-and-dash"),
        pytest.param(r"^[a-b-c]+$", "-", True, id="dash-after-range-is-literal"),
        pytest.param(r"^[a-b-c]+$", "B", False, id="dash-after-range-no-range"),
        pytest.param(r"^[]a]+$", "]a", True, id="leading-bracket-literal"),
        pytest.param(r"^[[]$", "[", True, id="bracket-in-class"),
        pytest.param(r"^x{,3}$", "x{,3}", True, id="open-low-repeat-is-literal"),
        pytest.param(r"^x{01}$", "x{01}", True, id="leading-zero-repeat-is-literal"),
        pytest.param(r"^x{2}$", "xx", True, id="repeat"),
        pytest.param(r"^(?P<a>x)(?<b>y)$", "xy", True, id="named-groups-both-syntaxes"),
        pytest.param(r"^(?<1x>y)$", "y", True, id="group-name-may-start-with-digit"),
        pytest.param(r"^\x41\x{42}\103$", "ABC", True, id="hex-and-octal-escapes"),
        pytest.param(r"^\.\_\ $", "._ ", True, id="punctuation-escapes"),
        pytest.param(r"^*a", "a", True, id="repeat-of-anchor-allowed"),
        pytest.param(r"^caf.$", "café", True, id="dot-is-one-rune"),
        # Cases where the former middleware translator (re.ASCII, pass-through escapes) differed from Go.
        pytest.param(r"^[\s]$", "\v", False, id="space-in-class-excludes-vt"),
        pytest.param(r"^[\S]$", "\v", True, id="non-space-in-class-includes-vt"),
        pytest.param(r"^\S$", "\v", True, id="non-space-includes-vt"),
        pytest.param(r"^[[:^alpha:]]+$", "1-é", True, id="negated-posix-class"),
        pytest.param(r"^[[:^alpha:]]$", "a", False, id="negated-posix-class-excludes"),
        pytest.param(r"^[^[:^digit:]]$", "7", True, id="double-negation"),
        pytest.param(r"^[\W]$", "é", True, id="negated-word-in-class-is-ascii"),
        pytest.param(r"^(?i)café$", "CAFÉ", True, id="fold-is-unicode"),
        pytest.param(r"^(?i)k$", "\u212a", True, id="fold-kelvin-sign-like-go"),
        pytest.param(r"^\0\012$", "\x00\n", True, id="octal-escapes-accepted"),
        pytest.param(r"^a(?)b$", "ab", True, id="empty-flag-group-accepted"),
        pytest.param(r"^a*{x}$", "aa{x}", True, id="literal-brace-after-repeat"),
        pytest.param(r"^[a[:]$", ":", True, id="unterminated-posix-is-literal"),
    ],
)
@pytest.mark.parametrize("engine", ["re", "re2"])
def test_go_semantics(pattern: str, subject: str, want: bool, engine: str) -> None:
    """Both engines give Go's answer: the translation to `re`, and RE2 on the Go text itself."""
    assert (compile_go_regexp(pattern, engine=engine, eager=True).search(subject) is not None) is want


def test_unknown_posix_name_found_the_go_way() -> None:
    # Go looks for the next ":]" after "[:" and rejects the name it encloses.
    with pytest.raises(GoRegexpError, match="invalid character class range"):
        compile_go_regexp(r"[[:a]b:]]")


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        pytest.param("(css", "missing closing )", id="open-group"),
        pytest.param("css)", "unexpected )", id="close-group"),
        pytest.param("[a", "missing closing ]", id="open-class"),
        pytest.param("[z-a]", "invalid character class range", id="reversed-range"),
        pytest.param("*a", "missing argument to repetition operator", id="leading-star"),
        pytest.param("(|*)", "missing argument to repetition operator", id="star-after-bar"),
        pytest.param("a**", "invalid nested repetition operator", id="double-star"),
        pytest.param("a*+", "invalid nested repetition operator", id="possessive"),
        pytest.param("a??+", "invalid nested repetition operator", id="lazy-then-plus"),
        pytest.param("a{2}{3}", "invalid nested repetition operator", id="stacked-counts"),
        pytest.param("a{1001}", "invalid repeat count", id="repeat-too-large"),
        pytest.param("a{3,2}", "invalid repeat count", id="repeat-min-over-max"),
        pytest.param(r"(a)\1", "backreferences are not supported", id="backreference"),
        pytest.param("(?=a)", "invalid or unsupported Perl syntax", id="lookahead"),
        pytest.param("(?<=a)b", "invalid or unsupported Perl syntax", id="lookbehind"),
        pytest.param("(?>a)", "invalid or unsupported Perl syntax", id="atomic-group"),
        pytest.param("(?-)", "invalid or unsupported Perl syntax", id="empty-negation"),
        pytest.param("(?P<a>x)(?P<a>y)", "duplicate capture group name", id="duplicate-name"),
        pytest.param("(?P<a-b>x)", "invalid named capture", id="bad-name"),
        pytest.param(r"\e", "invalid escape sequence", id="unknown-letter-escape"),
        pytest.param(r"\Z", "invalid escape sequence", id="python-only-escape"),
        pytest.param("a\\", "trailing backslash", id="trailing-backslash"),
        pytest.param(r"[\b]", "invalid escape sequence", id="word-boundary-in-class"),
        pytest.param("[[:foo:]]", "invalid character class range", id="unknown-posix-class"),
        pytest.param("(?i-)", "invalid or unsupported Perl syntax", id="negation-without-flags"),
        pytest.param("(?<>x)", "invalid named capture", id="empty-name"),
        pytest.param(r"\8", "invalid escape sequence", id="eight-is-not-octal"),
        pytest.param("\\\u00e9", "invalid escape sequence", id="non-ascii-escape"),
        pytest.param("a*+", "invalid nested repetition operator", id="possessive-python-would-accept"),
        pytest.param("(?=a)", "invalid or unsupported Perl syntax", id="lookahead-python-would-accept"),
        pytest.param("a{2,1001}", "invalid repeat count", id="repeat-max-too-large"),
    ],
)
def test_refused(pattern: str, message: str) -> None:
    with pytest.raises(GoRegexpError, match="invalid regexp") as caught:
        compile_go_regexp(pattern)
    assert message in str(caught.value)


# Go's Regexp.ReplaceAllString / Expand (regexp.go), as replacePathRegex and redirectRegex use them.
@pytest.mark.parametrize(
    ("pattern", "text", "template", "expected"),
    [
        pytest.param("x*", "abxd", "-", "-a-b-d-", id="empty match after a match not replaced"),
        pytest.param("a(x*)", "baaxxaxb", "<${1}>", "b<><xx><x>b", id="braced group"),
        pytest.param("(?P<n>a)", "ab", "[$n]", "[a]b", id="named group"),
        pytest.param("(?<n>a)", "ab", "[$n]", "[a]b", id="Go 1.22 named group syntax"),
        pytest.param("a", "a", "$$", "$", id="dollar escape"),
        pytest.param("(a)", "a", "$1x", "", id="$1x is group 1x"),
        pytest.param("(a)", "a", "$", "$", id="lone dollar kept"),
        pytest.param(r"a(?i)b|c", "aBC", "-", "--", id="mid-pattern flag covers the rest of the group"),
        pytest.param("^a$", "a\n", "-", "a\n", id="$ is end of text"),
        pytest.param("(?m)^a$", "a\na", "-", "-\n-", id="multiline"),
        pytest.param("[[:digit:]]+", "a12b", "#", "a#b", id="POSIX class"),
        pytest.param(r"\d", "\u0663", "#", "\u0663", id="ASCII digits only"),
        pytest.param("(?<1x>a)", "a", "[$1x]", "[a]", id="group name starting with a digit"),
        pytest.param("(?P<123456789>a)", "a", "[$123456789]", "[]", id="nine digits are a number, not a name"),
        pytest.param("(a)", "a", "[$é]", "[]", id="Unicode letters make up a name"),
        pytest.param("(a)", "a", "[$01]", "[]", id="leading zero is a name"),
        pytest.param("(a)", "a", "[${1]", "[${1]", id="unclosed brace kept"),
        pytest.param("(a)|(b)", "b", "[$1$2]", "[b]", id="unmatched group is empty"),
        pytest.param("(é+)x", "aééxé", "[$1]", "a[éé]é", id="non-ASCII text, offsets in runes"),
        pytest.param("b", "a\udcffb\udcff", "-", "a\udcff-\udcff", id="surrogate-escaped bytes kept"),
    ],
)
@pytest.mark.parametrize("engine", ["re", "re2"])
def test_replace_all(pattern: str, text: str, template: str, expected: str, engine: str) -> None:
    assert replace_all(compile_go_regexp(pattern, engine=engine), text, template) == expected


def test_errors_are_value_errors() -> None:
    """Middleware constructors catch ValueError; GoRegexpError must stay one."""
    with pytest.raises(ValueError, match="invalid regexp"):
        compile_go_regexp(r"(a)\1")


@pytest.mark.parametrize(
    ("pattern", "subject", "want"),
    [
        pytest.param(r"^\pL+$", "café", True, id="letters"),
        pytest.param(r"^\pL+$", "c4fe", False, id="not-a-letter"),
        pytest.param(r"^\p{Greek}+$", "αβγ", True, id="script"),
        pytest.param(r"^\PL$", "1", True, id="negated"),
        pytest.param(r"^[\p{Lu}]$", "É", True, id="in-a-class"),
    ],
)
def test_unicode_classes_run_on_re2(pattern: str, subject: str, want: bool) -> None:
    """Python's re has no Unicode classes; Go's (and RE2's) meaning, through RE2."""
    assert (compile_go_regexp(pattern).search(subject) is not None) is want
    with pytest.raises(GoRegexpError, match="needs RE2"):
        compile_go_regexp(pattern, engine="re")
