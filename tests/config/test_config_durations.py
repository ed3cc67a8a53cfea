"""Durations as Traefik reads them: paerser setDuration (integer = seconds) then Go's time.ParseDuration.

Cases follow Go's time/time_test.go parseDurationTests and paerser parser/element_fill_test.go.
"""

import pytest
from pydantic import BaseModel, ValidationError

from proxy.config.durations import Duration, parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        pytest.param("1s", 1.0, id="seconds"),
        pytest.param("500ms", 0.5, id="millis"),
        pytest.param("1m30s", 90.0, id="compound"),
        pytest.param("1h", 3600.0, id="hour"),
        pytest.param("1.5s", 1.5, id="fraction"),
        pytest.param("300us", 0.0003, id="micros"),
        pytest.param("300\u00b5s", 0.0003, id="micro-sign"),
        pytest.param("300\u03bcs", 0.0003, id="greek-mu"),
        pytest.param("10ns", 1e-8, id="nanos"),
        pytest.param(".5s", 0.5, id="leading-dot"),
        pytest.param("5.s", 5.0, id="trailing-dot"),
        pytest.param("-1.5h", -5400.0, id="negative"),
        pytest.param("+5s", 5.0, id="plus"),
        pytest.param("0", 0.0, id="zero"),
        pytest.param("10", 10.0, id="bare-int-string-is-seconds"),
        pytest.param("-3", -3.0, id="negative-bare-int"),
        pytest.param(10, 10.0, id="int-is-seconds"),
        pytest.param(10.0, 10.0, id="whole-float-is-seconds"),
        pytest.param("1h1m1s1ms", 3661.001, id="all-units"),
    ],
)
def test_parse_duration_accepts_traefik_spellings(value, seconds):
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("", "invalid duration '': time: invalid duration \"\"", id="empty"),
        pytest.param("abc", "invalid duration 'abc': time: invalid duration \"abc\"", id="letters"),
        pytest.param("1.5", "invalid duration '1.5': time: missing unit in duration \"1.5\"", id="float-text"),
        pytest.param(1.5, 'invalid duration 1.5: time: missing unit in duration "1.500000"', id="float-number"),
        pytest.param("5x", 'invalid duration \'5x\': time: unknown unit "x" in duration "5x"', id="unit"),
        pytest.param(".s", "invalid duration '.s': time: invalid duration \".s\"", id="dot-only"),
        pytest.param("1 s", 'invalid duration \'1 s\': time: unknown unit " s" in duration "1 s"', id="space"),
        pytest.param(
            True, 'invalid duration True: expected a duration such as "10s" or a number of seconds', id="bool"
        ),
    ],
)
def test_parse_duration_errors_name_the_value(value, message):
    with pytest.raises(ValueError) as info:
        parse_duration(value)
    assert str(info.value) == message


class _Timeouts(BaseModel):
    read: Duration = 60.0


def test_duration_type_in_a_model_validates_and_dumps():
    assert _Timeouts(read="1m").read == 60.0
    assert _Timeouts(read=5).model_dump() == {"read": "5s"}
    with pytest.raises(ValidationError) as info:
        _Timeouts(read="soon")
    assert "invalid duration 'soon'" in str(info.value)
