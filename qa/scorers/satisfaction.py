"""Predicted end-of-call customer satisfaction in [-1, 1].

A linear model over a handful of explainable features: the customer's sentiment trajectory
(last turn, weighted mean, minimum, trend), unresolved markers (还没 / 至今 / 一直没), repeated
asks, thanks at the end, agent resolution statements, transfers/deflections (请拨打 / 私信 / 转接),
anger. Weights are fitted by ``scripts/train_satisfaction.py`` on one half of STC-3's development
dialogues (annotated customer satisfaction S) and shipped in ``qa/models/satisfaction.json``;
without that file, hand-set weights apply. Marker lists live here, not in the scorecard, because
the weights were fitted to them.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.dialogue import Dialogue
from qa.scorers import Evidence
from qa.scorers.sentiment import DialogueSentiment
from zhtext.match import PhraseMatcher

MODEL_PATH = Path(__file__).resolve().parent.parent / "models" / "satisfaction.json"

MARKERS: dict[str, tuple[str, ...]] = {
    "unresolved": (
        "还没",
        "还是没",
        "至今",
        "仍然",
        "依然",
        "一直没",
        "怎么还",
        "到现在",
        "没人",
        "没有回复",
        "没回复",
        "没解决",
        "没有解决",
        "没用",
        "不管用",
        "再次",
        "多次",
        "好几次",
        "几次了",
        "每次",
        "还是不行",
        "等了",
        "没有任何",
        "没反应",
        "没消息",
        "没动静",
        "无人",
        "不了了之",
        "石沉大海",
        "什么时候",
    ),
    "thanks": (
        "谢谢",
        "感谢",
        "多谢",
        "辛苦了",
        "解决了",
        "好的",
        "明白了",
        "知道了",
        "可以了",
        "收到了",
        "满意",
        "赞",
    ),
    "resolution": (
        "已为您",
        "已经为您",
        "已帮您",
        "已经帮您",
        "为您处理",
        "处理好了",
        "已经处理",
        "已处理",
        "已安排",
        "已经安排",
        "已申请",
        "已提交",
        "已退款",
        "已补发",
        "已解决",
        "已经解决",
        "给您备注",
        "帮您催",
        "已反馈",
        "已经反馈",
        "已登记",
        "会尽快",
        "马上为您",
    ),
    "transfer": (
        "转接",
        "为您转",
        "帮您转",
        "转给",
        "请联系",
        "联系商家",
        "咨询商家",
        "拨打",
        "私信",
        "致电",
        "联系客服",
        "转人工",
        "升级处理",
        "相关部门",
        "专员",
        "留言",
        "关注",
        "登录",
    ),
    "apology": ("抱歉", "对不起", "不好意思", "请谅解", "还请您谅解", "给您带来不便", "理解您"),
}
FEATURES = (
    "last",
    "mean",
    "min",
    "trend",
    "unresolved",
    "unresolved_last",
    "thanks_last",
    "thanks_any",
    "resolution",
    "transfer",
    "angry",
    "repeats",
    "customer_last",
    "n_customer",
    "apology",
    "agent_mean",
    "first",
    "question_last",
)
DEFAULT_WEIGHTS: dict[str, float] = {
    "bias": -0.1,
    "last": 0.35,
    "mean": 0.25,
    "min": 0.1,
    "trend": 0.05,
    "unresolved": -0.25,
    "unresolved_last": -0.15,
    "thanks_last": 0.2,
    "thanks_any": 0.1,
    "resolution": 0.1,
    "transfer": -0.1,
    "angry": -0.2,
    "repeats": -0.1,
    "customer_last": -0.05,
    "n_customer": 0.0,
    "apology": 0.0,
    "agent_mean": 0.05,
    "first": 0.0,
    "question_last": -0.1,
}

_matcher: PhraseMatcher | None = None
_lock = threading.Lock()
_weights: dict[str, float] | None = None


def _markers() -> PhraseMatcher:
    global _matcher
    if _matcher is None:
        _matcher = PhraseMatcher(MARKERS)
    return _matcher


def default_weights() -> dict[str, float]:
    global _weights
    with _lock:
        if _weights is None:
            if MODEL_PATH.exists():
                _weights = {
                    k: float(v) for k, v in json.loads(MODEL_PATH.read_text(encoding="utf-8"))["weights"].items()
                }
            else:
                _weights = dict(DEFAULT_WEIGHTS)
        return _weights


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def features(d: Dialogue, s: DialogueSentiment) -> tuple[dict[str, float], list[Evidence]]:
    """The feature vector of one dialogue and the evidence behind the marker features."""
    m = _markers()
    cust = [(i, t) for i, t in enumerate(d.turns) if t.role == "customer"]
    agent = [(i, t) for i, t in enumerate(d.turns) if t.role == "agent"]
    cs = [p.score for p in s.turns if p.role == "customer"]
    evidence: list[Evidence] = []
    unresolved = 0
    unresolved_last = 0.0
    thanks_last = 0.0
    thanks_any = 0.0
    for k, (i, t) in enumerate(cust):
        hits = m.find(t.c.text)
        un = [h for h in hits if h.key == "unresolved"]
        th = [h for h in hits if h.key == "thanks"]
        unresolved += len(un)
        for h in un[:1]:
            evidence.append(Evidence(t.c.snippet(h.start, h.end), i, t.start, "unresolved", span=(h.start, h.end)))
        if k > 0 and th:
            thanks_any = 1.0
        if k == len(cust) - 1:
            unresolved_last = 1.0 if un else 0.0
            thanks_last = 1.0 if th else 0.0
            for h in th[:1]:
                evidence.append(
                    Evidence(t.c.snippet(h.start, h.end), i, t.start, "thanks at the end", span=(h.start, h.end))
                )
    resolution = 0.0
    transfer = 0
    apology = 0.0
    for i, t in agent:
        for h in m.find(t.c.text):
            if h.key == "resolution" and not resolution:
                resolution = 1.0
                evidence.append(Evidence(t.c.snippet(h.start, h.end), i, t.start, "resolution", span=(h.start, h.end)))
            elif h.key == "transfer":
                transfer += 1
                if transfer == 1:
                    evidence.append(
                        Evidence(t.c.snippet(h.start, h.end), i, t.start, "transfer/deflection", span=(h.start, h.end))
                    )
            elif h.key == "apology":
                apology = 1.0
    repeats = 0
    seen: list[set[str]] = []
    for _, t in cust:
        b = _bigrams(t.c.text)
        if b and any(len(b & p) / len(b | p) > 0.5 for p in seen[-8:]):  # recent asks only
            repeats += 1
        seen.append(b)
    last_text = cust[-1][1].c.norm if cust else ""
    f = {
        "last": cs[-1] if cs else 0.0,
        "mean": s.customer,
        "min": min(cs) if cs else 0.0,
        "trend": s.trend,
        "unresolved": min(unresolved, 3) / 3.0,
        "unresolved_last": unresolved_last,
        "thanks_last": thanks_last,
        "thanks_any": thanks_any,
        "resolution": resolution,
        "transfer": min(transfer, 3) / 3.0,
        "angry": 1.0 if s.angry else 0.0,
        "repeats": min(repeats, 3) / 3.0,
        "customer_last": 1.0 if d.turns and d.turns[-1].role == "customer" else 0.0,
        "n_customer": math.log1p(len(cust)) / 3.0,
        "apology": apology,
        "agent_mean": s.agent,
        "first": cs[0] if cs else 0.0,
        "question_last": 1.0 if last_text.rstrip().endswith(("?", "吗", "呢")) else 0.0,
    }
    return f, evidence


@dataclass(frozen=True)
class Satisfaction:
    value: float  # [-1, 1]
    features: dict[str, float]
    evidence: tuple[Evidence, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": round(self.value, 3),
            "features": {k: round(v, 3) for k, v in self.features.items()},
            "evidence": [e.to_dict() for e in self.evidence],
        }


def predict(f: dict[str, float], weights: dict[str, float]) -> float:
    z = weights.get("bias", 0.0) + sum(weights.get(k, 0.0) * v for k, v in f.items())
    return max(-1.0, min(1.0, z))


def satisfaction(d: Dialogue, s: DialogueSentiment, weights: dict[str, float] | None = None) -> Satisfaction:
    """Predicted satisfaction; no customer turns gives 0 (unknown)."""
    f, ev = features(d, s)
    if not any(t.role == "customer" for t in d.turns):
        return Satisfaction(0.0, f, tuple(ev))
    return Satisfaction(predict(f, weights or default_weights()), f, tuple(ev))


def feature_matrix(rows: Sequence[dict[str, float]]) -> list[list[float]]:
    return [[1.0] + [r[k] for k in FEATURES] for r in rows]
