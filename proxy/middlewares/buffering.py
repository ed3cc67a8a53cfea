"""buffering: Traefik v3 `pkg/middlewares/buffering` over vulcand/oxy `buffer` and mailgun/multibuf.

Request side: the whole body is read before anything goes upstream, then sent with a Content-Length
(a chunked request is re-framed). A declared Content-Length over maxRequestBodyBytes is refused before
reading; a body that grows past it while read is refused then: 413 `Request Entity Too Large` (oxy's
SizeErrHandler, no Content-Type). The first memRequestBodyBytes (0: multibuf's default, 1 MiB) stay in
memory, the rest goes to a temporary file. The forwarder does the holding (Exchange, heldbody.py): this
middleware only gives the limits.

Response side: the upstream's head and body are held until the body ends, then go to the client in one
piece with a Content-Length. Past maxResponseBodyBytes (0: no limit) the client gets 500 `Internal Server
Error` instead (oxy's writer error goes to its default error handler) and the rest of the upstream body is
read and dropped. The first memResponseBodyBytes (default 1 MiB) stay in memory, the rest spills to a
temporary file, sent back at the client's pace. Responses that cannot have a body (HEAD, 1xx, 204, 304,
`Content-Length: 0`, a gRPC error status) pass as they are, as oxy's expectBody says.

retryExpression is refused at build time ("not supported yet"): the router is disabled with that reason.
Differences: Traefik drains the whole upstream body before answering 500; we answer at once, then drain.
Traefik (Go) frames a held body of unknown length by its size (Content-Length below 2 KiB, else
chunked); we always send a Content-Length, which we know.
"""

from __future__ import annotations

import asyncio
import tempfile
from typing import IO

from proxy.forwarder.heldbody import FILE_PIECE
from proxy.message import HeaderList, RequestHead
from proxy.middlewares.base import Middleware
from proxy.middlewares.body import BodyFilter

DEFAULT_MEM_BYTES = 1024 * 1024  # multibuf.DefaultMemBytes, used when a mem* option is 0
TOO_LARGE_RESPONSE = b"Internal Server Error"


class Buffering(Middleware):
    has_request_hook = False
    filters_response = True
    holds_request_body = True

    def __init__(
        self,
        max_request_body_bytes: int = 0,
        mem_request_body_bytes: int = 0,
        max_response_body_bytes: int = 0,
        mem_response_body_bytes: int = 0,
        retry_expression: str = "",
    ) -> None:
        for name, value in (
            ("maxRequestBodyBytes", max_request_body_bytes),
            ("memRequestBodyBytes", mem_request_body_bytes),
            ("maxResponseBodyBytes", max_response_body_bytes),
            ("memResponseBodyBytes", mem_response_body_bytes),
        ):
            if value < 0:
                raise ValueError(f"{name}: should be >= 0, got {value}")
        if retry_expression:
            raise ValueError(
                f"retryExpression {retry_expression!r}: retrying from the buffering middleware is "
                "not supported yet by stripproxy (remove the key, or use the retry middleware)"
            )
        self.max_request = max_request_body_bytes
        self.mem_request = mem_request_body_bytes or DEFAULT_MEM_BYTES
        if self.max_request and self.max_request < self.mem_request:
            self.mem_request = self.max_request  # as multibuf does
        self.max_response = max_response_body_bytes
        self.mem_response = mem_response_body_bytes or DEFAULT_MEM_BYTES

    def request_body_limits(self) -> tuple[int, int]:
        return self.max_request, self.mem_request

    def response_filter(self, req: RequestHead, status: int, headers: HeaderList) -> BodyFilter | None:
        if req.method == "HEAD" or status < 200 or status in (204, 304):
            return None
        if headers.get("content-length") == "0":
            return None
        grpc = headers.get("grpc-status")
        if grpc and grpc != "0":
            return None
        return BufferFilter(self.max_response, self.mem_response)


class BufferFilter(BodyFilter):
    """One held response: memory first, then a temporary file; released whole at the end."""

    __slots__ = ("limit", "memory", "size", "pieces", "file", "held", "over", "task")

    def __init__(self, limit: int, memory: int) -> None:
        super().__init__()
        self.limit = limit
        self.memory = memory
        self.size = 0
        self.pieces: list[bytes] = []
        self.file: IO[bytes] | None = None
        self.held: tuple[int, HeaderList] | None = None
        self.over = False
        self.task: asyncio.Task[None] | None = None

    def head(self, status: int, headers: HeaderList) -> None:
        self.held = (status, headers)

    def body(self, data: bytes) -> None:
        if self.over:
            return  # answered 500 already: the rest is drained and dropped
        self.size += len(data)
        if self.limit and self.size > self.limit:
            self.over = True
            self._drop()
            down = self.down
            down.head(500, HeaderList([("Content-Length", str(len(TOO_LARGE_RESPONSE)))]))
            down.body(TOO_LARGE_RESPONSE)
            down.end([])
            return
        if self.file is None and self.size <= self.memory:
            self.pieces.append(data)
            return
        if self.file is None:
            self.file = tempfile.TemporaryFile(prefix="stripproxy-response-")
            self.file.write(b"".join(self.pieces))
            self.pieces = []
        self.file.write(data)

    def end(self, trailers: list[tuple[bytes, bytes]]) -> None:
        if self.over or self.held is None:
            return
        status, headers = self.held
        self.held = None
        headers.remove("Transfer-Encoding")
        headers.set("Content-Length", str(self.size))
        down = self.down
        down.head(status, headers)
        if self.file is None:
            for piece in self.pieces:
                down.body(piece)
            self.pieces = []
            down.end([])
            return
        self.task = asyncio.get_running_loop().create_task(self._send_file())

    async def _send_file(self) -> None:
        """A spilled body goes back at the client's pace: bounded memory whatever its size."""
        file, down = self.file, self.down
        assert file is not None
        try:
            file.seek(0)
            while True:
                piece = file.read(FILE_PIECE)
                if not piece:
                    break
                down.body(piece)
                down.flush()
                await down.wait_writable()
            down.end([])
            down.flush()
        finally:
            self._drop()

    def _drop(self) -> None:
        self.pieces = []
        if self.file is not None:
            self.file.close()
            self.file = None

    def close(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self._drop()
