"""The development calls (../shared/calls-dev) as demo calls: recordings, agents, teams, dates.

``calls-dev`` holds real JDDC service dialogues read by synthetic voices as two-channel 8 kHz
recordings, with ``metadata.csv`` (call_id, file, agent_id, team, started_at, caller) and the gold
turns in ``calls.jsonl`` (only each call's duration is read here). The demo plays them through the
IVR and the pipeline, so the workspace a newcomer first sees holds calls that sound like the
hotline. Rows that do not parse are skipped with a reason, never guessed at.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

TEAM_NAMES = {"after-sales": "售后组", "logistics": "物流组"}  # metadata ids -> what the workspace shows
SPREAD_WEEKS = 3  # dates spread over the last three weeks, each call keeping its weekday and hour


@dataclass(frozen=True)
class DevCall:
    path: Path
    agent_id: str
    team: str
    started_at: datetime  # timezone-aware
    duration: float  # seconds, from calls.jsonl (0.0 when unknown)
    caller_masked: str  # e.g. 153****3298


def read_dev_calls(folder: Path) -> tuple[list[DevCall], list[str]]:
    """The calls of a calls-dev style folder, in metadata order, and the rows skipped (with why).

    An empty list when the folder or its metadata.csv is missing (a bare clone).
    """
    meta = folder / "metadata.csv"
    if not meta.is_file():
        return [], []
    durations = _durations(folder / "calls.jsonl")
    calls: list[DevCall] = []
    skipped: list[str] = []
    with meta.open(encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.DictReader(f), 2):
            name = (row.get("file") or "").strip()
            path = folder / name
            try:
                started = datetime.fromisoformat((row.get("started_at") or "").strip())
            except ValueError:
                skipped.append(f"metadata.csv line {n}: started_at {row.get('started_at')!r} is not an ISO time")
                continue
            if started.tzinfo is None:
                skipped.append(f"metadata.csv line {n}: started_at has no UTC offset")
                continue
            if not name or "/" in name or "\\" in name or name.startswith(".") or not path.is_file():
                skipped.append(f"metadata.csv line {n}: no recording {name!r}")
                continue
            agent = (row.get("agent_id") or "").strip()[:64]
            team = (row.get("team") or "").strip()
            if not agent:
                skipped.append(f"metadata.csv line {n}: no agent_id")
                continue
            calls.append(
                DevCall(
                    path,
                    agent,
                    TEAM_NAMES.get(team, team)[:64],
                    started,
                    durations.get(name, 0.0),
                    (row.get("caller") or "").strip()[:32],
                )
            )
    return calls, skipped


def _durations(path: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
            d = float(row["duration"])
        except (ValueError, KeyError, TypeError):
            continue
        if isinstance(row.get("file"), str) and math.isfinite(d) and d > 0:
            out[row["file"]] = d
    return out


def spread_dates(calls: list[DevCall], now: datetime, weeks: int = SPREAD_WEEKS) -> list[DevCall]:
    """Calls moved by whole weeks so the latest falls in the week before ``now``, then the k-th
    call ``k % weeks`` weeks further back: trends and weekly samples have several weeks to show,
    and every call keeps its weekday and time of day."""
    if not calls:
        return []
    latest = max(c.started_at for c in calls)
    shift = math.ceil((now - latest) / timedelta(weeks=1)) - 1  # whole weeks; latest lands in (now - 7 d, now]
    if latest + timedelta(weeks=shift) > now:
        shift -= 1
    return [
        replace(c, started_at=c.started_at + timedelta(weeks=shift - (k % max(1, weeks)))) for k, c in enumerate(calls)
    ]


def caller_number(masked: str, fill: int) -> str:
    """A dialable E.164 number for the simulated caller, matching the masked one (153****3298) where
    it has the mobile shape; the middle digits, masked in the data, come from ``fill``."""
    head, sep, tail = masked.partition("****")
    if sep and len(head) == 3 and len(tail) == 4 and (head + tail).isdigit():
        return f"+86{head}{fill % 10**4:04d}{tail}"
    return f"+86138{fill % 10**8:08d}"
