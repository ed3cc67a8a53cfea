"""HeaderList: the lookups and in-place removals the hot path relies on (proxy/message.py)."""

from __future__ import annotations

import pytest

from proxy.message import HeaderList


def _headers() -> HeaderList:
    return HeaderList([("Host", "a"), ("X-A", "1"), ("Connection", "close"), ("x-a", "2"), ("B", "3")])


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        pytest.param({"connection"}, ["Host", "X-A", "x-a", "B"], id="single"),
        pytest.param({"x-a"}, ["Host", "Connection", "B"], id="repeated-name"),
        pytest.param({"x-a", "connection", "b"}, ["Host"], id="repeated-and-single"),
        pytest.param(frozenset({"absent"}), ["Host", "X-A", "Connection", "x-a", "B"], id="absent"),
    ],
)
def test_remove_many(names: set[str], expected: list[str]) -> None:
    headers = _headers()
    headers.remove_many(names)
    assert [name for name, _ in headers.items] == expected
    assert headers.keys == [name.lower() for name in expected]


def test_get_all_extend_and_items_assignment_keep_keys_in_step() -> None:
    headers = _headers()
    assert headers.get_all("X-A") == ["1", "2"] and headers.get_all("b") == ["3"] and headers.get_all("z") == []
    headers.extend([("X-New", "4"), ("Y", "5")])
    assert headers.keys[-2:] == ["x-new", "y"] and headers.get("x-new") == "4"
    headers.items = [("Only", "1")]
    assert headers.keys == ["only"] and headers.get("ONLY") == "1"
