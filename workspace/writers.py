"""The one CSV writer (call list, sample list, a zip's summary) and the one zip writer
(recordings, transcripts, scorecards, summary) of the workspace's downloads. No Flask here.

The zip is written to a temporary file, not memory: a sample of a few hundred calls with audio
is tens of megabytes. Files that are missing on disk are listed in the summary, not fatal.
Every CSV cell goes through ``csv_cell``: agent ids, teams and menu paths come from callers and
integrators, and a cell like ``=HYPERLINK(...)`` would run as a formula in Excel.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from sqlalchemy.orm import Session

from store import search
from store.search import CallDetail, CallRow
from workspace.present import FLAG_LABELS, OUTCOME_LABELS, fmt_num, json_safe, local_time, shown

CSV_HEADER = [
    "通话ID",
    "CallSid",
    "开始时间",
    "客服",
    "班组",
    "结果",
    "菜单路径",
    "时长(秒)",
    "满意度评分",
    "自动总分",
    "一票否决",
    "客户情绪",
    "标记",
    "人工总分",
    "有录音",
]
ZIP_SUMMARY_HEADER = ["抽检原因", "录音文件", "转写文件", "评分文件"]
MAX_ZIP_CALLS = 500
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def csv_cell(value: object) -> str:
    """A cell as spreadsheet tools read it safely (OWASP CSV injection): text starting with
    = + - @, a tab or a CR gets a leading single quote; plain numbers such as -0.35 stay numbers."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def safe_row(cells: Iterable[object]) -> list[str]:
    return [csv_cell(c) for c in cells]


def csv_row(r: CallRow, tz: str, extra: Iterable[object] = ()) -> list[str]:
    survey = shown(r.survey_score)
    return safe_row(
        [
            str(r.id),
            r.call_sid,
            local_time(r.started_at, tz),
            r.agent_id,
            r.team,
            OUTCOME_LABELS.get(r.outcome, r.outcome),
            " > ".join(str(p) for p in r.menu_path),
            fmt_num(r.duration_s, 0, ""),
            "" if survey is None else f"{survey:g}",
            fmt_num(r.total, 1, ""),
            "是" if r.auto_fail else "",
            fmt_num(r.customer_sentiment, 2, ""),
            "、".join(FLAG_LABELS.get(f, str(f)) for f in r.flags),
            fmt_num(r.human_total, 1, ""),
            "是" if r.has_recording else "否",
            *extra,
        ]
    )


def csv_lines(
    rows: Iterable[tuple[CallRow, Sequence[object]]], tz: str, extra_header: Sequence[str] = ()
) -> Iterator[str]:
    """CSV text a row at a time (streamed to the browser), UTF-8 BOM so Excel reads Chinese.
    Each row is a call and the cells that follow its columns (under ``extra_header``)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([*CSV_HEADER, *extra_header])
    yield "\ufeff" + buf.getvalue()
    for r, extra in rows:
        buf.seek(0)
        buf.truncate()
        w.writerow(csv_row(r, tz, extra))
        yield buf.getvalue()


def build_zip(
    s: Session, call_ids: list[int], data_dir: Path, tz: str, notes: dict[int, str] | None = None
) -> tuple[IO[bytes], int]:
    """Zip of the calls; returns the rewound temp file and how many recordings went in."""
    notes = notes or {}
    out = tempfile.TemporaryFile()  # noqa: SIM115 - handed to send_file, which closes it
    n_audio = 0
    summary: list[tuple[CallRow, Sequence[object]]] = []
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for row in search.load_rows(s, call_ids[:MAX_ZIP_CALLS]):
            d = search.call_detail(s, row.id)
            assert d is not None
            stem = f"{row.id:06d}_{row.call_sid}"
            audio_name = ""
            if d.recording is not None:
                src = (data_dir / d.recording.audio_path).resolve()
                if src.is_file() and data_dir.resolve() in src.parents:
                    audio_name = f"recordings/{stem}{src.suffix or '.wav'}"
                    z.write(src, audio_name, compress_type=zipfile.ZIP_STORED)
                    n_audio += 1
            tr_name = ""
            if d.transcript is not None:
                tr_name = f"transcripts/{stem}.json"
                z.writestr(tr_name, json.dumps(json_safe(d.transcript.data), ensure_ascii=False, indent=1))
                z.writestr(f"transcripts/{stem}.txt", _plain(d.transcript.data))
            sc_name = ""
            if d.score is not None:
                sc_name = f"scorecards/{stem}.json"
                z.writestr(sc_name, json.dumps(json_safe(_scorecard(d)), ensure_ascii=False, indent=1, default=str))
            summary.append((row, [notes.get(row.id, ""), audio_name, tr_name, sc_name]))
        z.writestr("summary.csv", "".join(csv_lines(summary, tz, ZIP_SUMMARY_HEADER)))
    out.seek(0)
    return out, n_audio


def _plain(data: dict[str, Any]) -> str:
    lines = []
    for u in data.get("utterances") or []:
        if not isinstance(u, dict):
            continue
        who = {"customer": "客户", "agent": "客服"}.get(str(u.get("speaker")), "未知")
        start = shown(u.get("start"))
        at = "" if start is None else f"[{start:7.2f}] "
        lines.append(f"{at}{who}：{u.get('text', '')}")
    return "\n".join(lines) + "\n"


def _scorecard(d: CallDetail) -> dict[str, Any]:
    sc = d.score
    assert sc is not None
    return {
        "call_id": d.call.id,
        "scorecard": sc.scorecard,
        "scorecard_version": sc.scorecard_version,
        "total": sc.total,
        "auto_fail": sc.auto_fail,
        "customer_sentiment": sc.customer_sentiment,
        "customer_satisfaction": sc.customer_satisfaction,
        "flags": sc.flags,
        "items": sc.items,
        "human_reviews": [
            {"reviewer": name, "total": r.total, "auto_fail": r.auto_fail, "status": r.status, "items": r.items}
            for r, name in d.reviews
        ],
    }
