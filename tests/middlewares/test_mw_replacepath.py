"""replacePath, ported from traefik/traefik pkg/middlewares/replacepath/replace_path_test.go (+ conformance)."""

from __future__ import annotations

import pytest

from proxy.message import HeaderList, RequestHead
from proxy.middlewares import ReplacePath


@pytest.mark.parametrize(
    ("path", "config", "upstream", "header"),
    [
        pytest.param("/example", "/replacement-path", "/replacement-path", "/example", id="simple path"),
        pytest.param(
            "/some/really/long/path", "/replacement-path", "/replacement-path", "/some/really/long/path", id="long path"
        ),
        pytest.param(
            "/foo%2Fbar", "/replacement-path", "/replacement-path", "/foo%2Fbar", id="path with escaped value"
        ),
        pytest.param("/path", "/foo%2Fbar", "/foo%2Fbar", "/path", id="replacement with escaped value"),
        pytest.param(
            "/path/%08bar",
            "/path/%08bar",
            "/path/%08bar",
            "/path/%08bar",
            id="replacement with percent encoded backspace char",
        ),
        pytest.param("/x", "/a b", "/a%20b", "/x", id="replacement re-encoded when not valid raw"),
    ],
)
def test_replace_path(path: str, config: str, upstream: str, header: str) -> None:
    req = RequestHead("GET", path, "q=1", HeaderList())
    assert ReplacePath(config).on_request(req) is None
    assert req.target == upstream + "?q=1"
    assert req.headers.get_all("X-Replaced-Path") == [header]


def test_bad_escape_in_config_answers_500() -> None:
    reply = ReplacePath("/a%zz").on_request(RequestHead("GET", "/x", None, HeaderList()))
    assert reply is not None and reply.status == 500
    assert reply.body == b'invalid URL escape "%zz"\n'
