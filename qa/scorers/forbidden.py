"""Forbidden phrases (服务禁用语) in agent turns, with context; personal-data leaks by the agent.

Only agent turns count: a customer saying 不知道 is no fault. Each rule may be excused by what
follows or precedes it (不知道您… / 不知道是否… ask the customer something). Abuse (辱骂客户)
and disclosing an ID-card or bank-card number the customer never gave are auto-fail items.
"""

from __future__ import annotations

from collections.abc import Sequence

from qa.dialogue import Dialogue
from qa.scorers import Evidence, Result
from qa.scorers.phrases import DialogueHits
from zhtext.placeholders import MARK_KIND, kind_mark, raw_numbers


def forbidden_hits(d: Dialogue, hits: DialogueHits) -> list[tuple[int, str, Evidence]]:
    """(turn, category, evidence) for every forbidden phrase an agent said in an inexcusable context."""
    out: list[tuple[int, str, Evidence]] = []
    rules = hits.book.forbidden
    for i, t in enumerate(d.turns):
        if t.role != "agent":
            continue
        text = t.c.text
        for h in hits.per_turn[i]:
            if not h.key.startswith("forbidden:"):
                continue
            rule = rules[int(h.key.split(":", 1)[1])]
            after = text[h.end : h.end + 6]
            before = text[max(0, h.start - 6) : h.start]
            if any(after.startswith(x) for x in rule.unless_followed_by):
                continue
            if any(before.endswith(x) for x in rule.unless_preceded_by):
                continue
            out.append(
                (
                    i,
                    rule.category,
                    Evidence(t.c.snippet(h.start, h.end), i, t.start, rule.category, span=(h.start, h.end)),
                )
            )
    return out


def forbidden(d: Dialogue, hits: DialogueHits, per_hit: float = 0.5) -> Result:
    """1.0 without forbidden phrases; each hit (abuse excluded, scored apart) costs ``per_hit``."""
    found = [(i, c, e) for i, c, e in forbidden_hits(d, hits) if c != "abuse"]
    if not d.indexed("agent"):
        return Result(None, (), {"reason": "no agent turns"})
    value = max(0.0, 1.0 - per_hit * len(found))
    return Result(value, tuple(e for _, _, e in found), {"count": len(found)})


def abuse(d: Dialogue, hits: DialogueHits) -> Result:
    """Auto-fail: the agent insulted the customer (辱骂客户). Value 1.0 = clean, 0.0 = failed."""
    found = [e for _, c, e in forbidden_hits(d, hits) if c == "abuse"]
    return Result(0.0 if found else 1.0, tuple(found), {"count": len(found)})


def pii_leak(d: Dialogue, kinds: Sequence[str] = ("id_card", "bank_card")) -> Result:
    """Auto-fail: the agent states personal numbers of a kind the customer did not give earlier.

    Masked placeholders count as the number they hide; raw 18-digit ID numbers and card numbers
    that redaction missed count too.
    """
    given: set[str] = set()
    found: list[Evidence] = []
    number = kind_mark("number")
    for i, t in enumerate(d.turns):
        text = t.c.text
        # A placeholder glued to number placeholders ([数字x][身份证号x][数字x]) is the masker
        # cutting up a longer code (tax or transaction number), not a personal number.
        kinds_here = {
            MARK_KIND[ch]
            for k, ch in enumerate(text)
            if ch in MARK_KIND and number not in (text[k - 1 : k] + text[k + 1 : k + 2])
        }
        raw = raw_numbers(t.text)
        kinds_here |= {k for k, _, _ in raw}
        if t.role == "customer":
            given |= kinds_here
            continue
        if t.role != "agent":
            continue
        for kind in kinds:
            if kind in kinds_here and kind not in given:
                snippet = next((t.text[a:b] for k, a, b in raw if k == kind), kind)
                found.append(Evidence(snippet, i, t.start, f"agent disclosed {kind}"))
    return Result(0.0 if found else 1.0, tuple(found), {"count": len(found)})
