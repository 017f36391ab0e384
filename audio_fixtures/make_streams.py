"""Make the Media Streams replay fixtures: Twilio message sequences with real μ-law speech.

Each ``streams/<name>.jsonl`` holds one JSON object per line, exactly as Twilio sends them
(``connected``, ``start``, ``media`` every 20 ms, ``dtmf``, ``stop``), preceded by one
``{"fixture": {...}}`` line the replay client does not send: what was said, when the keyword
ends (ms of stream time) and what the test expects. The ``start`` message carries the mode but
no ``sig``: the replay client signs it with the token of the server under test.

Speech is espeak-ng's Korean voice (the only Vosk model these machines can have is Korean),
8 kHz μ-law via ffmpeg. Run: ``.venv/bin/python audio_fixtures/make_streams.py``.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "streams"
FRAME = 160  # bytes of μ-law per 20 ms
SILENCE = b"\xff"  # μ-law zero
CALL_SID = "CA" + "0" * 31 + "1"
STREAM_SID = "MZ" + "0" * 31 + "1"


def speech(text: str, speed: int = 140) -> bytes:
    """Korean speech as raw 8 kHz μ-law."""
    wav = subprocess.run(["espeak-ng", "-v", "ko", "-s", str(speed), "--stdout", text], capture_output=True, check=True)
    ul = subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", "pipe:0", "-ar", "8000", "-ac", "1", "-f", "mulaw", "pipe:1"],
        input=wav.stdout,
        capture_output=True,
        check=True,
    )
    return _trim(ul.stdout)


def _trim(ul: bytes) -> bytes:
    """Cut espeak's leading/trailing near-silence so the keyword's end is known to the frame."""
    loud = [i for i, b in enumerate(ul) if (b & 0x7F) < 0x70]  # |sample| above ~ -45 dBFS
    if not loud:
        return ul
    return ul[loud[0] : loud[-1] + 1]


def silence(ms: int) -> bytes:
    return SILENCE * (8 * ms)


def messages(
    audio: bytes, *, mode: str, dtmf: dict[int, str] | None = None, tracks: tuple[str, ...] = ("inbound",)
) -> list[dict[str, object]]:
    seq = 1
    out: list[dict[str, object]] = [{"event": "connected", "protocol": "Call", "version": "1.0.0"}]
    seq += 1
    out.append(
        {
            "event": "start",
            "sequenceNumber": str(seq),
            "start": {
                "accountSid": "AC" + "0" * 32,
                "streamSid": STREAM_SID,
                "callSid": CALL_SID,
                "tracks": list(tracks),
                "customParameters": {"mode": mode},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
            "streamSid": STREAM_SID,
        }
    )
    dtmf = dict(dtmf or {})
    audio = audio + SILENCE * ((-len(audio)) % FRAME)
    for chunk, i in enumerate(range(0, len(audio), FRAME), start=1):
        ts = (chunk - 1) * 20
        for at in [t for t in dtmf if t <= ts]:
            seq += 1
            out.append(
                {
                    "event": "dtmf",
                    "streamSid": STREAM_SID,
                    "sequenceNumber": str(seq),
                    "dtmf": {"track": "inbound_track", "digit": dtmf.pop(at)},
                }
            )
        seq += 1
        payload = base64.b64encode(audio[i : i + FRAME]).decode()
        media = {"track": "inbound", "chunk": str(chunk), "timestamp": str(ts), "payload": payload}
        out.append({"event": "media", "sequenceNumber": str(seq), "media": media, "streamSid": STREAM_SID})
    seq += 1
    out.append(
        {
            "event": "stop",
            "sequenceNumber": str(seq),
            "streamSid": STREAM_SID,
            "stop": {"accountSid": "AC" + "0" * 32, "callSid": CALL_SID},
        }
    )
    return out


def write(name: str, meta: dict[str, object], msgs: list[dict[str, object]]) -> None:
    path = OUT / f"{name}.jsonl"
    lines = [json.dumps({"fixture": meta}, ensure_ascii=False)] + [json.dumps(m, separators=(",", ":")) for m in msgs]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    size = path.stat().st_size
    assert size < 500_000, f"{path} is {size} bytes"
    print(f"{path.relative_to(HERE)}: {len(msgs)} messages, {size // 1024} KB")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    lead, tail = 600, 1400
    for name, text, keyword, target in (
        ("ko_delivery", "배송 조회", "배송", "logistics"),
        ("ko_agent", "상담원 연결", "상담원", "agent"),
        ("ko_refund", "환불", "환불", "payment"),
    ):
        said = speech(text)
        end_ms = lead + len(said) // 8
        kw_end = lead + len(speech(keyword)) // 8  # the keyword leads the phrase; spoken alone it is as long
        for mode in ("1", "2"):
            msgs = messages(silence(lead) + said + silence(tail), mode=mode)
            meta = {
                "text": text,
                "keyword": keyword,
                "keyword_end_ms": min(kw_end, end_ms),
                "utterance_end_ms": end_ms,
                "expect_node": target,
                "mode": mode,
            }
            write(f"{name}_mode{mode}", meta, msgs)
    write(
        "silence_mode1",
        {"text": "", "keyword_end_ms": None, "expect_node": None, "mode": "1"},
        messages(silence(3000), mode="1"),
    )
    write(
        "silence_mode2",
        {"text": "", "keyword_end_ms": None, "expect_node": None, "mode": "2"},
        messages(silence(7000), mode="2"),
    )
    # a key pressed while the welcome prompt plays (barge-in), then the logistics menu is heard
    write(
        "keypress_mode2",
        {"text": "", "dtmf": {"400": "5"}, "keyword_end_ms": None, "expect_node": "logistics", "mode": "2"},
        messages(silence(1500), mode="2", dtmf={400: "5"}),
    )
    # both tracks: the outbound audio (here someone saying 상담원, "agent") must never reach the recognizer
    said = speech("배송 조회")
    inbound = messages(silence(lead) + said + silence(tail), mode="1", tracks=("inbound", "outbound"))
    other = [
        m for m in messages(silence(lead) + speech("상담원 상담원") + silence(tail), mode="1") if m["event"] == "media"
    ]
    doubled: list[dict[str, object]] = []
    for m in inbound:
        doubled.append(m)
        if m["event"] == "media" and other:
            o = other.pop(0)
            doubled.append({**o, "media": {**o["media"], "track": "outbound"}})  # type: ignore[dict-item]
    meta = {"text": "배송 조회", "keyword_end_ms": lead + len(said) // 8, "expect_node": "logistics", "mode": "1"}
    write("ko_delivery_both_tracks", meta, doubled)


if __name__ == "__main__":
    main()
