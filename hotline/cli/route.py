"""`hotline route FILE`: route caller requests (one per line, `-` for standard input) to menu nodes.

Prints one JSON object per request, in order, exactly
``{"text", "path", "node", "confidence", "action"}`` (see ivr.routing.RouteResult.as_json).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

import click

from hotline.settings import Settings


@click.command("route")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--scope", default=None, metavar="NODE", help="menu the caller is at (routes within it first)")
@click.option("--menu", "menu_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="menu YAML (default: HOTLINE_MENU_PATH)")  # fmt: skip
@click.option("--explain", is_flag=True, help="also print alternatives and the clarifying question to stderr")
def route(file: TextIO, scope: str | None, menu_path: Path | None, explain: bool) -> None:
    """Route requests from FILE (one per line, '-' = stdin); one JSON object per line on stdout."""
    from ivr.route import load_router

    router = load_router(menu_path or Settings.from_env().menu_path)
    if scope and scope not in router.menu.nodes:
        raise click.BadParameter(f"unknown node '{scope}'", param_hint="--scope")
    out = sys.stdout
    for line in file:
        text = line.strip()
        if not text:
            continue
        result = router.route(text, scope=scope)
        out.write(json.dumps(result.as_json(), ensure_ascii=False) + "\n")
        out.flush()
        if explain:
            alts = ", ".join(f"{a.node} {a.score:.2f}" for a in result.alternatives)
            extra = f" | {result.question}" if result.question else ""
            click.echo(f"  {result.reason}: {alts}{extra}", err=True)
