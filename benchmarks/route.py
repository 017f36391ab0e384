"""Speech router: accuracy and clarify rate on held-out requests, and time per request.

    .venv/bin/python benchmarks/route.py            # held-out figures + timing
    .venv/bin/python benchmarks/route.py --errors   # also list the held-out requests it got wrong

Held-out requests (ivr/route_data/requests_heldout.tsv) are real JD customer requests (JDDC 2019
development sample) rewritten as spoken requests and labelled by hand; the model never saw them.
Targets (issue 7): >= 93% reach an acceptable top-level branch, clarify on <= 15%, < 5 ms per request.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr.route import load_router  # noqa: E402
from ivr.route_eval import evaluate  # noqa: E402
from ivr.route_files import DATA_DIR, load_examples  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", default=str(DATA_DIR / "requests_heldout.tsv"))
    ap.add_argument("--errors", action="store_true")
    ap.add_argument("--repeat", type=int, default=5, help="timing passes over the held-out requests")
    args = ap.parse_args()

    t0 = time.perf_counter()
    router = load_router()
    load_s = time.perf_counter() - t0
    examples = load_examples(args.file)
    m = evaluate(router, examples)
    n = m["n"]
    print(f"held-out: {n} requests (+{m['none_n']} not served by the menu), file {args.file}")
    print(f"  routed at once to an acceptable top-level branch   {m['branch_acc']:6.1%}")
    print(f"  ... to the labelled top-level branch only (strict)  {m['branch_acc_strict']:6.1%}")
    print(f"  reached (routed, or clarify offering an acceptable)  {m['reached']:6.1%}   target >= 93%")
    print(f"  exact node (label or an also-acceptable node)       {m['node_acc']:6.1%}")
    print(f"  clarify rate                                        {m['clarify_rate']:6.1%}   target <= 15%")
    print(f"  fallback rate                                       {m['fallback_rate']:6.1%}")
    routed = 1 - m["clarify_rate"] - m["fallback_rate"]
    if routed > 0:
        print(f"  accuracy of the requests it routed                  {m['branch_acc'] / routed:6.1%}")
    print(f"  'none' requests routed anyway (should fall back)    {m['none_routed']:6.1%}")

    texts = [ex.text for ex in examples]
    for t in texts[:20]:  # warm caches (jieba's DAG, numpy)
        router.route(t)
    times: list[float] = []
    for _ in range(args.repeat):
        for t in texts:
            s = time.perf_counter()
            router.route(t)
            times.append((time.perf_counter() - s) * 1000)
    times.sort()
    p95 = times[int(0.95 * (len(times) - 1))]
    mean, median = statistics.mean(times), statistics.median(times)
    print(f"timing: {len(times)} calls, mean {mean:.2f} ms, median {median:.2f} ms, p95 {p95:.2f} ms, "
          f"max {times[-1]:.2f} ms   target < 5 ms; router load {load_s:.2f} s")  # fmt: skip
    print(f"ratio: mean / target = {mean / 5.0:.2f}")
    if args.errors:
        for ex, r in m["errors"]:
            print(f"  {ex.node:20s} -> {r.action:8s} {r.node:20s} {r.confidence:.2f}  {ex.text}")


if __name__ == "__main__":
    main()
