"""Sentiment in [-1, 1]: a trained character n-gram classifier blended with a service lexicon.

The classifier (TF-IDF over character 1–3-grams, logistic regression) is trained by
``scripts/train_sentiment.py`` and shipped as ``qa/models/sentiment.npz``; inference here is pure
Python/numpy so it reproduces scikit-learn's scores without importing it. Review-trained models
know nothing of service talk (好的 / 请稍等 / 投诉), so a small lexicon with negation handling
(不是很满意, 没有问题) pulls turns with clear service cues and damps text with no cue.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np

from qa.dialogue import Dialogue, Turn
from qa.scorers import Evidence
from zhtext.match import Compact, PhraseMatcher, compact
from zhtext.normalize import normalize

MODEL_PATH = Path(__file__).resolve().parent.parent / "models" / "sentiment.npz"

# --- trained classifier -----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class NgramModel:
    """Linear model over sublinear TF-IDF character n-grams, L2-normalised (scikit-learn's maths).

    ``decisions`` scores a batch (all turns of a dialogue) with one pass of numpy, which is what
    keeps long calls fast; ``decision`` is the one-text form.
    """

    index: dict[str, int]  # gram -> column
    coef: np.ndarray
    idf: np.ndarray
    bias: float
    ngram_max: int
    meta: dict[str, Any] = field(default_factory=dict)

    def decisions(self, docs: Sequence[str]) -> list[float]:
        """Logits of 'positive' for prepared texts (see ``prepare``)."""
        if not docs:
            return []
        grams: list[str] = []
        lens: list[int] = []
        kmax = self.ngram_max
        for doc in docs:
            n = len(doc)
            before = len(grams)
            for k in range(1, kmax + 1):
                grams.extend([doc[i : i + k] for i in range(n - k + 1)])
            lens.append(len(grams) - before)
        if not grams:
            return [self.bias] * len(docs)
        idx = np.fromiter(map(self.index.get, grams, repeat(-1, len(grams))), dtype=np.int64, count=len(grams))
        tid = np.repeat(np.arange(len(docs), dtype=np.int64), lens)
        keep = idx >= 0
        width = len(self.index) + 1
        uniq, counts = np.unique(tid[keep] * width + idx[keep], return_counts=True)
        t = uniq // width
        j = uniq % width
        x = (1.0 + np.log(counts)) * self.idf[j]
        dot = np.bincount(t, weights=self.coef[j] * x, minlength=len(docs))
        norm2 = np.bincount(t, weights=x * x, minlength=len(docs))
        safe = np.where(norm2 > 0, norm2, 1.0)
        z = self.bias + np.where(norm2 > 0, dot / np.sqrt(safe), 0.0)
        return [float(v) for v in z]

    def decision(self, text: str, prepared: bool = False) -> float:
        """Logit of 'positive'. ``prepared``: text is already normalised (``prepare``)."""
        return self.decisions([text.replace(" ", "") if prepared else prepare(text)])[0]

    def score(self, text: str, prepared: bool = False) -> float:
        """P(positive) mapped to [-1, 1]."""
        return to_unit(self.decision(text, prepared))

    def scores(self, texts: Sequence[str]) -> list[float]:
        """``score`` for many normalised texts at once."""
        return [to_unit(z) for z in self.decisions([t.replace(" ", "") for t in texts])]


def to_unit(z: float) -> float:
    """Logit -> P(positive) mapped to [-1, 1]."""
    return 2.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z)))) - 1.0


def prepare(text: str) -> str:
    """Classifier input: normalised text without spaces (ASR spacing must not change n-grams)."""
    return normalize(text).replace(" ", "")


def save_model(
    path: Path, grams: Sequence[str], coef: np.ndarray, idf: np.ndarray, bias: float, meta: dict[str, Any]
) -> None:
    """Write the model compactly: grams joined by newlines, float16 weights (used by the trainer)."""
    blob = np.frombuffer("\n".join(grams).encode("utf-8"), dtype=np.uint8)
    np.savez_compressed(
        path,
        grams=blob,
        coef=np.asarray(coef, dtype=np.float16),
        idf=np.asarray(idf, dtype=np.float16),
        bias=np.array([bias], dtype=np.float64),
        meta=np.frombuffer(json.dumps(meta, ensure_ascii=False).encode("utf-8"), dtype=np.uint8),
    )


def load_model(path: Path = MODEL_PATH) -> NgramModel:
    with np.load(path) as z:
        grams = bytes(z["grams"]).decode("utf-8").split("\n")
        coef = z["coef"].astype(np.float64)
        idf = z["idf"].astype(np.float64)
        bias = float(z["bias"][0])
        meta = json.loads(bytes(z["meta"]).decode("utf-8"))
    if not (len(grams) == len(coef) == len(idf)):
        raise ValueError(f"{path}: grams, coef and idf differ in length")
    index = {g: k for k, g in enumerate(grams)}
    return NgramModel(index, coef, idf, bias, int(meta.get("ngram_max", 3)), meta)


_model_lock = threading.Lock()
_model: NgramModel | None = None


def default_model() -> NgramModel | None:
    """The shipped model, loaded once per process; None if the file is missing."""
    global _model
    with _model_lock:
        if _model is None and MODEL_PATH.exists():
            _model = load_model(MODEL_PATH)
        return _model


# --- lexicon ----------------------------------------------------------------------------------

# Weights in [-1, 1]. Longest match wins, so 不错 / 没问题 / 不满意 are read whole.
LEXICON: dict[str, float] = {
    # positive, service talk
    "谢谢": 0.5,
    "感谢": 0.5,
    "多谢": 0.5,
    "谢啦": 0.5,
    "辛苦了": 0.5,
    "好的": 0.2,
    "好滴": 0.2,
    "好吧": 0.05,
    "满意": 0.7,
    "非常满意": 0.9,
    "很满意": 0.85,
    "太好了": 0.8,
    "好评": 0.7,
    "五星": 0.6,
    "点赞": 0.7,
    "不错": 0.6,
    "挺好": 0.6,
    "很好": 0.7,
    "太好": 0.7,
    "非常好": 0.8,
    "可以了": 0.4,
    "解决了": 0.6,
    "已解决": 0.6,
    "没问题": 0.35,
    "没有问题": 0.35,
    "没事": 0.2,
    "还行": 0.15,
    "还可以": 0.2,
    "行吧": 0.0,
    "收到了": 0.3,
    "开心": 0.6,
    "喜欢": 0.6,
    "专业": 0.4,
    "耐心": 0.4,
    "及时": 0.4,
    "给力": 0.7,
    "赞": 0.6,
    "棒": 0.6,
    "麻烦了": 0.3,
    "放心": 0.3,
    "理解": 0.15,
    "明白了": 0.25,
    "清楚了": 0.25,
    "晓得了": 0.2,
    # negative, complaints and anger
    "投诉": -0.8,
    "差评": -0.8,
    "12315": -0.9,
    "曝光": -0.8,
    "消协": -0.8,
    "消费者协会": -0.8,
    "工商局": -0.8,
    "起诉": -0.9,
    "律师": -0.6,
    "媒体": -0.4,
    "骗子": -0.95,
    "骗人": -0.9,
    "欺骗": -0.9,
    "坑人": -0.9,
    "垃圾": -0.9,
    "太差": -0.85,
    "很差": -0.8,
    "差劲": -0.85,
    "失望": -0.8,
    "生气": -0.8,
    "气死": -0.95,
    "无语": -0.7,
    "恶心": -0.9,
    "忽悠": -0.8,
    "推诿": -0.8,
    "敷衍": -0.8,
    "踢皮球": -0.85,
    "不靠谱": -0.8,
    "不满意": -0.75,
    "不满": -0.7,
    "不行": -0.4,
    "不好": -0.5,
    "不能接受": -0.8,
    "太慢": -0.6,
    "慢死": -0.85,
    "退钱": -0.5,
    "赔偿": -0.4,
    "坏了": -0.5,
    "破损": -0.6,
    "质量问题": -0.5,
    "假货": -0.85,
    "烂": -0.6,
    "怎么回事": -0.5,
    "什么情况": -0.35,
    "到底": -0.35,
    "还没": -0.35,
    "至今": -0.45,
    "一直没": -0.55,
    "没人管": -0.85,
    "没人理": -0.85,
    "没有回复": -0.6,
    "没回复": -0.6,
    "没解决": -0.7,
    "没有解决": -0.7,
    "着急": -0.4,
    "急死": -0.8,
    "麻烦": -0.2,
    "问题": -0.1,
    "为什么": -0.3,
    "凭什么": -0.8,
    "搞什么": -0.8,
    "太过分": -0.9,
    "过分": -0.75,
    "离谱": -0.8,
    "糟糕": -0.8,
    "郁闷": -0.6,
    "崩溃": -0.8,
    "呵呵": -0.4,
    "抱歉": -0.05,
    "对不起": -0.05,
    "不好意思": 0.0,
    # questions that contain a negative word but ask, not complain (longest match wins)
    "行不行": 0.0,
    "好不好": 0.0,
    "对不对": 0.0,
    "能不能": 0.0,
    "可不可以": 0.0,
    "是不是": 0.0,
    "有没有问题": 0.0,
    "请稍等": 0.0,
    "稍等": 0.0,
}
NEGATORS = ("不是很", "不太", "不怎么", "不算", "并不", "没有", "不是", "没", "不", "别", "未", "无")
# Negation flips and damps: 不是很满意 is mildly negative, 不太差 mildly positive.
NEGATION_FACTOR = -0.6

_lexicon_matcher: PhraseMatcher | None = None


def _lexicon() -> PhraseMatcher:
    global _lexicon_matcher
    if _lexicon_matcher is None:
        by_weight: dict[str, list[str]] = {}
        for phrase, w in LEXICON.items():
            by_weight.setdefault(str(w), []).append(phrase)
        _lexicon_matcher = PhraseMatcher(by_weight)
    return _lexicon_matcher


def lexicon_score(c: Compact) -> tuple[float, list[tuple[str, float, int]]]:
    """Mean weight of lexicon hits (negation-aware) and the hits (phrase, weight, compact start)."""
    hits = _lexicon().find(c.text, longest=True)
    found: list[tuple[str, float, int]] = []
    text = c.text
    for h in hits:
        w = float(h.key)
        prefix = text[max(0, h.start - 3) : h.start]
        if w != 0.0 and any(prefix.endswith(neg) for neg in NEGATORS):
            w *= NEGATION_FACTOR
            phrase = prefix[-3:] + h.phrase
        else:
            phrase = h.phrase
        found.append((phrase, w, h.start))
    scored = [w for _, w, _ in found if w != 0.0]
    if not scored:
        return 0.0, found
    # Strongest cue dominates, others nudge: a polite 谢谢 must not cancel 投诉.
    strongest = max(scored, key=abs)
    mean = sum(scored) / len(scored)
    return max(-1.0, min(1.0, 0.7 * strongest + 0.3 * mean)), found


# --- blend ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextSentiment:
    score: float
    model: float | None
    lexicon: float
    cues: tuple[str, ...]


QUESTION_ENDINGS = ("?", "吗", "呢", "么", "嘛")
QUESTION_WORDS = (
    "怎么",
    "能不能",
    "可不可以",
    "可以吗",
    "是不是",
    "有没有",
    "什么时候",
    "多久",
    "哪里",
    "请问",
    "如何",
    "几天",
)


def is_question(c: Compact) -> bool:
    tail = c.norm.rstrip(" .。!~")
    return tail.endswith(QUESTION_ENDINGS) or any(w in c.text for w in QUESTION_WORDS)


def text_sentiment(
    text: str | Compact, model: NgramModel | None = None, model_score: float | None = None
) -> TextSentiment:
    """Sentiment of one dialogue turn.

    Review-trained models read plain service questions (能改下收货地址吗) as complaints, so
    without a lexicon cue the model is damped (questions most, short lines more); with cues the
    lexicon leads.
    """
    c = text if isinstance(text, Compact) else compact(text)
    model = model if model is not None else default_model()
    lex, hits = lexicon_score(c)
    cues = tuple(p for p, w, _ in hits if w != 0.0)
    if model_score is None and model is None:
        return TextSentiment(lex, None, lex, cues)
    m = model_score if model_score is not None else model.score(c.norm, prepared=True)  # type: ignore[union-attr]
    if cues:
        score = 0.4 * m + 0.6 * lex
    else:
        damp = min(1.0, len(c.text) / 12.0)
        factor = 0.3 if is_question(c) else 0.6
        score = m * factor * (0.5 + 0.5 * damp)
    return TextSentiment(max(-1.0, min(1.0, score)), m, lex, cues)


def label(score: float) -> str:
    return "positive" if score >= 0.0 else "negative"


def classify(text: str, model: NgramModel | None = None) -> float:
    """Polarity of a review-style text (the ``hotline qa sentiment`` path): the model leads on long
    texts, the negation-aware lexicon on short ones (不是很满意, 还行吧)."""
    model = model if model is not None else default_model()
    c = compact(text)
    lex, hits = lexicon_score(c)
    if model is None:
        return lex
    m = model.score(c.norm, prepared=True)
    if not any(w != 0.0 for _, w, _ in hits):
        return m
    w_lex = max(0.2, min(0.7, 1.0 - len(c.text) / 30.0))
    return max(-1.0, min(1.0, (1.0 - w_lex) * m + w_lex * lex))


# --- dialogue sentiment -----------------------------------------------------------------------

ANGER_MARKERS = (
    "投诉",
    "差评",
    "12315",
    "曝光",
    "消协",
    "消费者协会",
    "工商",
    "媒体",
    "起诉",
    "律师",
    "骗子",
    "骗人",
    "垃圾",
    "气死",
    "凭什么",
    "太过分",
    "什么破",
    "坑人",
    "滚",
    "找你们领导",
    "找领导",
    "315",
)
_anger_matcher: PhraseMatcher | None = None


def _anger() -> PhraseMatcher:
    global _anger_matcher
    if _anger_matcher is None:
        _anger_matcher = PhraseMatcher({"anger": ANGER_MARKERS})
    return _anger_matcher


@dataclass(frozen=True)
class TurnSentiment:
    turn: int
    role: str
    score: float
    start: float | None
    cues: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "turn": self.turn,
            "role": self.role,
            "score": round(self.score, 3),
            "start": self.start,
            "cues": list(self.cues),
        }


@dataclass(frozen=True)
class DialogueSentiment:
    turns: tuple[TurnSentiment, ...]
    customer: float  # overall customer sentiment
    agent: float
    quarters: dict[str, list[float | None]]  # role -> 4 means (None where no turns)
    trend: float  # customer: last half minus first half
    angry: bool
    complaint_turns: tuple[int, ...]
    evidence: tuple[Evidence, ...]

    def of(self, role: str) -> list[TurnSentiment]:
        return [t for t in self.turns if t.role == role]


def _mean(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _quarter_of(d: Dialogue, i: int, t: Turn) -> int:
    if d.timed and d.duration > 0:
        mid = ((t.start or 0.0) + (t.end or 0.0)) / 2 - d.start
        return min(3, int(4 * mid / d.duration))
    return min(3, int(4 * i / max(1, len(d.turns))))


def dialogue_sentiment(d: Dialogue, model: NgramModel | None = None) -> DialogueSentiment:
    """Per-turn sentiment, per-quarter means, trend, anger and complaint turns."""
    model = model if model is not None else default_model()
    per: list[TurnSentiment] = []
    evidence: list[Evidence] = []
    complaint: list[int] = []
    angry = False
    batch = model.scores([t.c.norm for t in d.turns]) if model is not None else [None] * len(d.turns)
    for i, t in enumerate(d.turns):
        s = text_sentiment(t.c, model, batch[i])
        per.append(TurnSentiment(i, t.role, s.score, t.start, s.cues))
        if t.role != "customer":
            continue
        hits = _anger().find(t.c.text)
        if hits:
            angry = True
            complaint.append(i)
            for h in hits[:2]:
                evidence.append(Evidence(t.c.snippet(h.start, h.end), i, t.start, "anger", span=(h.start, h.end)))
        elif (s.lexicon <= -0.3 and s.score <= -0.35) or s.score <= -0.7:
            complaint.append(i)
            evidence.append(Evidence(t.c.norm[:40], i, t.start, f"negative {s.score:.2f}"))
    cust = [p.score for p in per if p.role == "customer"]
    agent = [p.score for p in per if p.role == "agent"]
    strong_neg = sum(1 for x in cust if x <= -0.6)
    if strong_neg >= 2 and strong_neg >= len(cust) / 2:
        angry = True
    quarters: dict[str, list[float | None]] = {}
    for role in ("customer", "agent"):
        buckets: list[list[float]] = [[], [], [], []]
        for i, t in enumerate(d.turns):
            if t.role == role:
                buckets[_quarter_of(d, i, t)].append(per[i].score)
        quarters[role] = [None if (m := _mean(b)) is None else round(m, 3) for b in buckets]
    half = len(cust) // 2
    trend = (sum(cust[half:]) / len(cust[half:]) - sum(cust[:half]) / half) if half else 0.0
    # Overall: late turns weigh more (how the customer leaves matters most).
    if cust:
        wts = [1.0 + k for k in range(len(cust))]
        customer = sum(w * x for w, x in zip(wts, cust, strict=True)) / sum(wts)
    else:
        customer = 0.0
    return DialogueSentiment(
        tuple(per),
        customer,
        _mean(agent) or 0.0,
        quarters,
        trend,
        angry,
        tuple(complaint),
        tuple(evidence),
    )
