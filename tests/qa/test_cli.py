"""The command-line contract of issue 4: hotline qa sentiment | score | eval."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hotline.cli import cli
from tests.conftest import ROOT, need_shared

from .test_score import GOOD_CALL

LINE = re.compile(r"^-?[01]\.\d{4}\t(positive|negative)$")


def run(*args: str, input: str | None = None):
    result = CliRunner().invoke(cli, ["qa", *args], input=input, catch_exceptions=False)
    return result


def test_sentiment_plain_and_tsv_lines_in_order(tmp_path: Path) -> None:
    f = tmp_path / "in.txt"
    f.write_text("质量很好，很满意\nnegative\t太差了，再也不买了\n\n不是很满意\n谢 谢\n", encoding="utf-8")
    r = run("sentiment", str(f))
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert len(lines) == 5
    assert all(LINE.match(x) for x in lines), lines
    labels = [x.split("\t")[1] for x in lines]
    assert labels[0] == "positive" and labels[1] == "negative" and labels[3] == "negative" and labels[4] == "positive"
    assert all(-1 <= float(x.split("\t")[0]) <= 1 for x in lines)


def test_sentiment_reads_stdin() -> None:
    r = run("sentiment", "-", input="不错\n")
    assert r.exit_code == 0 and LINE.match(r.output.strip()) and r.output.strip().endswith("positive")


def test_score_jsonl_and_transcript_files(tmp_path: Path) -> None:
    jsonl = tmp_path / "d.jsonl"
    recs = [
        {
            "id": "d1",
            "turns": [{"role": "customer", "text": "在吗"}, {"role": "agent", "text": "您好，请问有什么可以帮您"}],
        },
        {"id": "d2", "turns": [{"role": "customer", "text": "我要投诉"}, {"role": "agent", "text": "我不知道"}]},
    ]
    jsonl.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in recs) + "\n", encoding="utf-8")
    transcript = tmp_path / "call-9.json"
    transcript.write_text(json.dumps(GOOD_CALL, ensure_ascii=False, indent=2), encoding="utf-8")
    r = run("score", str(jsonl), str(transcript))
    assert r.exit_code == 0, r.output
    out = [json.loads(x) for x in r.output.splitlines()]
    assert [o["id"] for o in out] == ["d1", "d2", "call-1"]
    for o in out:
        assert {"id", "total", "items", "customer_satisfaction", "scorecard_version", "flags"} <= set(o)
        assert 0 <= o["total"] <= 100 and -1 <= o["customer_satisfaction"] <= 1
        assert all({"score", "max", "evidence"} <= set(i) for i in o["items"].values())
        assert "details" not in o
    assert out[1]["items"]["forbidden"]["evidence"][0]["phrase"] == "不知道"
    r = run("score", "--details", str(transcript))
    assert json.loads(r.output)["details"]["metrics"]["timed"] is True


def test_score_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "turns": []}\nnot json\n', encoding="utf-8")
    r = CliRunner().invoke(cli, ["qa", "score", str(bad)])
    assert r.exit_code != 0 and "bad.jsonl:2: not JSON" in r.output
    card = tmp_path / "card.yaml"
    card.write_text("name: x\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["qa", "score", "--scorecard", str(card), str(bad)])
    assert r.exit_code != 0 and "card.yaml: version" in r.output


def test_eval_prints_the_table(tmp_path: Path) -> None:
    """On a small copy of the data (unseen by the models' digests, so all of it is evaluated)."""
    src = need_shared("qa-data")
    for name, n in (("online-shopping-10-cats", 300), ("waimai-10k", 300)):
        (tmp_path / name).mkdir()
        lines = (src / name / "items.tsv").read_text(encoding="utf-8").splitlines()[-n:]
        (tmp_path / name / "items.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for name, n in (("stc3-weibo-helpdesk", 200), ("jddc2019-sample", 40)):
        (tmp_path / name).mkdir()
        lines = (src / name / "dialogues.jsonl").read_text(encoding="utf-8").splitlines()[-n:]
        (tmp_path / name / "dialogues.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = run("eval", "--data", str(tmp_path))
    assert r.exit_code == 0, r.output
    out = r.output
    assert "online-shopping-10-cats" in out and "waimai-10k" in out and "all (unseen)" in out
    assert "Spearman" in out and "stc3-weibo-helpdesk" in out
    assert "greeting" in out and "forbidden phrases found" in out
    acc = float(re.search(r"online-shopping-10-cats\s+all \(unseen\)\s+300\s+([0-9.]+)", out).group(1))
    assert acc >= 0.85
    rep = json.loads(run("eval", "--data", str(tmp_path), "--json").output)
    assert rep["jddc"]["n"] == 40 and rep["satisfaction"]["n"] == 200


def test_hotline_qa_in_a_real_process(tmp_path: Path) -> None:
    f = tmp_path / "t.txt"
    f.write_text("很好\n很差\n", encoding="utf-8")
    p = subprocess.run(
        [sys.executable, "-c", "from hotline.cli import main; main()", "qa", "sentiment", str(f)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert [x.split("\t")[1] for x in p.stdout.splitlines()] == ["positive", "negative"]


@pytest.mark.parametrize("cmd", ["sentiment", "score", "eval"])
def test_help(cmd: str) -> None:
    assert run(cmd, "--help").exit_code == 0
