"""Required script phrases: greeting, recording notice, verification, empathy, hold etiquette, closing.

Each check returns a value in [0, 1] (None = not applicable to this dialogue) with the phrase,
turn and time that earned it. Phrase lists come from the scorecard (data, not code).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from qa.dialogue import Dialogue
from qa.phonetic import SoundHit
from qa.scorers import Evidence, Result
from qa.scorers.phrases import DialogueHits
from zhtext.match import Hit
from zhtext.placeholders import MARK_KIND


def _ev(d: Dialogue, i: int, start: int, end: int, note: str = "") -> Evidence:
    """Evidence for compact ``[start, end)`` of turn ``i`` (qa.score places it on the audio)."""
    t = d.turns[i]
    return Evidence(t.c.snippet(start, end), i, t.start, note, span=(start, end))


def _evh(d: Dialogue, i: int, h: Hit, note: str = "") -> Evidence:
    """Evidence of a phrase hit; one found by its sound (qa.phonetic) says which phrase it was heard as."""
    ev = _ev(d, i, h.start, h.end, note)
    return replace(ev, sounds_like=h.phrase) if isinstance(h, SoundHit) else ev


def greeting(d: Dialogue, hits: DialogueHits, first_turns: int = 2) -> Result:
    """A greeting in the agent's first turns (您好 / 很高兴为您服务 / 有什么可以帮您)."""
    agent = d.indexed("agent")
    if not agent:
        return Result(None, (), {"reason": "no agent turns"})
    for i, _ in agent[:first_turns]:
        h = hits.first(i, "greeting")
        if h:
            return Result(1.0, (_evh(d, i, h),))
    i0 = agent[0][0]
    return Result(0.0, (Evidence(d.turns[i0].c.norm[:30], i0, d.turns[i0].start, "no greeting in first agent turns"),))


def recording_notice(d: Dialogue, hits: DialogueHits, first_turns: int = 3) -> Result:
    """Calls only: the agent (or the IVR, metadata ``consent_played``) says the call is recorded."""
    if d.channel != "call":
        return Result(None, (), {"reason": "not a call"})
    if d.metadata.get("consent_played"):
        return Result(1.0, (Evidence("IVR consent notice", None, 0.0, "played by the IVR"),))
    if not d.indexed("agent"):
        return Result(None, (), {"reason": "no agent turns"})
    for i, _ in d.indexed("agent")[:first_turns]:
        h = hits.first(i, "recording_notice")
        if h:
            return Result(1.0, (_evh(d, i, h),))
    return Result(0.0, (Evidence("", None, None, "no recording notice"),))


def _topic_present(d: Dialogue, hits: DialogueHits) -> bool:
    return any(hits.first(i, "order_topic") for i, _ in d.indexed("customer"))


def verification(d: Dialogue, hits: DialogueHits, id_kinds: Sequence[str] = ("order", "phone", "name")) -> Result:
    """Identity/order verification: the agent asks for 订单号/手机号/姓名, or the customer supplied one.

    JD's placeholders (``[订单x]``, ``[电话x]``, ``[姓名x]``) count as the thing they mask. Not
    applicable when the customer never raises an order/account topic.
    """
    for i, t in enumerate(d.turns):
        if t.role == "agent":
            h = hits.first(i, "verification_ask")
            if h:
                return Result(1.0, (_evh(d, i, h, "agent asked"),))
        elif t.role == "customer":
            for k, ch in enumerate(t.c.text):
                kind = MARK_KIND.get(ch)
                if kind in id_kinds:
                    return Result(1.0, (_ev(d, i, k, k + 1, f"customer supplied {kind}"),))
    if not _topic_present(d, hits):
        return Result(None, (), {"reason": "no order/account topic"})
    return Result(0.0, (Evidence("", None, None, "no verification asked or supplied"),))


def empathy(d: Dialogue, hits: DialogueHits, complaint_turns: Sequence[int], window: int = 2) -> Result:
    """After each complaint, one of the next ``window`` agent turns apologises or empathises."""
    if not complaint_turns:
        return Result(None, (), {"reason": "no complaint"})
    answered = 0
    evidence: list[Evidence] = []
    missed: list[int] = []
    for c in complaint_turns:
        seen = 0
        found = False
        for i in range(c + 1, len(d.turns)):
            if d.turns[i].role != "agent":
                continue
            seen += 1
            h = hits.first(i, "empathy")
            if h:
                evidence.append(_evh(d, i, h, f"after complaint in turn {c}"))
                found = True
                break
            if seen >= window:
                break
        if found:
            answered += 1
        elif seen:
            missed.append(c)
    relevant = answered + len(missed)
    if relevant == 0:
        return Result(None, (), {"reason": "complaint not followed by an agent turn"})
    for c in missed[:3]:
        evidence.append(Evidence(d.turns[c].c.norm[:30], c, d.turns[c].start, "complaint without empathy"))
    return Result(answered / relevant, tuple(evidence), {"complaints": relevant, "answered": answered})


def hold(d: Dialogue, hits: DialogueHits) -> Result:
    """Hold etiquette: 请稍等 … then 感谢您的耐心等待 / 让您久等了 on return (0.5 without the thanks)."""
    holds = [(i, h) for i, _ in d.indexed("agent") if (h := hits.first(i, "hold"))]
    if not holds:
        return Result(None, (), {"reason": "no hold"})
    i, h = holds[0]
    evidence = [_evh(d, i, h, "hold")]
    for j in range(i, len(d.turns)):
        if d.turns[j].role != "agent":
            continue
        r = hits.first(j, "hold_return")
        if r and (j > i or r.start > h.start):
            evidence.append(_evh(d, j, r, "thanked for waiting"))
            return Result(1.0, tuple(evidence))
    return Result(0.5, (*evidence, Evidence("", None, None, "no thanks for waiting")))


def closing(d: Dialogue, hits: DialogueHits, last_turns: int = 3) -> Result:
    """Closing in the agent's last turns: the check (还有其他可以帮您的吗) and the thanks/farewell."""
    agent = d.indexed("agent")
    if not agent:
        return Result(None, (), {"reason": "no agent turns"})
    evidence: list[Evidence] = []
    got = {"closing_check": False, "closing_thanks": False}
    for i, _ in agent[-last_turns:]:
        for key in got:
            h = hits.first(i, key)
            if h and not got[key]:
                got[key] = True
                evidence.append(_evh(d, i, h, key))
    value = (int(got["closing_check"]) + int(got["closing_thanks"])) / 2
    if value == 0:
        i = agent[-1][0]
        evidence.append(Evidence(d.turns[i].c.norm[:30], i, d.turns[i].start, "no closing phrase"))
    return Result(value, tuple(evidence), dict(got))
