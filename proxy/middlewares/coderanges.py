"""Traefik's HTTP status code ranges (pkg/types/http_code_range.go): `["404", "500-599"]`, for the
middlewares that act on some statuses only (retry, errors)."""

from __future__ import annotations

CodeRanges = tuple[tuple[int, int], ...]


def parse_code_ranges(blocks: list[str]) -> CodeRanges:
    """Each block is one code or `low-high` (both ends included); ValueError names the block that is not."""
    ranges = []
    for block in blocks:
        low, sep, high = block.partition("-")
        try:
            ranges.append((int(low), int(high if sep else low)))
        except ValueError:
            raise ValueError(f'status {block!r}: expected a code like "404" or a range like "500-599"') from None
    return tuple(ranges)


def in_ranges(ranges: CodeRanges, status: int) -> bool:
    return any(low <= status <= high for low, high in ranges)
