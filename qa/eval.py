"""Evaluation harness over ../shared/qa-data: sentiment accuracy, satisfaction correlation, JDDC stats.

Loading files happens here (the harness is an edge); scoring goes through the pure scorers.
Models are trained on the first half of a seeded 50/50 split of each development set
(``split_half``); ``hotline qa eval`` reports the second halves, which training never saw.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

SENTIMENT_SETS = ("online-shopping-10-cats", "waimai-10k", "chnsenticorp-htl", "conversation-sentiment-xs")
SPLIT_SEED = 7


def file_digest(path: Path) -> str:
    """sha256 of a data file: a model records what it was trained on, the harness compares."""
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def split_half(items: Sequence[T], seed: int = SPLIT_SEED) -> tuple[list[T], list[T]]:
    """Seeded 50/50 split: (train half, held-out half)."""
    shuffled = list(items)
    random.Random(seed).shuffle(shuffled)
    h = len(shuffled) // 2
    return shuffled[:h], shuffled[h:]


def load_items(path: Path) -> list[tuple[str, str]]:
    """``label<TAB>text`` lines."""
    out: list[tuple[str, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if "\t" in line:
            lab, txt = line.split("\t", 1)
            out.append((lab.strip(), txt))
    return out


def iter_jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _ranks(xs: Sequence[float]) -> list[float]:
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    ranks = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rho with average ranks for ties (no scipy needed)."""
    if len(a) != len(b) or len(a) < 2:
        return float("nan")
    ra, rb = _ranks(a), _ranks(b)
    n = len(a)
    ma, mb = sum(ra) / n, sum(rb) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    va = sum((x - ma) ** 2 for x in ra)
    vb = sum((y - mb) ** 2 for y in rb)
    return cov / (va * vb) ** 0.5 if va > 0 and vb > 0 else float("nan")


# --- the harness ------------------------------------------------------------------------------

TARGETS = {
    "online-shopping-10-cats": 0.90,
    "waimai-10k": 0.85,
    "stc3-spearman": 0.50,
}


def _trained_digests() -> dict[str, str]:
    """Which data files the shipped models were trained on (first halves)."""
    out: dict[str, str] = {}
    try:
        from qa.scorers.sentiment import default_model

        m = default_model()
        if m is not None:
            out.update(m.meta.get("trained_files", {}))
    except (OSError, ValueError):
        pass
    from qa.scorers.satisfaction import MODEL_PATH

    if MODEL_PATH.exists():
        out.update(json.loads(MODEL_PATH.read_text(encoding="utf-8")).get("report", {}).get("trained_files", {}))
    return out


def _eval_part(name: str, path: Path, items: list[T], trained: dict[str, str]) -> tuple[list[T], str]:
    """The part of a data set that no model saw: its second half if we trained on its first."""
    if trained.get(name) == file_digest(path):
        return split_half(items)[1], "held-out half"
    return items, "all (unseen)"


def eval_sentiment(data: Path, trained: dict[str, str]) -> list[dict]:
    from qa.scorers.sentiment import classify, label

    rows = []
    sets = [*SENTIMENT_SETS, "smp2020-ewect-usual"]
    for name in sets:
        path = data / name / "items.tsv"
        if not path.exists():
            continue
        items = load_items(path)
        if name == "smp2020-ewect-usual":
            mapped = {"happy": "positive", "angry": "negative", "sad": "negative"}
            items = [(mapped[lab], t) for lab, t in items if lab in mapped]
        items = [(lab, t) for lab, t in items if lab in ("positive", "negative")]
        part, which = _eval_part(name, path, items, trained)
        ok = sum(label(classify(t)) == lab for lab, t in part)
        rows.append(
            {
                "set": name,
                "part": which,
                "n": len(part),
                "accuracy": ok / len(part) if part else float("nan"),
                "target": TARGETS.get(name),
            }
        )
    return rows


def eval_sentiment_variants(data: Path, trained: dict[str, str]) -> list[dict]:
    """The numbers behind the choice: lexicon alone, model alone, the blend, snownlp out of the box."""
    from qa.scorers.sentiment import classify, default_model, lexicon_score
    from zhtext.match import compact

    model = default_model()
    try:
        from snownlp import SnowNLP
    except ImportError:  # not a dependency of the project; only a reference point
        SnowNLP = None
    rows = []
    for name in ("online-shopping-10-cats", "waimai-10k"):
        path = data / name / "items.tsv"
        if not path.exists():
            continue
        items = [(lab, t) for lab, t in load_items(path) if lab in ("positive", "negative")]
        part, which = _eval_part(name, path, items, trained)
        gold = [lab == "positive" for lab, _ in part]

        def acc(pred: list[bool], gold: list[bool] = gold) -> float:
            return sum(p == g for p, g in zip(pred, gold, strict=True)) / len(gold)

        row: dict = {"set": name, "part": which, "n": len(part)}
        row["lexicon"] = acc([lexicon_score(compact(t))[0] >= 0 for _, t in part])
        if model is not None:
            row["model"] = acc([model.decision(t) >= 0 for _, t in part])
        row["blend"] = acc([classify(t) >= 0 for _, t in part])
        if SnowNLP is not None:
            row["snownlp"] = acc([SnowNLP(t).sentiments >= 0.5 for _, t in part])
        rows.append(row)
    return rows


def eval_satisfaction(data: Path, trained: dict[str, str]) -> dict | None:
    from qa.dialogue import from_record
    from qa.scorers.satisfaction import satisfaction
    from qa.scorers.sentiment import dialogue_sentiment

    name = "stc3-weibo-helpdesk"
    path = data / name / "dialogues.jsonl"
    if not path.exists():
        return None
    records = [r for r in iter_jsonl(path) if r.get("customer_satisfaction_S_mean") is not None]
    part, which = _eval_part(name, path, records, trained)
    pred, last, gold = [], [], []
    for r in part:
        d = from_record(r)
        s = dialogue_sentiment(d)
        pred.append(satisfaction(d, s).value)
        cust = [t.score for t in s.turns if t.role == "customer"]
        last.append(cust[-1] if cust else 0.0)
        gold.append(float(r["customer_satisfaction_S_mean"]))
    return {
        "set": name,
        "part": which,
        "n": len(part),
        "spearman": spearman(pred, gold),
        "spearman_last_turn": spearman(last, gold),
        "target": TARGETS["stc3-spearman"],
    }


def eval_jddc(data: Path, scorecard_path: Path | None = None) -> dict | None:
    import time
    from collections import Counter

    from qa.dialogue import from_record
    from qa.score import score_dialogue
    from qa.scorecard import load_scorecard

    path = data / "jddc2019-sample" / "dialogues.jsonl"
    if not path.exists():
        return None
    card = load_scorecard(scorecard_path)
    records = list(iter_jsonl(path))
    t0 = time.perf_counter()
    results = [score_dialogue(from_record(r), card) for r in records]
    elapsed = time.perf_counter() - t0
    items: dict[str, dict] = {}
    for item in card.items:
        vals = [next(i for i in r.items if i.id == item.id).value for r in results]
        app = [v for v in vals if v is not None]
        items[item.id] = {
            "name": item.name,
            "applicable": len(app),
            "passed": sum(1 for v in app if v >= 0.999),
            "mean": sum(app) / len(app) if app else None,
        }
    forbidden_phrases: Counter[str] = Counter()
    for r in results:
        for i in r.items:
            if i.id in ("forbidden", "abuse"):
                forbidden_phrases.update(e.phrase for e in i.evidence)
    flags: Counter[str] = Counter(f for r in results for f in r.flags)
    totals = [r.total for r in results]
    return {
        "n": len(results),
        "scorecard_version": card.version,
        "mean_total": sum(totals) / len(totals) if totals else float("nan"),
        "items": items,
        "forbidden_phrases": dict(forbidden_phrases.most_common(10)),
        "flags": dict(flags),
        "dialogues_per_s": len(results) / elapsed if elapsed > 0 else float("nan"),
    }


def run_eval(data: Path, scorecard_path: Path | None = None, variants: bool = False) -> dict:
    """Every evaluation over a qa-data directory; missing sets are left out."""
    trained = _trained_digests()
    return {
        "data": str(data),
        "sentiment": eval_sentiment(data, trained),
        "sentiment_variants": eval_sentiment_variants(data, trained) if variants else [],
        "satisfaction": eval_satisfaction(data, trained),
        "jddc": eval_jddc(data, scorecard_path),
    }


def _fmt(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "-"
    return f"{x:.3f}"


def format_report(rep: dict) -> str:
    """The table ``hotline qa eval`` prints."""
    lines = [f"QA evaluation over {rep['data']}", "", "Sentiment (label = sign of score)"]
    lines.append(f"  {'set':28s} {'part':15s} {'n':>5s} {'accuracy':>9s} {'target':>7s}  met")
    for r in rep["sentiment"]:
        met = "" if r["target"] is None else ("yes" if r["accuracy"] >= r["target"] else "NO")
        lines.append(
            f"  {r['set']:28s} {r['part']:15s} {r['n']:5d} {r['accuracy']:9.3f} {_fmt(r['target']):>7s}  {met}"
        )
    if rep.get("sentiment_variants"):
        lines += ["", "Sentiment variants (accuracy): why the blend"]
        lines.append(f"  {'set':28s} {'part':15s} {'lexicon':>8s} {'model':>8s} {'blend':>8s} {'snownlp':>8s}")
        for r in rep["sentiment_variants"]:
            cells = " ".join(
                f"{r[k]:8.3f}" if k in r else f"{'-':>8s}" for k in ("lexicon", "model", "blend", "snownlp")
            )
            lines.append(f"  {r['set']:28s} {r['part']:15s} {cells}")
    s = rep.get("satisfaction")
    lines += ["", "Predicted satisfaction vs STC-3 annotated mean S (Spearman)"]
    if s:
        met = "yes" if s["spearman"] >= s["target"] else "NO"
        lines.append(
            f"  {'set':28s} {'part':15s} {'n':>5s} {'rho':>9s} {'target':>7s}  met  (last customer turn alone)"
        )
        lines.append(
            f"  {s['set']:28s} {s['part']:15s} {s['n']:5d} {s['spearman']:9.3f} {s['target']:7.3f}  {met:3s}"
            f"  ({s['spearman_last_turn']:.3f})"
        )
    else:
        lines.append("  (no stc3-weibo-helpdesk data)")
    j = rep.get("jddc")
    lines += ["", "JDDC script and forbidden-phrase statistics"]
    if j:
        lines.append(
            f"  dialogues {j['n']}, scorecard {j['scorecard_version']}, mean total {j['mean_total']:.1f},"
            f" {j['dialogues_per_s']:.0f} dialogues/s"
        )
        lines.append(f"  {'item':18s} {'name':16s} {'applicable':>10s} {'passed':>7s} {'mean':>6s}")
        for iid, it in j["items"].items():
            lines.append(
                f"  {iid:18s} {it['name']:16s} {it['applicable']:10d} {it['passed']:7d} {_fmt(it['mean']):>6s}"
            )
        lines.append(f"  forbidden phrases found: {j['forbidden_phrases'] or 'none'}")
        lines.append(f"  flags: {j['flags'] or 'none'}")
    else:
        lines.append("  (no jddc2019-sample data)")
    return "\n".join(lines)
