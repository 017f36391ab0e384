"""Agent-queue hours and holiday overrides as data; ``agents_open`` is a pure function of them.

Self-service answers 24 h a day; only the transfer to a person depends on the hours. Outside
them the caller is offered self-service and a callback instead of ringing an empty queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from datafiles import Invalid, ReadError, read_yaml, report

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


def _parse_spans(value: Any) -> tuple[Span, ...]:
    """``"09:00-18:00"``, a list of them (split shifts), or ``closed`` -> spans; ValueError says why not."""
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
            raise ValueError(f"'{text}' is not HH:MM-HH:MM") from None
        if end <= start:
            raise ValueError(f"'{text}' ends before it starts")
        spans.append((start, end))
    return tuple(spans)


def _days(value: Any) -> tuple[int, ...]:
    """``mon-fri``, ``sat,sun``, ``daily`` -> weekdays (0 = Monday); ValueError names an unknown day."""
    spec = str(value).strip().lower()
    if spec in ("daily", "every day", "all"):
        return tuple(range(7))
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if "-" in part:
            a, _, b = part.partition("-")
            if a not in DAYS or b not in DAYS:
                raise ValueError(f"unknown days '{part}'")
            ia, ib = DAYS.index(a), DAYS.index(b)
            out.extend(range(ia, ib + 1) if ia <= ib else [*range(ia, 7), *range(0, ib + 1)])
        elif part in DAYS:
            out.append(DAYS.index(part))
        else:
            raise ValueError(f"unknown day '{part}'")
    return tuple(out)


def _day(value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"'{value}' is not YYYY-MM-DD") from None


Spans = Annotated[tuple[Span, ...], BeforeValidator(_parse_spans)]
Days = Annotated[tuple[int, ...], BeforeValidator(_days)]


class _Holiday(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    date: Annotated[date, BeforeValidator(_day)]
    name: str | None = None
    queues: tuple[str, ...] | None = None  # none: every queue
    hours: Spans = ()


class _HoursFile(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    timezone: Annotated[str | None, Field(validate_default=True)] = None  # none: the setting's zone
    display: str | None = None
    queues: dict[str, dict[Days, Spans]]
    holidays: list[_Holiday] | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, name: str | None, info: ValidationInfo) -> str:
        name = name or (info.context or {}).get("default_tz") or "Asia/Shanghai"
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone '{name}'") from None
        return name

    @model_validator(mode="after")
    def _has_default(self) -> _HoursFile:
        if "default" not in self.queues:
            raise Invalid((("queues",), "queue 'default' is missing"))
        return self

    def hours(self) -> Hours:
        queues: dict[str, Schedule] = {}
        for skill, weekly in self.queues.items():
            table: dict[int, tuple[Span, ...]] = {}
            for days, spans in weekly.items():
                table.update(dict.fromkeys(days, spans))
            queues[skill] = Schedule(table)
        overrides: dict[date, dict[str, tuple[Span, ...]]] = {}
        for item in self.holidays or []:
            for s in item.queues or ["*"]:
                overrides.setdefault(item.date, {})[s] = item.hours
        return Hours(timezone=self.timezone or "", queues=queues, overrides=overrides, display=self.display or "")


def parse_hours(data: Any, path: str = "<hours>", default_tz: str = "Asia/Shanghai") -> Hours:
    try:
        model = _HoursFile.model_validate(data, context={"default_tz": default_tz})
    except ValidationError as exc:
        raise HoursError(report(exc, data, path, {"queues": ("queue", ""), "holidays": ("holiday", "date")})) from None
    return model.hours()


def load_hours(path: str | Path, default_tz: str = "Asia/Shanghai") -> Hours:
    """Read the hours file; times are local to its ``timezone`` or else ``default_tz``."""
    try:
        data = read_yaml(path)
    except ReadError as exc:
        raise HoursError(f"{path}: {exc.reason}") from None
    return parse_hours(data, str(path), default_tz)
