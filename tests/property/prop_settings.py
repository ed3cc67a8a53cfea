"""How hard the property tests look. In the normal suite each test runs a bounded number of examples (they
add seconds, not minutes); `STRIPPROXY_PROPERTY=long` multiplies every budget by 100 for a long search
(see benchmarks/README.md). No example database: nothing is written under the checkout, and a failure is
reproduced from the seed hypothesis prints (`--hypothesis-seed=N`).

Settings are applied per test (not as a global profile), so other folders' hypothesis tests keep theirs.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

LONG = os.environ.get("STRIPPROXY_PROPERTY", "") == "long"


def budget(examples: int) -> settings:
    """Settings for a test worth `examples` examples in the normal suite."""
    return settings(
        max_examples=examples * (100 if LONG else 1),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
