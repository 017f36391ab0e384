"""`hotline retention run [--dry-run]`: apply the retention policy of the settings now."""

from __future__ import annotations

import json

import click

from hotline.settings import Settings


@click.group()
def retention() -> None:
    """Recordings, transcripts and the audit log kept only as long as the settings allow."""


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="list what would be deleted; delete nothing")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def run_cmd(dry_run: bool, as_json: bool) -> None:
    """Delete what is past its period (calls under an open review are held); audited."""
    from hotline import retention as ret
    from store import retention as store_ret
    from store.db import make_engine, migrate, session_factory

    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    migrate(engine)
    res = ret.run(settings, session_factory(engine), dry_run=dry_run)
    engine.dispose()
    p = res.plan
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, "due": p.counts(), "deleted": res.deleted}, ensure_ascii=False))
        return
    pol = ret.policy_of(settings)
    click.echo(
        f"policy: recordings {pol.recordings_days} d, transcripts and scores {pol.transcripts_days} d, "
        f"audit log {pol.audit_days} d (0 = keep)"
    )
    click.echo(f"recordings due:  {p.recordings}  (ids {store_ret.ids_text(p.recording_ids, p.recordings) or '-'})")
    click.echo(
        f"transcripts due: {p.transcripts}  (calls {store_ret.ids_text(p.transcript_call_ids, p.transcripts) or '-'})"
    )
    click.echo(f"scores due:      {p.scores}")
    click.echo(f"audit entries due: {p.audit_entries}")
    click.echo(f"held (review still open): {p.held} calls")
    if dry_run:
        click.echo("dry run: nothing deleted")
    else:
        click.echo("deleted: " + ", ".join(f"{k} {v}" for k, v in res.deleted.items()) + " (audit entry written)")
