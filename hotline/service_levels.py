"""The service levels of a period from the store, for the CLI and the reports (composition only:
``store.kpi`` reads, ``kpi.summary`` computes, the menu and hours files name nodes and hours)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import Engine

from hotline.settings import Settings
from ivr.hours import agents_open, load_hours
from ivr.menu import Menu, load_menu
from ivr.queue_outcome import refresh_call
from kpi.definitions import Live, followup_state, live
from kpi.facts import aware
from kpi.summary import local_bounds, summarise
from store import kpi as kpi_store


def menu_order(menu: Menu) -> tuple[list[str], dict[str, str]]:
    """The menu's nodes in the order a caller meets them (breadth first from the root) and their labels."""
    order, todo, seen = [], [menu.root], {menu.root}
    while todo:
        cur = todo.pop(0)
        order.append(cur)
        for t in menu.nodes[cur].choices.values():
            if t not in seen:
                seen.add(t)
                todo.append(t)
    order += [n for n in (menu.agent_node, menu.callback_node, menu.survey_node, menu.goodbye_node) if n not in seen]
    order += sorted(n for n in menu.nodes if n not in set(order))
    labels = {n: (menu.nodes[n].label or n) for n in menu.nodes}
    return order, labels


@lru_cache(maxsize=8)
def _menu_order(path: str) -> tuple[list[str], dict[str, str]]:
    return menu_order(load_menu(path))


@lru_cache(maxsize=8)
def _hours(path: str, tz: str) -> Any:
    return load_hours(path, default_tz=tz)


def open_hours(settings: Settings, day: date) -> list[int]:
    """Local hours of ``day`` in which the default queue is open (ivr/menus/hours.yaml)."""
    hours = _hours(str(settings.hours_path), settings.timezone)
    tz = ZoneInfo(settings.timezone)
    return [
        h for h in range(24) if agents_open(hours, "default", datetime(day.year, day.month, day.day, h, 30, tzinfo=tz))
    ]


def period_summary(
    engine: Engine, settings: Settings, start: date, end: date, *, team: str = "", skill: str = ""
) -> dict[str, Any]:
    """The figures of calls started on local days start..end (both included)."""
    tz = ZoneInfo(settings.timezone)
    lo, hi = local_bounds(start, end, tz)
    order, labels = _menu_order(str(settings.menu_path))
    with engine.connect() as conn:
        first, last = start.isoformat(), end.isoformat()
        hour_cols, hour_rows, day_rows = kpi_store.hour_rows(conn, first, last, team=team, skill=skill)
        funnel = kpi_store.node_sums(conn, first, last, team=team, skill=skill)
        longest = kpi_store.longest_wait(conn, lo, hi, team=team, skill=skill)
        done = kpi_store.callbacks_done(conn, lo, hi)
    return summarise(
        hour_cols,
        hour_rows,
        day_rows,
        funnel,
        tz=tz,
        start=start,
        end=end,
        order=order,
        labels=labels,
        sl_threshold_s=float(settings.kpi_service_level_s),
        callbacks_done=done,
        longest_wait_s=longest,
        open_hours=open_hours(settings, start),
        team=team,
    )


def rebuild(engine: Engine, settings: Settings) -> int:
    """Recompute every call's facts from its events (after the migration, a menu, time zone or
    HOTLINE_KPI_SERVICE_LEVEL_S change)."""
    menu = load_menu(settings.menu_path)
    kinds = {nid: node.kind for nid, node in menu.nodes.items()}
    tz = ZoneInfo(settings.timezone)
    sl = float(settings.kpi_service_level_s)
    n = 0
    with engine.begin() as conn:
        kpi_store.clear_all(conn)
        batches = list(kpi_store.call_ids(conn))
    for ids in batches:
        with engine.begin() as conn:
            for cid in ids:
                n += refresh_call(conn, cid, kinds, tz=tz, sl_threshold_s=sl)
    return n


def iso_week(spec: str) -> tuple[date, date]:
    """``2026-W48`` -> (Monday, Sunday) of that ISO week; ValueError if malformed."""
    year, _, week = spec.partition("-W")
    monday = date.fromisocalendar(int(year), int(week), 1)
    return monday, monday + timedelta(days=6)


def month(spec: str) -> tuple[date, date]:
    """``2026-11`` -> (first, last day) of that month; ValueError if malformed."""
    year, _, mon = spec.partition("-")
    first = date(int(year), int(mon), 1)
    nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


class ServiceLevels:
    """What the workspace's 运营指标 pages ask for, composed here so the workspace needs neither the
    menu and hours files (ivr) nor the definitions' inputs: ``app.extensions["hotline"]["service_levels"]``."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine, self.settings = engine, settings
        self.tz = ZoneInfo(settings.timezone)

    def summary(self, start: date, end: date, *, team: str = "", skill: str = "") -> dict[str, Any]:
        return period_summary(self.engine, self.settings, start, end, team=team, skill=skill)

    def today(self) -> date:
        return datetime.now(self.tz).date()

    def live(self, now: datetime | None = None) -> Live:
        now = now or datetime.now(self.tz)
        with self.engine.connect() as conn:
            return live(kpi_store.active_calls(conn, now), now)

    def followups(self, state: str = "", now: datetime | None = None) -> tuple[list[dict[str, Any]], dict[str, int]]:
        """回访 tasks (with their state and seconds left) and the counts per state."""
        now = now or datetime.now(self.tz)
        with self.engine.connect() as conn:
            rows = kpi_store.list_followups(conn, state=state, now=now)
            counts = kpi_store.followup_counts(conn, now)
        for r in rows:
            for k in ("due_at", "done_at", "surveyed_at", "created_at"):
                if r.get(k) is not None:
                    r[k] = aware(r[k])
            r["state"] = followup_state(r["due_at"], r["done_at"], now)
            r["left_s"] = (r["due_at"] - now).total_seconds()
        return rows, counts

    def finish_followup(self, followup_id: int, *, by: str, note: str) -> bool:
        with self.engine.begin() as conn:
            return kpi_store.finish_followup(conn, followup_id, by=by, note=note, now=datetime.now(self.tz))


def register(app: Flask) -> None:
    """Listed in ``hotline.app.BLUEPRINTS`` before the workspace, which uses it."""
    ext = app.extensions["hotline"]
    ext["service_levels"] = ServiceLevels(ext["engine"], ext["settings"])
