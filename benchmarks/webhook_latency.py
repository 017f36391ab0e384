"""Webhook latency under concurrent calls: `hotline serve` on localhost, simulated callers.

Starts `hotline serve` (waitress, SQLite in a temp data dir) as a subprocess, then runs N
concurrent simulated calls for a while; each call walks a full menu path (a random leaf, by
keypad or by speech, as in ivr/examples), with correctly signed Twilio-style requests over
keep-alive connections, then posts the final status callback. When a call ends a new one
starts, so N calls are always in progress.

Two load models, both reported:
  paced     each caller takes --think seconds (uniform range) before answering a prompt, as
            real callers do (Twilio's prompts alone take seconds); this is the target case.
  flat-out  no think time at all: every call fires its next request as soon as it has the
            answer, which measures the server's capacity (latency is then mostly queueing).

Usage: .venv/bin/python benchmarks/webhook_latency.py [--calls 50 200] [--seconds 20] [--threads 16]
Prints p50/p99 per webhook and calls/s for each (mode, N), and the target check at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlparse

from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr.example_scripts import keypad_script, leaves, speech_script  # noqa: E402
from ivr.menu import load_menu  # noqa: E402

TOKEN = "bench-token"
GATHER_RE = re.compile(r'<Gather [^>]*action="([^"]+)"')
ENQ_RE = re.compile(r'<(?:Enqueue|Dial) [^>]*action="([^"]+)"')


@dataclass
class Stats:
    lat: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    calls: int = 0
    errors: int = 0
    requests: int = 0


class Conn:
    """One keep-alive HTTP/1.1 connection, enough for form POSTs to waitress."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, sig: str) -> tuple[int, str]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
            f"X-Twilio-Signature: {sig}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        close = False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value.strip())
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        data = await self.reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, data.decode("utf-8", "replace")

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


def scripts() -> list[list[tuple[str, str]]]:
    menu = load_menu(ROOT / "ivr" / "menus" / "950618.yaml")
    out = []
    for leaf in leaves(menu):
        for make in (keypad_script, speech_script):
            steps, _ = make(menu, leaf)
            out.append([tuple(s.split(" ", 1)) if " " in s else (s, "") for s in steps])  # type: ignore[misc]
    return out


async def one_call(base: str, conn: Conn, script: list[tuple[str, str]], stats: Stats, think: tuple[float, float]):
    validator = RequestValidator(TOKEN)
    sid = "CA" + os.urandom(16).hex()
    common = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": "+8613800138000", "To": "+86950618"}

    async def send(path: str, extra: dict[str, str], label: str) -> str:
        form = {**common, **extra}
        sig = validator.compute_signature(base + path, form)
        t0 = time.perf_counter()
        try:
            status, text = await asyncio.wait_for(conn.post(path, urlencode(form).encode(), sig), 15)
        except TimeoutError:  # Twilio gives up after 15 s too
            stats.errors += 1
            raise RuntimeError(f"timeout on {path}") from None
        stats.lat[label].append((time.perf_counter() - t0) * 1000)
        stats.requests += 1
        if status != 200:
            stats.errors += 1
            raise RuntimeError(f"HTTP {status} on {path}")
        return text

    async def pause() -> None:
        if think[1] > 0:
            await asyncio.sleep(random.uniform(*think))

    todo = list(script)
    text = await send("/ivr/voice", {"CallStatus": "ringing"}, "voice")
    for _ in range(30):
        if "<Hangup" in text:
            break
        m = ENQ_RE.search(text)
        if m:
            if not todo:
                break
            await pause()
            text = await send(m.group(1).replace("&amp;", "&"), {"QueueResult": "bridged"}, "after")
            continue
        g = GATHER_RE.search(text)
        if not g:
            stats.errors += 1
            break
        await pause()
        kind, value = todo.pop(0) if todo else ("silence", "")
        extra: dict[str, str] = {}
        if kind == "press":
            extra = {"Digits": value.split("#", 1)[0] if 'finishOnKey="#"' in text else value}
        elif kind == "say":
            extra = {"SpeechResult": value, "Confidence": "0.9"}
        text = await send(g.group(1).replace("&amp;", "&"), extra, "gather")
    await send("/ivr/status", {"CallStatus": "completed", "CallDuration": "60"}, "status")
    stats.calls += 1


async def load(base: str, n: int, seconds: float, think: tuple[float, float]) -> tuple[Stats, float]:
    u = urlparse(base)
    stats = Stats()
    pool = scripts()
    deadline = time.perf_counter() + seconds

    async def caller(i: int) -> None:
        conn = Conn(u.hostname or "127.0.0.1", u.port or 80)
        if think[1] > 0:  # stagger the starts so calls are spread over their lifetime
            await asyncio.sleep(random.uniform(0, think[1] * 4))
        while time.perf_counter() < deadline:
            try:
                await one_call(base, conn, random.choice(pool), stats, think)
            except (RuntimeError, OSError, asyncio.IncompleteReadError):
                await conn.close()
        await conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(caller(i) for i in range(n)))
    return stats, time.perf_counter() - t0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def cpu_seconds(pid: int) -> float:
    """User+system CPU time of a process (Linux /proc), to report server CPU per request."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def tree_cpu_seconds(pid: int) -> float:
    """CPU of the server and its processes (``--processes``: the forked ones do the work)."""
    total = cpu_seconds(pid)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    total += cpu_seconds(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data: Path, threads: int, processes: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "HOTLINE_DATA_DIR": str(data),
        "HOTLINE_TWILIO_AUTH_TOKEN": TOKEN,
        "HOTLINE_PUBLIC_URL": f"http://127.0.0.1:{port}",  # required with a real token
        "HOTLINE_LOG_LEVEL": "WARNING",
    }
    for key in ("HOTLINE_DATABASE_URL", "HOTLINE_REDIS_URL"):
        env.pop(key, None)
    hotline = str(Path(sys.executable).parent / "hotline")
    cmd = [hotline, "serve", "--host", "127.0.0.1", "--port", str(port), "--threads", str(threads)]
    cmd += ["--processes", str(processes)]
    log = open(data / "serve.log", "wb")  # noqa: SIM115 - a pipe nobody reads would block the server when full
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, base
        except OSError:
            if proc.poll() is not None:
                tail = (data / "serve.log").read_text(errors="replace")[-2000:]
                raise SystemExit("hotline serve exited: " + tail) from None
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("hotline serve did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, nargs="+", default=[50, 200])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--threads", type=int, default=16, help="waitress threads (hotline serve --threads)")
    ap.add_argument("--think", type=float, nargs=2, default=[1.0, 3.0], metavar=("MIN", "MAX"))
    ap.add_argument("--processes", type=int, default=1, help="hotline serve --processes N")
    ap.add_argument("--tmp", default=None, help="where the temp data dir goes (default: system temp)")
    ap.add_argument("--modes", nargs="+", default=["paced", "flat-out"], choices=["paced", "flat-out"])
    args = ap.parse_args()
    print(f"cpu cores: {os.cpu_count()}  waitress threads: {args.threads}  run: {args.seconds:.0f} s per case")
    results = {}
    with tempfile.TemporaryDirectory(prefix="hotline-bench-", dir=args.tmp) as tmp:
        proc, base = start_server(Path(tmp), args.threads, args.processes)
        try:
            asyncio.run(load(base, 5, 2.0, (0.0, 0.0)))  # warm up
            for mode in args.modes:
                think = tuple(args.think) if mode == "paced" else (0.0, 0.0)
                for n in args.calls:
                    load_before = os.getloadavg()[0]
                    cpu0 = tree_cpu_seconds(proc.pid)
                    stats, wall = asyncio.run(load(base, n, args.seconds, think))  # type: ignore[arg-type]
                    cpu_ms = (tree_cpu_seconds(proc.pid) - cpu0) * 1000 / max(1, stats.requests)
                    results[(mode, n)] = stats
                    all_lat = [v for vs in stats.lat.values() for v in vs]
                    think_s = f"think {think[0]:.0f}-{think[1]:.0f} s" if think[1] else "no think time"
                    print(f"\n== {mode}: {n} concurrent calls ({think_s}), {wall:.1f} s")
                    print(f"{'webhook':<10}{'requests':>10}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
                    for label in ("voice", "gather", "after", "status"):
                        vs = stats.lat.get(label, [])
                        if vs:
                            print(
                                f"{label:<10}{len(vs):>10}{pct(vs, 0.5):>10.1f}{pct(vs, 0.99):>10.1f}{max(vs):>10.1f}"
                            )
                    print(f"{'all':<10}{len(all_lat):>10}{pct(all_lat, 0.5):>10.1f}{pct(all_lat, 0.99):>10.1f}")
                    print(
                        f"calls completed: {stats.calls} ({stats.calls / wall:.1f} calls/s), "
                        f"requests/s: {stats.requests / wall:.0f}, errors: {stats.errors}"
                    )
                    print(
                        f"server CPU per request: {cpu_ms:.2f} ms (one process: ~{1000 / cpu_ms:.0f} requests/s "
                        f"per core); machine load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}"
                    )
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    if ("paced", 200) in results:
        lat = [v for vs in results[("paced", 200)].lat.values() for v in vs]
        p99 = pct(lat, 0.99)
        verdict = "met" if p99 < 50 else "NOT met"
        print(f"\ntarget p99 < 50 ms at 200 concurrent calls (paced): p99 {p99:.1f} ms -> {verdict}")
        print(f"p99_ms {p99:.1f}")


if __name__ == "__main__":
    main()
