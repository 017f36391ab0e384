"""The report's period from the page's inputs (pure): an ISO week or a month, and the one before."""

from __future__ import annotations

from datetime import date, timedelta

from workspace.inputs import InputError


def parse_report_period(week: str, month: str, today: date) -> tuple[str, date, date, date, date]:
    """(title, start, end, previous start, previous end); the current week when neither is given."""
    week, month = week.strip()[:16], month.strip()[:16]
    if week and month:
        raise InputError("请只选择周或月中的一个。")
    if month:
        try:
            y, _, m = month.partition("-")
            start = date(int(y), int(m), 1)
        except ValueError:
            raise InputError(f"月份须为 YYYY-MM 格式，收到「{month}」。") from None
        end = date(start.year + (start.month == 12), start.month % 12 + 1, 1) - timedelta(days=1)
        p_end = start - timedelta(days=1)
        return f"月报 {month}", start, end, p_end.replace(day=1), p_end
    if week:
        try:
            y, _, w = week.partition("-W")
            start = date.fromisocalendar(int(y), int(w), 1)
        except ValueError:
            raise InputError(f"周须为 YYYY-Www 格式（如 2026-W48），收到「{week}」。") from None
    else:
        start = today - timedelta(days=today.weekday())
        iso = start.isocalendar()
        week = f"{iso.year}-W{iso.week:02d}"
    end = start + timedelta(days=6)
    return f"周报 {week}", start, end, start - timedelta(days=7), end - timedelta(days=7)
