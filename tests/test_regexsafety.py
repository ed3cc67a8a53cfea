"""proxy.regexsafety: which Go regexps stay on Python's re (linear there) and which go to RE2."""

from __future__ import annotations

import random
import time

import pytest

from proxy.goregex import Re2Pattern, compile_go_regexp
from proxy.regexsafety import backtrack_safe

SAFE = [
    pytest.param(r"/api", id="literal-unanchored"),
    pytest.param(r"^/api/v[0-9]+/users/[a-z0-9-]+$", id="versioned-path"),
    pytest.param(r"^[a-z]+\.example\.com$", id="host"),
    pytest.param(r"^{sub:[a-z]+}\.example\.com$".replace("{sub:[a-z]+}", "[a-z]+"), id="host-label"),
    pytest.param(r"^42$", id="bench-header"),
    pytest.param(r"^/(en|fr|de)/", id="alternation-no-loop"),
    pytest.param(r"^https://.*\.example\.com$", id="cors-one-loop-last"),
    pytest.param(r"^/api/(.*)", id="replace-rest"),
    pytest.param(r"^/downloads/([^/]+)/([^/]+)$", id="traefik-doc-replacepathregex"),
    pytest.param(r"(?i)^/API/[a-z]+$", id="fold"),
    pytest.param(r"^/static/.+\.(css|js)$", id="one-loop-then-alternation"),
    pytest.param(r"^\d+-\d+$", id="digits-dash-digits"),
]
UNSAFE = [
    pytest.param(r"^/(a+)+$", id="nested-plus"),
    pytest.param(r"^(a|aa)+$", id="repeated-alternation"),
    pytest.param(r"^(a|a?)+$", id="repeated-optional"),
    pytest.param(r"^/(.*)/(.*)/(.*)/x$", id="three-dot-stars"),
    pytest.param(r"^.*.*=.*$", id="adjacent-dot-stars"),
    pytest.param(r"[a-z]+x", id="unanchored-loop"),
    pytest.param(r"^a*a*b$", id="overlapping-loops"),
    pytest.param(r"^(?i)K+k+$".replace("(?i)", "").replace("^", "(?i)^"), id="fold-overlap"),
    pytest.param(r"^[a-z]+?x", id="lazy"),
    pytest.param(r"^a(?m)b+c+$", id="inline-flags"),
    pytest.param(r"^\pL+\pL+$", id="unicode-class"),
    pytest.param(r"^(\w+\s?)+$", id="words-and-spaces"),
    pytest.param(r"^(https?):\/\/(\[[\w:.]+\]|[\w\._-]+)?(:\d+)?(.*)$", id="redirect-absolute-target"),
]


@pytest.mark.parametrize("pattern", SAFE)
def test_safe_patterns_stay_on_re(pattern: str) -> None:
    assert backtrack_safe(pattern)
    assert not isinstance(compile_go_regexp(pattern), Re2Pattern)


@pytest.mark.parametrize("pattern", UNSAFE)
def test_unsafe_patterns_go_to_re2(pattern: str) -> None:
    assert not backtrack_safe(pattern)
    assert isinstance(compile_go_regexp(pattern), Re2Pattern)


@pytest.mark.parametrize(
    "pattern,subject",
    [
        pytest.param(r"^/(a+)+$", "/" + "a" * 5000 + "b", id="nested-plus"),
        pytest.param(r"^(a|aa)+$", "a" * 5000 + "b", id="repeated-alternation"),
        pytest.param(r"^/(.*)/(.*)/(.*)/x$", "/" * 5000, id="three-dot-stars"),
        pytest.param(r"[a-z]+x", "a" * 100_000, id="unanchored-loop"),
    ],
)
def test_catastrophic_inputs_take_microseconds(pattern: str, subject: str) -> None:
    """On Python's re each of these takes seconds to centuries; through compile_go_regexp, milliseconds."""
    regex = compile_go_regexp(pattern, eager=True)
    started = time.perf_counter()
    assert regex.search(subject) is None
    assert time.perf_counter() - started < 0.05


@pytest.mark.parametrize(
    "pattern,subject",
    [
        pytest.param(r"^/api/v[0-9]+/users/[a-z0-9-]+$", "/api/v" + "1" * 200_000 + "/users/x!", id="versioned"),
        pytest.param(r"^https://.*\.example\.com$", "https://" + "." * 200_000, id="cors"),
        pytest.param(r"^\d+-\d+$", "1" * 200_000 + "-" + "2" * 200_000 + "x", id="digits"),
        pytest.param(r"^[a-z]+\.example\.com$", "a" * 200_000, id="host"),
    ],
)
def test_patterns_kept_on_re_are_linear(pattern: str, subject: str) -> None:
    """The classifier's promise, measured: adversarial subjects of 200 KB on the `re` patterns stay fast."""
    regex = compile_go_regexp(pattern)
    assert not isinstance(regex, Re2Pattern)
    started = time.perf_counter()
    assert regex.search(subject) is None
    assert time.perf_counter() - started < 0.25


def _random_pattern(rng: random.Random, depth: int = 0) -> str:
    """A small Go pattern over a/b: literals, classes, dots, groups with alternatives, every repeat kind."""
    parts = []
    for _ in range(rng.randint(1, 4)):
        kind = rng.random()
        if kind < 0.2 and depth < 2:
            branches = [_random_pattern(rng, depth + 1) for _ in range(rng.randint(1, 3))]
            atom = "(" + "|".join(branches) + ")"
        else:
            atom = rng.choice(["a", "b", "[ab]", ".", "[^a]", "c"])
        parts.append(atom + rng.choice(["", "", "*", "+", "?", "{2,5}", "{3}"]))
    return "".join(parts)


ADVERSARIAL = ["a" * 6000 + "!", "ab" * 3000 + "!", "b" * 6000 + "!", "aab" * 2000 + "\n"]


def test_random_patterns_classified_safe_are_fast_on_re() -> None:
    """Soundness, measured: 600 random patterns (anchored or not, with `$` or not); every one the check
    keeps on `re` must fail fast on 6,000-byte adversarial subjects, where a quadratic pattern would take
    tens of milliseconds and an exponential one forever."""
    rng = random.Random(13)
    kept = 0
    for _ in range(600):
        body = _random_pattern(rng)
        pattern = rng.choice(["", "^"]) + body + rng.choice(["", "$", "!"])
        if not backtrack_safe(pattern):
            continue
        kept += 1
        regex = compile_go_regexp(pattern, engine="re")
        for subject in ADVERSARIAL:
            started = time.perf_counter()
            regex.search(subject)
            took = time.perf_counter() - started
            assert took < 0.02, f"{pattern!r} took {took * 1000:.1f} ms on re for a {len(subject)}-byte subject"
    assert kept > 100  # the check keeps a good share of ordinary patterns on re
