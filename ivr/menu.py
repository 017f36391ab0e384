"""The IVR menu as data: load a YAML file, check it, and answer questions about its tree.

The menu belongs to the people who run the hotline, so a mistake in it must be reported in
their terms (file, node, reason) when the server starts, never discovered by a caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

KINDS = ("menu", "info", "collect", "transfer", "survey", "callback", "hangup")
GATHERING = ("menu", "info", "collect", "survey", "callback")
TERMINAL = ("transfer", "hangup")
RESERVED_KEYS = ("*", "#")
DIGITS = "0123456789"

REQUIRED_MESSAGES = (
    "welcome",
    "no_input",
    "no_match",
    "too_many_failures",
    "confirm",
    "after_info",
    "recording_notice",
    "agents_closed",
    "readback",
    "goodbye",
)


@dataclass(frozen=True)
class Problem:
    node: str
    reason: str


class MenuError(ValueError):
    """Everything wrong with one menu file, each problem naming its node and the reason."""

    def __init__(self, path: str | Path, problems: list[Problem]) -> None:
        self.path = str(path)
        self.problems = list(problems)
        lines = [f"{self.path}: node '{p.node}': {p.reason}" for p in self.problems]
        super().__init__("broken menu:\n  " + "\n  ".join(lines) if len(lines) > 1 else lines[0])


@dataclass(frozen=True)
class Node:
    """One menu node with exactly one action (``kind``)."""

    id: str
    kind: str
    label: str
    prompt: str
    short: str
    choices: Mapping[str, str] = field(default_factory=dict)  # key -> node id
    keywords: tuple[str, ...] = ()
    skill: str = ""
    then: str = ""  # collect: node after a confirmed entry
    slot: str = ""  # collect: name of the collected value
    min_digits: int = 1
    max_digits: int = 20


@dataclass(frozen=True)
class Menu:
    path: str
    root: str
    nodes: Mapping[str, Node]
    messages: Mapping[str, str]
    max_failures: int = 3
    confidence_threshold: float = 0.5
    agent_node: str = "agent"
    survey_node: str = "survey"
    callback_node: str = "agent.callback"
    goodbye_node: str = "goodbye"
    voice: str = ""  # Twilio <Say> voice; empty = Twilio's default for zh-CN
    yes_words: tuple[str, ...] = ("是", "对", "确认", "没错", "好的", "嗯")
    no_words: tuple[str, ...] = ("不是", "不对", "错了", "不要", "重新")

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]

    def parent(self, node_id: str) -> str:
        """The menu a caller returns to with ``#``: the nearest menu above in the id tree."""
        if node_id == self.root:
            return self.root
        parts = node_id.split(".")
        while len(parts) > 1:
            parts = parts[:-1]
            cand = ".".join(parts)
            if cand in self.nodes and self.nodes[cand].kind == "menu":
                return cand
        return self.root

    def key_path(self, node_id: str) -> list[str]:
        """Keys pressed from the root to reach ``node_id`` (``payment.refund`` -> ["2", "3"])."""
        return list(self._key_paths().get(node_id, []))

    def children(self, node_id: str) -> list[Node]:
        return [self.nodes[t] for t in self.nodes[node_id].choices.values()]

    def descendants(self, node_id: str) -> list[Node]:
        out: list[Node] = []
        todo = [node_id]
        seen = {node_id}
        while todo:
            cur = todo.pop(0)
            for t in self.nodes[cur].choices.values():
                if t not in seen:
                    seen.add(t)
                    out.append(self.nodes[t])
                    todo.append(t)
        return out

    def _key_paths(self) -> dict[str, list[str]]:
        cached: dict[str, list[str]] | None = self.__dict__.get("_kp")
        if cached is None:
            cached = {self.root: []}
            todo = [self.root]
            while todo:
                cur = todo.pop(0)
                for key, target in self.nodes[cur].choices.items():
                    if target not in cached:
                        cached[target] = [*cached[cur], key]
                        todo.append(target)
                then = self.nodes[cur].then
                if then and then not in cached:
                    cached[then] = list(cached[cur])
                    todo.append(then)
            object.__setattr__(self, "_kp", cached)
        return cached

    def leaves(self) -> list[str]:
        """Nodes reached by keys from the root that are not submenus, in key order."""
        out: list[str] = []

        def walk(nid: str) -> None:
            for target in self.nodes[nid].choices.values():
                if self.nodes[target].kind == "menu":
                    walk(target)
                else:
                    out.append(target)

        walk(self.root)
        return out


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[str, int] = {}
    for key_node, _ in node.value:
        key = str(loader.construct_object(key_node, deep=deep))
        if key in seen:
            raise _DuplicateKey(key, key_node.start_mark.line + 1, seen[key])
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int, first: int) -> None:
        self.key, self.line, self.first = key, line, first


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MenuError(path, [Problem("-", f"cannot read file: {exc.strerror or exc}")]) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except _DuplicateKey as dup:
        node = _node_at_line(text, dup.line)
        raise MenuError(
            path, [Problem(node, f"duplicate key '{dup.key}' (line {dup.line}, first on line {dup.first})")]
        ) from None
    except yaml.YAMLError as exc:
        raise MenuError(path, [Problem("-", f"not valid YAML: {exc}")]) from None


def _node_at_line(text: str, line: int) -> str:
    """Best guess of the node a line belongs to: the nearest ``  <id>:`` line above it under ``nodes:``."""
    lines = text.splitlines()
    for i in range(min(line, len(lines)) - 1, -1, -1):
        raw = lines[i]
        if raw.startswith("  ") and not raw.startswith("   ") and raw.rstrip().endswith(":"):
            return raw.strip().rstrip(":").strip("'\"")
    return "-"


def load_menu(path: str | Path) -> Menu:
    """Read and validate a menu file; raises MenuError listing every problem found."""
    path = Path(path)
    return parse_menu(_read_yaml(path), path)


def parse_menu(data: Any, path: str | Path = "<menu>") -> Menu:
    problems: list[Problem] = []
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), dict) or not data["nodes"]:
        raise MenuError(path, [Problem("-", "the file must be a mapping with a non-empty 'nodes' mapping")])
    opts = data.get("settings") or {}
    messages = {str(k): str(v) for k, v in (data.get("messages") or {}).items()}
    for name in REQUIRED_MESSAGES:
        if not messages.get(name, "").strip():
            problems.append(Problem("messages", f"message '{name}' is missing"))
    nodes: dict[str, Node] = {}
    for raw_id, raw in data["nodes"].items():
        nid = str(raw_id)
        node, errs = _parse_node(nid, raw)
        problems.extend(errs)
        if node is not None:
            nodes[nid] = node
    root = str(data.get("root", "main"))
    menu = Menu(
        path=str(path),
        root=root,
        nodes=nodes,
        messages=messages,
        max_failures=int(opts.get("max_failures", 3)),
        confidence_threshold=float(opts.get("confidence_threshold", 0.5)),
        agent_node=str(opts.get("agent_node", "agent")),
        survey_node=str(opts.get("survey_node", "survey")),
        callback_node=str(opts.get("callback_node", "agent.callback")),
        goodbye_node=str(opts.get("goodbye_node", "goodbye")),
        voice=str(opts.get("voice") or ""),
        yes_words=tuple(str(w) for w in opts.get("yes_words", Menu.yes_words)),
        no_words=tuple(str(w) for w in opts.get("no_words", Menu.no_words)),
    )
    problems.extend(_check_graph(menu))
    if problems:
        raise MenuError(path, problems)
    return menu


def _parse_node(nid: str, raw: Any) -> tuple[Node | None, list[Problem]]:
    if not isinstance(raw, dict):
        return None, [Problem(nid, "must be a mapping")]
    errs: list[Problem] = []
    kind = str(raw.get("kind", ""))
    if kind not in KINDS:
        errs.append(Problem(nid, f"kind '{kind}' is not one of {', '.join(KINDS)}"))
    prompt = str(raw.get("prompt") or "").strip()
    short = str(raw.get("short") or "").strip()
    if not prompt:
        errs.append(Problem(nid, "prompt is missing"))
    if kind in GATHERING and not short:
        errs.append(Problem(nid, "short prompt is missing"))
    choices: dict[str, str] = {}
    for key, target in (raw.get("choices") or {}).items():
        k = str(key)
        if k in RESERVED_KEYS:
            errs.append(Problem(nid, f"key '{k}' is reserved (* repeats, # goes back)"))
        elif len(k) != 1 or k not in DIGITS:
            errs.append(Problem(nid, f"key '{k}' is not a single keypad digit"))
        choices[k] = str(target)
    if kind == "menu" and not choices:
        errs.append(Problem(nid, "no way out: a menu without choices"))
    if kind != "menu" and choices:
        errs.append(Problem(nid, f"only menus have choices (this node is '{kind}')"))
    if kind == "collect" and not raw.get("then"):
        errs.append(Problem(nid, "no way out: collect needs 'then'"))
    if kind == "transfer" and not raw.get("skill"):
        errs.append(Problem(nid, "transfer needs a 'skill' tag"))
    keywords = tuple(str(k) for k in (raw.get("keywords") or []))
    node = Node(
        id=nid,
        kind=kind,
        label=str(raw.get("label") or nid),
        prompt=prompt,
        short=short or prompt,
        choices=choices,
        keywords=keywords,
        skill=str(raw.get("skill") or ""),
        then=str(raw.get("then") or ""),
        slot=str(raw.get("slot") or "value"),
        min_digits=int(raw.get("min_digits", 1)),
        max_digits=int(raw.get("max_digits", 20)),
    )
    return node, errs


def _edges(menu: Menu, node: Node) -> list[str]:
    """Where a caller can go from ``node`` by the menu's own rules."""
    out = list(node.choices.values())
    if node.then:
        out.append(node.then)
    if node.kind in ("menu", "info", "collect") and node.id != menu.root:
        out.append(menu.parent(node.id))
    if node.kind == "info":
        out.extend([menu.agent_node, menu.survey_node])
    if node.kind == "survey":
        out.append(menu.goodbye_node)
    if node.kind == "callback":
        out.extend([menu.root, menu.goodbye_node])
    return [t for t in out if t in menu.nodes]


def _check_graph(menu: Menu) -> list[Problem]:
    problems: list[Problem] = []
    nodes = menu.nodes
    if menu.root not in nodes:
        return [Problem(menu.root, "root node is not defined")]
    for special in ("agent_node", "survey_node", "callback_node", "goodbye_node"):
        nid = getattr(menu, special)
        if nid not in nodes:
            problems.append(Problem(nid, f"{special} '{nid}' is not defined"))
    expected = {
        "agent_node": "transfer",
        "survey_node": "survey",
        "callback_node": "callback",
        "goodbye_node": "hangup",
    }
    for special, kind in expected.items():
        nid = getattr(menu, special)
        if nid in nodes and nodes[nid].kind != kind:
            problems.append(Problem(nid, f"{special} must be of kind '{kind}'"))
    for node in nodes.values():
        for key, target in node.choices.items():
            if target not in nodes:
                problems.append(Problem(node.id, f"key '{key}' goes to unknown node '{target}'"))
            elif node.id != menu.root and not target.startswith(node.id + "."):
                problems.append(Problem(target, f"id must start with its parent's id '{node.id}.'"))
        if node.then and node.then not in nodes:
            problems.append(Problem(node.id, f"'then' goes to unknown node '{node.then}'"))
    if problems:
        return problems
    # reachable from the root (special nodes are reached by the engine itself)
    seen = {menu.root, menu.agent_node, menu.survey_node, menu.callback_node, menu.goodbye_node}
    todo = list(seen)
    while todo:
        cur = todo.pop()
        for t in _edges(menu, nodes[cur]):
            if t not in seen:
                seen.add(t)
                todo.append(t)
    for nid in nodes:
        if nid not in seen:
            problems.append(Problem(nid, "unreachable: no key, 'then' or parent leads here"))
    # every node must lead to an end (transfer or hang-up)
    ends = {nid for nid, n in nodes.items() if n.kind in TERMINAL}
    changed = True
    while changed:
        changed = False
        for nid, n in nodes.items():
            if nid not in ends and any(t in ends for t in _edges(menu, n)):
                ends.add(nid)
                changed = True
    for nid in nodes:
        if nid not in ends:
            problems.append(Problem(nid, "no way out: no transfer or hang-up can be reached from here"))
    return problems
