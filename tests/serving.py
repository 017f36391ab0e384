"""A real `hotline serve` subprocess for end-to-end tests: a free port, ready once /healthz answers, stopped on exit."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
HOTLINE = str(Path(sys.executable).parent / "hotline")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def hotline_serve(data_dir: Path, **env_extra: str) -> Iterator[tuple[str, dict[str, str]]]:
    """(base URL, environment) of a `hotline serve` on SQLite in ``data_dir`` with the test token."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "HOTLINE_DATA_DIR": str(data_dir),
        "HOTLINE_TWILIO_AUTH_TOKEN": "test-token",
        "HOTLINE_PUBLIC_URL": url,
        **env_extra,
    }
    proc = subprocess.Popen(
        [HOTLINE, "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        for _ in range(300):  # start-up takes seconds on a loaded machine
            try:
                if requests.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            proc.kill()
            pytest.fail("hotline serve did not start: " + (proc.stdout.read().decode() if proc.stdout else ""))
        yield url, env
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def simulate(env: dict[str, str], *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """`hotline simulate ARGS` against the server ``env`` points at."""
    return subprocess.run(
        [HOTLINE, "simulate", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
