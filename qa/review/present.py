"""Pure helpers that turn stored JSON into what the call page shows (no Flask, no I/O).

Highlights: each scorecard item's evidence names a phrase and a turn; the phrase is marked where
it occurs in that turn's text and linked to its item. Evidence phrases are sometimes normalised
(punctuation dropped), so a phrase not found literally marks the whole turn instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

FLAG_LABELS = {
    "forbidden_phrase": "服务禁用语",
    "angry_customer": "客户愤怒",
    "long_silence": "长时间静音",
    "auto_fail": "一票否决",
}
OUTCOME_LABELS = {
    "self-service": "自助解决",
    "transferred": "转人工",
    "callback": "预约回电",
    "abandoned": "放弃",
}
SENTIMENT_LABELS = {"negative": "负面", "neutral": "中性", "positive": "正面"}
SPEAKER_LABELS = {"customer": "客户", "agent": "客服", "unknown": "未知"}
METRIC_LABELS = {
    "talk_ratio": ("客服说话占比", "pct"),
    "silences": ("静音次数 (>3 秒)", "int"),
    "silence_total": ("静音总时长", "s"),
    "longest_silence": ("最长静音", "s"),
    "overtalk": ("抢话次数", "int"),
    "overtalk_total": ("抢话总时长", "s"),
    "interruptions": ("打断客户次数", "int"),
    "agent_rate": ("客服语速 (字/分)", "num"),
    "customer_rate": ("客户语速 (字/分)", "num"),
    "first_response": ("首次响应时间", "s"),
    "longest_monologue": ("最长独白", "s"),
}


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = max(0, round(seconds))
    return f"{s // 60:d}:{s % 60:02d}"


def fmt_metric(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "pct":
        return f"{float(value) * 100:.0f}%"
    if kind == "s":
        return f"{float(value):.1f} 秒"
    if kind == "int":
        return str(int(value))
    return f"{float(value):.0f}"


def local_time(dt: datetime | None, tz: str) -> str:
    """Stored UTC (SQLite hands back naive values) -> the hotline's zone, minutes precision."""
    if dt is None:
        return ""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def sentiment_band(score: float | None) -> str:
    if score is None:
        return ""
    if score < -0.2:
        return "negative"
    if score >= 0.2:
        return "positive"
    return "neutral"


@dataclass
class Segment:
    text: str
    item: str = ""  # scorecard item key the phrase belongs to


@dataclass
class Line:
    index: int
    speaker: str
    start: float | None
    end: float | None
    segments: list[Segment]
    sentiment: float | None = None
    items: list[str] = field(default_factory=list)  # items whose evidence points here

    @property
    def band(self) -> str:
        return sentiment_band(self.sentiment)


def transcript_lines(
    transcript: dict[str, Any] | None, score_items: dict[str, Any], details: dict[str, Any]
) -> list[Line]:
    """Utterances with evidence phrases marked and each turn's sentiment attached."""
    utts = list((transcript or {}).get("utterances") or [])
    per_turn: dict[int, list[tuple[str, str]]] = {}
    for key, item in (score_items or {}).items():
        for ev in item.get("evidence") or []:
            turn = ev.get("turn")
            if isinstance(turn, int) and 0 <= turn < len(utts):
                per_turn.setdefault(turn, []).append((str(ev.get("phrase") or ""), key))
    sent: dict[int, float] = {}
    for t in ((details or {}).get("sentiment") or {}).get("turns") or []:
        if isinstance(t, dict) and isinstance(t.get("turn"), int) and t.get("score") is not None:
            sent[t["turn"]] = float(t["score"])
    lines = []
    for i, u in enumerate(utts):
        text = str(u.get("text") or "")
        marks = per_turn.get(i, [])
        lines.append(
            Line(
                index=i,
                speaker=str(u.get("speaker") or "unknown"),
                start=_num(u.get("start")),
                end=_num(u.get("end")),
                segments=mark_phrases(text, marks),
                sentiment=sent.get(i),
                items=sorted({k for _, k in marks}),
            )
        )
    return lines


def _num(v: Any) -> float | None:
    try:
        return None if v is None else float(v)
    except (TypeError, ValueError):
        return None


def mark_phrases(text: str, marks: list[tuple[str, str]]) -> list[Segment]:
    """Split ``text`` into plain and marked segments; overlapping marks keep the first found."""
    spans: list[tuple[int, int, str]] = []
    for phrase, key in marks:
        if not phrase:
            continue
        at = text.find(phrase)
        if at < 0:
            continue
        end = at + len(phrase)
        if any(not (end <= a or at >= b) for a, b, _ in spans):
            continue
        spans.append((at, end, key))
    spans.sort()
    out: list[Segment] = []
    pos = 0
    for a, b, key in spans:
        if a > pos:
            out.append(Segment(text[pos:a]))
        out.append(Segment(text[a:b], key))
        pos = b
    if pos < len(text) or not out:
        out.append(Segment(text[pos:]))
    return out


def sentiment_series(details: dict[str, Any]) -> dict[str, list[dict[str, float]]]:
    """Per role, points {x: seconds (or turn index in chat), y: score} for the chart."""
    out: dict[str, list[dict[str, float]]] = {"customer": [], "agent": []}
    for t in ((details or {}).get("sentiment") or {}).get("turns") or []:
        if not isinstance(t, dict) or t.get("score") is None:
            continue
        role = t.get("role")
        if role not in out:
            continue
        x: Any = t.get("start") if t.get("start") is not None else t.get("turn", 0)
        out[role].append({"x": round(float(x), 2), "y": round(float(t["score"]), 3)})
    return out


def metrics_rows(details: dict[str, Any]) -> list[tuple[str, str]]:
    m = (details or {}).get("metrics") or {}
    return [(label, fmt_metric(m.get(k), kind)) for k, (label, kind) in METRIC_LABELS.items() if k in m]
