"""Durations as Traefik reads them from configuration files, flags and environment variables.

Traefik (paerser `setDuration`) first tries the text as a base-10 integer meaning seconds, then falls back to
Go's `time.ParseDuration`: a signed sequence of decimal numbers with units ns, us (µs/μs), ms, s, m, h.
A YAML/TOML number is first turned into text, so `10` and `10.0` mean ten seconds but `1.5` is an error
("missing unit"), exactly as in Traefik.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_NANOS_PER_UNIT: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek small letter mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_MAX_NANOS = 2**63 - 1  # Go's time.Duration is an int64 of nanoseconds


def _go_number_text(value: int | float) -> str:
    """How paerser renders a file number before parsing it: floats keep 6 decimals unless they are whole."""
    if isinstance(value, int):
        return str(value)
    text = f"{value:.6f}"
    return text[: -len(".000000")] if text.endswith(".000000") else text


def _parse_go_int(text: str) -> int | None:
    """strconv.ParseInt(text, 10, 64): optional sign, ASCII digits only."""
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    return int(text)


def _take_digits(text: str) -> tuple[str, str]:
    end = 0
    while end < len(text) and "0" <= text[end] <= "9":
        end += 1
    return text[:end], text[end:]


def parse_go_duration_nanos(text: str) -> int:
    """Go's time.ParseDuration, returning nanoseconds; ValueError with Go's wording on bad input."""
    original = text
    negative = False
    if text[:1] in ("+", "-"):
        negative = text[0] == "-"
        text = text[1:]
    if text == "0":
        return 0
    if not text:
        raise ValueError(f'time: invalid duration "{original}"')
    total = Fraction(0)
    while text:
        if not (text[0] == "." or "0" <= text[0] <= "9"):
            raise ValueError(f'time: invalid duration "{original}"')
        whole, text = _take_digits(text)
        fraction = ""
        if text.startswith("."):
            fraction, text = _take_digits(text[1:])
            if not whole and not fraction:
                raise ValueError(f'time: invalid duration "{original}"')
        unit_end = 0
        while unit_end < len(text) and not (text[unit_end] == "." or "0" <= text[unit_end] <= "9"):
            unit_end += 1
        if unit_end == 0:
            raise ValueError(f'time: missing unit in duration "{original}"')
        unit, text = text[:unit_end], text[unit_end:]
        if unit not in _NANOS_PER_UNIT:
            raise ValueError(f'time: unknown unit "{unit}" in duration "{original}"')
        number = Fraction(int(whole or "0"))
        if fraction:
            number += Fraction(int(fraction), 10 ** len(fraction))
        total += number * _NANOS_PER_UNIT[unit]
        if total > _MAX_NANOS:
            raise ValueError(f'time: invalid duration "{original}"')
    nanos = int(total)  # Go truncates sub-nanosecond fractions
    return -nanos if negative else nanos


def parse_duration(value: str | int | float) -> float:
    """A Traefik duration in seconds: "1m30s" -> 90.0, "500ms" -> 0.5, "10" or 10 -> 10.0."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f'invalid duration {value!r}: expected a duration such as "10s" or a number of seconds')
    text = value if isinstance(value, str) else _go_number_text(value)
    seconds = _parse_go_int(text)
    if seconds is not None:
        return float(seconds)
    try:
        return parse_go_duration_nanos(text) / 1_000_000_000
    except ValueError as err:
        raise ValueError(f"invalid duration {value!r}: {err}") from None


def _validate_duration(value: Any) -> float:
    return parse_duration(value)


def _format_seconds(seconds: float) -> str:
    return f"{seconds:g}s"


# A duration field: accepts Traefik's spellings, holds seconds as a float, dumps back as "<n>s".
Duration = Annotated[float, BeforeValidator(_validate_duration), PlainSerializer(_format_seconds, return_type=str)]
