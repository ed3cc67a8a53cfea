"""addPrefix, ported from traefik/traefik pkg/middlewares/addprefix/add_prefix_test.go (+ conformance)."""

from __future__ import annotations

import pytest

from proxy.message import HeaderList, RequestHead
from proxy.middlewares import AddPrefix


@pytest.mark.parametrize(
    ("prefix", "target", "upstream"),
    [
        pytest.param("/a", "/b", "/a/b", id="Works with a regular path"),
        pytest.param("a", "/", "/a/", id="Works with missing leading slash"),
        pytest.param("/a", "/b%2Fc", "/a/b%2Fc", id="Works with a raw path"),
        pytest.param("/a", "/", "/a/", id="root gets trailing slash"),
        pytest.param("/api/", "/b", "/api//b", id="no slash merging"),
        pytest.param("/a", "/b?x=%2F&y", "/a/b?x=%2F&y", id="query untouched"),
    ],
)
def test_add_prefix(prefix: str, target: str, upstream: str) -> None:
    path, sep, query = target.partition("?")
    req = RequestHead("GET", path, query if sep else None, HeaderList())
    assert AddPrefix(prefix).on_request(req) is None
    assert req.target == upstream


def test_empty_prefix_is_rejected() -> None:
    # add_prefix_test.go TestNewAddPrefix: "Fails if prefix is empty"
    with pytest.raises(ValueError, match="prefix cannot be empty"):
        AddPrefix("")
