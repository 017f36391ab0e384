"""`hotline qa sentiment|score|eval`: the QA scorers on files (the command-line contract of issue 4)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

log = logging.getLogger(__name__)


@click.group("qa")
def qa_group() -> None:
    """QA scoring: sentiment of texts, scorecards of dialogues, the evaluation harness."""


def _read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    return Path(path).read_text(encoding="utf-8")


@qa_group.command("sentiment")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
def sentiment_cmd(file: str) -> None:
    """One `score<TAB>label` line per input line (text, or TSV whose last column is the text)."""
    from qa.scorers.sentiment import classify, default_model, label

    if default_model() is None:
        log.warning("no sentiment model file; lexicon only")
    out = []
    for line in _read_text(file).splitlines():
        text = line.rsplit("\t", 1)[-1] if "\t" in line else line
        score = classify(text) if text.strip() else 0.0
        out.append(f"{score:.4f}\t{label(score)}")
    if out:
        click.echo("\n".join(out))


def _dialogues_from(path: str) -> Iterator[dict[str, Any]]:
    """A Transcript JSON file (one object or a list) or JSON lines of dialogues."""
    raw = _read_text(path)
    stripped = raw.strip()
    if not stripped:
        return
    try:
        whole = json.loads(stripped)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        yield whole
        return
    if isinstance(whole, list):
        yield from (x for x in whole if isinstance(x, dict))
        return
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"{path}:{n}: not JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise click.ClickException(f"{path}:{n}: expected a JSON object")
        yield obj


@qa_group.command("score")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option(
    "--scorecard",
    "scorecard_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="scorecard YAML (default: HOTLINE_SCORECARD_PATH)",
)
@click.option("--details/--no-details", default=False, help="include metrics and per-turn sentiment")
def score_cmd(files: tuple[str, ...], scorecard_path: Path | None, details: bool) -> None:
    """One JSON object per dialogue: id, total, items (score, max, evidence), customer_satisfaction."""
    from hotline.settings import Settings
    from qa.dialogue import DialogueError, from_any
    from qa.score import score_dialogue
    from qa.scorecard import ScorecardError, load_scorecard

    try:
        card = load_scorecard(scorecard_path or Settings.from_env().scorecard_path)
    except ScorecardError as exc:
        raise click.ClickException(str(exc)) from None
    for path in files:
        for k, data in enumerate(_dialogues_from(path)):
            fallback = Path(path).stem if path != "-" else f"stdin-{k}"
            try:
                dialogue = from_any(data, None if ("id" in data or "call_id" in data) else fallback)
            except DialogueError as exc:
                raise click.ClickException(f"{path}: {exc}") from None
            result = score_dialogue(dialogue, card).to_dict()
            if not details:
                result.pop("details", None)
            click.echo(json.dumps(result, ensure_ascii=False))


@qa_group.command("eval")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="a qa-data directory (default: HOTLINE_SHARED_DIR/qa-data)",
)
@click.option("--scorecard", "scorecard_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--json", "as_json", is_flag=True, help="print the figures as JSON instead of a table")
@click.option("--variants", is_flag=True, help="also compare lexicon / model / blend / snownlp (slower)")
def eval_cmd(data_dir: Path | None, scorecard_path: Path | None, as_json: bool, variants: bool) -> None:
    """Sentiment accuracy per set, satisfaction Spearman vs STC-3, JDDC script statistics."""
    from hotline.settings import Settings
    from qa.eval import format_report, run_eval

    settings = Settings.from_env()
    data = data_dir or settings.shared_dir / "qa-data"
    if not data.is_dir():
        raise click.ClickException(f"{data}: no such directory")
    rep = run_eval(data, scorecard_path or settings.scorecard_path, variants=variants)
    click.echo(json.dumps(rep, ensure_ascii=False, indent=1) if as_json else format_report(rep))
