"""`hotline models list | pull NAME | path NAME`: the speech models this machine has or can get."""

from __future__ import annotations

from pathlib import Path

import click

from hotline.settings import Settings


def _dirs(settings: Settings) -> tuple[Path, list[Path]]:
    return settings.models_dir, [settings.shared_dir / "models"]


@click.group()
def models() -> None:
    """List, download or locate speech models (cache: HOTLINE_MODELS_DIR)."""


@models.command("list")
def list_models() -> None:
    """Known models, whether they are installed and where."""
    from speech.models import REGISTRY, how_to_get, installed

    settings = Settings.from_env()
    models_dir, extra = _dirs(settings)
    found = installed(models_dir, extra)
    click.echo(f"models directory: {models_dir}")
    for name, info in REGISTRY.items():
        where = str(found[name]) if name in found else "not installed: " + how_to_get(name)
        click.echo(f"{name:30} {info.engine:8} {info.language:6} {info.size_mb:>5} MB  {where}")
        if info.note:
            click.echo(f"{'':30} {info.note}")


@models.command("pull")
@click.argument("name")
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="install from a local zip file or model directory instead of downloading",
)
def pull(name: str, source: Path | None) -> None:
    """Download an official model (checksum / zip integrity checked) or install a local copy."""
    from speech.models import REGISTRY, ModelError, canonical, download, install_from

    settings = Settings.from_env()
    info = REGISTRY.get(canonical(name))
    try:
        if source is not None:
            target = install_from(source, name, settings.models_dir, info.sha256 if info else None)
        else:
            from tqdm import tqdm

            bar = tqdm(unit="B", unit_scale=True, desc=canonical(name))

            def progress(done: int, total: int) -> None:
                bar.total = total or None
                bar.update(done - bar.n)

            try:
                target = download(name, settings.models_dir, progress)
            finally:
                bar.close()
    except ModelError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"installed {canonical(name)} in {target}")


@models.command("path")
@click.argument("name")
def path(name: str) -> None:
    """Print the directory of an installed model (name, alias such as `ko`, or a directory)."""
    from speech.models import ModelError, find_model

    settings = Settings.from_env()
    models_dir, extra = _dirs(settings)
    try:
        click.echo(str(find_model(name, models_dir, extra)))
    except ModelError as exc:
        raise click.ClickException(str(exc)) from None


DEFAULT_MODEL = "vosk-model-small-cn-0.22"


@models.command("ensure")
@click.option(
    "--timeout", default=5.0, show_default=True, type=click.FloatRange(0.5, 120.0), help="connect timeout (s)"
)
def ensure(timeout: float) -> None:
    """Install the default Mandarin model when no model is set up; never fails (`make run` calls it).

    With a model setting, or any model installed, nothing is done. Otherwise the official
    vosk-model-small-cn-0.22 is downloaded (checksum checked as by `pull`); when it cannot be reached
    one line says so with the command to run later, and the exit status is still 0.
    """
    from speech.models import ModelError, default_model, download

    settings = Settings.from_env()
    if settings.vosk_model or settings.whisper_model:
        return
    found = default_model(settings.models_dir, settings.speech_engine)
    if found is not None:
        click.echo(f"speech model: {found[1]}")
        return
    try:
        target = download(DEFAULT_MODEL, settings.models_dir, timeout=timeout)
    except ModelError as exc:
        reason = str(exc).split(";")[0]
        click.echo(
            f"speech model: {DEFAULT_MODEL} not installed ({reason}); later run `hotline models pull {DEFAULT_MODEL}`"
            f" (or `--from FILE.zip`); the server starts without it",
            err=True,
        )
        return
    click.echo(f"speech model: installed {DEFAULT_MODEL} in {target}")
