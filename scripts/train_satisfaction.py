"""Fit the satisfaction weights (qa/models/satisfaction.json) on STC-3's development dialogues.

The dialogues are split 50/50 with the harness's seed; ridge regression (numpy) of the
annotators' mean S (scaled to [-1, 1]) on the features of ``qa.scorers.satisfaction`` is fitted
on the first half and its Spearman correlation reported on the second half.

    .venv/bin/python scripts/train_satisfaction.py [--data ../shared/qa-data] [--ridge 1.0]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from qa.dialogue import from_record  # noqa: E402
from qa.eval import file_digest, iter_jsonl, spearman, split_half  # noqa: E402
from qa.scorers.satisfaction import FEATURES, MODEL_PATH, feature_matrix, features, predict  # noqa: E402
from qa.scorers.sentiment import dialogue_sentiment  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "qa-data")
    ap.add_argument("--ridge", type=float, default=1.0)
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    args = ap.parse_args()

    path = args.data / "stc3-weibo-helpdesk" / "dialogues.jsonl"
    records = list(iter_jsonl(path))
    train, test = split_half(records)

    def table(recs: list[dict]) -> tuple[list[dict[str, float]], list[float]]:
        rows, ys = [], []
        for r in recs:
            d = from_record(r)
            f, _ = features(d, dialogue_sentiment(d))
            rows.append(f)
            ys.append(float(r["customer_satisfaction_S_mean"]) / 2.0)
        return rows, ys

    ftr, ytr = table(train)
    fte, yte = table(test)
    X = np.array(feature_matrix(ftr))
    y = np.array(ytr)
    reg = args.ridge * np.eye(X.shape[1])
    reg[0, 0] = 0.0
    w = np.linalg.solve(X.T @ X + reg, X.T @ y)
    weights = {"bias": float(w[0])} | {k: float(v) for k, v in zip(FEATURES, w[1:], strict=True)}
    pred = [predict(f, weights) for f in fte]
    rho = spearman(pred, yte)
    base = spearman([f["last"] for f in fte], yte)
    report = {
        "spearman_heldout": round(rho, 4),
        "spearman_last_turn_sentiment": round(base, 4),
        "n_train": len(ftr),
        "n_heldout": len(fte),
        "ridge": args.ridge,
        "trained_files": {"stc3-weibo-helpdesk": file_digest(path)},
    }
    args.out.write_text(json.dumps({"weights": weights, "report": report}, ensure_ascii=False, indent=1) + "\n")
    print(json.dumps(report))
    for k, v in sorted(weights.items(), key=lambda kv: -abs(kv[1])):
        print(f"  {k:16s} {v:+.3f}")


if __name__ == "__main__":
    main()
