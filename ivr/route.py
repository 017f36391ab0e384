"""Speech routing: a caller's own words (我的快递怎么一天都没有物流了) -> a menu node, with a decision.

Callers do not repeat the menu's words, so the router combines three kinds of evidence:
the menu's ``keywords`` plus ``route_data/synonyms.yaml`` (matched on normalised text, negation aware),
and a small linear classifier over character n-grams and jieba words trained on
``route_data/requests.tsv`` by ``scripts/train_router.py``. What to do with the belief (route, ask a
two-way question, fall back to the keypad) is data: ``route_data/policy.yaml``.

``Router.route`` is pure (text in, ``ivr.routing.RouteResult`` out, no I/O); ``load_router`` reads the
files once. A ``Router`` is a ``ivr.routing.SpeechRouter``: ``router(text, node)`` routes within ``node``'s menu.
Text handling (normal form, jieba, phrase matching) is ``zhtext``'s.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass as pydantic_dataclass

from datafiles import ReadError, read_yaml, report
from ivr.menu import Menu, load_menu
from ivr.routing import CLARIFY, FALLBACK, ROUTE, Alternative, RouteResult
from zhtext.match import PhraseMatcher
from zhtext.normalize import compact_key
from zhtext.segment import Segmenter, segmenter

DATA_DIR = Path(__file__).resolve().parent / "route_data"
DEFAULT_MENU = Path(__file__).resolve().parent / "menus" / "950618.yaml"
MODEL_FILE = "router_model.npz"

# Label of requests the hotline's menu does not serve (product questions, chit-chat): the classifier learns
# it so that its probability goes to no branch and such requests fall back instead of being routed.
NONE = "none"

# --- text ------------------------------------------------------------------------------------


def request_key(text: str) -> str:
    """The form requests and phrases are matched on: ``zhtext.normalize.compact_key``, simplified, with
    the bracketed placeholders of masked chat data (``[订单x]``) dropped: they carry no intent."""
    return compact_key(text, drop_tags=True)


# Words jieba keeps whole besides the menu's phrases; added with a high frequency so they win.
_EXTRA_WORDS = ("京东", "京东快递", "京东物流", "订单号", "快递柜", "自提点", "配送站", "师傅", "空调", "冰箱")
WORD_FREQ = 200_000


def _segmenter(phrases: Iterable[str]) -> Segmenter:
    """One jieba segmenter per phrase set and process (shared by routers over the same menu)."""
    return segmenter(sorted(w for w in {*phrases, *_EXTRA_WORDS} if len(w) >= 2), WORD_FREQ)


def features(compact: str, words: Sequence[str], hits: Iterable[str]) -> list[str]:
    """Sparse binary features: character 1-3 grams, jieba words, and menu nodes whose phrases matched."""
    out: set[str] = set()
    padded = f"^{compact}$"
    for n in (1, 2, 3):
        for i in range(len(padded) - n + 1):
            gram = padded[i : i + n]
            if gram not in ("^", "$"):
                out.add("c:" + gram)
    out.update("w:" + w for w in words if len(w) > 1)
    out.update("k:" + h for h in hits)
    return sorted(out)


# --- data ------------------------------------------------------------------------------------


Share = Annotated[float, Field(ge=0.0, le=1.0)]


def _regexes(patterns: tuple[str, ...]) -> tuple[str, ...]:
    for pat in patterns:
        try:
            re.compile(pat)
        except re.error as exc:
            raise ValueError(f"bad agent pattern {pat!r}: {exc}") from None
    return patterns


def _two_options(question: str) -> str:
    """The question is filled with the two options' labels when the router asks; nothing else may be in braces."""
    if "{a}" not in question or "{b}" not in question:
        raise ValueError("needs both {a} and {b}")
    try:
        question.format(a="", b="")
    except (KeyError, IndexError, AttributeError, ValueError) as exc:
        raise ValueError(f"can only use {{a}} and {{b}} ({type(exc).__name__}: {exc})") from None
    return question


@pydantic_dataclass(frozen=True, config=ConfigDict(extra="forbid", allow_inf_nan=False))
class Policy:
    """Decision thresholds (route_data/policy.yaml); see that file for what each one means.
    A pydantic dataclass: built from the file, or by ``dataclasses.replace`` in a sweep, it is checked."""

    route_min: Share = 0.5
    route_margin: Share = 0.2
    leaf_share: Share = 0.55
    clarify_pair_min: Share = 0.5
    clarify_second_min: Share = 0.12
    clarify_question: Annotated[str, AfterValidator(_two_options)] = "请问您是要办理{a}，还是{b}？"
    max_unclear: Annotated[int, Field(ge=1)] = 2
    scope_keep: Share = 0.3
    keyword_weight: Share = 0.3
    negation_penalty: Share = 0.05
    agent_phrases: tuple[str, ...] = ("人工", "转人工", "人工客服", "人工服务")
    agent_patterns: Annotated[tuple[str, ...], AfterValidator(_regexes)] = ()
    negators: tuple[str, ...] = ("不是", "不要", "不用", "不需要", "别", "不想")
    negation_window: Annotated[int, Field(ge=0)] = 3
    first_option: tuple[str, ...] = ("第一个", "前者")
    second_option: tuple[str, ...] = ("第二个", "后者")

    @classmethod
    def from_mapping(cls, data: Any, source: str = "<policy>") -> Policy:
        """The policy a file's mapping gives; ValueError naming ``source`` and the setting otherwise."""
        try:
            return _POLICY.validate_python(data)
        except ValidationError as exc:
            raise ValueError(report(exc, data, source)) from None


_POLICY = TypeAdapter(Policy)
Phrases = dict[str, list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]]]
_SYNONYMS = TypeAdapter(Phrases, config=ConfigDict(coerce_numbers_to_str=True))


def _read(path: Path) -> Any:
    try:
        return read_yaml(path)
    except ReadError as exc:
        raise ValueError(f"{path}: {exc.reason}") from None


def load_policy(path: str | Path | None = None) -> Policy:
    path = Path(path) if path else DATA_DIR / "policy.yaml"
    data = _read(path)
    return Policy.from_mapping({} if data is None else data, str(path))


@dataclass(frozen=True)
class Example:
    node: str
    text: str
    also: tuple[str, ...] = ()
    source: str = ""


def load_examples(path: str | Path) -> list[Example]:
    """Read a requests TSV (node, text, also, source); ``#`` lines are comments."""
    out: list[Example] = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) < 2 or not cols[0].strip() or not cols[1].strip():
            raise ValueError(f"{path}:{lineno}: need at least 'node<TAB>text'")
        also = tuple(a.strip() for a in cols[2].split(",") if a.strip()) if len(cols) > 2 else ()
        out.append(Example(cols[0].strip(), cols[1].strip(), also, cols[3].strip() if len(cols) > 3 else ""))
    return out


def load_synonyms(path: str | Path | None = None) -> dict[str, tuple[str, ...]]:
    """Node id -> extra phrases callers use for it (route_data/synonyms.yaml)."""
    path = Path(path) if path else DATA_DIR / "synonyms.yaml"
    data = _read(path)
    try:
        phrases = _SYNONYMS.validate_python({} if data is None else data)
    except ValidationError as exc:
        raise ValueError(report(exc, data, str(path), {"*": ("node", "")})) from None
    return {node: tuple(words) for node, words in phrases.items()}


@dataclass(frozen=True)
class Model:
    """A linear classifier over sparse binary features (weights trained by scripts/train_router.py)."""

    classes: tuple[str, ...]
    index: Mapping[str, int]  # feature -> column
    weights: np.ndarray  # (n_features, n_classes) float32
    bias: np.ndarray  # (n_classes,) float32
    meta: Mapping[str, Any] = field(default_factory=dict)

    def predict(self, feats: Iterable[str]) -> np.ndarray:
        cols = [self.index[f] for f in feats if f in self.index]
        logits = self.bias.copy()
        if cols:
            logits += self.weights[cols].sum(axis=0) / np.sqrt(len(cols))
        logits -= logits.max()
        p = np.exp(logits)
        return np.asarray(p / p.sum(), dtype=np.float64)

    def save(self, path: str | Path) -> None:
        vocab = sorted(self.index, key=self.index.__getitem__)
        np.savez_compressed(
            path,
            classes=np.array(self.classes),
            vocab=np.array(vocab),
            weights=self.weights.astype(np.float16),
            bias=self.bias.astype(np.float32),
            meta=np.array(json.dumps(dict(self.meta), ensure_ascii=False)),
        )

    @classmethod
    def load(cls, path: str | Path) -> Model:
        if not Path(path).is_file():
            raise FileNotFoundError(f"router model {path} is missing: run .venv/bin/python scripts/train_router.py")
        with np.load(path, allow_pickle=False) as z:
            vocab = [str(v) for v in z["vocab"]]
            return cls(
                classes=tuple(str(c) for c in z["classes"]),
                index={f: i for i, f in enumerate(vocab)},
                weights=z["weights"].astype(np.float32),
                bias=z["bias"].astype(np.float32),
                meta=json.loads(str(z["meta"])),
            )


# --- the router ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    phrase: str
    nodes: tuple[str, ...]
    negated: bool


class Router:
    """Pure router over one menu. Build with ``load_router``; ``route`` does no I/O."""

    def __init__(
        self,
        menu: Menu,
        model: Model | None,
        policy: Policy,
        synonyms: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.menu = menu
        self.policy = policy
        paths = menu._key_paths()
        # Nodes a caller can be routed to: reachable by keys, not helper nodes like order.status.result.
        self.nodes = tuple(n for n in menu.nodes if n in paths and n != menu.root and self._routable(n))
        self._set_model(model)
        self._agent = menu.agent_node
        # phrase -> nodes (menu keywords + synonyms), normalised the same way as requests
        phrases: dict[str, set[str]] = {}
        for nid in self.nodes:
            for kw in menu.nodes[nid].keywords:
                phrases.setdefault(request_key(kw), set()).add(nid)
        for nid, words in (synonyms or {}).items():
            if nid not in self.nodes:
                raise ValueError(f"synonyms: node '{nid}' is not a routable menu node")
            for w in words:
                phrases.setdefault(request_key(w), set()).add(nid)
        for w in policy.agent_phrases:
            phrases.setdefault(request_key(w), set()).add(self._agent)
        phrases.pop("", None)
        self.phrases: dict[str, tuple[str, ...]] = {p: tuple(sorted(ns)) for p, ns in phrases.items()}
        self._agent_phrases = {request_key(w) for w in policy.agent_phrases}
        self._agent_res = [re.compile(p) for p in policy.agent_patterns]
        self._negators = tuple(sorted({request_key(n) for n in policy.negators if n}, key=len, reverse=True))
        self._matcher = PhraseMatcher({p: (p,) for p in self.phrases}, form=str)  # phrases are normalised already
        self._seg = _segmenter(self.phrases)
        # group structure: top-level branch of every node, children of every menu
        self._branch = {n: self._top(n) for n in self.nodes}

    def _set_model(self, model: Model | None) -> None:
        self.model = model
        classes = model.classes if model else ()
        missing = [c for c in classes if c not in self.nodes and c != NONE]
        if missing:
            raise ValueError(f"router model knows nodes the menu does not route to: {', '.join(missing)}")
        self._class_pos = np.array([self.nodes.index(c) for c in classes if c != NONE], dtype=np.int64)
        self._class_sel = np.array([i for i, c in enumerate(classes) if c != NONE], dtype=np.int64)

    def with_model(self, model: Model) -> Router:
        """The same router (menu, phrases, policy, segmenter) with another classifier (training, tests)."""
        other = copy.copy(self)
        other._set_model(model)
        return other

    def with_policy(self, policy: Policy) -> Router:
        other = copy.copy(self)
        other.policy = policy
        return other

    # -- structure helpers
    def _routable(self, nid: str) -> bool:
        parent = self.menu.parent(nid)
        return nid in self.menu.nodes[parent].choices.values() or nid == self.menu.agent_node

    def _top(self, nid: str) -> str:
        cur = nid
        while True:
            parent = self.menu.parent(cur)
            if parent == self.menu.root or parent == cur:
                return cur
            cur = parent

    def _children(self, nid: str) -> list[str]:
        return [t for t in self.menu.nodes[nid].choices.values() if t in self.nodes]

    def path(self, nid: str) -> tuple[str, ...]:
        return tuple(self.menu.key_path(nid))

    def label(self, nid: str) -> str:
        return self.menu.nodes[nid].label

    # -- evidence
    def _hits(self, compact: str) -> list[_Hit]:
        found = [(h.start, h.end, h.phrase) for h in self._matcher.find(compact)]
        # longest phrases first; a phrase inside an accepted longer one does not count again
        found.sort(key=lambda h: (-(h[1] - h[0]), h[0]))
        taken: list[tuple[int, int, str]] = []
        for s, e, p in found:
            if all(e <= ts or s >= te for ts, te, _ in taken):
                taken.append((s, e, p))
        taken.sort()
        out: list[_Hit] = []
        for s, e, p in taken:
            neg_end = self._negator_end(compact, s)
            # a negator reaches only the first phrase after it (我不要退款我要换货: 换货 stands)
            negated = neg_end >= 0 and not any(neg_end <= h.start < s for h in out)
            out.append(_Hit(s, e, p, self.phrases[p], negated))
        return out

    def _negator_end(self, compact: str, start: int) -> int:
        """End of a negator within ``negation_window`` characters before ``start``, or -1."""
        lo = max(0, start - self.policy.negation_window - 3)
        for neg in self._negators:
            pos = compact.rfind(neg, lo, start)
            if pos < 0 or start - (pos + len(neg)) > self.policy.negation_window:
                continue
            # 是不是丢件了 / 要不要退货: an A-not-A question, not a negation
            if neg.startswith("不") and len(neg) > 1 and pos > 0 and compact[pos - 1] == neg[1]:
                continue
            return pos + len(neg)
        return -1

    def _mask(self, compact: str, hits: Sequence[_Hit]) -> str:
        """Drop negated phrases with their negator and a trailing 的问题 so the classifier never sees them."""
        out = compact
        for h in sorted((h for h in hits if h.negated), key=lambda h: -h.start):
            s = max(0, h.start - self.policy.negation_window - 3)
            for neg in self._negators:
                pos = compact.rfind(neg, s, h.start)
                if pos >= 0:
                    s = pos
                    break
            e = h.end
            for tail in ("的问题", "问题", "的事情", "的事", "的"):
                if compact.startswith(tail, e):
                    e += len(tail)
                    break
            out = out[:s] + out[e:]
        return out

    def _wants_agent(self, compact: str, hits: Sequence[_Hit]) -> tuple[bool, bool]:
        """(asks for an agent, refuses one): 人工/转人工/客服 always honoured unless negated."""
        asked = any(h.phrase in self._agent_phrases and not h.negated for h in hits)
        refused = any(h.phrase in self._agent_phrases and h.negated for h in hits)
        if not asked and not refused:
            asked = any(r.search(compact) for r in self._agent_res)
        return asked, refused

    def featurize(self, text: str) -> tuple[list[str], str, list[_Hit]]:
        """Classifier features of a request (negated phrases masked), its compact form and phrase hits."""
        compact = request_key(text)
        hits = self._hits(compact)
        masked = self._mask(compact, hits)
        node_hits = sorted({n for h in hits if not h.negated for n in h.nodes})
        words = self._seg.cut(masked) if masked else []
        return features(masked, words, node_hits), compact, hits

    def scores(self, text: str) -> tuple[np.ndarray, str, list[_Hit]]:
        """Probability per routable node (aligned with ``self.nodes``), the compact text and phrase hits."""
        if self.model is None:
            raise RuntimeError("router has no model: run scripts/train_router.py")
        feats, compact, hits = self.featurize(text)
        live = [h for h in hits if not h.negated]
        p_clf = np.zeros(len(self.nodes))
        # the share of NONE (not a hotline request) stays out of every node: p sums to less than 1
        p_clf[self._class_pos] = self.model.predict(feats)[self._class_sel]
        p = p_clf
        if live:
            kw = np.zeros(len(self.nodes))
            for h in live:
                weight = min(len(h.phrase), 4) / 4.0
                for n in h.nodes:
                    kw[self.nodes.index(n)] += weight / len(h.nodes)
            # phrase evidence in proportion to its strength: one short word (数据) moves less than 签收了没收到
            kw = kw / max(1.0, float(kw.sum()))
            w = self.policy.keyword_weight
            p = (1 - w * float(kw.sum())) * p_clf + w * kw
        negated_nodes = {n for h in hits if h.negated for n in h.nodes} - {n for h in live for n in h.nodes}
        if negated_nodes:
            keep = float(p.sum())
            p = p.copy()
            for i, n in enumerate(self.nodes):
                # negating a branch word (不是物流的问题) lowers the whole branch; a leaf word, the leaf
                if n in negated_nodes or any(self._branch[n] == m and m == self._top(m) for m in negated_nodes):
                    p[i] *= self.policy.negation_penalty
            total = p.sum()
            p = p / total * keep if total > 0 else np.full(len(self.nodes), keep / len(self.nodes))
        return p, compact, hits

    # -- decisions
    def __call__(self, text: str, node: str) -> RouteResult:
        """``ivr.routing.SpeechRouter``: route what the caller said at ``node``, within its menu first."""
        return self.route(text, scope=node)

    def route(self, text: str, scope: str | None = None, unclear: int = 0) -> RouteResult:
        """Route one request. ``scope``: the menu the caller is at (routes within it first);
        ``unclear``: how many unclear answers the caller has given in a row before this one."""
        pol = self.policy
        scope = scope if scope and scope in self.menu.nodes and scope != self.menu.root else None
        if scope is not None and self.menu.nodes[scope].kind != "menu":
            scope = self.menu.parent(scope) if self.menu.parent(scope) != self.menu.root else None
        p, compact, hits = self.scores(text)
        alts = self._alternatives(p)
        if not compact:
            return self._fallback(text, scope, 0.0, alts, "empty")
        asked, refused = self._wants_agent(compact, hits)
        if asked:
            return self._result(text, self._agent, 1.0, ROUTE, alts, reason="agent")
        if refused:
            keep = float(p.sum())
            p = p.copy()
            p[self.nodes.index(self._agent)] = 0.0
            p = p / max(float(p.sum()), 1e-9) * keep
        mass = {n: float(p[i]) for i, n in enumerate(self.nodes)}
        if scope is not None:
            inside = sum(v for n, v in mass.items() if n.startswith(scope + "."))
            if inside >= pol.scope_keep:
                total = sum(mass.values())  # below 1 when the request may be no hotline request at all
                sub = {n: v / inside * total for n, v in mass.items() if n.startswith(scope + ".")}
                return self._decide(text, sub, self._children(scope), scope, unclear, alts)
        tops = [n for n in self.nodes if self._top(n) == n]
        return self._decide(text, mass, tops, scope, unclear, alts)

    def _decide(
        self,
        text: str,
        mass: Mapping[str, float],
        groups: Sequence[str],
        scope: str | None,
        unclear: int,
        alts: tuple[Alternative, ...],
    ) -> RouteResult:
        pol = self.policy
        gmass = sorted(((self._subtree(g, mass), g) for g in groups), reverse=True)
        (p1, g1), (p2, g2) = gmass[0], gmass[1] if len(gmass) > 1 else (0.0, "")
        best, conf = self._descend(g1, mass, p1)
        if p1 >= pol.route_min and p1 - p2 >= pol.route_margin:
            return self._result(text, best, conf, ROUTE, alts, reason="confident")
        # a two-way question only while the caller has not yet given max_unclear unclear answers in a row
        if unclear + 1 < pol.max_unclear and p1 + p2 >= pol.clarify_pair_min and p2 >= pol.clarify_second_min:
            # options are the two groups (branches at the main menu): a caller who answers 订单 or 物流 picks
            # one, and a more specific answer (查一下发货没有) still lands below it
            q = pol.clarify_question.format(a=self.label(g1), b=self.label(g2))
            return self._result(text, best, p1, CLARIFY, alts, reason="close", options=(g1, g2), question=q)
        return self._fallback(text, scope, p1, alts, "unclear", guess=g1 if p1 >= pol.clarify_second_min else None)

    def _subtree(self, g: str, mass: Mapping[str, float]) -> float:
        return sum(v for n, v in mass.items() if n == g or n.startswith(g + "."))

    def _descend(self, g: str, mass: Mapping[str, float], pg: float) -> tuple[str, float]:
        """Go from a group down to a child while one child holds ``leaf_share`` of the group's mass."""
        cur, conf = g, pg
        while self.menu.nodes[cur].kind == "menu" and pg > 0:
            kids = self._children(cur)
            if not kids:
                break
            km = sorted(((self._subtree(k, mass), k) for k in kids), reverse=True)
            if km[0][0] / pg < self.policy.leaf_share:
                break
            cur, conf, pg = km[0][1], km[0][0], km[0][0]
        return cur, conf

    def _fallback(
        self,
        text: str,
        scope: str | None,
        conf: float,
        alts: tuple[Alternative, ...],
        reason: str,
        guess: str | None = None,
    ) -> RouteResult:
        node = guess or scope or self.menu.root
        return self._result(text, node, conf, FALLBACK, alts, reason=reason)

    def _result(
        self,
        text: str,
        node: str,
        conf: float,
        action: str,
        alts: tuple[Alternative, ...],
        *,
        reason: str,
        options: tuple[str, ...] = (),
        question: str = "",
    ) -> RouteResult:
        return RouteResult(node, conf, action, question, options, self.path(node), alts, reason=reason, text=text)

    def _alternatives(self, p: np.ndarray, k: int = 3) -> tuple[Alternative, ...]:
        order = np.argsort(-p)[:k]
        return tuple(Alternative(self.nodes[i], round(float(p[i]), 4)) for i in order)

    def resolve(self, text: str, options: Sequence[str], unclear: int = 1) -> RouteResult:
        """Interpret the answer to a clarifying question offering ``options`` (two node ids).

        第一个/后者 pick by position; otherwise the answer is routed and the option whose branch gets more
        of the probability wins; a confident request for something else entirely is honoured too.
        """
        compact = request_key(text)
        for words, idx in ((self.policy.first_option, 0), (self.policy.second_option, 1)):
            if idx < len(options) and any(request_key(w) in compact for w in words if w):
                nid = options[idx]
                return self._result(text, nid, 1.0, ROUTE, (), reason="picked")
        result = self.route(text, unclear=unclear)
        if result.action == ROUTE:
            return result
        p, _, _ = self.scores(text)
        mass = {n: float(p[i]) for i, n in enumerate(self.nodes)}
        om = sorted(((self._subtree(self._branch[o], mass), o) for o in options), reverse=True)
        total = sum(v for v, _ in om) or 1.0
        share, nid = om[0][0] / total, om[0][1]
        if om[0][0] >= self.policy.clarify_second_min and share >= 0.5 + self.policy.route_margin / 2:
            return self._result(text, nid, share, ROUTE, result.alternatives, reason="resolved")
        if unclear < self.policy.max_unclear and result.action == CLARIFY:
            return result
        return self._fallback(text, None, share, result.alternatives, "unclear")


def acceptable_branches(router: Router, ex: Example) -> set[str]:
    """Top-level branches that serve a labelled request: its node's and those of its ``also`` nodes."""
    return {router._top(n) for n in (ex.node, *ex.also) if n in router.nodes}


def evaluate(router: Router, examples: Sequence[Example]) -> dict[str, Any]:
    """Aggregate figures on labelled requests (no I/O).

    branch_acc: routed at once to an acceptable top-level branch; reached: that, or a clarifying question
    one of whose two options is acceptable (the caller then picks it); node_acc: routed to the labelled node
    or one of its ``also`` nodes exactly; clarify_rate / fallback_rate: share of requests. Requests labelled
    ``none`` are counted apart: none_routed is the share of them routed somewhere (they should not be).
    """
    others = [ex for ex in examples if ex.node == NONE]
    examples = [ex for ex in examples if ex.node != NONE]
    n = len(examples)
    routed_ok = reached = node_ok = clarify = fallback = strict = 0
    errors: list[tuple[Example, RouteResult]] = []
    others_routed = 0
    for ex in others:
        r = router.route(ex.text)
        if r.action == ROUTE:
            others_routed += 1
            errors.append((ex, r))
    for ex in examples:
        r = router.route(ex.text)
        ok_branches = acceptable_branches(router, ex)
        if r.action == ROUTE and r.node is not None:  # always a node from this router
            top = router._top(r.node)
            if top in ok_branches:
                routed_ok += 1
                reached += 1
            else:
                errors.append((ex, r))
            strict += top == router._top(ex.node)
            node_ok += r.node in (ex.node, *ex.also)
        elif r.action == CLARIFY:
            clarify += 1
            if any(router._top(o) in ok_branches for o in r.options):
                reached += 1
            else:
                errors.append((ex, r))
        else:
            fallback += 1
            errors.append((ex, r))
    d = max(n, 1)
    return {
        "n": n,
        "branch_acc": routed_ok / d,
        "branch_acc_strict": strict / d,
        "reached": reached / d,
        "node_acc": node_ok / d,
        "clarify_rate": clarify / d,
        "fallback_rate": fallback / d,
        "none_n": len(others),
        "none_routed": others_routed / max(len(others), 1),
        "errors": errors,
    }


_lock = threading.Lock()
_cache: dict[tuple[str, str], Router] = {}


def load_router(menu: Menu | str | Path | None = None, data_dir: str | Path | None = None) -> Router:
    """Build a router from the menu file and route_data (cached per menu path and data dir)."""
    data = Path(data_dir) if data_dir else DATA_DIR
    if isinstance(menu, Menu):
        return Router(menu, Model.load(data / MODEL_FILE), load_policy(data / "policy.yaml"),
                      load_synonyms(data / "synonyms.yaml"))  # fmt: skip
    menu_path = Path(menu) if menu else DEFAULT_MENU
    key = (str(menu_path.resolve()), str(data.resolve()))
    with _lock:
        if key not in _cache:
            _cache[key] = Router(
                load_menu(menu_path),
                Model.load(data / MODEL_FILE),
                load_policy(data / "policy.yaml"),
                load_synonyms(data / "synonyms.yaml"),
            )
        return _cache[key]


def make_router(menu: Menu) -> Router:
    """Factory for ``HOTLINE_IVR_ROUTER=ivr.route:make_router`` (the webhooks pass their loaded menu)."""
    return load_router(menu)
