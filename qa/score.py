"""``score_dialogue(dialogue, scorecard) -> ScoreResult``: every scorer once, weighted by the scorecard.

Pure: values in, values out. ``ScoreResult.to_dict()`` is exactly what the pipeline stores in
``store.models_pipeline.ScoreRow`` (``id``, ``scorecard``, ``scorecard_version``, ``total``,
``auto_fail``, ``items``, ``customer_satisfaction``, ``customer_sentiment``, ``flags``, ``details``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from qa.confidence import REVIEW_LABEL, place
from qa.dialogue import Dialogue
from qa.scorecard import Item, Scorecard, load_scorecard
from qa.scorers import Evidence, Result, script
from qa.scorers import forbidden as forbidden_mod
from qa.scorers.metrics import Metrics, metrics
from qa.scorers.phrases import DialogueHits
from qa.scorers.politeness import politeness
from qa.scorers.satisfaction import Satisfaction, satisfaction
from qa.scorers.sentiment import DialogueSentiment, dialogue_sentiment
from qa.turns import locate
from qa.uncertain import ReviewMark, relocate, review_marks

MAX_EVIDENCE = 8


@dataclass(frozen=True)
class Context:
    """What the checks read: the dialogue and each scorer's output, computed once."""

    dialogue: Dialogue
    hits: DialogueHits
    sentiment: DialogueSentiment
    satisfaction: Satisfaction
    metrics: Metrics


def _clip(x: float) -> float:
    return max(0.0, min(1.0, x))


def _first_response(c: Context, item: Item) -> Result:
    m = c.metrics
    if not m.timed or m.first_response is None:
        return Result(None, (), {"reason": "no times"})
    good = float(item.params.get("good_s", 5.0))
    bad = float(item.params.get("bad_s", 20.0))
    v = _clip((bad - m.first_response) / (bad - good)) if bad > good else float(m.first_response <= good)
    return Result(v, tuple(m.evidence.get("first_response", ())), {"seconds": round(m.first_response, 2)})


def _silence(c: Context, item: Item) -> Result:
    m = c.metrics
    if not m.timed:
        return Result(None, (), {"reason": "no times"})
    per = float(item.params.get("per_silence", 0.25))
    return Result(_clip(1.0 - per * m.silences), tuple(m.evidence.get("silence", ())), {"silences": m.silences})


def _interruptions(c: Context, item: Item) -> Result:
    m = c.metrics
    if not m.timed:
        return Result(None, (), {"reason": "no times"})
    if not c.dialogue.indexed("agent") or not c.dialogue.indexed("customer"):
        return Result(None, (), {"reason": "needs agent and customer turns"})
    per = float(item.params.get("per_interruption", 0.34))
    ev = tuple(m.evidence.get("interruption", ()))
    return Result(_clip(1.0 - per * m.interruptions), ev, {"interruptions": m.interruptions})


def _speaking_rate(c: Context, item: Item) -> Result:
    m = c.metrics
    if not m.timed or m.agent_rate is None:
        return Result(None, (), {"reason": "no times"})
    lo = float(item.params.get("min_cpm", 120.0))
    hi = float(item.params.get("max_cpm", 320.0))
    r = m.agent_rate
    v = 1.0 if lo <= r <= hi else _clip(1.0 - (lo - r) / lo if r < lo else 1.0 - (r - hi) / hi)
    return Result(v, (Evidence(f"{r:.0f} chars/min", None, None, "agent speaking rate"),), {"cpm": round(r, 1)})


def _talk_ratio(c: Context, item: Item) -> Result:
    m = c.metrics
    if not m.timed or m.talk_ratio is None:
        return Result(None, (), {"reason": "no times"})
    lo = float(item.params.get("min", 0.3))
    hi = float(item.params.get("max", 0.7))
    r = m.talk_ratio
    v = 1.0 if lo <= r <= hi else _clip(1.0 - 2.0 * (lo - r if r < lo else r - hi))
    return Result(v, (Evidence(f"agent {r:.0%} of talk", None, None, "talk ratio"),), {"ratio": round(r, 3)})


def _satisfaction(c: Context, item: Item) -> Result:
    if not c.dialogue.indexed("customer"):
        return Result(None, (), {"reason": "no customer turns"})
    s = c.satisfaction
    return Result((s.value + 1.0) / 2.0, s.evidence, {"predicted": round(s.value, 3)})


def _resolution(c: Context, item: Item) -> Result:
    """Resolved in one contact: resolution statement, no unresolved/repeated asks at the end."""
    if not c.dialogue.indexed("customer"):
        return Result(None, (), {"reason": "no customer turns"})
    f = c.satisfaction.features
    v = 0.6 + 0.4 * f["resolution"] + 0.2 * f["thanks_last"] - 0.4 * f["unresolved_last"] - 0.3 * f["repeats"]
    v -= 0.2 * f["transfer"]
    ev = tuple(
        e
        for e in c.satisfaction.evidence
        if e.note in ("resolution", "unresolved", "thanks at the end", "transfer/deflection")
    )
    return Result(_clip(v), ev)


CHECK_FUNCS: dict[str, Callable[[Context, Item], Result]] = {
    "script.greeting": lambda c, i: script.greeting(c.dialogue, c.hits, int(i.params.get("first_turns", 2))),
    "script.recording_notice": lambda c, i: script.recording_notice(
        c.dialogue, c.hits, int(i.params.get("first_turns", 3))
    ),
    "script.verification": lambda c, i: script.verification(
        c.dialogue, c.hits, tuple(i.params.get("id_kinds", ("order", "phone", "name")))
    ),
    "script.empathy": lambda c, i: script.empathy(
        c.dialogue, c.hits, c.sentiment.complaint_turns, int(i.params.get("window", 2))
    ),
    "script.hold": lambda c, i: script.hold(c.dialogue, c.hits),
    "script.closing": lambda c, i: script.closing(c.dialogue, c.hits, int(i.params.get("last_turns", 3))),
    "forbidden.phrases": lambda c, i: forbidden_mod.forbidden(c.dialogue, c.hits, float(i.params.get("per_hit", 0.5))),
    "forbidden.abuse": lambda c, i: forbidden_mod.abuse(c.dialogue, c.hits),
    "forbidden.pii_leak": lambda c, i: forbidden_mod.pii_leak(
        c.dialogue, tuple(i.params.get("kinds", ("id_card", "bank_card")))
    ),
    "politeness": lambda c, i: politeness(c.dialogue, c.hits),
    "satisfaction": _satisfaction,
    "resolution": _resolution,
    "metrics.first_response": _first_response,
    "metrics.silence": _silence,
    "metrics.interruptions": _interruptions,
    "metrics.speaking_rate": _speaking_rate,
    "metrics.talk_ratio": _talk_ratio,
}


@dataclass(frozen=True)
class ItemScore:
    id: str
    name: str
    dimension: str
    value: float | None  # [0, 1]; None = not applicable
    max: float  # points of the 100 this item carries here
    evidence: tuple[Evidence, ...]
    detail: dict[str, Any]
    review: tuple[ReviewMark, ...] = ()  # 待人工确认: where what decided the item was heard unsurely

    @property
    def score(self) -> float | None:
        return None if self.value is None else self.value * self.max

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dimension": self.dimension,
            "score": None if self.score is None else round(self.score, 2),
            "max": round(self.max, 2),
            "value": None if self.value is None else round(self.value, 3),
            "na": self.value is None,
            "evidence": [e.to_dict() for e in self.evidence[:MAX_EVIDENCE]],
            **({"detail": self.detail} if self.detail else {}),
            **({"review": {"label": REVIEW_LABEL, "marks": [m.to_dict() for m in self.review]}} if self.review else {}),
        }


@dataclass(frozen=True)
class ScoreResult:
    id: str
    scorecard: str
    scorecard_version: str
    total: float
    auto_fail: bool
    items: tuple[ItemScore, ...]
    customer_satisfaction: float
    customer_sentiment: float
    flags: tuple[str, ...]
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scorecard": self.scorecard,
            "scorecard_version": self.scorecard_version,
            "total": round(self.total, 2),
            "auto_fail": self.auto_fail,
            "items": {i.id: i.to_dict() for i in self.items},
            "customer_satisfaction": round(self.customer_satisfaction, 3),
            "customer_sentiment": round(self.customer_sentiment, 3),
            "flags": list(self.flags),
            "details": self.details,
        }


def _weigh(card: Scorecard, values: dict[str, Result]) -> tuple[float, dict[str, float], dict[str, float | None]]:
    """Total 0–100, each item's max points, each dimension's score in [0, 1]."""
    dim_items: dict[str, list[tuple[Item, float]]] = {d: [] for d in card.dimensions}
    for item in card.scored_items:
        v = values[item.id].value
        if v is None:
            if item.na == "skip":
                continue
            v = 1.0 if item.na == "full" else 0.0
        dim_items[item.dimension].append((item, v))
    dim_scores: dict[str, float | None] = {}
    active = {d: w for d, w in card.dimensions.items() if dim_items[d]}
    dim_total = sum(active.values())
    maxes: dict[str, float] = {i.id: 0.0 for i in card.scored_items}
    total = 0.0
    for d, entries in dim_items.items():
        if not entries:
            dim_scores[d] = None
            continue
        wsum = sum(i.weight for i, _ in entries)
        dim_scores[d] = sum(i.weight * v for i, v in entries) / wsum
        for i, v in entries:
            maxes[i.id] = 100.0 * (active[d] / dim_total) * (i.weight / wsum)
            total += maxes[i.id] * v
    return total, maxes, dim_scores


def _placed(r: Result, d: Dialogue) -> Result:
    """A result whose phrase evidence carries its audio time and word probability (qa.confidence)."""
    if not r.evidence:
        return r
    placed = tuple(
        place(e, d.turns[e.turn]) if e.turn is not None and 0 <= e.turn < len(d.turns) else e for e in r.evidence
    )
    return replace(r, evidence=placed)


def _utterance_turns(rows: list[dict[str, Any]], d: Dialogue) -> list[dict[str, Any]]:
    """Per-turn rows (sentiment) repeated for each transcript utterance of the speaker turn."""
    out: list[dict[str, Any]] = []
    for row in rows:
        k = row.get("turn")
        parts = d.turns[k].parts if isinstance(k, int) and 0 <= k < len(d.turns) else ()
        out.extend([{**row, "turn": p.index, "start": p.start} for p in parts] if parts else [row])
    return out


def _utterance_of(k: int, d: Dialogue) -> int:
    """The first transcript utterance of speaker turn ``k`` (what the call page numbers)."""
    parts = d.turns[k].parts if 0 <= k < len(d.turns) else ()
    return parts[0].index if parts else k


def score_dialogue(dialogue: Dialogue, scorecard: Scorecard | None = None) -> ScoreResult:
    """Score one dialogue with a scorecard (default: qa/scorecards/default.yaml)."""
    card = scorecard or load_scorecard()
    hits = card.phrases.scan(dialogue)
    sent = dialogue_sentiment(dialogue)
    sat = satisfaction(dialogue, sent)
    met = metrics(
        dialogue, silence_s=card.thresholds.get("silence_s", 3.0), overtalk_s=card.thresholds.get("overtalk_s", 1.0)
    )
    ctx = Context(dialogue, hits, sent, sat, met)
    values = {item.id: _placed(CHECK_FUNCS[item.check](ctx, item), dialogue) for item in card.items}
    total, maxes, dims = _weigh(card, values)
    marks = {item.id: review_marks(item.check, values[item.id]) for item in card.items}

    def here(ev: Evidence) -> Evidence:
        return locate(ev, dialogue)

    failed = [i for i in card.auto_fail_items if values[i.id].value == 0.0]
    auto_fail = bool(failed)
    if auto_fail:
        total = 0.0
    items: list[ItemScore] = []
    for item in card.items:
        r = values[item.id]
        mx = maxes.get(item.id, 0.0)
        ev = tuple(here(e) for e in r.evidence)
        review = tuple(relocate(m, here) for m in marks[item.id])
        dim = "auto_fail" if item.auto_fail else item.dimension
        items.append(ItemScore(item.id, item.name, dim, r.value, 0.0 if item.auto_fail else mx, ev, r.detail, review))

    flags: list[str] = []
    if forbidden_mod.forbidden_hits(dialogue, hits):
        flags.append("forbidden_phrase")
    if sent.angry:
        flags.append("angry_customer")
    if met.timed and met.longest_silence > card.thresholds.get("long_silence_s", 10.0):
        flags.append("long_silence")
    if auto_fail:
        flags.append("auto_fail")
    if any(marks.values()):
        flags.append("needs_review")

    details = {
        "channel": dialogue.channel,
        "turns": len(dialogue.turns),
        "dimensions": {d: None if v is None else round(v * 100, 1) for d, v in dims.items()},
        "auto_fail_items": [i.id for i in failed],
        "review_items": [i.id for i in card.items if marks[i.id]],
        "applicable_items": sum(1 for i in card.scored_items if values[i.id].value is not None),
        "metrics": met.to_dict(),
        "sentiment": {
            "customer": round(sent.customer, 3),
            "agent": round(sent.agent, 3),
            "quarters": sent.quarters,
            "trend": round(sent.trend, 3),
            "angry": sent.angry,
            "complaint_turns": [_utterance_of(k, dialogue) for k in sent.complaint_turns],
            "evidence": [here(e).to_dict() for e in sent.evidence[:MAX_EVIDENCE]],
            "turns": _utterance_turns([t.to_dict() for t in sent.turns], dialogue),
        },
        "satisfaction": replace(sat, evidence=tuple(here(e) for e in sat.evidence)).to_dict(),
    }
    return ScoreResult(
        dialogue.id,
        card.name,
        card.version,
        total,
        auto_fail,
        tuple(items),
        sat.value,
        sent.customer,
        tuple(flags),
        details,
    )
