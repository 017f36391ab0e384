"""Checks of the workspace's form and query values (pure: a mapping in, a value or InputError out).

Every number a user can send is finite and within a sane range before it reaches a query or the
store; a bad one answers 400 with a Chinese message naming the field, never a 500 and never a
stored NaN. The ``next`` target after login is only ever a path inside the workspace.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import urlsplit

MAX_ID = 2**31 - 1  # ids are 32-bit integer columns on PostgreSQL
MIN_DAY = date(2000, 1, 1)
MAX_DAY = date(2099, 12, 31)
_NEXT_OK = re.compile(r"^/qa/[^\x00-\x20\x7f-\x9f\\\u2028\u2029]*$")  # no controls, spaces, backslashes


class InputError(ValueError):
    """A value the user sent cannot be used; the message (Chinese) names the field."""


def number(args: Mapping[str, Any], key: str, label: str, lo: float, hi: float) -> float | None:
    """``args[key]`` as a finite float in [lo, hi]; None when absent or empty."""
    raw = str(args.get(key) or "").strip()
    if raw == "":
        return None
    try:
        v = float(raw)
    except (ValueError, OverflowError):
        raise InputError(f"{label}须为数字，收到「{raw[:20]}」。") from None
    if not math.isfinite(v) or not lo <= v <= hi:
        raise InputError(f"{label}须在 {lo:g} 到 {hi:g} 之间，收到「{raw[:20]}」。")
    return v


def whole(args: Mapping[str, Any], key: str, label: str, lo: int, hi: int) -> int | None:
    """``args[key]`` as an integer in [lo, hi] (ASCII digits only); None when absent or empty."""
    raw = str(args.get(key) or "").strip()
    if raw == "":
        return None
    body = raw[1:] if raw[:1] in "+-" else raw
    if not (body.isascii() and body.isdigit()) or len(body) > 12:
        raise InputError(f"{label}须为 {lo} 到 {hi} 之间的整数，收到「{raw[:20]}」。")
    v = int(raw)
    if not lo <= v <= hi:
        raise InputError(f"{label}须为 {lo} 到 {hi} 之间的整数，收到「{raw[:20]}」。")
    return v


def day(args: Mapping[str, Any], key: str, label: str) -> date | None:
    """``args[key]`` as an ISO date between 2000 and 2099; None when absent or empty."""
    raw = str(args.get(key) or "").strip()
    if raw == "":
        return None
    try:
        d = date.fromisoformat(raw)
    except ValueError:
        raise InputError(f"{label}须为 YYYY-MM-DD 格式的日期，收到「{raw[:20]}」。") from None
    if not MIN_DAY <= d <= MAX_DAY:
        raise InputError(f"{label}须在 {MIN_DAY} 到 {MAX_DAY} 之间。")
    return d


def text(args: Mapping[str, Any], key: str, label: str, max_len: int) -> str:
    """A short text field (a team, a week) that must fit its column rather than be cut."""
    raw = str(args.get(key) or "").strip()
    if len(raw) > max_len:
        raise InputError(f"{label}过长（最多 {max_len} 个字符）。")
    return raw


def safe_next(target: str | None, default: str) -> str:
    """Where to go after login: a same-site path inside /qa/, else ``default``.

    Refuses absolute and scheme-relative URLs, backslashes (browsers read them as slashes) and any
    control character (a CR/LF would split the Location header)."""
    t = target or ""
    if not _NEXT_OK.match(t) or t.startswith("//") or "/../" in t or t.endswith("/.."):
        return default
    parts = urlsplit(t)
    if parts.scheme or parts.netloc:
        return default
    return t


def has_nul(values: Any) -> bool:
    """Whether any submitted value holds a NUL character (PostgreSQL text refuses it)."""
    return any("\x00" in str(v) for v in values)


def cursor(args: Mapping[str, Any], key: str, kind: str) -> tuple[Any, int] | None:
    """A keyset cursor ``value~id`` (value: an ISO time for ``kind`` "time", else a number); None when absent."""
    raw = str(args.get(key) or "").strip()
    if raw == "":
        return None
    bad = InputError(f"翻页位置无效，收到「{raw[:40]}」。")
    value, sep, ident = raw.rpartition("~")
    if not sep or not ident.isdigit() or not 0 < int(ident) <= MAX_ID:
        raise bad
    if kind == "time":
        from datetime import UTC, datetime

        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise bad from None
        if not MIN_DAY <= when.date() <= MAX_DAY:
            raise bad
        return (when if when.tzinfo else when.replace(tzinfo=UTC)), int(ident)
    try:
        v = float(value)
    except (ValueError, OverflowError):
        raise bad from None
    if not math.isfinite(v) or abs(v) > 1e6:
        raise bad
    return v, int(ident)


def cursor_text(after: tuple[Any, int]) -> str:
    """The URL form of a keyset cursor (what ``cursor`` reads back)."""
    value, ident = after
    return f"{value.isoformat() if hasattr(value, 'isoformat') else repr(float(value))}~{ident}"
