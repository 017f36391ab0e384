"""Answer snippets for the agent from the hotline's own documents (offline, no cloud search).

The documents (``HOTLINE_KNOWLEDGE_DIR``, default ``../shared/domain``: 服务范围, 售后职责,
运营规范, the training course) are cut into passages and indexed once, at start-up or by
``hotline live index``: character-bigram TF-IDF over simplified Chinese, saved as JSON beside
the data so a restart reads it back. A query (the customer's words plus the routing topic's
keywords) returns the best few passages. Pure functions, except `load_documents` and the cache.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zhtext.convert import to_simplified

MIN_PASSAGE = 40  # characters: shorter lines are joined to the next
MAX_PASSAGE = 220
INDEX_VERSION = 1
_JUNK = re.compile(r"(課件_第|课件_第|下載|下载本文|版權說明|版权说明|已閱讀|已阅读|礼品网|免费阅读)")
_HAN = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class Passage:
    doc: str
    text: str


@dataclass(frozen=True)
class Snippet:
    doc: str
    text: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"doc": self.doc, "text": self.text, "score": round(self.score, 3)}


def bigrams(text: str) -> list[str]:
    """Han-character bigrams (single characters for one-character runs): the index's terms."""
    out: list[str] = []
    for run in re.findall(r"[\u3400-\u9fff]+", text):
        out += [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]
    return out


def passages(doc: str, text: str) -> list[Passage]:
    """A document cut into passages of ``MIN_PASSAGE``..``MAX_PASSAGE`` characters at line and
    sentence ends; page furniture (download notes, page titles, spam lines) dropped."""
    out: list[Passage] = []
    buf = ""
    for line in to_simplified(text).splitlines():
        line = line.strip()
        if not line or _JUNK.search(line) or len(_HAN.findall(line)) < len(line) / 2:
            continue
        for sentence in re.split(r"(?<=[。！？；])", line):
            if not sentence:
                continue
            if len(buf) + len(sentence) > MAX_PASSAGE and len(buf) >= MIN_PASSAGE:
                out.append(Passage(doc, buf))
                buf = ""
            buf += sentence
        if len(buf) >= MIN_PASSAGE:
            out.append(Passage(doc, buf))
            buf = ""
    if len(buf) >= MIN_PASSAGE // 2:
        out.append(Passage(doc, buf))
    return out


class KnowledgeIndex:
    """TF-IDF over character bigrams; `search` answers a query with the best passages."""

    def __init__(self, items: Sequence[Passage], idf: dict[str, float], vectors: Sequence[dict[str, float]]):
        self.items, self.idf, self.vectors = list(items), idf, list(vectors)

    @classmethod
    def build(cls, items: Iterable[Passage]) -> KnowledgeIndex:
        items = list(items)
        counts = [Counter(bigrams(p.text)) for p in items]
        df: Counter[str] = Counter()
        for c in counts:
            df.update(c.keys())
        n = max(1, len(items))
        idf = {t: math.log((1 + n) / (1 + k)) + 1.0 for t, k in df.items()}
        return cls(items, idf, [_unit({t: (1 + math.log(k)) * idf[t] for t, k in c.items()}) for c in counts])

    def search(self, query: str, k: int = 3, min_score: float = 0.05) -> list[Snippet]:
        q = Counter(bigrams(to_simplified(query)))
        qv = _unit({t: (1 + math.log(c)) * self.idf[t] for t, c in q.items() if t in self.idf})
        if not qv:
            return []
        scored = sorted(
            ((sum(w * v.get(t, 0.0) for t, w in qv.items()), i) for i, v in enumerate(self.vectors)), reverse=True
        )
        return [Snippet(self.items[i].doc, self.items[i].text, s) for s, i in scored[:k] if s >= min_score]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": INDEX_VERSION,
            "passages": [[p.doc, p.text] for p in self.items],
            "idf": self.idf,
            "vectors": self.vectors,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KnowledgeIndex:
        if data.get("version") != INDEX_VERSION:
            raise ValueError("knowledge index of another version")
        return cls([Passage(d, t) for d, t in data["passages"]], data["idf"], data["vectors"])

    def __len__(self) -> int:
        return len(self.items)


def _unit(v: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(x * x for x in v.values()))
    return {t: x / norm for t, x in v.items()} if norm else {}


def load_documents(folder: Path) -> list[Passage]:
    """Every ``*.txt`` / ``*.md`` of ``folder`` as passages (file name as the document's name)."""
    out: list[Passage] = []
    for path in sorted(folder.glob("*")):
        if path.suffix in (".txt", ".md") and path.is_file():
            out += passages(path.stem, path.read_text(encoding="utf-8", errors="replace"))
    return out


def build_index(folder: Path, cache: Path | None = None) -> KnowledgeIndex:
    """The index of ``folder``, read from ``cache`` when it was built from the same files."""
    stamp = [[p.name, p.stat().st_size, int(p.stat().st_mtime)] for p in sorted(folder.glob("*")) if p.is_file()]
    if cache is not None and cache.exists():
        try:
            data = json.loads(cache.read_text(encoding="utf-8"))
            if data.get("stamp") == stamp:
                return KnowledgeIndex.from_json(data)
        except (ValueError, KeyError, TypeError):
            pass  # rebuilt below
    index = KnowledgeIndex.build(load_documents(folder))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps({**index.to_json(), "stamp": stamp}, ensure_ascii=False), encoding="utf-8")
        tmp.replace(cache)
    return index
