"""What a caller can say at each point of the menu: the recognizer's grammar, as data from the menu.

A grammar is the phrases of the current node (keywords and labels of everything below it, the
agent's words, repeat/back/main menu), or yes/no while confirming; the engine adds its own
"unknown" entry. Pure: a menu and a state in, phrases out.
"""

from __future__ import annotations

from collections.abc import Iterable

from ivr.caller_text import BACK_WORDS, MAIN_WORDS, REPEAT_WORDS
from ivr.flow_types import State
from ivr.menu import Menu


def nav_words() -> tuple[str, ...]:
    """Words the flow handles at every menu (repeat, back, main menu)."""
    return (*REPEAT_WORDS, *BACK_WORDS, *MAIN_WORDS)


def grammar_for(menu: Menu, state: State | None) -> tuple[str, ...]:
    """Phrases a caller can usefully say at this point (``[unk]`` is added by the engine).

    At a menu: keywords and labels of everything below it (the router searches that first),
    the agent's words, and the navigation words. Confirming or at a callback offer: yes/no.
    """
    if state is None:
        return ()
    node = menu.nodes.get(state.node)
    if node is None:
        return ()
    if state.phase in ("confirm",) or node.kind == "callback":
        return _uniq((*menu.yes_words, *menu.no_words))
    if state.phase == "clarify":
        return _uniq(w for o in state.options if o in menu.nodes for w in _words(menu, o))
    if node.kind not in ("menu", "info"):
        return ()
    scope = node.id if node.kind == "menu" else menu.parent(node.id)
    words: list[str] = []
    for n in menu.descendants(scope):
        words.extend(_words(menu, n.id))
    words.extend(_words(menu, menu.agent_node))
    words.extend(nav_words())
    return _uniq(words)


def menu_vocabulary(menu: Menu) -> tuple[str, ...]:
    """Every phrase any grammar of this menu can contain (for the start-up OOV report)."""
    words: list[str] = [*nav_words(), *menu.yes_words, *menu.no_words]
    for nid in menu.nodes:
        words.extend(_words(menu, nid))
    return _uniq(words)


def _words(menu: Menu, node_id: str) -> list[str]:
    node = menu.nodes[node_id]
    return [*node.keywords, node.label] if node.keywords else []


def _uniq(words: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(w.strip() for w in words if w and w.strip()))
