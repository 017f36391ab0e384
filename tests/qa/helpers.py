"""Small builders for QA tests: dialogues from (role, text[, start, end]) tuples."""

from __future__ import annotations

from qa.dialogue import Dialogue, Turn

ROLE = {"a": "agent", "c": "customer", "u": "unknown"}


def dlg(*turns: tuple, id: str = "t", **meta: object) -> Dialogue:
    out = []
    for t in turns:
        role = ROLE.get(t[0], t[0])
        if len(t) == 4:
            out.append(Turn(role, t[1], float(t[2]), float(t[3])))
        else:
            out.append(Turn(role, t[1]))
    return Dialogue(id, tuple(out), dict(meta))
