"""The default speech router: the menu's own keywords and synonyms, nearest scope first.

A caller at 支付与退款 who says 退款 means that submenu's 退款进度, not some other branch, so
the current menu's children are searched first, then its descendants, then the whole menu.
A smarter router (ivr.route) can replace this through the ``SpeechRouter`` protocol.
"""

from __future__ import annotations

import re
import unicodedata

from ivr.flow import RouteResult
from ivr.menu import Menu

_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)

SCOPE_CONFIDENCE = (0.95, 0.85, 0.75)  # child of the current menu, deeper below it, elsewhere


def normalize(text: str) -> str:
    """Full-width to half-width, lower case, no spaces or punctuation."""
    return _PUNCT.sub("", unicodedata.normalize("NFKC", text).lower())


class KeywordRouter:
    """Longest keyword found in the text wins; ties go to the nearest scope."""

    def __init__(self, menu: Menu) -> None:
        self.menu = menu
        self._kw: dict[str, tuple[str, ...]] = {
            nid: tuple(k for k in (normalize(w) for w in (*n.keywords, n.label)) if k) if n.keywords else ()
            for nid, n in menu.nodes.items()
        }

    def __call__(self, text: str, node: str) -> RouteResult:
        said = normalize(text)
        if not said:
            return RouteResult(None, 0.0, "fallback")
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
            return RouteResult(None, 0.0, "fallback")
        return RouteResult(best[2], best[1], "route")
