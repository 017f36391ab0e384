"""The `hotline` command. Subcommands load lazily so `hotline --help` stays fast."""

from __future__ import annotations

import importlib
import logging
import os
from typing import Any

import click

# name -> "module:attribute". Each area owns its own module under hotline/cli/.
COMMANDS: dict[str, str] = {
    "serve": "hotline.cli.serve:serve",
    "users": "hotline.cli.users:users",
    "sample": "hotline.cli.sample:sample",
    "settings": "hotline.cli.serve:show_settings",
    "qa": "hotline.cli.qa:qa_group",
    "simulate": "hotline.cli.simulate:simulate",
    "worker": "hotline.cli.worker:worker",
    "jobs": "hotline.cli.jobs:jobs",
    "ingest": "hotline.cli.ingest:ingest",
    "demo": "hotline.cli.demo:demo",
    "calls": "hotline.cli.calls:calls",
    "models": "hotline.cli.models:models",
    "transcribe": "hotline.cli.transcribe:transcribe",
    "route": "hotline.cli.route:route",
    "live": "hotline.cli.live:live_group",
    "kpi": "hotline.cli.kpi:kpi",
    "report": "hotline.cli.kpi:report",
    "retention": "hotline.cli.retention:retention",
    "db": "hotline.cli.db:db",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        module, attr = spec.split(":")
        cmd: Any = getattr(importlib.import_module(module), attr)
        return cmd


@click.group(cls=LazyGroup)
@click.option("--log-level", default=None, help="DEBUG, INFO, WARNING (default: HOTLINE_LOG_LEVEL or INFO)")
def cli(log_level: str | None) -> None:
    """hotline: IVR, transcription and QA for the 950618 customer-service line."""
    from hotline.settings import Settings

    # read directly: a bad value of another setting is reported by the command, not as a traceback here
    level = log_level or os.environ.get("HOTLINE_LOG_LEVEL") or Settings.log_level
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main() -> None:
    cli()
