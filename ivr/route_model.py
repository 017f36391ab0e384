"""The router's learned half: request text -> features, and the linear classifier over them.

Shared by the router (``ivr.route``) and its trainer (``scripts/train_router.py``), so a request is
featurised the same way when the model learns and when it routes. Text handling is ``zhtext``'s.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zhtext.normalize import compact_key
from zhtext.segment import Segmenter, segmenter

# Label of requests the hotline's menu does not serve (product questions, chit-chat): the classifier learns
# it so that its probability goes to no branch and such requests fall back instead of being routed.
NONE = "none"


def request_key(text: str) -> str:
    """The form requests and phrases are matched on: ``zhtext.normalize.compact_key``, simplified, with
    the bracketed placeholders of masked chat data (``[订单x]``) dropped: they carry no intent."""
    return compact_key(text, drop_tags=True)


# Words jieba keeps whole besides the menu's phrases; added with a high frequency so they win.
_EXTRA_WORDS = ("京东", "京东快递", "京东物流", "订单号", "快递柜", "自提点", "配送站", "师傅", "空调", "冰箱")
WORD_FREQ = 200_000


def phrase_segmenter(phrases: Iterable[str]) -> Segmenter:
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
