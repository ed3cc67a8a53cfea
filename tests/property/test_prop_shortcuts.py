"""The forwarder's shortcuts give what their general paths give (the list is in proxy/forwarder/__init__.py).

Two kinds of proof. Where both paths can be driven through a live gateway (a response head relayed as
written vs. decoded and re-encoded), the same upstream answer goes through both and the client's bytes
must be identical. Where the shortcut is a function beside its general twin (a plain request-target, a
plain head's forwarded headers), hypothesis feeds both the inputs the shortcut accepts.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st
from prop_settings import budget

from proxy import BackgroundGateway
from proxy.forwarder.forwarded import ForwardedHeaders, finalize_upstream_headers
from proxy.forwarder.shape import decode_values, request_shape
from proxy.message import HeaderList, RequestHead
from proxy.normalize import (
    PathOptions,
    _parse_any_target,
    check_request_headers,
    fix_pragma_cache_control,
    parse_request_target,
    valid_host_header,
)
from proxy.services.loadbalancer import LoadBalancer, UpstreamServer

# -- a raw upstream on loopback whose answers the test sets ---------------------------------------------


@dataclass
class CannedUpstream:
    """Answers each request (head, and a Content-Length body if any) with `answer(head, body)`: a list of
    byte pieces written with a pause between them, so that they reach the gateway in separate reads."""

    answer: object = None
    listener: socket.socket = field(default_factory=socket.socket)
    port: int = 0

    def start(self) -> CannedUpstream:
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffered = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffered:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffered += data
                head, _, buffered = buffered.partition(b"\r\n\r\n")
                length = _content_length(head)
                while len(buffered) < length:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffered += data
                body, buffered = buffered[:length], buffered[length:]
                pieces = self.answer(head, body)
                try:
                    for at, piece in enumerate(pieces):
                        if at:
                            time.sleep(0.002)
                        conn.sendall(piece)
                except OSError:
                    return

    def close(self) -> None:
        self.listener.close()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


@dataclass
class Stack:
    upstream: CannedUpstream
    port: int


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    upstream = CannedUpstream().start()
    url = f"http://127.0.0.1:{upstream.port}"
    routes = {
        "http": {
            "routers": {
                "asis": {"rule": "PathPrefix(`/asis`)", "service": "canned"},
                # Removing a header the upstream never sends: a response hook that changes nothing, which
                # sends every response of this router down the general path.
                "general": {"rule": "PathPrefix(`/general`)", "service": "canned", "middlewares": ["touch"]},
                # A hook that acts on a few header names only (prefixRewrite): as written without them.
                "watched": {"rule": "PathPrefix(`/watched`)", "service": "canned", "middlewares": ["give", "strip"]},
            },
            "middlewares": {
                "touch": {"headers": {"customResponseHeaders": {"X-Never-Sent": ""}}},
                "give": {"prefixRewrite": {}},
                "strip": {"stripPrefix": {"prefixes": ["/watched"]}},
            },
            "services": {"canned": {"loadBalancer": {"servers": [{"url": url}]}}},
        }
    }
    with BackgroundGateway(routes) as gateway:
        assert gateway.routers["asis@file"].relays_as_is
        assert not gateway.routers["general@file"].relays_as_is
        assert gateway.routers["watched@file"].relays_unless == {
            "location",
            "content-location",
            "refresh",
            "link",
            "set-cookie",
        }
        yield Stack(upstream, int(gateway.url.rsplit(":", 1)[1]))
    upstream.close()


def exchange(port: int, pieces: list[bytes], until_close: bool, responses: int = 1) -> bytes:
    """Send `pieces` (a pause between them), then read `responses` Content-Length answers, or up to EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for at, piece in enumerate(pieces):
            if at:
                time.sleep(0.002)
            sock.sendall(piece)
        received = b""
        while until_close or len(_answers(received)) < responses or not _ends_whole(received):
            data = sock.recv(65536)
            if not data:
                break
            received += data
        return received


def _answer_length(data: bytes) -> int:
    head, _, _ = data.partition(b"\r\n\r\n")
    return len(head) + 4 + _content_length(head)


def _answers(data: bytes) -> list[bytes]:
    """The Content-Length answers `data` holds, the last possibly incomplete."""
    answers = []
    while b"\r\n\r\n" in data:
        length = _answer_length(data)
        answers.append(data[:length])
        data = data[length:]
    return answers


def _ends_whole(data: bytes) -> bool:
    answers = _answers(data)
    return bool(answers) and len(answers[-1]) == _answer_length(answers[-1])


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """`data` cut at the given offsets (taken modulo its length, duplicates dropped)."""
    if not data:
        return [data]
    points = sorted({cut % len(data) for cut in cuts} - {0})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


# -- shortcuts 1 and 10: request bodies past the parser, head and body in one write ---------------------


def echo_digest(head: bytes, body: bytes) -> list[bytes]:
    digest = hashlib.sha256(body).hexdigest().encode()
    return [b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(digest), digest)]


@budget(60)
@example(bodies=[b"\x00", b""], cut_at=[53])  # a read that ends one body and begins the next request
@given(
    bodies=st.lists(st.binary(max_size=3000), min_size=1, max_size=3),
    cut_at=st.lists(st.integers(min_value=1, max_value=1 << 16), max_size=6),
)
def test_request_bodies_arrive_whole_however_split(stack: Stack, bodies: list[bytes], cut_at: list[int]) -> None:
    """Pipelined Content-Length uploads, the bytes cut anywhere (inside a head, between head and body,
    inside a body, across two requests): the upstream receives each body whole, the answers come in order."""
    stack.upstream.answer = echo_digest
    wire = b"".join(
        b"POST /asis/%d HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s" % (n, len(body), body)
        for n, body in enumerate(bodies)
    )
    received = exchange(stack.port, split(wire, cut_at), until_close=False, responses=len(bodies))
    digests = [hashlib.sha256(body).hexdigest().encode() for body in bodies]
    assert [part.rpartition(b"\r\n\r\n")[2] for part in _answers(received)] == digests


# -- shortcut 2: response bodies past the parser --------------------------------------------------------


@budget(25)
@given(
    body=st.binary(max_size=20_000),
    cuts=st.lists(st.integers(min_value=0, max_value=30_000), max_size=6),
    chunked=st.booleans(),
)
def test_response_bodies_arrive_whole_however_split(stack: Stack, body: bytes, cuts: list[int], chunked: bool) -> None:
    """A Content-Length (relayed past llhttp) or chunked (parsed) answer cut anywhere reaches the client
    whole, with the framing the client expects."""
    if chunked:
        framed = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in split(body, cuts) if piece)
        wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + framed + b"0\r\n\r\n"
    else:
        wire = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    stack.upstream.answer = lambda head, _: split(wire, cuts)
    received = exchange(stack.port, [b"GET /asis HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"], until_close=True)
    head, _, rest = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert (_unchunked(rest) if chunked else rest) == body


def _unchunked(data: bytes) -> bytes:
    body = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return body
        body, data = body + data[:size], data[size + 2 :]


# -- shortcut 3: a response head relayed as written -----------------------------------------------------

# Names a plain response head may carry, in several spellings (the as-is path keeps the upstream's).
RESPONSE_NAMES = ["Content-Type", "content-type", "X-Trace", "x-trace", "Set-Cookie", "ETag", "Date", "Vary", "X-A"]
VALUES = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20)


@budget(40)
@given(
    status=st.sampled_from([200, 201, 206, 299, 404, 418, 500, 503]),
    headers=st.lists(st.tuples(st.sampled_from(RESPONSE_NAMES), VALUES), max_size=6),
    keep_alive_line=st.sampled_from([b"", b"Connection: keep-alive\r\n", b"connection: Keep-Alive\r\n"]),
    length_at=st.integers(min_value=0, max_value=6),
    body=st.binary(max_size=200),
    client=st.sampled_from(["1.1", "1.1 close", "1.0", "1.0 keep-alive"]),
)
def test_response_head_as_is_equals_the_general_path(
    stack: Stack,
    status: int,
    headers: list[tuple[str, str]],
    keep_alive_line: bytes,
    length_at: int,
    body: bytes,
    client: str,
) -> None:
    lines = [b"%s: %s\r\n" % (name.encode(), value.encode()) for name, value in headers]
    lines.insert(min(length_at, len(lines)), b"Content-Length: %d\r\n" % len(body))
    lines.insert(min(length_at, len(lines)), keep_alive_line)
    answer = b"HTTP/1.1 %d Whatever\r\n%s\r\n%s" % (status, b"".join(lines), body)
    stack.upstream.answer = lambda head, _: [answer]
    version, _, connection = client.partition(" ")
    closes = connection == "close" or (version == "1.0" and not connection)
    extra = f"Connection: {connection}\r\n" if connection else ""

    def through(path: str) -> bytes:
        request = f"GET {path} HTTP/{version}\r\nHost: h\r\n{extra}\r\n".encode()
        return exchange(stack.port, [request], until_close=closes)

    assert through("/asis") == through("/general") == through("/watched/x")


# -- shortcut 4: a plain request head's forwarded headers -----------------------------------------------

# Names that keep a head plain (no hop-by-hop, no Traefik-managed X- header, no Expect or Pragma).
PLAIN_NAMES = ["Host", "Accept", "User-Agent", "Content-Type", "Cookie", "X-Request-Id", "Authorization", "Origin"]


@budget(150)
@given(
    extra=st.lists(st.tuples(st.sampled_from(PLAIN_NAMES[1:]), VALUES), max_size=6),
    host=st.sampled_from(["h", "h:8080", "[::1]:1", "Example.COM"]),
    client_ip=st.sampled_from(["127.0.0.1", "::1", "10.1.2.3", ""]),
    insecure=st.booleans(),
    trusted=st.sampled_from([[], ["127.0.0.1"], ["10.0.0.0/8", "::1"]]),
    not_append=st.booleans(),
    scheme_headers=st.booleans(),
    scheme=st.sampled_from(["http", "https"]),
)
def test_plain_request_head_equals_the_general_path(
    extra: list[tuple[str, str]],
    host: str,
    client_ip: str,
    insecure: bool,
    trusted: list[str],
    not_append: bool,
    scheme_headers: bool,
    scheme: str,
) -> None:
    items = [("Host", host), *extra]
    assert request_shape([name.encode() for name, _ in items]).plain
    forwarded = ForwardedHeaders(
        insecure,
        trusted,
        "gateway-host",
        not_append_x_forwarded_for=not_append,
        add_x_forwarded_scheme_headers=scheme_headers,
    )

    def sent(plain: bool) -> list[tuple[str, str]]:
        head = RequestHead("GET", "/", None, HeaderList(list(items)), host, client_ip, scheme, "1.1", "web")
        if not plain:
            fix_pragma_cache_control(head.headers)
        forwarded.apply(head, plain=plain)
        finalize_upstream_headers(head, plain=plain)
        return head.headers.items

    assert sent(plain=True) == sent(plain=False)


# -- shortcut 6: Go's header checks skipped for valid names and a plain Host ----------------------------

TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~", min_size=1)
# What llhttp lets through in a value: no control character but HTAB (DEL refused too).
LLHTTP_VALUES = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"), max_size=30
)


@budget(200)
@given(
    names=st.lists(TOKEN, max_size=6),
    values=st.lists(LLHTTP_VALUES, min_size=6, max_size=6),
    host=st.text(max_size=20),
    version=st.sampled_from(["1.0", "1.1"]),
    method=st.sampled_from(["GET", "POST", "CONNECT"]),
)
def test_header_check_shortcut_equals_the_full_check(
    names: list[str], values: list[str], host: str, version: str, method: str
) -> None:
    """Whenever dispatch skips check_request_headers (shape.valid and a plain Host value), the full check
    would have passed the head too."""
    assume(all(name.lower() != "host" for name in names))
    items = [("Host", host), *zip(names, values[: len(names)], strict=True)]
    shape = request_shape([name.encode("latin-1") for name, _ in items])
    assume(shape.valid and valid_host_header(host))
    check_request_headers(version, method, HeaderList(items), names_valid=False, values_valid=True)


# -- shortcut 7: a plain request-target ------------------------------------------------------------------

PLAIN_PATH_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/$&+,;=:@"


@budget(300)
@given(
    path=st.text(alphabet=PLAIN_PATH_CHARS, max_size=40).map(lambda text: "/" + text),
    query=st.none() | st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20),
    sanitize=st.booleans(),
    semicolons=st.booleans(),
)
def test_plain_target_equals_the_general_parser(path: str, query: str | None, sanitize: bool, semicolons: bool) -> None:
    target = path if query is None else f"{path}?{query}"
    options = PathOptions(sanitize_path=sanitize, encode_query_semicolons=semicolons)
    assert parse_request_target(target, options) == _parse_any_target(target, options, "GET")


# -- shortcut 8: header values decoded in one go ---------------------------------------------------------


@budget(200)
@given(st.lists(st.binary(max_size=30).filter(lambda value: b"\0" not in value), min_size=1, max_size=10))
def test_values_decode_as_one_by_one(values: list[bytes]) -> None:
    assert decode_values(values) == [value.decode("latin-1") for value in values]


# -- shortcut 12: one healthy server skips the strategy --------------------------------------------------


@budget(100)
@given(
    weights=st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=5),
    healthy=st.integers(min_value=0, max_value=4),
)
def test_lone_healthy_server_is_what_the_strategy_picks(weights: list[int], healthy: int) -> None:
    assume(healthy < len(weights) and weights[healthy] > 0)
    servers = [
        UpstreamServer(f"http://127.0.0.1:{9000 + n}", None, "", "", True, 0.0, "svc") for n in range(len(weights))
    ]
    balancer = LoadBalancer("svc", servers, weights, wants_health_check=True)
    for n, server in enumerate(servers):
        if n != healthy:
            balancer.set_status(server.url, False, "down for the test")
    request = RequestHead("GET", "/", None, HeaderList([]))
    assert balancer._only is servers[healthy]  # the shortcut is on
    picks = {balancer.pick(request).url for _ in range(3)}
    balancer._only = None  # the general path: the strategy itself
    assert {balancer.pick(request).url for _ in range(3)} == picks == {servers[healthy].url}
