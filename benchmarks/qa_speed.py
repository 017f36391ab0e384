"""QA scoring speed: dialogues per second on one core (target >= 200), plus where the time goes.

Scores the JDDC and STC-3 development dialogues (text chat) and the same JDDC dialogues turned
into timed call transcripts (Transcript JSON with invented times, so the metrics run too), in
one process. Counts building the Dialogue (normalisation) and scoring; not reading the files.
Also prints jieba's segmentation speed for reference (the scoring path does not segment).

    .venv/bin/python benchmarks/qa_speed.py [--data ../shared/qa-data] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.dialogue import from_any  # noqa: E402
from qa.score import score_dialogue  # noqa: E402
from qa.scorecard import load_scorecard  # noqa: E402

TARGET = 200.0


def as_transcript(record: dict) -> dict:
    """A chat record as a call transcript: ~4 characters per second, 0.4–4.5 s between turns."""
    t = 0.0
    utts = []
    for k, turn in enumerate(record["turns"]):
        dur = max(0.8, len(turn["text"]) / 4.0)
        utts.append(
            {"speaker": turn["role"], "start": round(t, 3), "end": round(t + dur, 3), "text": turn["text"], "words": []}
        )
        t += dur + (0.4 + (k * 7919 % 41) / 10.0)
    return {"id": record["id"] + "-call", "duration": t, "utterances": utts}


def run(name: str, records: list[dict], repeat: int) -> float:
    card = load_scorecard()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        for r in records:
            score_dialogue(from_any(r), card)
        best = min(best, time.process_time() - t0)
    rate = len(records) / best
    chars = sum(len(t.get("text", "")) for r in records for t in r.get("turns", r.get("utterances", [])))
    per = chars / len(records)
    print(f"  {name:30s} {len(records):5d} dialogues {per:6.0f} chars/dlg {rate:6.0f} dlg/s ({rate / TARGET:.1f}x)")

    return rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "qa-data")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    jddc = [
        json.loads(x)
        for x in (args.data / "jddc2019-sample" / "dialogues.jsonl").read_text(encoding="utf-8").splitlines()
        if x.strip()
    ]
    stc3 = [
        json.loads(x)
        for x in (args.data / "stc3-weibo-helpdesk" / "dialogues.jsonl").read_text(encoding="utf-8").splitlines()
        if x.strip()
    ]
    calls = [as_transcript(r) for r in jddc]
    # long calls: five JDDC sessions back to back (~1,300 characters, ~60 turns, ~6 minutes)
    long_calls = [
        as_transcript({"id": f"long-{k}", "turns": [t for r in jddc[k : k + 5] for t in r["turns"]]})
        for k in range(0, len(jddc) - 5, 5)
    ]

    t0 = time.perf_counter()
    score_dialogue(from_any(jddc[0]), load_scorecard())
    print(f"warm-up (load scorecard, sentiment model, automata): {time.perf_counter() - t0:.2f} s")
    print(
        f"QA scoring speed, one process (CPU time; {os.cpu_count()} cores on this machine, target {TARGET:.0f}/s/core)"
    )
    rates = [
        run("jddc2019 chat", jddc, args.repeat),
        run("stc3 weibo helpdesk", stc3, args.repeat),
        run("jddc as timed calls", calls, args.repeat),
        run("long timed calls (5 sessions)", long_calls, args.repeat),
    ]
    print(f"  slowest set: {min(rates):.0f} dialogues/s = {min(rates) / TARGET:.2f}x the target")

    import jieba  # reference only: segmentation is not on the scoring path

    from zhtext.segment import tokenize

    text = "".join(t["text"] for r in jddc[:200] for t in r["turns"])
    tokenize("预热")
    t0 = time.perf_counter()
    tokenize(text)
    el = time.perf_counter() - t0
    print(
        f"jieba {jieba.__version__} segmentation (domain dictionary): {len(text) / el / 1000:.0f}k chars/s"
        " (not used when scoring)"
    )


if __name__ == "__main__":
    main()
