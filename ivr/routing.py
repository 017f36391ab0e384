"""Speech routing's one vocabulary: what a router returns, what a router is, and the simplest router.

A router turns what the caller said at a menu node into a ``RouteResult``. The flow engine
(``ivr.flow``) depends on this module only; routers implement ``SpeechRouter`` directly:
``KeywordRouter`` below (the menu's own keywords, the flow's default) and the trained
``ivr.route.Router`` (synonyms, negation, a classifier, clarifying questions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ivr.menu import Menu
from zhtext.normalize import compact_key

ROUTE, CLARIFY, FALLBACK = "route", "clarify", "fallback"  # RouteResult.action


@dataclass(frozen=True)
class Alternative:
    """A node the router also considered, with its probability."""

    node: str
    score: float


@dataclass(frozen=True)
class RouteResult:
    """What a router made of one utterance.

    ``action``: "route" (go to ``node``), "clarify" (ask ``question``; the caller picks one of
    ``options`` by saying it or pressing 1, 2, …), "fallback" (not understood). ``node`` is None
    when a router has no guess at all; the trained router always names one (for clarify and
    fallback its best guess so far, possibly the current menu). ``path``: the keys that reach
    ``node``; ``alternatives``: the runners-up; ``reason``: why this action (agent, confident,
    close, unclear, …); ``text``: what was routed.
    """

    node: str | None
    confidence: float
    action: str = ROUTE
    question: str = ""
    options: tuple[str, ...] = ()
    path: tuple[str, ...] = ()
    alternatives: tuple[Alternative, ...] = ()
    reason: str = ""
    text: str = ""

    def as_json(self) -> dict[str, Any]:
        """The ``hotline route`` contract: exactly text, path, node, confidence, action."""
        return {
            "text": self.text,
            "path": list(self.path),
            "node": self.node,
            "confidence": round(float(self.confidence), 4),
            "action": self.action,
        }


class SpeechRouter(Protocol):
    """Text the caller said, at menu node ``node`` -> where to go."""

    def __call__(self, text: str, node: str) -> RouteResult: ...


SCOPE_CONFIDENCE = (0.95, 0.85, 0.75)  # child of the current menu, deeper below it, elsewhere


class KeywordRouter:
    """The menu's own keywords, nearest scope first: the longest keyword found wins, ties go nearer.

    A caller at 支付与退款 who says 退款 means that submenu's 退款进度, not some other branch, so
    the current menu's children are searched first, then its descendants, then the whole menu.
    Words are matched as the menu writes them (``compact_key`` without traditional -> simplified).
    """

    def __init__(self, menu: Menu) -> None:
        self.menu = menu
        self._kw: dict[str, tuple[str, ...]] = {
            nid: tuple(k for k in (_key(w) for w in (*n.keywords, n.label)) if k) if n.keywords else ()
            for nid, n in menu.nodes.items()
        }

    def __call__(self, text: str, node: str) -> RouteResult:
        said = _key(text)
        if not said:
            return RouteResult(None, 0.0, FALLBACK)
        menu = self.menu
        scope = node if node in menu.nodes and menu.nodes[node].kind == "menu" else menu.parent(node)
        children = [n.id for n in menu.children(scope)]
        deeper = [n.id for n in menu.descendants(scope) if n.id not in children]
        rest = [nid for nid in menu.nodes if nid not in children and nid not in deeper and nid != scope]
        best: tuple[int, float, str] | None = None
        for level, ids in enumerate((children, deeper, rest)):
            for nid in ids:
                for kw in self._kw.get(nid, ()):
                    if kw in said:
                        cand = (len(kw), SCOPE_CONFIDENCE[level], nid)
                        if best is None or cand[:2] > best[:2]:
                            best = cand
        if best is None:
            return RouteResult(None, 0.0, FALLBACK)
        return RouteResult(best[2], best[1], ROUTE)


def _key(text: str) -> str:
    return compact_key(text, simplify=False)
