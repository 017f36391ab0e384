"""One check for every number that comes from outside (webhooks, CLI options, ingest metadata).

``float("inf")``, ``float("nan")`` and ``float("1e999")`` all parse, and a stored infinity later
breaks whatever formats or sums it. Nothing outside a finite, sane range is ever stored.
Pure; lives in ``store`` because every layer that writes may import it.
"""

from __future__ import annotations

import math


class NumberError(ValueError):
    """A number that is missing, unreadable, not finite or out of range; the message names it."""


def parse_finite(raw: object, *, lo: float, hi: float, name: str = "value") -> float:
    """``raw`` (str, int or float) as a finite float within [lo, hi], else NumberError.

    Booleans are refused (``True`` is an int to Python, never a duration to us).
    """
    if isinstance(raw, bool) or raw is None:
        raise NumberError(f"{name}: expected a number, got {raw!r}")
    if isinstance(raw, (int, float)):
        text = repr(raw)[:64]
        try:
            value = float(raw)
        except OverflowError:  # an int too big for a float
            value = math.inf
    else:
        text = str(raw).strip()
        if not text or len(text) > 64:
            raise NumberError(f"{name}: expected a number, got {text[:64]!r}")
        try:
            value = float(text)
        except (ValueError, OverflowError):
            raise NumberError(f"{name}: expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise NumberError(f"{name}: {text} is not a finite number")
    if not lo <= value <= hi:
        raise NumberError(f"{name}: {text} is outside {lo:g}..{hi:g}")
    return value
