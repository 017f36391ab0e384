"""Live QA: each new turn of a call in, the alerts it raises out (pure: no clock, no I/O).

The same scorers and scorecard as the post-call score (``qa``), applied as turns arrive:
customer anger and sentiment, complaint/escalation words, forbidden phrases, long silences and
overtalk, and the script items still missing at this point of the call (greeting in the agent's
first turns, recording notice, verification before the agent goes into account details, closing
at the end). Each alert is raised once per cause, with its time (stream seconds) and evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from qa.dialogue import Dialogue, Role, Turn
from qa.scorecard import Scorecard
from qa.scorers import Result
from qa.scorers.forbidden import forbidden_hits
from qa.scorers.phrases import DialogueHits
from qa.scorers.script import closing, greeting, recording_notice, verification
from qa.scorers.sentiment import ANGER_MARKERS, NgramModel, text_sentiment
from zhtext.match import PhraseMatcher

# complaint / escalation: the customer threatens to take it further (a subset of qa's anger cues)
ESCALATION = (
    "投诉",
    "差评",
    "12315",
    "315",
    "曝光",
    "消协",
    "消费者协会",
    "工商",
    "媒体",
    "起诉",
    "律师",
    "找你们领导",
    "找领导",
)
ANGRY = tuple(m for m in ANGER_MARKERS if m not in ESCALATION)
ANGRY_SCORE = -0.6  # a customer turn this negative is an anger alert even without a marker
SCRIPT_ITEMS = ("greeting", "recording_notice", "verification", "closing")
ITEM_LABELS = {
    "greeting": "开场问候",
    "recording_notice": "录音告知",
    "verification": "身份/订单核实",
    "closing": "结束语",
}


@dataclass(frozen=True)
class Alert:
    """Something a supervisor should see now: ``kind`` anger | escalation | forbidden | silence |
    overtalk | missing; ``time``: stream seconds; ``evidence``: the words or the measure."""

    kind: str
    time: float
    evidence: str
    speaker: str = ""
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "alert",
            "kind": self.kind,
            "time": round(self.time, 2),
            "evidence": self.evidence,
        }
        if self.speaker:
            out["speaker"] = self.speaker
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass
class LiveQA:
    """One live call's QA state. ``add`` each final turn (any order across speakers), ``finish`` at
    hang-up; ``missing()`` is what the script still needs."""

    card: Scorecard
    model: NgramModel | None = None
    silence_s: float = 5.0  # a gap in the conversation this long is an alert
    overtalk_s: float = 1.5  # both talking this long is an alert
    consent_played: bool = False  # the IVR played the recording notice before the transfer
    order_topic: bool = False  # the caller chose an order/account request in the menu: verification is due
    turns: list[Turn] = field(default_factory=list)
    sentiment: list[tuple[float, float]] = field(default_factory=list)  # customer (time, score)
    _raised: set[str] = field(default_factory=set)
    _escalation: PhraseMatcher = field(
        default_factory=lambda: PhraseMatcher({"escalation": ESCALATION, "anger": ANGRY})
    )

    def add(self, role: Role, text: str, start: float, end: float) -> list[Alert]:
        """A final turn of ``role``; returns the alerts it raises."""
        turn = Turn(role, text, start, end)
        if not turn.c.text:
            return []
        prev = [t for t in self.turns if t.start is not None and (t.start <= start)]
        self.turns.append(turn)
        self.turns.sort(key=lambda t: t.start or 0.0)
        out: list[Alert] = []
        out += self._timing(turn, prev)
        if role == "customer":
            out += self._customer(turn)
        d = self.dialogue()
        hits = self.card.phrases.scan(d)
        i = self.turns.index(turn)
        if role == "agent":
            for k, category, ev in forbidden_hits(d, hits):
                if k == i:
                    out += self._once(
                        f"forbidden:{start}:{ev.phrase}",
                        Alert("forbidden", _at(turn, ev.span), ev.phrase, role, category),
                    )
        out += self._script(d, hits, at=end)
        return out

    def quiet(self, now: float) -> list[Alert]:
        """Nobody has spoken since the last turn and it is ``now``: the silence alert as soon as the
        gap is long enough (the next turn would raise it only once the silence is over)."""
        if not self.turns:
            return []
        last_end = max(t.end or 0.0 for t in self.turns)
        gap = now - last_end
        if gap < self.silence_s:
            return []
        return self._once(f"silence:{last_end:.2f}", Alert("silence", last_end, f"静默 {gap:.1f} 秒", "", f"{gap:.1f}"))

    def finish(self, at: float) -> list[Alert]:
        """The call ended: the closing, and any item that never came."""
        d = self.dialogue()
        if not d.indexed("agent"):
            return []
        hits = self.card.phrases.scan(d)
        missing = [k for k in self.missing(d, hits, ended=True) if f"missing:{k}" not in self._raised]
        out: list[Alert] = []
        for k in missing:
            out += self._once(f"missing:{k}", Alert("missing", at, ITEM_LABELS[k], "agent", k))
        return out

    def dialogue(self) -> Dialogue:
        return Dialogue("live", tuple(self.turns), {"channel": "call", "consent_played": self.consent_played})

    def missing(self, d: Dialogue | None = None, hits: DialogueHits | None = None, *, ended: bool = False) -> list[str]:
        """Script items not (yet) done; ``ended``: closing is judged too (otherwise it is still to come)."""
        d = d or self.dialogue()
        hits = hits or self.card.phrases.scan(d)
        out = []
        checks: dict[str, Callable[[], Result]] = {
            "greeting": lambda: greeting(d, hits),
            "recording_notice": lambda: recording_notice(d, hits),
            "verification": lambda: verification(d, hits),
            "closing": lambda: closing(d, hits),
        }
        for item in SCRIPT_ITEMS:
            r = checks[item]()
            no_topic = r.value is None and not self.order_topic and (ended or not d.indexed("customer"))
            if item == "verification" and no_topic:
                continue  # no order/account topic: nothing to verify
            if item == "closing" and not ended:
                out.append(item)  # always still to come while the call goes on
                continue
            if r.value is None or r.value < 1.0:
                out.append(item)
        return out

    # -- the checks ---------------------------------------------------
    def _timing(self, turn: Turn, prev: Sequence[Turn]) -> list[Alert]:
        out: list[Alert] = []
        start, end = turn.start or 0.0, turn.end or 0.0
        if prev:
            last_end = max(t.end or 0.0 for t in prev)
            gap = start - last_end
            if gap >= self.silence_s:
                out += self._once(
                    f"silence:{last_end:.2f}", Alert("silence", last_end, f"静默 {gap:.1f} 秒", "", f"{gap:.1f}")
                )
        other = [t for t in self.turns if t.role != turn.role and t is not turn]
        for t in other:
            overlap = min(end, t.end or 0.0) - max(start, t.start or 0.0)
            if overlap >= self.overtalk_s:
                at = max(start, t.start or 0.0)
                out += self._once(
                    f"overtalk:{at:.2f}", Alert("overtalk", at, f"抢话 {overlap:.1f} 秒", turn.role, f"{overlap:.1f}")
                )
        return out

    def _customer(self, turn: Turn) -> list[Alert]:
        s = text_sentiment(turn.c, self.model)
        t0 = turn.start or 0.0
        self.sentiment.append((t0, round(s.score, 3)))
        out: list[Alert] = []
        hits = self._escalation.find(turn.c.text)
        for h in hits:
            kind = "escalation" if h.key == "escalation" else "anger"
            out += self._once(
                f"{kind}:{t0}", Alert(kind, _at(turn, (h.start, h.end)), turn.c.snippet(h.start, h.end), "customer")
            )
        if not hits and s.score <= ANGRY_SCORE:
            out += self._once(
                f"anger:{t0}", Alert("anger", turn.end or t0, turn.c.norm[:30], "customer", f"{s.score:.2f}")
            )
        return out

    def _script(self, d: Dialogue, hits: DialogueHits, at: float) -> list[Alert]:
        """Items whose moment has passed: greeting after the agent's 2nd turn, the recording notice
        after the 3rd, verification once the agent has answered 2 turns into an order topic."""
        agent_turns = len(d.indexed("agent"))
        out: list[Alert] = []
        if agent_turns >= 2 and (greeting(d, hits).value or 0.0) < 1.0:
            out += self._once("missing:greeting", Alert("missing", at, ITEM_LABELS["greeting"], "agent", "greeting"))
        if agent_turns >= 3 and (recording_notice(d, hits).value or 0.0) < 1.0:
            out += self._once(
                "missing:recording_notice",
                Alert("missing", at, ITEM_LABELS["recording_notice"], "agent", "recording_notice"),
            )
        v = verification(d, hits)
        if v.value == 0.0 or (v.value is None and self.order_topic):
            said = next((i for i, _ in d.indexed("customer") if hits.first(i, "order_topic")), None)
            topic = -1 if self.order_topic else said  # chosen in the menu: due from the agent's first words
            after = [i for i, _ in d.indexed("agent") if topic is not None and i > topic]
            if len(after) >= 2:
                out += self._once(
                    "missing:verification", Alert("missing", at, ITEM_LABELS["verification"], "agent", "verification")
                )
        return out

    def _once(self, key: str, alert: Alert) -> list[Alert]:
        if key in self._raised:
            return []
        self._raised.add(key)
        return [alert]


def _at(turn: Turn, span: tuple[int, int] | None) -> float:
    """Where in the turn a compact span ends, by its share of the text (no word times needed)."""
    start, end = turn.start or 0.0, turn.end or 0.0
    if not span or not turn.c.text:
        return end
    return round(start + (end - start) * min(1.0, span[1] / len(turn.c.text)), 2)
