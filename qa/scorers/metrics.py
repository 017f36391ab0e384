"""Conversation metrics from turn times: talk ratio, silences, overtalk, interruptions, pace.

All N/A (None) for chat, where turns have no times. Times are seconds from the recording start.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

from qa.dialogue import Dialogue
from qa.scorers import Evidence


@dataclass(frozen=True)
class Metrics:
    timed: bool
    talk_ratio: float | None = None  # agent speech / (agent + customer speech)
    silences: int = 0  # gaps > silence_s with nobody speaking
    silence_total: float = 0.0
    longest_silence: float = 0.0
    overtalk: int = 0  # agent/customer overlaps > overtalk_s
    overtalk_total: float = 0.0
    interruptions: int = 0  # agent starts while the customer speaks and overlaps > overtalk_s
    agent_rate: float | None = None  # characters per minute of agent speech
    customer_rate: float | None = None
    first_response: float | None = None  # seconds from the recording start until the agent first speaks
    longest_monologue: float | None = None  # longest agent stretch with no customer turn between
    evidence: dict[str, list[Evidence]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in (
            "timed",
            "talk_ratio",
            "silences",
            "silence_total",
            "longest_silence",
            "overtalk",
            "overtalk_total",
            "interruptions",
            "agent_rate",
            "customer_rate",
            "first_response",
            "longest_monologue",
        ):
            v = getattr(self, k)
            out[k] = round(v, 3) if isinstance(v, float) else v
        out["evidence"] = {k: [e.to_dict() for e in v] for k, v in self.evidence.items()}
        return out


def metrics(d: Dialogue, silence_s: float = 3.0, overtalk_s: float = 1.0, monologue_gap_s: float = 1.0) -> Metrics:
    """Compute the metrics; a dialogue without times returns ``Metrics(timed=False)``."""
    if not d.timed:
        return Metrics(False)
    turns = sorted(enumerate(d.turns), key=lambda it: it[1].start or 0.0)
    t0 = turns[0][1].start or 0.0
    ev: dict[str, list[Evidence]] = {
        "silence": [],
        "overtalk": [],
        "interruption": [],
        "monologue": [],
        "first_response": [],
    }

    speech = {"agent": 0.0, "customer": 0.0}
    chars = {"agent": 0, "customer": 0}
    for _, t in turns:
        if t.role in speech:
            speech[t.role] += t.duration
            chars[t.role] += len(t.c.text)
    both = speech["agent"] + speech["customer"]
    talk_ratio = speech["agent"] / both if both > 0 else None

    # Silences: gaps between the end of all speech so far and the next start.
    silences, silence_total, longest = 0, 0.0, 0.0
    reach = turns[0][1].end or 0.0
    for i, t in turns[1:]:
        gap = (t.start or 0.0) - reach
        if gap > silence_s:
            silences += 1
            silence_total += gap
            longest = max(longest, gap)
            ev["silence"].append(Evidence(f"{gap:.1f}s silence", i, reach, "silence"))
        reach = max(reach, t.end or 0.0)

    # Overtalk and interruptions: pairwise agent/customer overlaps.
    overtalk, overtalk_total, interruptions = 0, 0.0, 0
    agent = [(i, t) for i, t in turns if t.role == "agent"]
    cust = [(i, t) for i, t in turns if t.role == "customer"]
    cust_starts = [c.start or 0.0 for _, c in cust]
    for ai, a in agent:
        # customer turns are sorted by start: only those starting before this agent turn ends
        for ci, c in cust[: bisect_left(cust_starts, a.end or 0.0)]:
            if (c.end or 0.0) <= (a.start or 0.0):
                continue
            lo = max(a.start or 0.0, c.start or 0.0)
            hi = min(a.end or 0.0, c.end or 0.0)
            if hi - lo <= overtalk_s:
                continue
            overtalk += 1
            overtalk_total += hi - lo
            ev["overtalk"].append(Evidence(f"{hi - lo:.1f}s overlap", ai, lo, f"with customer turn {ci}"))
            if (c.start or 0.0) < (a.start or 0.0) < (c.end or 0.0):
                interruptions += 1
                ev["interruption"].append(Evidence(a.c.norm[:20], ai, a.start, f"agent cut into customer turn {ci}"))

    def rate(role: str) -> float | None:
        return chars[role] / (speech[role] / 60.0) if speech[role] > 1.0 else None

    first = agent[0] if agent else None
    # Times count from the recording start (the agent's leg is recorded from connection).
    first_response = (first[1].start or 0.0) - min(0.0, t0) if first else None
    if first:
        ev["first_response"].append(Evidence(first[1].c.norm[:20], first[0], first[1].start, "first agent words"))

    # Longest monologue: consecutive agent turns (gaps < monologue_gap_s) with no customer turn.
    best, best_at = 0.0, None
    run_start: float | None = None
    run_end = 0.0
    run_turn = 0
    for i, t in turns:
        if t.role == "agent" and run_start is not None and (t.start or 0.0) - run_end < monologue_gap_s:
            run_end = max(run_end, t.end or 0.0)
        elif t.role == "agent":
            run_start, run_end, run_turn = t.start or 0.0, t.end or 0.0, i
        else:
            run_start = None
            continue
        if run_end - run_start > best:
            best, best_at = run_end - run_start, (run_turn, run_start)
    if best_at:
        ev["monologue"].append(Evidence(f"{best:.1f}s", best_at[0], best_at[1], "longest agent monologue"))

    return Metrics(
        True,
        talk_ratio,
        silences,
        silence_total,
        longest,
        overtalk,
        overtalk_total,
        interruptions,
        rate("agent"),
        rate("customer"),
        first_response,
        best if agent else None,
        {k: v[:5] for k, v in ev.items() if v},
    )
