"""Fixtures of the webhook tests: a fixed clock (agents on duty) and a client that signs like Twilio."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import OPEN, SignedClient


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ivr.webhooks._now", lambda: OPEN)


@pytest.fixture
def tw(app: Any) -> SignedClient:
    return SignedClient(app.test_client())
