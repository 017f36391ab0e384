"""Click option types for numbers: finite and within a range, through the one check in store.numbers.

``click.FLOAT`` accepts ``inf`` and ``nan``, and ``click.FloatRange`` lets ``nan`` through (every
comparison with it is false); a demo asked for ``--seconds nan`` would never end.
"""

from __future__ import annotations

from typing import Any

import click

from store.numbers import NumberError, parse_finite


class FiniteFloat(click.ParamType):
    """A finite float in [lo, hi]; anything else is a usage error naming the option."""

    name = "number"

    def __init__(self, lo: float, hi: float) -> None:
        self.lo, self.hi = lo, hi

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            return parse_finite(value, lo=self.lo, hi=self.hi, name="value")
        except NumberError as exc:
            self.fail(str(exc).removeprefix("value: "), param, ctx)

    def __repr__(self) -> str:
        return f"FiniteFloat({self.lo:g}..{self.hi:g})"
