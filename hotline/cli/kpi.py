"""`hotline kpi`: the service levels of a period; `hotline report`: the weekly or monthly report."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from hotline.settings import Settings


def _day(value: str | None, name: str, default: date) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected a date like 2026-11-23, got {value!r}", param_hint=name) from None


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _secs(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f} s"


@click.command()
@click.option("--from", "from_", metavar="YYYY-MM-DD", help="first day (local time; default today)")
@click.option("--to", "to", metavar="YYYY-MM-DD", help="last day, included (default: the first day)")
@click.option("--team", default="", help="only calls an agent of this team took")
@click.option("--skill", default="", help="only calls transferred to this skill")
@click.option("--json", "as_json", is_flag=True, help="one JSON object")
@click.option("--rebuild", is_flag=True, help="first recompute every call's facts from its events")
def kpi(from_: str | None, to: str | None, team: str, skill: str, as_json: bool, rebuild: bool) -> None:
    """Service levels: 接通率, 平均等待, abandonment, containment, the menu funnel (docs/service-levels.md)."""
    from hotline.service_levels import period_summary
    from hotline.service_levels import rebuild as rebuild_facts
    from store.db import make_engine, migrate

    settings = Settings.from_env()
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    start = _day(from_, "--from", today)
    end = _day(to, "--to", start)
    if end < start:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    if (end - start).days > 366:
        raise click.BadParameter("at most 366 days at a time", param_hint="--to")
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
        if rebuild:
            n = rebuild_facts(engine, settings)
            click.echo(f"facts rebuilt for {n} call(s)", err=True)
        out = period_summary(engine, settings, start, end, team=team[:64], skill=skill[:64])
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
        return
    _print(out)


def _print(s: dict[str, Any]) -> None:
    p = s["period"]
    click.echo(f"{p['from']} .. {p['to']} ({p['timezone']}){' team ' + p['team'] if p['team'] else ''}")
    click.echo(
        f"calls {s['calls']}  offered {s['offered']}  answered {s['answered']}  abandoned {s['abandoned']}"
        f" (+{s['short_abandoned']} under 5 s)  failed {s['failed']}  waiting {s['waiting']}"
    )
    click.echo(
        f"接通率 {_pct(s['answer_rate'])}  平均等待 {_secs(s['avg_wait_s'])} (all offered {_secs(s['avg_wait_all_s'])})"
        f"  service level {_pct(s['service_level'])} within {s['sl_threshold_s']:.0f} s"
    )
    click.echo(
        f"containment {_pct(s['containment_rate'])}  AHT {_secs(s['aht_s'])}  surveys {s['surveys']}"
        f" avg {s['survey_avg'] if s['survey_avg'] is not None else '-'}  below 4 {_pct(s['survey_low_share'])}"
    )
    click.echo(f"callbacks requested {s['callbacks_requested']}  done {s['callbacks_done']}")
    for t in s["targets"]:
        mark = {True: "met", False: "MISSED", None: "-"}[t["met"]]
        click.echo(f"target {t['label']}: {mark}")
    click.echo("funnel (node: entered / hung up there):")
    for f in s["funnel"]:
        click.echo(f"  {f['node']:<24} {f['entered']:>6} / {f['left']}")


@click.command()
@click.option("--week", metavar="YYYY-Www", help="an ISO week, e.g. 2026-W48")
@click.option("--month", "month_", metavar="YYYY-MM", help="a month, e.g. 2026-11")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="the .xlsx to write")
@click.option("--team", default="", help="only calls an agent of this team took")
def report(week: str | None, month_: str | None, out: Path, team: str) -> None:
    """周报/月报: the period's service levels, the trend against the period before and the targets, as Excel."""
    from hotline.service_levels import iso_week, month, period_summary
    from kpi.report import previous_period, workbook_bytes
    from store.db import make_engine, migrate

    if bool(week) == bool(month_):
        raise click.UsageError("give one of --week 2026-W48 or --month 2026-11")
    try:
        start, end = iso_week(week) if week else month(month_ or "")
    except ValueError:
        raise click.BadParameter("expected --week YYYY-Www (e.g. 2026-W48) or --month YYYY-MM") from None
    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
        cur = period_summary(engine, settings, start, end, team=team[:64])
        p_start, p_end = previous_period(start, end, monthly=bool(month_))
        prev = period_summary(engine, settings, p_start, p_end, team=team[:64])
    finally:
        engine.dispose()
    title = f"{'周报 ' + (week or '') if week else '月报 ' + (month_ or '')}"
    out.write_bytes(workbook_bytes(title, cur, prev))
    click.echo(f"{out}: {title}, {cur['calls']} calls")
