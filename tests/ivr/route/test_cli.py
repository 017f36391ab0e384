"""The `hotline route FILE` contract: one JSON object per request line, in order, exactly five keys."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from hotline.cli.route import route

ROOT = Path(__file__).resolve().parents[3]
HOTLINE = str(Path(sys.executable).parent / "hotline")
KEYS = ["text", "path", "node", "confidence", "action"]
REQUESTS = ["我的快递怎么一天都没有物流了", "买了四天就降价了能保价吗", "", "  转人工  ", "今天天气怎么样"]


def _check(lines: list[str]) -> list[dict[str, object]]:
    out = [json.loads(line) for line in lines if line.strip()]
    for obj in out:
        assert list(obj) == KEYS, obj
        assert isinstance(obj["path"], list) and all(isinstance(k, str) and len(k) == 1 for k in obj["path"])
        assert isinstance(obj["confidence"], float) and 0.0 <= obj["confidence"] <= 1.0
        assert obj["action"] in ("route", "clarify", "fallback")
    return out


def test_stdin_subprocess_real_command() -> None:
    proc = subprocess.run(
        [HOTLINE, "route", "-"], input="\n".join(REQUESTS) + "\n", capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    out = _check(proc.stdout.splitlines())
    # blank lines are not requests; the others come back in order, text stripped
    texts = [t.strip() for t in REQUESTS if t.strip()]
    assert [o["text"] for o in out] == texts
    assert out[0]["node"] == "logistics" and out[0]["path"] == ["5"] and out[0]["action"] == "route"
    assert out[1]["node"] == "payment.refund" and out[1]["path"] == ["2", "3"]
    assert out[2] == {"text": "转人工", "path": ["0"], "node": "agent", "confidence": 1.0, "action": "route"}
    assert out[3]["action"] in ("fallback", "clarify")
    assert "Loading model" not in proc.stdout  # jieba's chatter stays on stderr


def test_file_argument_and_scope(tmp_path: Path) -> None:
    f = tmp_path / "requests.txt"
    f.write_text("改一下时间\n发票抬头开错了\n", encoding="utf-8")
    res = CliRunner().invoke(route, [str(f), "--scope", "logistics"])
    assert res.exit_code == 0, res.output
    out = _check(res.stdout.splitlines())
    assert out[0]["node"] == "logistics.time" and out[0]["path"] == ["5", "1"]
    assert out[1]["node"] == "order.invoice"


def test_unknown_scope_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "r.txt"
    f.write_text("退款\n", encoding="utf-8")
    res = CliRunner().invoke(route, [str(f), "--scope", "nowhere"])
    assert res.exit_code != 0 and "nowhere" in res.output
