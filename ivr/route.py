"""Speech routing: a caller's own words (我的快递怎么一天都没有物流了) -> a menu node, with a decision.

Callers do not repeat the menu's words, so the router combines three kinds of evidence:
the menu's ``keywords`` plus ``route_data/synonyms.yaml`` (matched on normalised text, negation aware),
and a small linear classifier over character n-grams and jieba words trained on
``route_data/requests.tsv`` by ``scripts/train_router.py``. What to do with the belief (route, ask a
two-way question, fall back to the keypad) is data: ``route_data/policy.yaml``.

``Router.route`` is pure (text in, ``ivr.routing.RouteResult`` out, no I/O); ``load_router`` reads the
files once. A ``Router`` is a ``ivr.routing.SpeechRouter``: ``router(text, node)`` routes within ``node``'s menu.
Features and the classifier are ``ivr.route_model``'s, the data files ``ivr.route_files``', figures on
labelled requests ``ivr.route_eval``'s; text handling (normal form, jieba, phrase matching) ``zhtext``'s.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ivr.menu import Menu, load_menu
from ivr.route_files import DATA_DIR, DEFAULT_MENU, MODEL_FILE, Policy, load_policy, load_synonyms
from ivr.route_model import NONE, Model, features, phrase_segmenter, request_key
from ivr.routing import CLARIFY, FALLBACK, ROUTE, Alternative, RouteResult
from zhtext.match import PhraseMatcher


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
        self._seg = phrase_segmenter(self.phrases)
        # group structure: top-level branch of every node, children of every menu
        self._branch = {n: self.top_of(n) for n in self.nodes}

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

    def top_of(self, nid: str) -> str:
        """The top-level branch ``nid`` lies in (itself for a top-level node)."""
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
                if n in negated_nodes or any(self._branch[n] == m and m == self.top_of(m) for m in negated_nodes):
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
        tops = [n for n in self.nodes if self.top_of(n) == n]
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
    """The trained router for ``HOTLINE_IVR_ROUTER=model`` (the webhooks pass their loaded menu)."""
    return load_router(menu)
