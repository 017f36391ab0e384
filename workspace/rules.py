"""The workspace's review rules, pure (no Flask, no store session): how a reviewer's scores merge
with the automatic ones, the human total, the spread of a calibration, and who may score or
resolve what. The views apply them; the store only keeps what they produce.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from store.errors import ScoreInputError

if TYPE_CHECKING:
    from store.models_review import CalibrationSession, Review


def finite_or_none(value: Any) -> float | None:
    """A stored or submitted number as a finite float, else None (missing, text, NaN, infinite)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def merge_items(auto_items: dict[str, Any], human: dict[str, float | None], notes: dict[str, str]) -> dict[str, Any]:
    """Per item: the automatic score and the human one side by side (``None`` human = confirmed).

    Items the scorer found not applicable (score None) or worth no points (auto-fail checks) keep
    ``human`` None: there is nothing to override, the auto-fail box covers them. A human score that
    is not a finite number within [0, max] raises ScoreInputError: it is never stored.
    """
    out: dict[str, Any] = {}
    for key, item in auto_items.items():
        mx = finite_or_none(item.get("max")) or 0.0
        auto = finite_or_none(item.get("score"))  # a broken stored score counts as not applicable
        h = human.get(key)
        if auto is None or mx <= 0:
            h = None
        elif h is not None:
            label = str(item.get("name", key))
            if not math.isfinite(h) or not -0.005 <= h <= mx + 0.005:
                raise ScoreInputError(f"「{label}」的人工评分须为 0 到 {mx:g} 之间的数字。")
            h = round(min(max(float(h), 0.0), mx), 2)
            if abs(h - auto) < 0.01:  # the form shows scores to two decimals: same value, no override
                h = None
        out[key] = {
            "name": str(item.get("name", key)),
            "auto": auto,
            "human": auto if h is None else h,
            "max": mx,
            "confirmed": h is None or auto is None or abs(h - auto) < 1e-9,
            "note": notes.get(key, ""),
        }
    return out


def human_total(auto_total: float | None, auto_fail: bool, items: dict[str, Any], human_fail: bool) -> float:
    """The automatic total moved by each override's difference (confirming everything keeps it);
    0 when the reviewer keeps an auto-fail; the sum of item scores when the reviewer lifts one."""
    if human_fail:
        return 0.0
    scored = [v for v in items.values() if v.get("auto") is not None and float(v.get("max") or 0) > 0]
    base = sum(float(v["auto"]) for v in scored) if auto_fail else float(auto_total or 0.0)
    delta = sum(float(v["human"]) - float(v["auto"]) for v in scored)
    return round(min(100.0, max(0.0, base + delta)), 2)


def revised_items(original_items: dict[str, Any], human: dict[str, float | None]) -> dict[str, Any]:
    """A disputed review's items re-merged with the resolver's scores, against the same automatic
    scores and keeping the original reviewer's notes."""
    auto_items = {
        k: {"score": v["auto"], "max": v["max"], "name": v.get("name", k)} for k, v in original_items.items()
    }
    notes = {k: v.get("note", "") for k, v in original_items.items()}
    return merge_items(auto_items, human, notes)


def calibration_refusal(cal: CalibrationSession | None, call_id: int, reviewer_id: int, scored: bool) -> str | None:
    """Why this reviewer may not score this call in the session (None: they may)."""
    if cal is None or cal.call_id != call_id:
        return "calibration session does not match the call"
    if reviewer_id not in (cal.reviewer_ids or []):
        return "not a reviewer of this calibration session"
    if cal.status != "open":
        return "calibration session is closed"
    if scored:
        return "already scored in this calibration session"
    return None


def resolve_refusal(user_id: int, role: str, reviewer_id: int, raised_by: int) -> str | None:
    """Why this user may not resolve a dispute (None: they may). An admin always may; otherwise
    neither the original reviewer nor whoever raised the dispute."""
    if role == "admin":
        return None
    if user_id == reviewer_id:
        return "the original reviewer cannot resolve a dispute of their own review"
    if user_id == raised_by:
        return "whoever raised the dispute cannot resolve it"
    return None


def calibration_spread(reviews: Sequence[Review]) -> dict[str, Any]:
    """Per item and for the total: each reviewer's score, min, max, range and standard deviation."""

    def stats(values: list[float]) -> dict[str, float]:
        if not values:
            return {"min": 0.0, "max": 0.0, "range": 0.0, "stdev": 0.0, "mean": 0.0}
        return {
            "min": min(values),
            "max": max(values),
            "range": max(values) - min(values),
            "stdev": statistics.pstdev(values),
            "mean": statistics.fmean(values),
        }

    names: list[str] = []
    for r in reviews:
        for k in r.items or {}:
            if k not in names:
                names.append(k)
    items = {}
    for name in names:
        cells = [(r.items or {}).get(name) for r in reviews]
        # values that are not finite numbers (stored before inputs were checked) are left out
        vals = [v for c in cells if isinstance(c, dict) and (v := finite_or_none(c.get("human"))) is not None]
        if not vals:
            continue
        auto = next((finite_or_none(c.get("auto")) for c in cells if isinstance(c, dict)), None)
        items[name] = {"values": vals, "auto": auto, **stats(vals)}
    totals = [t for r in reviews if (t := finite_or_none(r.total)) is not None]
    return {"items": items, "total": stats(totals), "n": len(reviews)}
