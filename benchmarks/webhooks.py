"""Server CPU per webhook: ours against a bare Flask app answering fixed TwiML, in the same run.

What is measured is CPU time (``time.process_time`` in-process, /proc utime+stime of the server
process under waitress), never wall time: the machine is shared, and CPU per request is what
decides how many calls a core can carry. The work is a new call's first webhook (``/ivr/voice``,
each request a new CallSid), with everything it does: signature check, the call's row and first
state created, its events written, TwiML answered. ``/ivr/gather`` (a keypress on an existing
call: read the state, one flow step, write it back) is reported beside it.

  in-process  the WSGI app called directly with prebuilt requests (no HTTP, no client cost):
              the app's own CPU. The target: ours <= 1.0 ms.
  waitress    ``hotline serve`` and the bare app each under waitress in their own process, driven
              over keep-alive connections from this one; server CPU only. (--no-waitress skips it.)

The floor is a bare Flask app with one route answering the same fixed TwiML (Twilio's own quick
start), under the same conditions. Last line: ``cpu_ms_per_request OURS floor FLOOR`` (in-process).

Usage: .venv/bin/python benchmarks/webhooks.py [--requests 3000] [--rounds 3] [--no-waitress]
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN = "bench-token"
BASE = "http://127.0.0.1"
FIXED_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Gather input="dtmf speech" action="/ivr/gather" '
    'language="zh-CN"><Say language="zh-CN">您好，欢迎致电客服热线。</Say></Gather></Response>'
)
Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def floor_app() -> Any:
    """The floor: a bare Flask app answering fixed TwiML (nothing read, nothing stored)."""
    from flask import Flask, Response

    app = Flask("floor")

    @app.post("/ivr/voice")
    @app.post("/ivr/gather")
    def answer() -> Response:
        return Response(FIXED_TWIML, mimetype="application/xml")

    return app


def form_for(sid: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {
        "CallSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": "+8613800138000",
        "To": "+86950618",
        "CallStatus": "in-progress",
        **(extra or {}),
    }


def environ(path: str, form: dict[str, str], base: str) -> dict[str, Any]:
    """A WSGI environ as waitress makes it, signed like Twilio for ``base + path``."""
    body = urlencode(form).encode()
    route, _, query = path.partition("?")
    return {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": route,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_X_TWILIO_SIGNATURE": RequestValidator(TOKEN).compute_signature(base + path, form),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def run_wsgi(app: Wsgi, envs: list[dict[str, Any]]) -> float:
    """CPU ms per request of ``app`` over ``envs`` (each answered 200, or the run stops)."""

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        if not status.startswith("200"):
            raise SystemExit(f"benchmark request answered {status}")

    t0 = time.process_time()
    for env in envs:
        for _ in app(env, start_response):
            pass
    return (time.process_time() - t0) * 1000 / len(envs)


def our_app(data: Path, base: str) -> Any:
    from hotline.app import create_app, settle
    from hotline.settings import Secret, Settings

    settings = Settings(data_dir=data, twilio_auth_token=Secret(TOKEN), public_url=base, database_url="")
    app = create_app(settings)
    settle()  # as `hotline serve` does before serving
    return app


def in_process(n: int, rounds: int) -> dict[str, float]:
    """Best of ``rounds`` (the least disturbed by other work on the machine), per case."""
    logging.disable(logging.WARNING)
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        app = our_app(Path(tmp), BASE)
        floor = floor_app()
        warm = [environ("/ivr/voice", form_for(f"CAwarm{i:028x}"), BASE) for i in range(200)]
        run_wsgi(app, warm)
        run_wsgi(floor, [environ("/ivr/voice", form_for("CA" + "0" * 32), BASE) for _ in range(200)])
        for r in range(rounds):
            sids = [f"CA{r:04x}{i:028x}" for i in range(n)]
            voice = [environ("/ivr/voice", form_for(s), BASE) for s in sids]
            out["voice"] = min(out.get("voice", 1e9), run_wsgi(app, voice))
            gather = [environ("/ivr/gather?s=1&n=main", form_for(s, {"Digits": "2"}), BASE) for s in sids]
            out["gather"] = min(out.get("gather", 1e9), run_wsgi(app, gather))
            bare = [environ("/ivr/voice", form_for(s), BASE) for s in sids]
            out["floor"] = min(out.get("floor", 1e9), run_wsgi(floor, bare))
        app.extensions["hotline"]["engine"].dispose()
    logging.disable(logging.NOTSET)
    return out


# ---------------------------------------------------------------- under waitress, in its own process
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User+system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(cmd: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    for _ in range(600):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"server exited: {log.read_text(errors='replace')[-2000:]}") from None
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server did not start: {' '.join(cmd)}")


def drive(port: int, path: str, forms: list[dict[str, str]], connections: int = 4) -> None:
    """POST every form over ``connections`` keep-alive connections (threads), answers checked."""
    import http.client
    import threading

    base = f"http://127.0.0.1:{port}"
    v = RequestValidator(TOKEN)
    batches = [forms[i::connections] for i in range(connections)]
    errors: list[str] = []

    def worker(batch: list[dict[str, str]]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for form in batch:
            sig = v.compute_signature(base + path, form)
            headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sig}
            conn.request("POST", path, body=urlencode(form), headers=headers)
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                errors.append(str(r.status))
        conn.close()

    threads = [threading.Thread(target=worker, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"waitress run: {len(errors)} requests failed ({errors[0]})")


def under_waitress(n: int, rounds: int) -> dict[str, float]:
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        ours_port, floor_port = free_port(), free_port()
        env = {**os.environ, "HOTLINE_DATA_DIR": tmp, "HOTLINE_TWILIO_AUTH_TOKEN": TOKEN,
               "HOTLINE_PUBLIC_URL": f"http://127.0.0.1:{ours_port}", "HOTLINE_LOG_LEVEL": "WARNING"}  # fmt: skip
        for key in ("HOTLINE_DATABASE_URL", "HOTLINE_REDIS_URL"):
            env.pop(key, None)
        hotline = str(Path(sys.executable).parent / "hotline")
        ours = start([hotline, "serve", "--port", str(ours_port), "--threads", "4", "--ws-port", "0"], env, ours_port,
                     Path(tmp) / "serve.log")  # fmt: skip
        floor_cmd = [sys.executable, __file__, "--serve-floor", str(floor_port)]
        floor = start(floor_cmd, env, floor_port, Path(tmp) / "floor.log")
        try:
            drive(ours_port, "/ivr/voice", [form_for(f"CAwarm{i:028x}") for i in range(200)])
            drive(floor_port, "/ivr/voice", [form_for(f"CAwarm{i:028x}") for i in range(200)])
            for r in range(rounds):
                forms = [form_for(f"CA{r:04x}{i:028x}") for i in range(n)]
                for label, proc, port in (("voice", ours, ours_port), ("floor", floor, floor_port)):
                    c0 = cpu_seconds(proc.pid)
                    drive(port, "/ivr/voice", forms)
                    out[label] = min(out.get(label, 1e9), (cpu_seconds(proc.pid) - c0) * 1000 / n)
        finally:
            for proc in (ours, floor):
                proc.terminate()
                proc.wait(timeout=10)
    return out


def serve_floor(port: int) -> None:
    from waitress import serve

    serve(floor_app(), host="127.0.0.1", port=port, threads=4, ident="floor", _quiet=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=3000, help="new calls per round and case")
    ap.add_argument("--rounds", type=int, default=3, help="the best round counts (least disturbed)")
    ap.add_argument("--no-waitress", action="store_true", help="in-process only")
    ap.add_argument("--serve-floor", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_floor:
        serve_floor(args.serve_floor)
        return
    print(f"cpu cores: {os.cpu_count()}  load average: {os.getloadavg()[0]:.1f}  "
          f"{args.requests} new calls x {args.rounds} rounds (best round)")  # fmt: skip
    t0 = time.perf_counter()
    inproc = in_process(args.requests, args.rounds)
    print("\nCPU ms per request, in-process (WSGI called directly)")
    print(f"  ours  /ivr/voice (new call)   {inproc['voice']:.3f}")
    print(f"  ours  /ivr/gather (keypress)  {inproc['gather']:.3f}")
    print(f"  floor bare Flask, fixed TwiML {inproc['floor']:.3f}   ratio {inproc['voice'] / inproc['floor']:.1f}x")
    if not args.no_waitress:
        served = under_waitress(args.requests, args.rounds)
        print("\nserver CPU ms per request, under waitress (4 threads, 4 keep-alive connections)")
        print(f"  ours  /ivr/voice (new call)   {served['voice']:.3f}")
        print(f"  floor bare Flask, fixed TwiML {served['floor']:.3f}   ratio {served['voice'] / served['floor']:.1f}x")
        rate, floor_rate = 1000 / served["voice"], 1000 / served["floor"]
        print(f"  one process: ~{rate:.0f} new calls/s per core (floor ~{floor_rate:.0f})")
    target = "met" if inproc["voice"] <= 1.0 else "NOT met"
    print(f"\ntarget: in-process <= 1.0 ms per new call: {inproc['voice']:.3f} ms -> {target} "
          f"(ran {time.perf_counter() - t0:.0f} s; load average now {os.getloadavg()[0]:.1f})")  # fmt: skip
    print(f"cpu_ms_per_request {inproc['voice']:.3f} floor {inproc['floor']:.3f}")


if __name__ == "__main__":
    main()
