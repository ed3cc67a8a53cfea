"""A request body read whole before anything goes upstream (the buffering middleware's request side).

The first `memory` bytes stay in memory, the rest goes to an anonymous temporary file (gone when closed,
or when the process dies), so a large upload costs bounded memory. Past `limit` bytes (0: no limit) `add`
says so and the exchange answers 413.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import IO

FILE_PIECE = 64 * 1024  # bytes read from the temporary file per upstream write


class HeldBody:
    __slots__ = ("limit", "memory", "size", "pieces", "in_memory", "file", "begun")

    def __init__(self, limit: int, memory: int) -> None:
        self.limit = limit
        self.memory = memory
        self.size = 0
        self.pieces: list[bytes] = []
        self.in_memory = 0
        self.file: IO[bytes] | None = None
        self.begun = False  # the exchange's turn came: it can answer (413) or go upstream when complete

    def add(self, data: bytes) -> bool:
        """Keep `data`; False once the body is over the limit (nothing more is kept)."""
        self.size += len(data)
        if self.limit and self.size > self.limit:
            self.close()
            return False
        if self.file is None and self.in_memory + len(data) <= self.memory:
            self.pieces.append(data)
            self.in_memory += len(data)
            return True
        if self.file is None:
            self.file = tempfile.TemporaryFile(prefix="stripproxy-body-")
        self.file.write(data)
        return True

    def file_pieces(self) -> Iterator[bytes]:
        """What spilled to disk, from the start, in FILE_PIECE reads."""
        file = self.file
        if file is None:
            return
        file.seek(0)
        while True:
            piece = file.read(FILE_PIECE)
            if not piece:
                return
            yield piece

    def close(self) -> None:
        self.pieces = []
        if self.file is not None:
            self.file.close()
            self.file = None
