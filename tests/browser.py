"""The one Chromium the browser tests drive (Debian's, through Playwright) and where they put screenshots."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT, skip_or_fail

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
SHOTS = ROOT / "var" / "screenshots"


def need_chromium() -> None:
    """Skip on a developer's machine without Chromium, fail in CI (scripts/sysdeps.sh installs it)."""
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"{CHROMIUM} missing (scripts/sysdeps.sh installs chromium)")
