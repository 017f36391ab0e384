"""Shared test helpers: the real menu, fixed clocks, signed requests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twilio.request_validator import RequestValidator

from ivr.flow import Flow
from ivr.hours import load_hours
from ivr.menu import Menu, load_menu

ROOT = Path(__file__).resolve().parents[2]
MENU_PATH = ROOT / "ivr" / "menus" / "950618.yaml"
HOURS_PATH = ROOT / "ivr" / "menus" / "hours.yaml"
TOKEN = "test-token"

# Monday 2026-11-23 12:00 in Shanghai (04:00 UTC): agents working
OPEN = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
# Monday 02:00 in Shanghai: agents off, self-service on
CLOSED = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)

_menu: Menu | None = None


def menu() -> Menu:
    global _menu
    if _menu is None:
        _menu = load_menu(MENU_PATH)
    return _menu


def flow(router: Any = None) -> Flow:
    return Flow(menu(), load_hours(HOURS_PATH), router)


def sign(url: str, form: dict[str, str], token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, form)


class SignedClient:
    """Posts like Twilio: signs the full URL and form with the test token."""

    def __init__(self, client: Any, base: str = "http://localhost", token: str = TOKEN) -> None:
        self.client, self.base, self.token = client, base, token

    def post(self, path: str, form: dict[str, str], **kw: Any) -> Any:
        sig = sign(self.base + path, form, self.token)
        return self.client.post(path, data=form, headers={"X-Twilio-Signature": sig}, **kw)

    def poster(self) -> Any:
        """A ivr.simulate Poster over the Flask test client."""

        def post(url: str, data: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
            path = url[len(self.base) :] if url.startswith(self.base) else url
            r = self.client.post(path, data=data, headers=headers)
            return r.status_code, r.get_data(as_text=True)

        return post
