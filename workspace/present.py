"""Pure helpers that turn stored JSON into what the call page shows (no Flask, no I/O).

Highlights: each scorecard item's evidence names a phrase and a turn; the phrase is marked where
it occurs in that turn's text and linked to its item. Evidence phrases are sometimes normalised
(punctuation dropped), so a phrase not found literally marks the whole turn instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from workspace.rules import finite_or_none

FLAG_LABELS = {
    "forbidden_phrase": "服务禁用语",
    "angry_customer": "客户愤怒",
    "long_silence": "长时间静音",
    "auto_fail": "一票否决",
    "needs_review": "待人工确认",  # qa.uncertain: an item was decided on words the recognizer was unsure of
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


# Scorer notes (English, in the stored evidence) -> what the reviewer reads. Notes saying that
# something expected was *not* found mark their turn as a miss, not as a matched phrase.
NOTE_LABELS = {
    "no greeting in first agent turns": "开头未见规范问候语",
    "no recording notice": "未告知录音",
    "no verification asked or supplied": "未核实身份/订单",
    "complaint without empathy": "客户抱怨后未致歉/安抚",
    "no thanks for waiting": "未感谢客户等待",
    "no closing phrase": "结尾未见规范结束语",
    "played by the IVR": "IVR 已播放",
    "unresolved": "问题未解决",
    "thanks at the end": "客户结尾致谢",
    "resolution": "问题已解决",
    "transfer/deflection": "推诿/转接",
    "first agent words": "客服首句",
    "longest agent monologue": "客服最长独白",
    "anger": "客户愤怒",
    "polite": "礼貌用语",
    "agent speaking rate": "客服语速",
    "talk ratio": "说话占比",
}
_PHRASE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(\d+) chars/min$"), "{0} 字/分"),
    (re.compile(r"^agent (\d+)% of talk$"), "客服说话占 {0}%"),
    (re.compile(r"^([\d.]+)s silence$"), "静音 {0} 秒"),
    (re.compile(r"^([\d.]+)s overlap$"), "抢话 {0} 秒"),
    (re.compile(r"^([\d.]+)s$"), "{0} 秒"),
    (re.compile(r"^IVR consent notice$"), "IVR 录音告知"),
)


REVIEW_REASONS = {  # qa.uncertain reasons -> why the reviewer should listen
    "unsure_evidence": "识别把握低",
    "sound_match": "按读音匹配",
}
MAX_REVIEW_MARKS = 5


@dataclass(frozen=True)
class ReviewMark:
    """One 待人工确认 mark of an item: the stretch of audio to listen to, and why."""

    reason: str  # Chinese label
    time: float | None
    end: float | None
    phrase: str
    conf: float | None


def review_marks(item: Any) -> list[ReviewMark]:
    """The item's 待人工确认 marks (``item["review"]["marks"]``, qa.uncertain), each with its audio
    time; stored JSON is not trusted: broken times show as missing, unknown reasons as 待人工确认."""
    review = item.get("review") if isinstance(item, dict) else None
    marks = review.get("marks") if isinstance(review, dict) else None
    out: list[ReviewMark] = []
    for m in marks if isinstance(marks, list) else []:
        if not isinstance(m, dict):
            continue
        t, e, conf = shown(m.get("time")), shown(m.get("end")), shown(m.get("conf"))
        t = t if t is not None and t >= 0 else None
        e = e if e is not None and t is not None and e >= t else None
        raw = m.get("phrase")
        phrase = raw if isinstance(raw, str) else ""
        reason = REVIEW_REASONS.get(str(m.get("reason")), "待人工确认")
        conf = conf if conf is not None and 0.0 <= conf <= 1.0 else None
        out.append(ReviewMark(reason, t, e, phrase[:40], conf))
    return out[:MAX_REVIEW_MARKS]


def is_miss(note: str | None) -> bool:
    """Evidence of something missing (its phrase is the turn where it was expected)."""
    n = (note or "").strip().lower()
    return n.startswith("no ") or n == "complaint without empathy"


def note_label(note: str | None) -> str:
    n = (note or "").strip()
    if n in NOTE_LABELS:
        return NOTE_LABELS[n]
    m = re.match(r"^negative (-?[\d.]+)$", n)
    if m:
        return f"负面情绪 {m.group(1)}"
    m = re.match(r"^(?:with customer turn|agent cut into customer turn) (\d+)$", n)
    if m:
        return f"与客户第 {int(m.group(1)) + 1} 句重叠"
    m = re.match(r"^agent disclosed (.+)$", n)
    if m:
        return f"客服泄露{m.group(1)}"
    return n


def phrase_label(phrase: str | None) -> str:
    """Metric evidence is stored as short English figures; show them in Chinese."""
    p = (phrase or "").strip()
    for pattern, fmt in _PHRASE_PATTERNS:
        m = pattern.match(p)
        if m:
            return fmt.format(*m.groups())
    return p


MAX_SHOWN = 1e9  # larger "numbers" are broken data, shown as missing rather than as 300 digits


def shown(value: Any) -> float | None:
    """A stored value fit to print: a finite number of sane size, else None (then "—" is shown).
    Old rows may hold NaN, infinities or text where a number belongs; pages must not break on them."""
    v = finite_or_none(value)
    return v if v is not None and abs(v) < MAX_SHOWN else None


def fmt_num(value: Any, digits: int = 1, missing: str = "—", sign: bool = False) -> str:
    """``'%.1f' % value`` (``'%+.2f'`` with ``sign``) that never raises: missing or broken
    numbers print ``missing``."""
    v = shown(value)
    if v is None:
        return missing
    return f"{v:+.{digits}f}" if sign else f"{v:.{digits}f}"


def fmt_g(value: Any) -> str:
    """``'%g' % value`` for form fields; empty for a missing or broken number."""
    v = shown(value)
    return "" if v is None else f"{v:g}"


def fmt_time(seconds: Any) -> str:
    v = shown(seconds)
    if v is None:
        return "—"
    s = max(0, round(v))
    return f"{s // 60:d}:{s % 60:02d}"


def fmt_metric(value: Any, kind: str) -> str:
    v = shown(value)
    if v is None:
        return "—"
    if kind == "pct":
        return f"{v * 100:.0f}%"
    if kind == "s":
        return f"{v:.1f} 秒"
    if kind == "int":
        return str(int(v))
    return f"{v:.0f}"


def clean_items(items: dict[str, Any] | None) -> dict[str, Any]:
    """Scorecard items with their numbers made safe to compare and print: a broken score shows as
    not applicable, a broken max as 0 (nothing to override)."""
    out: dict[str, Any] = {}
    for key, item in (items or {}).items():
        if isinstance(item, dict):
            fixed = {"score": shown(item.get("score")), "max": shown(item.get("max")) or 0.0}
            out[key] = {**item, **fixed, "value": shown(item.get("value"))}
    return out


def json_safe(obj: Any) -> Any:
    """Data for ``tojson`` with every non-finite float as null: ``NaN``/``Infinity`` are not JSON,
    and one of them would stop the page's charts from parsing."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def local_time(dt: datetime | None, tz: str) -> str:
    """Stored UTC (SQLite hands back naive values) -> the hotline's zone, minutes precision."""
    if dt is None:
        return ""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def sentiment_band(score: Any) -> str:
    score = shown(score)
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
    miss: bool = False  # the item's phrase was expected here and not found
    note: str = ""  # why it is marked, for the tooltip


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
    per_turn: dict[int, list[tuple[str, str, str]]] = {}
    for key, item in (score_items or {}).items():
        for ev in item.get("evidence") or []:
            turn = ev.get("turn")
            if isinstance(turn, int) and 0 <= turn < len(utts):
                per_turn.setdefault(turn, []).append((str(ev.get("phrase") or ""), key, str(ev.get("note") or "")))
    sent: dict[int, float] = {}
    for t in ((details or {}).get("sentiment") or {}).get("turns") or []:
        if isinstance(t, dict) and isinstance(t.get("turn"), int) and (v := shown(t.get("score"))) is not None:
            sent[t["turn"]] = v
    lines = []
    for i, u in enumerate(utts):
        if not isinstance(u, dict):
            continue
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
                items=sorted({k for _, k, _ in marks}),
            )
        )
    return lines


def _num(v: Any) -> float | None:
    return shown(v)


def mark_phrases(text: str, marks: Sequence[tuple[str, ...]]) -> list[Segment]:
    """Split ``text`` into plain and marked segments; overlapping marks keep the first found.

    A mark is (phrase, item key[, scorer note]); a note saying something was missing makes the
    segment a miss (shown differently from a matched phrase)."""
    spans: list[tuple[int, int, str, str]] = []
    for mark in marks:
        phrase, key = mark[0], mark[1]
        note = mark[2] if len(mark) > 2 else ""
        if not phrase:
            continue
        at = text.find(phrase)
        if at < 0:
            continue
        end = at + len(phrase)
        if any(not (end <= a or at >= b) for a, b, _, _ in spans):
            continue
        spans.append((at, end, key, note))
    spans.sort()
    out: list[Segment] = []
    pos = 0
    for a, b, key, note in spans:
        if a > pos:
            out.append(Segment(text[pos:a]))
        out.append(Segment(text[a:b], key, is_miss(note), note_label(note)))
        pos = b
    if pos < len(text) or not out:
        out.append(Segment(text[pos:]))
    return out


def sentiment_series(details: dict[str, Any]) -> dict[str, list[dict[str, float]]]:
    """Per role, points {x: seconds (or turn index in chat), y: score} for the chart."""
    out: dict[str, list[dict[str, float]]] = {"customer": [], "agent": []}
    for t in ((details or {}).get("sentiment") or {}).get("turns") or []:
        if not isinstance(t, dict):
            continue
        role = t.get("role")
        x = shown(t.get("start") if t.get("start") is not None else t.get("turn", 0))
        y = shown(t.get("score"))
        if role not in out or x is None or y is None:
            continue
        out[role].append({"x": round(x, 2), "y": round(y, 3)})
    return out


def metrics_rows(details: dict[str, Any]) -> list[tuple[str, str]]:
    m = (details or {}).get("metrics") or {}
    return [(label, fmt_metric(m.get(k), kind)) for k, (label, kind) in METRIC_LABELS.items() if k in m]
