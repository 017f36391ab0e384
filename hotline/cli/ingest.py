"""`hotline ingest DIR`: score an existing archive of call recordings.

Call id, agent, team, start time and caller come from a CSV (``--metadata``) or from the file
names (``CALLID[_AGENT[_TEAM[_YYYYMMDD-HHMMSS]]].wav``). Each file becomes a call with a
recording whose id is derived from the file's path, so running the command again skips what is
already in and finishes what was left (resumable). The pipeline is the one the webhooks use.
"""

from __future__ import annotations

import csv
import hashlib
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import click

from hotline.settings import Settings

STAMP_RE = re.compile(r"^\d{8}[-T]?\d{6}$")


@dataclass
class Item:
    path: Path
    call_id: str
    agent: str = ""
    team: str = ""
    started_at: datetime | None = None
    caller: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def parse_time(raw: str) -> datetime | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        if STAMP_RE.match(raw):  # 20241399-250000 matches the pattern but is no time
            digits = raw.replace("-", "").replace("T", "")
            return datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"unreadable start time {raw!r} (use ISO 8601 or YYYYMMDD-HHMMSS)") from None
    return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)  # stored as UTC (SQLite drops offsets)


def from_name(path: Path) -> Item:
    parts = path.stem.split("_")
    item = Item(path, parts[0])
    if len(parts) > 1:
        item.agent = parts[1]
    if len(parts) > 2:
        item.team = parts[2]
    if len(parts) > 3 and STAMP_RE.match(parts[3]):
        try:
            item.started_at = parse_time(parts[3])
        except click.BadParameter:  # a name that only looks like it has a time: the call keeps "now"
            click.echo(f"warning: {path.name}: no such date or time {parts[3]!r}, start time not taken", err=True)
    return item


def read_metadata(csv_path: Path, root: Path) -> dict[Path, Item]:
    """CSV columns: file (required; relative to DIR), call_id, agent_id, team, start_time, caller."""
    out: dict[Path, Item] = {}
    with csv_path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "file" not in reader.fieldnames:
            raise click.BadParameter(f"{csv_path}: needs a 'file' column (got {reader.fieldnames})")
        for n, row in enumerate(reader, start=2):
            rel = (row.get("file") or "").strip()
            if not rel:
                raise click.BadParameter(f"{csv_path}:{n}: empty 'file'")
            path = (root / rel).resolve()
            out[path] = Item(
                path,
                (row.get("call_id") or "").strip() or Path(rel).stem,
                (row.get("agent_id") or row.get("agent") or "").strip(),
                (row.get("team") or "").strip(),
                parse_time(row.get("start_time") or row.get("start") or ""),
                (row.get("caller") or "").strip(),
            )
    return out


def mask(number: str) -> str:
    digits = re.sub(r"\D", "", number)
    return "" if not digits else ("****" if len(digits) <= 6 else digits[:3] + "****" + digits[-4:])


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--metadata", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="CSV of call metadata")
@click.option("--wait/--no-wait", default=True, show_default=True, help="wait for the pipeline (else only queue)")
def ingest(directory: Path, metadata: Path | None, wait: bool) -> None:
    """Score every recording under DIRECTORY (WAV, MP3, OGG, FLAC, μ-law …)."""
    from hotline.runtime import Pipeline, wait_for_calls
    from speech.audio import AUDIO_SUFFIXES
    from store import pipeline as repo
    from store.db import make_engine, migrate, session_factory, transaction

    root = directory.resolve()
    files = sorted(p.resolve() for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    meta = read_metadata(metadata, root) if metadata else {}
    if meta:
        unknown = [p for p in meta if p not in set(files)]
        if unknown:
            click.echo(f"warning: {len(unknown)} CSV row(s) name files that are not in {root}", err=True)
    if not files:
        raise click.ClickException(f"no recordings found under {root}")

    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    migrate(engine)
    sessions = session_factory(engine)
    pipe = Pipeline(settings, sessions, mode="server")  # embedded: this process runs the jobs
    started = time.monotonic()
    new = 0
    call_ids: list[int] = []
    try:
        for path in files:
            item = meta.get(path) or from_name(path)
            rel = path.relative_to(root).as_posix()
            rec_sid = "IN" + hashlib.sha1(f"{root.name}/{rel}".encode()).hexdigest()[:32]
            values: dict[str, object] = {"outcome": "transferred", "status": "completed"}
            if item.agent:
                values["agent_id"] = item.agent
            if item.team:
                values["team"] = item.team
            if item.started_at:
                values["started_at"] = item.started_at
            if item.caller:
                values["caller_masked"] = mask(item.caller)
            with transaction(sessions) as s:
                call, rec, created = repo.ensure_call_recording(
                    s,
                    call_sid=f"ingest:{item.call_id}"[:64],
                    recording_sid=rec_sid,
                    source_url=path.as_uri(),
                    call_values=values,
                    trusted=True,  # a file the operator named on the command line
                )
                refs = pipe.admit_in(s, call.id, rec.id)
                call_ids.append(call.id)
            new += int(created)
            pipe.runner.notify(refs)
        click.echo(f"{len(files)} recording(s): {new} new, {len(files) - new} already ingested")
        if not wait:
            return
        if settings.redis_url:
            click.echo("jobs are on Redis: `hotline worker` processes run them")
        states = wait_for_calls(sessions, call_ids, desc="ingest")
    finally:
        pipe.stop()
        engine.dispose()
    wall = time.monotonic() - started
    scored = sum(1 for st, _ in states.values() if st == "scored")
    failed = {cid: err for cid, (st, err) in states.items() if st == "failed"}
    pending = len(states) - scored - len(failed)
    click.echo(f"summary: {scored} scored, {len(failed)} failed, {pending} unfinished, {wall:.0f} s")
    for cid, err in sorted(failed.items()):
        click.echo(f"  call {cid}: {err}")
    if failed and not scored:
        raise SystemExit(1)
