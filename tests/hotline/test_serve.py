"""`hotline serve --processes N`: several processes on one port, the job pool in exactly one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from twilio.request_validator import RequestValidator

from hotline.cli import cli
from hotline.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]
HOTLINE = str(Path(sys.executable).parent / "hotline")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                out.append(int(entry.name))
    return out


def test_web_processes_setting_is_checked() -> None:
    assert Settings.from_env({"HOTLINE_WEB_PROCESSES": "3"}).web_processes == 3
    with pytest.raises(SettingsError, match="HOTLINE_WEB_PROCESSES"):
        Settings.from_env({"HOTLINE_WEB_PROCESSES": "0"})


def test_processes_option_refuses_nonsense(tmp_path: Path) -> None:
    env = {"HOTLINE_DATA_DIR": str(tmp_path / "var"), "HOTLINE_DATABASE_URL": "", "HOTLINE_REDIS_URL": ""}
    result = CliRunner().invoke(cli, ["serve", "--processes", "0"], env=env)
    assert result.exit_code == 2 and "--processes" in result.output


def test_only_the_jobs_role_runs_the_embedded_pool(settings: Settings) -> None:
    from hotline.app import create_app
    from hotline.jobs import EmbeddedQueue, NullQueue

    web = create_app(settings, role="web")
    jobs = create_app(settings, run_migrations=False, role="jobs")
    try:
        web_pipe, jobs_pipe = web.extensions["hotline"]["pipeline"], jobs.extensions["hotline"]["pipeline"]
        assert isinstance(web_pipe.queue, NullQueue)  # a recording becomes a job row, run elsewhere
        assert isinstance(jobs_pipe.queue, EmbeddedQueue) and jobs_pipe.queue.running  # polls for those rows
        assert web.extensions["hotline"]["ivr"].on_recording == web_pipe.admit
    finally:
        jobs.extensions["hotline"]["pipeline"].stop()
        for app in (web, jobs):
            app.extensions["hotline"]["engine"].dispose()
    with pytest.raises(ValueError, match="role"):
        create_app(settings, role="everything")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="--processes needs fork")
def test_serve_with_two_processes_answers_and_stops_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "HOTLINE_DATA_DIR": str(tmp_path / "var"),
        "HOTLINE_TWILIO_AUTH_TOKEN": "test-token",
        "HOTLINE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "HOTLINE_IVR_ROUTER": "keywords",
    }
    for key in ("HOTLINE_DATABASE_URL", "HOTLINE_REDIS_URL"):
        env.pop(key, None)
    cmd = [HOTLINE, "serve", "--port", str(port), "--processes", "2", "--threads", "2", "--ws-port", "0"]
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(base + "/healthz", timeout=5).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                assert proc.poll() is None, log.read_text()
                time.sleep(0.1)
        children = _children(proc.pid)
        assert len(children) == 2, log.read_text()
        v = RequestValidator("test-token")
        for i in range(6):  # new calls, each answered with the menu by whichever process accepts
            form = {"CallSid": f"CA{i:032x}", "From": "+8613800138000"}
            sig = v.compute_signature(base + "/ivr/voice", form)
            r = requests.post(base + "/ivr/voice", data=form, headers={"X-Twilio-Signature": sig}, timeout=10)
            assert r.status_code == 200 and "<Gather" in r.text
        for _ in range(300):  # each process says which role it took once it serves
            text = log.read_text()
            if "process 0 (" in text and "process 1 (" in text:
                break
            time.sleep(0.1)
        assert "jobs) serving" in text and "web) serving" in text and text.count("embedded job pool started") == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        code: Any = proc.wait(timeout=30)
    assert code == 0, log.read_text()
    assert not any(Path(f"/proc/{pid}").exists() for pid in children)
