"""Seed a store for the workspace tests: calls over two teams, real two-channel WAV recordings
spoken by espeak-ng, transcripts aligned to them, and scores from the real QA scorer.

The WAVs are synthesised once per test session (a few seconds) and shared by the calls.
"""

from __future__ import annotations

import array
import shutil
import subprocess
import wave
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from qa.dialogue import from_transcript
from qa.score import score_dialogue
from store import users as repo
from store.db import transaction
from store.models import Call, CallEvent
from store.models_pipeline import Recording, ScoreRow, TranscriptRow

RATE = 8000
GOOD = [
    ("agent", "您好，京东客服，很高兴为您服务，请问有什么可以帮您？"),
    ("customer", "你好，我想查一下我的订单什么时候到。"),
    ("agent", "好的，请您提供一下订单号，我帮您查询。"),
    ("customer", "订单号是一二三四五六。"),
    ("agent", "感谢您的耐心等待，您的订单预计明天送达。"),
    ("customer", "好的，谢谢你。"),
    ("agent", "请问还有其他可以帮您的吗？感谢您的来电，祝您生活愉快，再见。"),
]
BAD = [
    ("agent", "喂。"),
    ("customer", "我的退款怎么还没到？我都等了两个星期了，太过分了！"),
    ("agent", "这个不归我管，你自己去查。"),
    ("customer", "你这是什么态度？我要投诉你！"),
    ("agent", "随便你。"),
]
AGENTS = (("A1001", "售后一组"), ("A1002", "售后一组"), ("A2001", "售后二组"), ("A2002", "售后二组"))
TZ = ZoneInfo("Asia/Shanghai")


@dataclass
class Audio:
    path: Path
    duration: float
    utterances: list[dict[str, Any]]


def _speak(text: str, out: Path) -> list[int]:
    """espeak-ng (Mandarin, pinyin voice) -> 8 kHz mono 16-bit samples, via ffmpeg."""
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", "cmn-latn-pinyin", "-s", "220", "-w", str(raw), text], check=True)
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-i", str(raw), "-ar", str(RATE), "-ac", "1", str(out)], check=True
    )
    with wave.open(str(out), "rb") as w:
        data = array.array("h", w.readframes(w.getnframes()))
    raw.unlink()
    out.unlink()
    return list(data)


def make_call_audio(lines: list[tuple[str, str]], out: Path, caller_channel: int = 0) -> Audio:
    """A two-channel call: the customer on ``caller_channel``, the agent on the other, 0.4 s gaps."""
    if not shutil.which("espeak-ng") or not shutil.which("ffmpeg"):
        raise RuntimeError("espeak-ng and ffmpeg are needed (scripts/sysdeps.sh installs them)")
    gap = int(0.4 * RATE)
    chans: list[list[int]] = [[], []]
    utts: list[dict[str, Any]] = []
    t = int(0.3 * RATE)
    for i, (who, text) in enumerate(lines):
        samples = _speak(text, out.with_name(f"{out.stem}_{i}.wav"))
        ch = caller_channel if who == "customer" else 1 - caller_channel
        for c in (0, 1):
            chans[c].extend([0] * (t - len(chans[c])))
        chans[ch].extend(samples)
        utts.append(
            {
                "speaker": who,
                "start": round(t / RATE, 2),
                "end": round((t + len(samples)) / RATE, 2),
                "text": text,
                "words": [],
            }
        )
        t += len(samples) + gap
    n = t
    for c in (0, 1):
        chans[c].extend([0] * (n - len(chans[c])))
    inter = array.array("h", [0] * (2 * n))
    inter[0::2] = array.array("h", chans[0])
    inter[1::2] = array.array("h", chans[1])
    with wave.open(str(out), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(inter.tobytes())
    return Audio(out, n / RATE, utts)


def make_audio(folder: Path) -> dict[str, Audio]:
    folder.mkdir(parents=True, exist_ok=True)
    return {"good": make_call_audio(GOOD, folder / "good.wav"), "bad": make_call_audio(BAD, folder / "bad.wav")}


def week_monday(now: datetime | None = None) -> datetime:
    """Monday 09:00 (Shanghai) of the current ISO week, as UTC."""
    local = (now or datetime.now(TZ)).astimezone(TZ)
    monday = (local - timedelta(days=local.weekday())).replace(hour=9, minute=0, second=0, microsecond=0)
    return monday.astimezone(UTC)


@dataclass
class Seeded:
    call_ids: list[int]
    good_ids: list[int]
    bad_ids: list[int]
    unscored_id: int
    week: str
    users: dict[str, int]


def seed(sessions: Any, data_dir: Path, audio: dict[str, Audio], calls_per_agent: int = 6) -> Seeded:
    """Calls this week (and one last week) for each agent; every third is the bad script."""
    rec_dir = data_dir / "recordings"
    rec_dir.mkdir(parents=True, exist_ok=True)
    rel: dict[str, str] = {}
    for key, a in audio.items():
        dst = rec_dir / f"{key}.wav"
        if not dst.exists():
            shutil.copy(a.path, dst)
        rel[key] = f"recordings/{key}.wav"
    scores = {k: score_dialogue(from_transcript({"utterances": a.utterances})).to_dict() for k, a in audio.items()}
    base = week_monday()
    ids: list[int] = []
    good: list[int] = []
    bad: list[int] = []
    with transaction(sessions) as s:
        n = 0
        for agent, team in AGENTS:
            for j in range(calls_per_agent):
                kind = "bad" if j % 3 == 2 else "good"
                started = base + timedelta(hours=n % 40, minutes=7 * j)
                if j == calls_per_agent - 1:
                    started -= timedelta(days=7)  # one call last week
                call = Call(
                    call_sid=f"CA{n:032d}",
                    caller_masked="138****0000",
                    started_at=started,
                    ended_at=started + timedelta(seconds=90),
                    status="completed",
                    outcome="transferred",
                    menu_path=["main", "aftersales", "agent"] if kind == "bad" else ["main", "order", "agent"],
                    flow_state={},
                    survey_score=2 if kind == "bad" else 5,
                    agent_id=agent,
                    team=team,
                    duration_s=45.0 if j == 0 else 90.0 + j,
                    pipeline_state="scored",
                )
                call.events.append(CallEvent(kind="node", node="main", detail={}, at=started))
                call.events.append(CallEvent(kind="dtmf", node="main", detail={"digits": "3"}, at=started))
                s.add(call)
                s.flush()
                a = audio[kind]
                s.add(
                    Recording(
                        call_id=call.id,
                        recording_sid=f"RE{n:032d}",
                        audio_path=rel[kind],
                        channels=2,
                        duration_s=a.duration,
                    )
                )
                text = "\n".join(u["text"] for u in a.utterances)
                s.add(
                    TranscriptRow(
                        call_id=call.id,
                        engine="espeak-script",
                        duration_s=a.duration,
                        data={"utterances": a.utterances},
                        text=text,
                    )
                )
                sc = scores[kind]
                s.add(
                    ScoreRow(
                        call_id=call.id,
                        scorecard=sc["scorecard"],
                        scorecard_version=sc["scorecard_version"],
                        total=sc["total"] - (j % 3),
                        auto_fail=sc["auto_fail"],
                        customer_satisfaction=sc["customer_satisfaction"],
                        customer_sentiment=sc["customer_sentiment"],
                        flags=sc["flags"],
                        items=sc["items"],
                        details=sc["details"],
                    )
                )
                ids.append(call.id)
                (bad if kind == "bad" else good).append(call.id)
                n += 1
        unscored = Call(
            call_sid="CAunscored",
            started_at=base,
            status="completed",
            outcome="abandoned",
            menu_path=["main"],
            flow_state={},
            agent_id="",
            team="",
        )
        s.add(unscored)
        s.flush()
        users = {}
        for name, role in (
            ("qa1", "qa"),
            ("qa2", "qa"),
            ("sup", "supervisor"),
            ("admin", "admin"),
        ):
            users[name] = repo.create_user(s, name, role, "secret-" + name, team="售后一组").id
        y, w, _ = base.astimezone(TZ).isocalendar()
        return Seeded(ids, good, bad, unscored.id, f"{y}-W{w:02d}", users)
