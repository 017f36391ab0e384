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
        ({"HOTLINE_LIVE_ENDPOINT_MS": "50"}, "HOTLINE_LIVE_ENDPOINT_MS"),
        ({"HOTLINE_LIVE_ENDPOINT_MS": "soon"}, "HOTLINE_LIVE_ENDPOINT_MS"),
    ],
)
def test_bad_live_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_live_settings_read_from_the_environment() -> None:
    s = Settings.from_env(
        {
            "HOTLINE_LIVE_CALLS": "true",
            "HOTLINE_LIVE_MAX_CALLS": "6",
            "HOTLINE_LIVE_ENGINE": "whisper",
            "HOTLINE_LIVE_ENDPOINT_MS": "400",
        }
    )
    assert s.live_calls and s.live_max_calls == 6 and s.live_engine == "whisper" and s.live_endpoint_ms == 400
