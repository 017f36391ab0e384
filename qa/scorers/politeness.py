"""Agent politeness 0–100: polite markers per agent turn, penalties for rudeness.

60 points for the share of agent turns with at least one marker (您, 请, 谢谢, 抱歉, 麻烦您,
不好意思 …), 40 for the marker density (1.5 per turn earns all), minus 15 per forbidden phrase
and 40 per insult, minus 3 per bare 你 (the norms say 多用您不用你), never below 0.
"""

from __future__ import annotations

from qa.dialogue import Dialogue
from qa.scorers import Evidence, Result
from qa.scorers.forbidden import forbidden_hits
from qa.scorers.phrases import DialogueHits


def politeness(d: Dialogue, hits: DialogueHits, max_evidence: int = 6) -> Result:
    """Value is the 0–100 score divided by 100, so the scorecard can weight it like any check."""
    agent = d.indexed("agent")
    if not agent:
        return Result(None, (), {"reason": "no agent turns"})
    with_marker = 0
    markers = 0
    evidence: list[Evidence] = []
    ni = 0
    for i, t in agent:
        found = hits.find(i, "polite")
        if found:
            with_marker += 1
            markers += len(found)
            for h in found[:2]:
                if len(evidence) < max_evidence:
                    evidence.append(Evidence(t.c.snippet(h.start, h.end), i, t.start, "polite", span=(h.start, h.end)))
        ni += t.c.text.count("你") - t.c.text.count("你好")
    rude = forbidden_hits(d, hits)
    insults = sum(1 for _, c, _ in rude if c == "abuse")
    score = 60.0 * with_marker / len(agent) + 40.0 * min(1.0, markers / (1.5 * len(agent)))
    score -= 15.0 * (len(rude) - insults) + 40.0 * insults + 3.0 * min(ni, 5)
    score = max(0.0, min(100.0, score))
    evidence += [e for _, _, e in rude]
    detail = {
        "score": round(score, 1),
        "turns_with_marker": with_marker,
        "agent_turns": len(agent),
        "markers": markers,
        "ni": ni,
    }
    return Result(score / 100.0, tuple(evidence), detail)
