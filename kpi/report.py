"""周报/月报 as an Excel workbook (openpyxl, in memory: summaries in, bytes out).

Sheets: 概览 (each figure this period and the one before, the change, the target and whether it
was met), 每日, 每小时, 班组, 菜单漏斗 — the same numbers as `hotline kpi --json` and the page.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from kpi.definitions import TARGETS

# (key, label, kind): kind "n" a count, "pct" a rate, "s" seconds, "x" a plain number
ROWS: tuple[tuple[str, str, str], ...] = (
    ("calls", "来电量", "n"),
    ("offered", "进入人工队列", "n"),
    ("answered", "人工接通", "n"),
    ("abandoned", "排队放弃（≥5秒）", "n"),
    ("short_abandoned", "短时放弃（<5秒）", "n"),
    ("failed", "转接失败", "n"),
    ("answer_rate", "接通率", "pct"),
    ("abandon_rate", "放弃率", "pct"),
    ("avg_wait_s", "平均等待（接通，秒）", "s"),
    ("avg_wait_all_s", "平均等待（全部，秒）", "s"),
    ("service_level", "服务水平", "pct"),
    ("containment_rate", "自助解决率", "pct"),
    ("aht_s", "平均处理时长（秒）", "s"),
    ("surveys", "满意度评价数", "n"),
    ("survey_avg", "满意度平均分", "x"),
    ("survey_low_share", "低于4分占比", "pct"),
    ("callbacks_requested", "回电请求", "n"),
    ("callbacks_done", "已回电", "n"),
)
HEAD = ("来电", "进入队列", "接通", "放弃", "接通率", "平均等待（秒）")
BOLD = Font(bold=True)
MISS = PatternFill("solid", fgColor="FFC9C9")
MET = PatternFill("solid", fgColor="C3FAE8")


def previous_period(start: date, end: date, *, monthly: bool) -> tuple[date, date]:
    """The week before, or the calendar month before."""
    if not monthly:
        return start - timedelta(days=7), end - timedelta(days=7)
    last = start - timedelta(days=1)
    return date(last.year, last.month, 1), last


def _fmt(kind: str) -> str:
    return {"pct": "0.0%", "s": "0", "x": "0.00"}.get(kind, "0")


def workbook_bytes(title: str, cur: Mapping[str, Any], prev: Mapping[str, Any]) -> bytes:
    """The report for ``cur`` (a `kpi.summary.summarise` dict) against ``prev``, as .xlsx bytes."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "概览"
    p, q = cur["period"], prev["period"]
    ws.append([f"京东客服热线 服务指标 {title}"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([f"本期 {p['from']} 至 {p['to']}，上期 {q['from']} 至 {q['to']}（{p['timezone']}）"])
    ws.append([])
    ws.append(["指标", "本期", "上期", "变化", "目标", "达标"])
    for c in ws[4]:
        c.font = BOLD
    for key, label, kind in ROWS:
        now, before = cur.get(key), prev.get(key)
        change = now - before if isinstance(now, int | float) and isinstance(before, int | float) else None
        target = ""
        met = ""
        if key in TARGETS:
            op, bound = TARGETS[key]
            target = f"{op} {bound:.0%}" if kind == "pct" else f"{op} {bound:g}"
            hit = next((t["met"] for t in cur["targets"] if t["name"] == key), None)
            met = {True: "达标", False: "未达标", None: "无数据"}[hit]
        ws.append([label, now, before, change, target, met])
        row = ws.max_row
        for col in (2, 3, 4):
            ws.cell(row, col).number_format = _fmt(kind)
        if met:
            ws.cell(row, 6).fill = MET if met == "达标" else MISS
    ws.column_dimensions["A"].width = 24
    for letter in "BCDEF":
        ws.column_dimensions[letter].width = 12
    _table(wb, "每日", ["日期", *HEAD], cur["by_day"], "day")
    _table(wb, "每小时", ["小时", *HEAD], cur["by_hour"], "hour")
    _table(wb, "班组", ["班组", *HEAD], cur["by_team"], "team")
    fs = wb.create_sheet("菜单漏斗")
    fs.append(["节点", "名称", "进入", "在此挂机"])
    for c in fs[1]:
        c.font = BOLD
    for f in cur["funnel"]:
        fs.append([f["node"], f["label"], f["entered"], f["left"]])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _table(wb: Workbook, name: str, head: list[str], rows: list[Mapping[str, Any]], key: str) -> None:
    ws = wb.create_sheet(name)
    ws.append(head)
    for c in ws[1]:
        c.font = BOLD
    for r in rows:
        ws.append([r[key], r["calls"], r["offered"], r["answered"], r["abandoned"], r["answer_rate"], r["avg_wait_s"]])
        ws.cell(ws.max_row, 6).number_format = "0.0%"
