"""Train the speech router's classifier from ivr/route_data/requests.tsv and save router_model.npz.

    .venv/bin/python scripts/train_router.py            # train, report 5-fold cross-validation, save
    .venv/bin/python scripts/train_router.py --sweep    # also sweep the policy thresholds (on CV only)

Only requests.tsv is used: requests_heldout.tsv is for evaluation (benchmarks/route.py) and is never
read here. The classifier is scikit-learn's logistic regression on the router's own features; only its
weights are saved (float16), so routing at run time needs numpy alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr.menu import load_menu  # noqa: E402
from ivr.route import Router  # noqa: E402
from ivr.route_eval import evaluate  # noqa: E402
from ivr.route_files import (  # noqa: E402
    DATA_DIR,
    DEFAULT_MENU,
    MODEL_FILE,
    Example,
    load_examples,
    load_policy,
    load_synonyms,
)
from ivr.route_model import NONE, Model  # noqa: E402


def fit(router: Router, examples: Sequence[Example], c: float, min_df: int) -> Model:
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    feats = [router.featurize(ex.text)[0] for ex in examples]
    df = Counter(f for fs in feats for f in set(fs))
    vocab = sorted(f for f, k in df.items() if k >= min_df or f.startswith("k:"))
    index = {f: i for i, f in enumerate(vocab)}
    rows, cols, vals = [], [], []
    for r, fs in enumerate(feats):
        cs = [index[f] for f in fs if f in index]
        for col in cs:
            rows.append(r)
            cols.append(col)
            vals.append(1.0 / np.sqrt(len(cs)))
    x = csr_matrix((vals, (rows, cols)), shape=(len(feats), len(vocab)))
    y = [ex.node for ex in examples]
    clf = LogisticRegression(C=c, max_iter=5000)
    clf.fit(x, y)
    classes = tuple(str(c) for c in clf.classes_)
    return Model(
        classes=classes,
        index=index,
        weights=clf.coef_.T.astype(np.float32),
        bias=clf.intercept_.astype(np.float32),
        meta={"examples": len(examples), "features": len(vocab), "C": c, "min_df": min_df},
    )


def folds(examples: Sequence[Example], k: int, seed: int = 7) -> list[tuple[list[Example], list[Example]]]:
    idx = list(range(len(examples)))
    random.Random(seed).shuffle(idx)
    out = []
    for i in range(k):
        test = set(idx[i::k])
        out.append(([examples[j] for j in idx if j not in test], [examples[j] for j in sorted(test)]))
    return out


def cross_validate(router: Router, examples: Sequence[Example], c: float, min_df: int, k: int = 5) -> list[Router]:
    return [router.with_model(fit(router, train, c, min_df)) for train, _ in folds(examples, k)]


def cv_figures(routers: Sequence[Router], examples: Sequence[Example], k: int = 5) -> dict[str, float]:
    tot: Counter[str] = Counter()
    n = 0
    for r, (_, test) in zip(routers, folds(examples, k), strict=True):
        m = evaluate(r, test)
        for key in ("branch_acc", "reached", "node_acc", "clarify_rate", "fallback_rate"):
            tot[key] += m[key] * m["n"]
        tot["none_routed"] += m["none_routed"] * m["none_n"]
        tot["none_n"] += m["none_n"]
        n += m["n"]
    out = {key: v / n for key, v in tot.items() if not key.startswith("none")}
    out["none_routed"] = tot["none_routed"] / max(tot["none_n"], 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DATA_DIR))
    ap.add_argument("--menu", default=str(DEFAULT_MENU))
    ap.add_argument("--C", type=float, default=100.0, help="inverse regularisation of the logistic regression")
    ap.add_argument("--min-df", type=int, default=2, help="keep features seen in at least this many requests")
    ap.add_argument("--sweep", action="store_true", help="sweep policy thresholds on cross-validation")
    ap.add_argument("--no-cv", action="store_true")
    args = ap.parse_args()
    data = Path(args.data)
    examples = load_examples(data / "requests.tsv")
    policy = load_policy(data / "policy.yaml")
    router = Router(load_menu(args.menu), None, policy, load_synonyms(data / "synonyms.yaml"))
    unknown = sorted({ex.node for ex in examples} - set(router.nodes) - {NONE})
    if unknown:
        sys.exit(f"requests.tsv: unknown node ids: {', '.join(unknown)}")
    print(f"{len(examples)} training requests, {len({ex.node for ex in examples})} nodes")
    if not args.no_cv:
        t0 = time.perf_counter()
        routers = cross_validate(router, examples, args.C, args.min_df)
        figs = cv_figures(routers, examples)
        print(f"5-fold CV ({time.perf_counter() - t0:.1f}s): " + ", ".join(f"{k} {v:.3f}" for k, v in figs.items()))
        if args.sweep:
            print("route_min route_margin clarify_pair_min clarify_second_min -> "
                  "branch_acc reached clarify fallback none_routed")  # fmt: skip
            grid = itertools.product((0.4, 0.5, 0.6), (0.1, 0.2, 0.3), (0.5, 0.6), (0.08, 0.12, 0.2))
            for rm, mg, cp, c2 in grid:
                pol = dataclasses.replace(
                    policy, route_min=rm, route_margin=mg, clarify_pair_min=cp, clarify_second_min=c2
                )
                f = cv_figures([r.with_policy(pol) for r in routers], examples)
                print(f"{rm:.2f} {mg:.2f} {cp:.2f} {c2:.2f} -> {f['branch_acc']:.3f} {f['reached']:.3f} "
                      f"{f['clarify_rate']:.3f} {f['fallback_rate']:.3f} {f['none_routed']:.3f}")  # fmt: skip
    model = fit(router, examples, args.C, args.min_df)
    out = data / MODEL_FILE
    model.save(out)
    print(f"saved {out} ({out.stat().st_size / 1024:.0f} KB, {len(model.index)} features, {len(model.classes)} nodes)")


if __name__ == "__main__":
    main()
