"""Time one match of config regexps on Python's re, on RE2 (google-re2), and on the engine the proxy picks.

Run: python benchmarks/bench_regex.py   (from the project root; not collected by pytest)

Python's re is the fastest here for ordinary patterns (a C call of 0.1-0.3 us); RE2 through its binding
costs 0.6-1.5 us a call but is linear on every input. proxy.regexsafety keeps on re the patterns it can show
are linear there, and gives RE2 the rest: the "auto" column. The last rows are hostile subjects.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from proxy.goregex import Re2Pattern, compile_go_regexp  # noqa: E402

CASES = [
    ("^/api/v[0-9]+/users/[a-z0-9-]+$", "/api/v2/users/john-doe-42"),
    ("^/api/v[0-9]+/users/[a-z0-9-]+$", "/static/css/site.css"),
    (r"^[a-z]+\.example\.com$", "shop.example.com"),
    ("^42$", "42"),
    (r"^https://.*\.example\.com$", "https://app.example.com"),
    ("^/downloads/([^/]+)/([^/]+)$", "/downloads/src/source.go"),
    ("/api", "/v1/api/x"),
    ("^/(.*)/(.*)/x$", "/a/b/x"),
    ("^/(a+)+$", "/aaaa"),
]
HOSTILE = [
    ("^/(a+)+$", "/" + "a" * 24 + "b"),
    ("^/(.*)/(.*)/(.*)/x$", "/" * 400),
]


def per_call(regex: object, subject: str, budget: float = 0.2) -> float:
    search = regex.search
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < budget:
        for _ in range(100):
            search(subject)
        calls += 100
    return elapsed / calls * 1e9


def main() -> None:
    print(f"{'pattern':38} {'subject':28} {'re ns':>9} {'re2 ns':>9} {'auto':>5}")
    for pattern, subject in CASES + HOSTILE:
        auto = compile_go_regexp(pattern, eager=True)
        budget = 0.05 if (pattern, subject) in HOSTILE else 0.2
        re_ns = per_call(compile_go_regexp(pattern, engine="re"), subject, budget)
        re2_ns = per_call(compile_go_regexp(pattern, engine="re2", eager=True), subject)
        shown = subject if len(subject) < 28 else subject[:20] + f"...({len(subject)})"
        engine = "re2" if isinstance(auto, Re2Pattern) else "re"
        print(f"{pattern:38} {shown:28} {re_ns:9,.0f} {re2_ns:9,.0f} {engine:>5}")


if __name__ == "__main__":
    main()
