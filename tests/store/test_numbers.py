"""The one check for numbers from outside: finite, in range, else a clear error."""

from __future__ import annotations

import pytest

from store.numbers import NumberError, parse_finite

GOOD = [("42", 42.0), (" 0.5 ", 0.5), ("0", 0.0), ("86400", 86400.0), (7, 7.0), (0.25, 0.25), ("1e2", 100.0)]
BAD = [
    ("inf", "not a finite number"),
    ("-inf", "not a finite number"),
    ("Infinity", "not a finite number"),
    ("nan", "not a finite number"),
    ("NaN", "not a finite number"),
    ("1e999", "not a finite number"),  # parses to inf
    (float("inf"), "not a finite number"),
    (float("nan"), "not a finite number"),
    (10**400, "not a finite number"),  # an int too big for a float
    ("-1", "outside 0..86400"),
    ("86400.5", "outside 0..86400"),
    ("", "expected a number"),
    ("abc", "expected a number"),
    ("0x10", "expected a number"),
    ("1" * 100, "expected a number"),  # too long to be a number we take
    (None, "expected a number"),
    (True, "expected a number"),
]


@pytest.mark.parametrize(("raw", "value"), GOOD)
def test_finite_numbers_in_range(raw: object, value: float) -> None:
    assert parse_finite(raw, lo=0, hi=86400, name="CallDuration") == value


@pytest.mark.parametrize(("raw", "why"), BAD)
def test_bad_numbers_are_refused_with_their_name(raw: object, why: str) -> None:
    with pytest.raises(NumberError, match=f"^CallDuration: .*{why}"):
        parse_finite(raw, lo=0, hi=86400, name="CallDuration")
