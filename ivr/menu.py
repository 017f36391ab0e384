"""The IVR menu as data: load a YAML file, check it, and answer questions about its tree.

The menu belongs to the people who run the hotline, so a mistake in it must be reported in
their terms (file, node, reason) when the server starts, never discovered by a caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from datafiles import DuplicateKey, Invalid, Loc, ReadError, problems, read_yaml, where

Kind = Literal["menu", "info", "collect", "transfer", "survey", "callback", "hangup"]
KINDS: tuple[str, ...] = get_args(Kind)
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
# Messages the flow fills in (ivr/flow.py ``msg``): any other {placeholder} would fail mid-call.
MESSAGE_FIELDS = {"confirm": ("label",), "readback": ("digits",), "agents_closed": ("hours",)}


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


# --- the file's shape (pydantic); the rules across nodes are ``_MenuFile._sound`` ----------------


def _none_is_empty(value: Any) -> Any:
    """``settings:`` or ``choices:`` with nothing under it is YAML null: the same as leaving it out."""
    return {} if value is None else value


class _NodeFile(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    kind: Kind
    label: str | None = None
    prompt: str | None = None
    short: str | None = None
    choices: Annotated[dict[str, str], BeforeValidator(_none_is_empty)] = {}
    keywords: tuple[str, ...] | None = ()
    skill: str | None = None
    then: str | None = None
    slot: str | None = None
    min_digits: Annotated[int, Field(ge=1)] = 1
    max_digits: Annotated[int, Field(ge=1)] = 20

    def node(self, nid: str) -> Node:
        prompt = (self.prompt or "").strip()
        return Node(
            id=nid,
            kind=self.kind,
            label=self.label or nid,
            prompt=prompt,
            short=(self.short or "").strip() or prompt,
            choices=dict(self.choices),
            keywords=self.keywords or (),
            skill=self.skill or "",
            then=self.then or "",
            slot=self.slot or "value",
            min_digits=self.min_digits,
            max_digits=self.max_digits,
        )


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, allow_inf_nan=False)

    max_failures: Annotated[int, Field(ge=1)] = Menu.max_failures
    confidence_threshold: Annotated[float, Field(ge=0, le=1)] = Menu.confidence_threshold
    agent_node: str = Menu.agent_node
    survey_node: str = Menu.survey_node
    callback_node: str = Menu.callback_node
    goodbye_node: str = Menu.goodbye_node
    voice: str | None = None
    yes_words: tuple[str, ...] = Menu.yes_words
    no_words: tuple[str, ...] = Menu.no_words


class _MenuFile(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    version: str | None = None  # for the people who edit the file
    name: str | None = None
    description: str | None = None
    root: str = "main"
    settings: Annotated[_Settings, BeforeValidator(_none_is_empty)] = _Settings()
    messages: Annotated[dict[str, str | None], BeforeValidator(_none_is_empty)] = {}
    nodes: Annotated[dict[str, _NodeFile], Field(min_length=1)]

    def menu(self, path: str) -> Menu:
        opts = self.settings
        return Menu(
            path=path,
            root=self.root,
            nodes={nid: raw.node(nid) for nid, raw in self.nodes.items()},
            messages={k: v or "" for k, v in self.messages.items()},
            **opts.model_dump(exclude={"voice"}),
            voice=opts.voice or "",
        )

    @model_validator(mode="after")
    def _sound(self) -> _MenuFile:
        """The rules a type cannot say: prompts, keys, messages, and a graph every caller can leave."""
        problems = _message_problems(self.messages)
        for nid, raw in self.nodes.items():
            problems.extend((("nodes", nid), reason) for reason in _node_problems(raw))
        problems.extend((("nodes", p.node), p.reason) for p in _check_graph(self.menu("<menu>")))
        if problems:
            raise Invalid(*problems)
        return self


def _read_yaml(path: Path) -> Any:
    try:
        return read_yaml(path)
    except DuplicateKey as dup:
        node = _node_at_line(path.read_text(encoding="utf-8"), dup.line)
        raise MenuError(path, [Problem(node, dup.reason)]) from None
    except ReadError as exc:
        raise MenuError(path, [Problem("-", exc.reason)]) from None


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
    try:
        return _MenuFile.model_validate(data).menu(str(path))
    except ValidationError as exc:
        raise MenuError(path, [_problem(loc, reason) for loc, reason in problems(exc)]) from None


def _node_of(loc: Loc) -> tuple[str, Loc]:
    """The node (or ``settings``/``messages``) a problem belongs to, ``-`` for the file as a whole,
    and the rest of the location."""
    if len(loc) >= 2 and loc[0] == "nodes":
        return str(loc[1]), loc[2:]
    if loc and loc[0] in ("settings", "messages"):
        return str(loc[0]), loc[1:]
    return "-", loc


def _problem(loc: Loc, reason: str) -> Problem:
    node, rest = _node_of(loc)
    return Problem(node, f"{where(rest, None)}: {reason}" if rest else reason)


def _message_problems(messages: Mapping[str, str | None]) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []
    for name in REQUIRED_MESSAGES:
        if not (messages.get(name) or "").strip():
            out.append((("messages",), f"message '{name}' is missing"))
    for name, fields in MESSAGE_FIELDS.items():
        try:
            (messages.get(name) or "").format(**dict.fromkeys(fields, ""))
        except (KeyError, IndexError, AttributeError, ValueError) as exc:
            allowed = ", ".join("{" + f + "}" for f in fields)
            out.append((("messages",), f"message '{name}' can only use {allowed} ({type(exc).__name__}: {exc})"))
    return out


def _node_problems(raw: _NodeFile) -> list[str]:
    errs: list[str] = []
    kind = raw.kind
    if not (raw.prompt or "").strip():
        errs.append("prompt is missing")
    if kind in GATHERING and not (raw.short or "").strip():
        errs.append("short prompt is missing")
    for k in raw.choices:
        if k in RESERVED_KEYS:
            errs.append(f"key '{k}' is reserved (* repeats, # goes back)")
        elif len(k) != 1 or k not in DIGITS:
            errs.append(f"key '{k}' is not a single keypad digit")
    if kind == "menu" and not raw.choices:
        errs.append("no way out: a menu without choices")
    if kind != "menu" and raw.choices:
        errs.append(f"only menus have choices (this node is '{kind}')")
    if kind == "collect" and not raw.then:
        errs.append("no way out: collect needs 'then'")
    if kind == "collect" and raw.min_digits > raw.max_digits:
        errs.append(f"min_digits {raw.min_digits} is more than max_digits {raw.max_digits}")
    if kind == "transfer" and not raw.skill:
        errs.append("transfer needs a 'skill' tag")
    return errs


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
