"""Live-call settings are checked on load, with the variable's name in the message."""

from __future__ import annotations

import pytest

from hotline.settings import Settings, SettingsError


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HOTLINE_LIVE_MAX_CALLS": "0"}, "HOTLINE_LIVE_MAX_CALLS"),
        ({"HOTLINE_LIVE_MAX_VIEWERS": "-1"}, "HOTLINE_LIVE_MAX_VIEWERS"),
        ({"HOTLINE_LIVE_ENGINE": "cloud"}, "HOTLINE_LIVE_ENGINE"),
    ],
)
def test_bad_live_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_live_settings_read_from_the_environment() -> None:
    s = Settings.from_env(
        {"HOTLINE_LIVE_CALLS": "true", "HOTLINE_LIVE_MAX_CALLS": "6", "HOTLINE_LIVE_ENGINE": "whisper"}
    )
    assert s.live_calls and s.live_max_calls == 6 and s.live_engine == "whisper"
