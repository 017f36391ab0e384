"""Agent-queue hours and holiday overrides as data; ``agents_open`` is a pure function of them.

Self-service answers 24 h a day; only the transfer to a person depends on the hours. Outside
them the caller is offered self-service and a callback instead of ringing an empty queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Span = tuple[time, time]  # [start, end); end 24:00 is time.max


class HoursError(ValueError):
    """A problem in the hours file, naming the file, the entry and the reason."""


@dataclass(frozen=True)
class Schedule:
    weekly: Mapping[int, tuple[Span, ...]]  # weekday 0=Mon -> spans


@dataclass(frozen=True)
class Hours:
    timezone: str
    queues: Mapping[str, Schedule]  # skill -> schedule; "default" for every other skill
    overrides: Mapping[date, Mapping[str, tuple[Span, ...]]] = field(default_factory=dict)  # date -> skill|* -> spans
    display: str = ""  # how the hours are announced, e.g. "每天8点至23点"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


ALWAYS = Hours(timezone="UTC", queues={"default": Schedule({d: ((time(0), time.max),) for d in range(7)})})


def agents_open(hours: Hours, skill: str, now: datetime) -> bool:
    """True when the queue for ``skill`` takes calls at ``now`` (an aware datetime, any zone)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(hours.tz)
    day = hours.overrides.get(local.date())
    spans: tuple[Span, ...] | None = None
    if day is not None:
        spans = day.get(skill, day.get("*"))
    if spans is None:
        sched = hours.queues.get(skill) or hours.queues.get("default")
        if sched is None:
            return False
        spans = sched.weekly.get(local.weekday(), ())
    t = local.time().replace(tzinfo=None)
    return any(start <= t < end for start, end in spans)


def _parse_spans(value: Any, where: str) -> tuple[Span, ...]:
    if value in (None, False, "closed", [], ""):
        return ()
    items = value if isinstance(value, list) else [value]
    spans: list[Span] = []
    for item in items:
        text = str(item)
        try:
            a, b = text.split("-")
            start = time.fromisoformat(a.strip().zfill(5))
            end = time.max if b.strip() in ("24:00", "24") else time.fromisoformat(b.strip().zfill(5))
        except ValueError:
            raise HoursError(f"{where}: '{text}' is not HH:MM-HH:MM") from None
        if end <= start:
            raise HoursError(f"{where}: '{text}' ends before it starts")
        spans.append((start, end))
    return tuple(spans)


def _days(spec: str, where: str) -> list[int]:
    spec = spec.strip().lower()
    if spec in ("daily", "every day", "all"):
        return list(range(7))
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if "-" in part:
            a, b = part.split("-")
            if a not in DAYS or b not in DAYS:
                raise HoursError(f"{where}: unknown days '{part}'")
            ia, ib = DAYS.index(a), DAYS.index(b)
            out.extend(range(ia, ib + 1) if ia <= ib else [*range(ia, 7), *range(0, ib + 1)])
        elif part in DAYS:
            out.append(DAYS.index(part))
        else:
            raise HoursError(f"{where}: unknown day '{part}'")
    return out


def parse_hours(data: Any, path: str = "<hours>", default_tz: str = "Asia/Shanghai") -> Hours:
    if not isinstance(data, dict) or not isinstance(data.get("queues"), dict):
        raise HoursError(f"{path}: needs a 'queues' mapping")
    tzname = str(data.get("timezone") or default_tz)
    try:
        ZoneInfo(tzname)
    except (ZoneInfoNotFoundError, ValueError):
        raise HoursError(f"{path}: unknown timezone '{tzname}'") from None
    queues: dict[str, Schedule] = {}
    for skill, weekly in data["queues"].items():
        where = f"{path}: queue '{skill}'"
        if not isinstance(weekly, dict):
            raise HoursError(f"{where}: needs a mapping of days to hours")
        table: dict[int, tuple[Span, ...]] = {}
        for days, spans in weekly.items():
            for d in _days(str(days), where):
                table[d] = _parse_spans(spans, f"{where} {days}")
        queues[str(skill)] = Schedule(table)
    if "default" not in queues:
        raise HoursError(f"{path}: queue 'default' is missing")
    overrides: dict[date, dict[str, tuple[Span, ...]]] = {}
    for item in data.get("holidays") or []:
        if not isinstance(item, dict) or "date" not in item:
            raise HoursError(f"{path}: holiday entries need a 'date'")
        raw_date = item["date"]
        try:
            day = raw_date if isinstance(raw_date, date) else date.fromisoformat(str(raw_date))
        except ValueError:
            raise HoursError(f"{path}: holiday date '{raw_date}' is not YYYY-MM-DD") from None
        where = f"{path}: holiday {day}"
        skills = item.get("queues") or ["*"]
        spans = _parse_spans(item.get("hours", "closed"), where)
        for s in skills:
            overrides.setdefault(day, {})[str(s)] = spans
    return Hours(timezone=tzname, queues=queues, overrides=overrides, display=str(data.get("display", "")))


def load_hours(path: str | Path, default_tz: str = "Asia/Shanghai") -> Hours:
    """Read the hours file; times are local to its ``timezone`` or else ``default_tz``."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise HoursError(f"{path}: cannot read file: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise HoursError(f"{path}: not valid YAML: {exc}") from None
    return parse_hours(data, str(path), default_tz)
