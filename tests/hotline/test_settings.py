from pathlib import Path

import pytest

from hotline.settings import Secret, Settings, SettingsError


def test_defaults_are_embedded(tmp_path: Path) -> None:
    s = Settings.from_env({"HOTLINE_DATA_DIR": str(tmp_path)})
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("hotline.db")
    assert s.redis_url == ""
    assert s.models_dir == tmp_path / "models"


def test_secret_never_printed() -> None:
    s = Settings.from_env({"HOTLINE_TWILIO_AUTH_TOKEN": "abc123secret"})
    assert "abc123secret" not in repr(s)
    assert s.describe()["twilio_auth_token"] == "(set)"
    assert s.twilio_auth_token.reveal() == "abc123secret"
    assert repr(Secret("")) == "Secret('')"


def test_database_password_masked() -> None:
    s = Settings.from_env({"HOTLINE_DATABASE_URL": "postgresql://u:pw@localhost/db"})
    assert "pw" not in s.describe()["database_url"]


def test_bad_values_name_the_variable() -> None:
    with pytest.raises(SettingsError, match="HOTLINE_WORKERS"):
        Settings.from_env({"HOTLINE_WORKERS": "many"})
    with pytest.raises(SettingsError, match="HOTLINE_VALIDATE_SIGNATURES"):
        Settings.from_env({"HOTLINE_VALIDATE_SIGNATURES": "maybe"})


def test_stream_limits_must_be_positive() -> None:
    s = Settings.from_env({"HOTLINE_STREAM_MAX_CONNECTIONS": "50", "HOTLINE_STREAM_SIG_TTL_S": "30"})
    assert (s.stream_max_connections, s.stream_sig_ttl_s, s.stream_require_handshake_signature) == (50, 30, False)
    for name in ("HOTLINE_STREAM_MAX_CONNECTIONS", "HOTLINE_STREAM_SIG_TTL_S"):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: "0"})


def test_ivr_router_is_a_plain_choice() -> None:
    assert Settings().ivr_router == "model"
    assert Settings.from_env({"HOTLINE_IVR_ROUTER": "keywords"}).ivr_router == "keywords"
    with pytest.raises(SettingsError, match=r"HOTLINE_IVR_ROUTER: expected model or keywords, got 'regex'"):
        Settings.from_env({"HOTLINE_IVR_ROUTER": "regex"})


def test_old_router_values_fail_with_the_new_spelling() -> None:
    with pytest.raises(SettingsError, match=r"'ivr\.route:make_router'.*module:factory.*now model"):
        Settings.from_env({"HOTLINE_IVR_ROUTER": "ivr.route:make_router"})
    with pytest.raises(SettingsError, match=r"HOTLINE_IVR_ROUTER is empty.*set keywords"):
        Settings.from_env({"HOTLINE_IVR_ROUTER": ""})


def test_serve_refuses_an_old_router_value(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hotline.cli import cli

    env = {"HOTLINE_DATA_DIR": str(tmp_path), "HOTLINE_IVR_ROUTER": "tests.plug:router", "HOTLINE_DATABASE_URL": ""}
    result = CliRunner().invoke(cli, ["serve", "--ws-port", "0"], env=env)
    assert result.exit_code == 1 and "refusing to start" in result.output and "tests.plug:router" in result.output


def test_whisper_join_gap_is_seconds_within_a_window() -> None:
    assert Settings().whisper_join_gap == 6.0
    assert ("join_gap", 6.0) in Settings().whisper_options()
    assert Settings.from_env({"HOTLINE_WHISPER_JOIN_GAP": "1.5"}).whisper_join_gap == 1.5
    assert Settings.from_env({"HOTLINE_WHISPER_JOIN_GAP": "0"}).whisper_join_gap == 0.0
    for raw, why in (("soon", "expected a number"), ("nan", "finite"), ("-1", "0..28"), ("30", "0..28")):
        with pytest.raises(SettingsError, match=f"HOTLINE_WHISPER_JOIN_GAP: .*{why}"):
            Settings.from_env({"HOTLINE_WHISPER_JOIN_GAP": raw})
