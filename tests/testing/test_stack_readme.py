"""The README's "Testing your app behind a proxy" code blocks are the examples tested in
test_stack_examples.py, character for character, in both directions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Testing your app behind a proxy"
EXAMPLES = Path(__file__).with_name("test_stack_examples.py")


def readme_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    if SECTION not in text:
        pytest.skip(f"README.md has no {SECTION!r} section yet")
    section = text.split(SECTION, 1)[1]
    section = re.split(r"^## ", section, flags=re.M)[0]
    return re.findall(r"^```python\n(.*?)^```", section, flags=re.S | re.M)


def example_blocks() -> dict[str, str]:
    source = EXAMPLES.read_text(encoding="utf-8")
    return {m[1]: m[2] for m in re.finditer(r"^# --- example: ([^\n]*)\n(.*?)^# --- end\n", source, re.S | re.M)}


def test_every_readme_block_is_a_tested_example() -> None:
    examples = list(example_blocks().values())
    for block in readme_blocks():
        assert block in examples, f"README block not in {EXAMPLES.name} (edit both):\n{block}"


def test_every_tested_example_is_in_the_readme() -> None:
    blocks = readme_blocks()
    missing = [name for name, code in example_blocks().items() if code not in blocks]
    assert not missing, f"examples missing from the README section: {missing}"
    assert len(example_blocks()) == 10
