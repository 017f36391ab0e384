"""End-to-end QA on real call audio: does a recording score what was said? (issue 14, "The measure")

    .venv/bin/python benchmarks/calls_e2e.py [--dir DIR] [--cache DIR] [--calls N] [--jobs 1 --threads 2]
                                             [--rescore-only] [--json] [--option KEY=VALUE ...]

For each call of a calls-dev style folder (two-channel recordings + ``calls.jsonl`` gold turns; default
``<HOTLINE_SHARED_DIR>/calls-dev``): transcribe the recording with the engine, model and options that
``hotline transcribe`` would use (settings; without a configured model the shared whisper model, as the
demo does) through ``speech.batch.run_batch``; redact and score it the way the pipeline does
(``hotline.pipeline.redact_transcript`` + ``score_transcript``); and score the gold turns of the same
call, put into the same Transcript form, through the same two functions. Figures:

- speaker-attributed CER per role: all the role's text of a call joined, punctuation and spaces removed
  (``speech.evaluate``), corpus-wide; raw and with Arabic numbers read (``read_numbers``),
- mean and worst |total(audio) - total(text)|, the mean signed difference (bias), calls where audio < text,
- item agreement: an item agrees when both sides are N/A, or both are scored and their values (the
  share of the item's maximum) are within 0.10,
- a per-item table of disagreements, and the targets of issue 14 with OK/MISS.

Transcripts are cached (unredacted, as run_batch writes them) in ``--cache/<key>/<file sha>.json``, where
the key hashes the engine, model, language, caller channel and engine options; a second run only scores
(``--rescore-only`` refuses to transcribe). Whisper on 2 threads runs at RTF ~0.5: the 21 minutes of
calls-dev take ~10 minutes of 2 cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hotline.pipeline import redact_transcript, score_transcript  # noqa: E402
from hotline.settings import Settings  # noqa: E402
from hotline.speech_setup import fallback_speech  # noqa: E402
from speech.evaluate import edit_distance  # noqa: E402
from speech.types import Transcript  # noqa: E402
from zhtext.normalize import cer_form  # noqa: E402

ROLES = ("agent", "customer")
AGREE_TOLERANCE = 0.10  # share of an item's maximum
TARGETS = {  # issue 14, on the development calls
    "mean_abs_diff": 4.0,
    "worst_abs_diff": 12.0,
    "abs_bias": 2.0,
    "agreement": 0.92,
    "cer": 0.16,
}


# --- inputs --------------------------------------------------------------------------------------


def read_calls(folder: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (folder / "calls.jsonl").read_text(encoding="utf-8").splitlines() if line]
    return sorted(rows, key=lambda r: str(r["file"]))


def gold_transcript(call: Mapping[str, Any]) -> dict[str, Any]:
    """The gold turns as a Transcript dict, so they go through the same redaction and scoring."""
    return {
        "schema": 1,
        "duration": float(call["duration"]),
        "engine": "gold",
        "model": "calls.jsonl",
        "language": "zh",
        "redacted": False,
        "utterances": [
            {"speaker": t["role"], "start": t["start"], "end": t["end"], "text": t["text"], "words": []}
            for t in call["turns"]
        ],
    }


def file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cache_key(engine: str, model_dir: Path, language: str, caller_channel: int, options: Mapping[str, Any]) -> str:
    """Transcripts depend on these; the model is named by its directory and its weights' size."""
    weights = model_dir / "model.bin"
    size = weights.stat().st_size if weights.is_file() else 0
    blob = json.dumps(
        {
            "engine": engine,
            "model": model_dir.resolve().name,
            "model_bytes": size,
            "language": language,
            "caller_channel": caller_channel,
            "options": {k: options[k] for k in sorted(options)},
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def parse_option(raw: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with VALUE read as JSON when it parses (5, 0.5, true, [0.0, 0.2]), else a string."""
    key, sep, value = raw.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {raw!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


# --- transcription (cached) ----------------------------------------------------------------------


def transcribe_cached(
    files: Sequence[Path],
    cache: Path,
    engine: str,
    model_dir: Path,
    options: Mapping[str, Any],
    caller_channel: int,
    jobs: int,
    threads: int,
    rescore_only: bool,
) -> dict[Path, dict[str, Any]]:
    """Each file's transcript dict, from the cache or transcribed now with speech.batch.run_batch."""
    from speech.batch import EngineSpec, run_batch

    key = cache_key(engine, model_dir, "zh", caller_channel, options)
    folder = cache / key
    folder.mkdir(parents=True, exist_ok=True)
    spec_file = folder / "spec.json"
    if not spec_file.exists():
        spec = {"engine": engine, "model_dir": str(model_dir), "caller_channel": caller_channel, "options": options}
        spec_file.write_text(json.dumps(spec, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    links = folder / "in"
    links.mkdir(exist_ok=True)
    by_sha: dict[Path, Path] = {}
    todo: list[Path] = []
    for f in files:
        sha = file_sha(f)[:20]
        out = folder / f"{sha}.json"
        by_sha[f] = out
        if not out.is_file():
            link = links / f"{sha}{f.suffix}"
            if not link.exists():
                link.symlink_to(f.resolve())
            todo.append(link)
    print(f"transcripts: {folder} ({len(files) - len(todo)} cached, {len(todo)} to transcribe)", file=sys.stderr)
    if todo:
        if rescore_only:
            sys.exit(f"--rescore-only: {len(todo)} transcript(s) missing from {folder}")
        spec = EngineSpec(engine, str(model_dir), "zh", threads, tuple(sorted(options.items())))
        t0 = time.perf_counter()

        def progress(r: Any) -> None:
            state = "ok" if r.ok else f"FAILED {r.error}"
            print(
                f"  {Path(r.path).name}: {state} ({r.audio_seconds:.0f} s audio, {r.compute_seconds:.0f} s)",
                file=sys.stderr,
            )

        summary = run_batch(
            todo, folder, spec, jobs=jobs, policy=None, caller_channel=caller_channel, progress=progress
        )
        if summary.failed:
            sys.exit("transcription failed: " + "; ".join(f"{r.path}: {r.error}" for r in summary.failed))
        rtf = summary.compute_seconds / summary.audio_seconds if summary.audio_seconds else 0.0
        print(
            f"transcribed {summary.audio_seconds / 60:.1f} min in {time.perf_counter() - t0:.0f} s "
            f"(RTF per stream {rtf:.2f}, {jobs} job(s) x {threads} thread(s))",
            file=sys.stderr,
        )
    return {f: json.loads(out.read_text(encoding="utf-8")) for f, out in by_sha.items()}


# --- figures (pure) ------------------------------------------------------------------------------


@dataclass
class CallFigures:
    call: str
    total_audio: float
    total_text: float
    items_audio: dict[str, dict[str, Any]]
    items_text: dict[str, dict[str, Any]]
    edits: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # role -> (raw edits, read edits, chars)

    @property
    def diff(self) -> float:
        return self.total_audio - self.total_text


def role_text(utterances: Sequence[Mapping[str, Any]], role: str) -> str:
    return "".join(str(u.get("text", "")) for u in utterances if u.get("speaker", u.get("role")) == role)


def role_edits(gold: str, hyp: str) -> tuple[int, int, int]:
    """(edits raw, edits with numbers read, reference characters), speech.evaluate's normalisation."""
    ref_raw, hyp_raw = cer_form(gold), cer_form(hyp)
    ref_num, hyp_num = cer_form(gold, numbers=True), cer_form(hyp, numbers=True)
    return edit_distance(ref_raw, hyp_raw), edit_distance(ref_num, hyp_num), len(ref_raw)


def item_agrees(a: Mapping[str, Any], t: Mapping[str, Any], tol: float = AGREE_TOLERANCE) -> bool:
    """Both N/A, or both scored with values (share of the item's max) within ``tol``."""
    if a["na"] or t["na"]:
        return bool(a["na"] and t["na"])
    return abs(float(a["value"]) - float(t["value"])) <= tol + 1e-9


def summarise(calls: Sequence[CallFigures]) -> dict[str, Any]:
    diffs = [c.diff for c in calls]
    out: dict[str, Any] = {
        "calls": len(calls),
        "mean_abs_diff": statistics.fmean(abs(d) for d in diffs) if diffs else 0.0,
        "worst_abs_diff": max((abs(d) for d in diffs), default=0.0),
        "bias": statistics.fmean(diffs) if diffs else 0.0,
        "audio_lower": sum(1 for d in diffs if d < 0),
        "mean_total_audio": statistics.fmean(c.total_audio for c in calls) if calls else 0.0,
        "mean_total_text": statistics.fmean(c.total_text for c in calls) if calls else 0.0,
    }
    cer: dict[str, dict[str, float]] = {}
    for role in (*ROLES, "all"):
        roles = ROLES if role == "all" else (role,)
        raw = sum(c.edits[r][0] for c in calls for r in roles if r in c.edits)
        num = sum(c.edits[r][1] for c in calls for r in roles if r in c.edits)
        chars = sum(c.edits[r][2] for c in calls for r in roles if r in c.edits)
        cer[role] = {
            "raw": raw / chars if chars else 0.0,
            "numbers_read": num / chars if chars else 0.0,
            "chars": chars,
        }
    out["cer"] = cer
    items: dict[str, dict[str, Any]] = {}
    agree = total = 0
    for c in calls:
        for iid, a in c.items_audio.items():
            t = c.items_text[iid]
            row = items.setdefault(
                iid,
                {
                    "name": a["name"],
                    "agree": 0,
                    "disagree": 0,
                    "na_mismatch": 0,
                    "audio_lower": 0,
                    "audio_higher": 0,
                    "points": 0.0,
                    "calls": [],
                },
            )
            ok = item_agrees(a, t)
            total += 1
            agree += ok
            pa = float(a["score"] or 0.0)
            pt = float(t["score"] or 0.0)
            row["points"] += pa - pt
            if ok:
                row["agree"] += 1
                continue
            row["disagree"] += 1
            if a["na"] != t["na"]:
                row["na_mismatch"] += 1
            va = -1.0 if a["na"] else float(a["value"])
            vt = -1.0 if t["na"] else float(t["value"])
            row["audio_lower" if va < vt else "audio_higher"] += 1
            row["calls"].append(c.call)
    out["agreement"] = agree / total if total else 1.0
    # 待人工确认 marks (qa.uncertain) on the audio side: how many, and on items that (dis)agree
    marked = [
        (c.call, iid, item_agrees(a, c.items_text[iid]))
        for c in calls
        for iid, a in c.items_audio.items()
        if a.get("review")
    ]
    reasons: dict[str, int] = {}
    for c in calls:
        for a in c.items_audio.values():
            for m in (a.get("review") or {}).get("marks", []):
                reasons[m["reason"]] = reasons.get(m["reason"], 0) + 1
    out["review"] = {
        "calls_marked": len({call for call, _, _ in marked}),
        "items_marked": len(marked),
        "marked_disagreeing": sum(1 for _, _, ok in marked if not ok),
        "disagreeing_items": total - agree,
        "marks_by_reason": reasons,
    }
    out["items"] = items
    out["targets"] = {
        "mean_abs_diff": (out["mean_abs_diff"], out["mean_abs_diff"] <= TARGETS["mean_abs_diff"]),
        "worst_abs_diff": (out["worst_abs_diff"], out["worst_abs_diff"] <= TARGETS["worst_abs_diff"]),
        "bias": (out["bias"], abs(out["bias"]) <= TARGETS["abs_bias"]),
        "agreement": (out["agreement"], out["agreement"] >= TARGETS["agreement"]),
        "cer": (cer["all"]["numbers_read"], cer["all"]["numbers_read"] <= TARGETS["cer"]),
    }
    return out


def format_report(calls: Sequence[CallFigures], s: Mapping[str, Any]) -> str:
    lines = ["call      CER agent  CER cust   audio    text    diff  disagreeing items"]
    for c in calls:
        cers = []
        for role in ROLES:
            _, num, chars = c.edits.get(role, (0, 0, 0))
            cers.append(num / chars if chars else 0.0)
        bad = [iid for iid, a in c.items_audio.items() if not item_agrees(a, c.items_text[iid])]
        lines.append(
            f"{c.call:8} {cers[0]:9.3f} {cers[1]:9.3f} {c.total_audio:7.1f} {c.total_text:7.1f} "
            f"{c.diff:+7.1f}  {' '.join(bad)}"
        )
    cer = s["cer"]
    lines += [
        "",
        f"{s['calls']} calls. CER (numbers read as speech.evaluate; raw in brackets): "
        + ", ".join(f"{r} {cer[r]['numbers_read']:.3f} ({cer[r]['raw']:.3f})" for r in (*ROLES, "all")),
        f"total: mean audio {s['mean_total_audio']:.1f}, mean text {s['mean_total_text']:.1f}; "
        f"|audio - text| mean {s['mean_abs_diff']:.2f}, worst {s['worst_abs_diff']:.2f}; "
        f"bias (mean audio - text) {s['bias']:+.2f}; audio < text on {s['audio_lower']} of {s['calls']} calls",
        f"item agreement {s['agreement']:.3f} (both N/A, or values within {AGREE_TOLERANCE:.0%} of the item's max)",
        f"待人工确认 (audio side): {s['review']['items_marked']} items on {s['review']['calls_marked']} calls, "
        f"{s['review']['marked_disagreeing']} of them on items that disagree (of {s['review']['disagreeing_items']} "
        f"disagreeing); marks by reason {s['review']['marks_by_reason']}",
        "",
        "item                 agree disagree  N/A-mismatch  audio<text  audio>text  points(audio-text)  calls",
    ]
    for iid, row in sorted(s["items"].items(), key=lambda kv: (-kv[1]["disagree"], kv[0])):
        lines.append(
            f"{iid:20} {row['agree']:5} {row['disagree']:8} {row['na_mismatch']:13} {row['audio_lower']:11} "
            f"{row['audio_higher']:11} {row['points']:+19.1f}  {','.join(row['calls'])}"
        )
    lines += ["", "targets (issue 14):"]
    limits = {
        "mean_abs_diff": "<= 4",
        "worst_abs_diff": "<= 12",
        "bias": "within +-2",
        "agreement": ">= 0.92",
        "cer": "<= 0.16 (numbers read, all roles)",
    }
    for name, (value, ok) in s["targets"].items():
        lines.append(f"  {name:15} {value:8.3f}  {limits[name]:35} {'OK' if ok else 'MISS'}")
    return "\n".join(lines)


def format_details(calls: Sequence[CallFigures]) -> str:
    """Each disagreement with both sides' value and evidence (what to fix next)."""

    def side(item: Mapping[str, Any]) -> str:
        if item["na"]:
            return "N/A"
        ev = "; ".join(
            f"{e.get('phrase', '')}@{e.get('time')}" + (f" ({e['note']})" if e.get("note") else "")
            for e in item.get("evidence", [])[:3]
        )
        return f"{float(item['value']):.2f} [{ev}]"

    lines = []
    for c in calls:
        for iid, a in c.items_audio.items():
            t = c.items_text[iid]
            if not item_agrees(a, t):
                lines.append(f"{c.call} {iid}: audio {side(a)}\n{'':{len(c.call) + len(iid) + 2}} text  {side(t)}")
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    settings = Settings.from_env()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", type=Path, default=settings.shared_dir / "calls-dev", help="calls folder")
    ap.add_argument("--cache", type=Path, default=settings.data_dir / "calls-e2e-cache", help="transcript cache")
    ap.add_argument("--calls", type=int, default=0, help="the first N calls only")
    ap.add_argument("--jobs", type=int, default=1, help="transcription worker processes")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads per worker (whisper)")
    ap.add_argument("--engine", choices=("vosk", "whisper"), default=None, help="default: as hotline transcribe")
    ap.add_argument("--model", default=None, help="default: as hotline transcribe (shared whisper model if none)")
    ap.add_argument("--beam", type=int, default=None, help="default: HOTLINE_WHISPER_BEAM")
    ap.add_argument("--compute-type", default=None, help="default: HOTLINE_WHISPER_COMPUTE_TYPE")
    ap.add_argument(
        "--option",
        action="append",
        type=parse_option,
        default=[],
        metavar="KEY=VALUE",
        help="extra engine option (experiments), e.g. --option join_gap=1.0",
    )
    ap.add_argument("--scorecard", type=Path, default=None, help="default: HOTLINE_SCORECARD_PATH")
    ap.add_argument("--rescore-only", action="store_true", help="never transcribe: every transcript must be cached")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--details", action="store_true", help="also print both sides' evidence of each disagreement")
    args = ap.parse_args(argv)

    from hotline.cli.transcribe import resolve_model, whisper_options

    if args.scorecard is not None:
        settings = settings.with_(scorecard_path=args.scorecard)
    if not (args.dir / "calls.jsonl").is_file():
        sys.exit(f"{args.dir}: no calls.jsonl (../shared/calls-dev is the development set)")
    how = "settings"
    if args.engine is None and args.model is None:
        settings, how = fallback_speech(settings)
    engine = args.engine or settings.speech_engine
    model_dir = resolve_model(settings, engine, args.model)
    options: dict[str, Any] = dict(whisper_options(settings, engine, args.beam, args.compute_type))
    options.update(dict(args.option))
    print(f"engine {engine}, model {model_dir} ({how}), options {options}", file=sys.stderr)

    calls = read_calls(args.dir)
    if args.calls:
        calls = calls[: args.calls]
    files = [args.dir / str(c["file"]) for c in calls]
    transcripts = transcribe_cached(
        files,
        args.cache,
        engine,
        model_dir,
        options,
        settings.caller_channel,
        args.jobs,
        args.threads,
        args.rescore_only,
    )
    figures: list[CallFigures] = []
    for n, (call, f) in enumerate(zip(calls, files, strict=True), 1):
        hyp = transcripts[f]
        gold = gold_transcript(call)
        scored_audio = score_transcript(redact_transcript(Transcript.from_dict(hyp), settings), settings, n).to_dict()
        scored_text = score_transcript(redact_transcript(Transcript.from_dict(gold), settings), settings, n).to_dict()
        edits = {r: role_edits(role_text(gold["utterances"], r), role_text(hyp["utterances"], r)) for r in ROLES}
        figures.append(
            CallFigures(
                f.stem,
                float(scored_audio["total"]),
                float(scored_text["total"]),
                scored_audio["items"],
                scored_text["items"],
                edits,
            )
        )
    s = summarise(figures)
    if args.json:
        per_call = [
            {"call": c.call, "total_audio": c.total_audio, "total_text": c.total_text, "diff": c.diff, "edits": c.edits}
            for c in figures
        ]
        print(
            json.dumps(
                {"engine": engine, "model": str(model_dir), "options": options, **s, "per_call": per_call},
                ensure_ascii=False,
                indent=1,
            )
        )
    else:
        print(format_report(figures, s))
        if args.details:
            print("\n" + format_details(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
