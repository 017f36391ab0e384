"""`hotline transcribe PATH... --out DIR`: batch transcription with progress, over worker processes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from hotline.settings import WHISPER_COMPUTE_TYPES, Settings


def resolve_model(settings: Settings, engine: str, model: str | None, language: str = "zh") -> Path:
    """--model, else HOTLINE_VOSK_MODEL / HOTLINE_WHISPER_MODEL (one model, or LANG=MODEL pairs);
    a clear UsageError saying how to get one when missing."""
    from speech.models import ModelError, find_model, how_to_get, model_for_language, suggestions

    var = "HOTLINE_WHISPER_MODEL" if engine == "whisper" else "HOTLINE_VOSK_MODEL"
    try:
        configured = model or model_for_language(
            settings.whisper_model if engine == "whisper" else settings.vosk_model, language
        )
    except ModelError as exc:
        raise click.UsageError(f"{var}: {exc}") from None
    if not configured:
        names = suggestions(engine, language)
        hint = (
            "e.g. --model ../shared/models/whisper-base-ct2"
            if engine == "whisper"
            else (f"{names[0]}: " + how_to_get(names[0]) if names else f"no known Vosk model for {language!r}")
        )
        raise click.UsageError(
            f"no {engine} model for language {language!r}: pass --model DIR or set {var} "
            f"(a directory or installed model name, or per language: zh=NAME,en=NAME); {hint}"
        )
    try:
        return find_model(configured, settings.models_dir, [settings.shared_dir / "models"], language)
    except ModelError as exc:
        raise click.UsageError(str(exc)) from None


def whisper_options(
    settings: Settings, engine: str, beam: int | None, compute_type: str | None
) -> tuple[tuple[str, object], ...]:
    """Engine options: --beam / --compute-type, else the settings; Vosk has neither (a usage error)."""
    if engine != "whisper":
        if beam is not None or compute_type is not None:
            raise click.UsageError("--beam and --compute-type apply to the whisper engine only")
        return ()
    return settings.with_(
        whisper_beam=settings.whisper_beam if beam is None else beam,
        whisper_compute_type=compute_type or settings.whisper_compute_type,
    ).whisper_options()


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="output folder")
@click.option("--engine", type=click.Choice(["vosk", "whisper"]), default=None, help="default: HOTLINE_SPEECH_ENGINE")
@click.option("--model", default=None, help="model directory or installed model name (default: from settings)")
@click.option("--language", default="zh", show_default=True)
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help="worker processes (default: all cores)")
@click.option("--caller-channel", type=click.IntRange(0, 1), default=None, help="default: HOTLINE_CALLER_CHANNEL")
@click.option(
    "--beam",
    type=click.IntRange(min=1),
    default=None,
    help="whisper beam size (default: HOTLINE_WHISPER_BEAM, 5; 1 is faster: CER 0.138 -> 0.187 on shared/speech/zh)",
)
@click.option(
    "--compute-type",
    type=click.Choice(WHISPER_COMPUTE_TYPES),
    default=None,
    help="whisper weights (default: HOTLINE_WHISPER_COMPUTE_TYPE, float32; int8 with beam 1: ~1.7x faster, CER 0.201)",
)
@click.option("--no-redact", is_flag=True, help="write transcripts without PII redaction")
@click.option("--redact-order-numbers/--keep-order-numbers", default=None, help="default: HOTLINE_REDACT_ORDER_NUMBERS")
def transcribe(
    paths: tuple[Path, ...],
    out_dir: Path,
    engine: str | None,
    model: str | None,
    language: str,
    jobs: int | None,
    caller_channel: int | None,
    beam: int | None,
    compute_type: str | None,
    no_redact: bool,
    redact_order_numbers: bool | None,
) -> None:
    """Transcribe recordings (files or folders) into OUT/<stem>.json; skips outputs already written."""
    from tqdm import tqdm

    from speech.batch import BatchError, EngineSpec, FileResult, collect_inputs, run_batch
    from speech.redact import Policy

    settings = Settings.from_env()
    if model is None:  # no model setting at all: the installed default (of --engine, when given)
        from hotline.speech_setup import default_speech

        picked = default_speech(settings.with_(speech_engine=engine or settings.speech_engine))
        if engine is None or picked.speech_engine == engine:
            settings = picked
    engine = engine or settings.speech_engine
    if engine not in ("vosk", "whisper"):
        raise click.UsageError(f"engine {engine!r}: choose vosk or whisper")
    model_dir = resolve_model(settings, engine, model, language)
    try:
        inputs = collect_inputs(paths)
    except BatchError as exc:
        raise click.UsageError(str(exc)) from None
    if not inputs:
        raise click.UsageError("no audio files found in " + ", ".join(map(str, paths)))
    cores = os.cpu_count() or 1
    jobs = jobs or min(cores, len(inputs))
    threads = max(1, cores // jobs)  # whisper: CPU threads per worker; Vosk uses one
    options = whisper_options(settings, engine, beam, compute_type)
    spec = EngineSpec(engine, str(model_dir), language, threads, options)
    order = settings.redact_order_numbers if redact_order_numbers is None else redact_order_numbers
    policy = None if no_redact else Policy(order_numbers=order)
    channel = settings.caller_channel if caller_channel is None else caller_channel

    bar = tqdm(total=len(inputs), unit="file", desc="transcribe", file=sys.stderr, dynamic_ncols=True)
    audio = compute = 0.0

    def on_start(n: int) -> None:
        bar.set_postfix_str(f"{len(inputs) - n} already done; loading model in {min(jobs, n)} worker(s)")

    def progress(r: FileResult) -> None:
        nonlocal audio, compute
        audio += r.audio_seconds
        compute += r.compute_seconds
        rtf = compute / audio if audio else 0.0
        bar.update(1)
        bar.set_postfix_str(f"audio {audio / 60:.1f} min, RTF {rtf:.2f}")

    try:
        summary = run_batch(inputs, out_dir, spec, jobs, policy, channel, progress, on_start)
    finally:
        bar.close()

    done, skipped, failed = summary.done, summary.skipped, summary.failed
    speed = summary.audio_seconds / summary.wall_seconds if summary.wall_seconds else 0.0
    rtf = summary.compute_seconds / summary.audio_seconds if summary.audio_seconds else 0.0
    click.echo(
        f"{len(done)} transcribed, {len(skipped)} skipped (already done), {len(failed)} failed; "
        f"{summary.audio_seconds / 60:.1f} min of audio in {summary.wall_seconds:.1f} s "
        f"({speed:.1f}x real time, RTF per stream {rtf:.2f}, {summary.workers} worker(s)); output in {out_dir}"
    )
    for r in failed:
        click.echo(f"FAILED {r.path}: {r.error}", err=True)
    if summary.all_failed:
        sys.exit(1)
