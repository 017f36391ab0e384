"""Service levels at scale: 100k calls with their events, p95 server time of the 运营指标 page.

    .venv/bin/python benchmarks/kpi.py [--calls 100000] [--days 30] [--runs 20] [--db URL] [--keep DIR]

Fills a fresh SQLite file (or ``--db postgresql://...``) with ``--calls`` calls spread over ``--days``
days ending today (local time), each with its fact-bearing events (start, nodes, transfer, queue leg,
survey, hang-up; ~6 per call) and its facts row (``call_kpi``), in the proportions the traffic
simulator uses; some calls are still in the IVR or the queue, for the live figures. Then it times,
through the WSGI app as a logged-in supervisor (the server's time, no network): the page for the
whole month, for one day, the live figures, and the follow-up list. Targets (issue 15): page p95
< 300 ms for a month and for a day, live figures p95 < 50 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Table, insert  # noqa: E402

from hotline.settings import Secret, Settings  # noqa: E402
from kpi.definitions import contribution, funnel_marks, rollup_changes, stored_class  # noqa: E402
from kpi.facts import EventRow, facts_of  # noqa: E402
from store.db import make_engine, migrate, session_factory, transaction  # noqa: E402
from store.models import Call, CallEvent  # noqa: E402
from store.models_kpi import CallKpi, CallKpiNode, Followup, KpiHour, KpiNodeDay  # noqa: E402

TEAMS = ["售后一组", "售后二组", "家电组", "物流组", "会员组", "支付组"]
TZ = ZoneInfo("Asia/Shanghai")
KINDS = {"main": "menu", "order": "menu", "payment": "menu", "order.modify": "info", "payment.refund": "info",
         "survey": "survey", "goodbye": "hangup", "agent": "transfer"}  # fmt: skip


def make_call(rng: random.Random, cid: int, start: datetime) -> tuple[dict[str, Any], list[EventRow]]:
    """One call's row and events, of a kind drawn like ivr.traffic's plans."""
    kind = rng.choices(("self", "menu", "abandon", "answered"), (0.3, 0.15, 0.15, 0.4))[0]
    t = start
    evs = [EventRow(t, "start", "main")]
    row: dict[str, Any] = {
        "id": cid,
        "started_at": start,
        "status": "completed",
        "outcome": "",
        "skill": "",
        "team": "",
    }

    def step(node: str, kind_: str = "node", detail: dict[str, Any] | None = None, secs: float = 8.0) -> None:
        nonlocal t
        t = t + timedelta(seconds=secs)
        evs.append(EventRow(t, kind_, node, detail or {}))

    if kind == "self":
        menu = rng.choice(("order", "payment"))
        step(menu)
        step("order.modify" if menu == "order" else "payment.refund")
        step("survey", secs=20)
        score = rng.choice((1, 2, 3, 4, 4, 5, 5, 5))
        step("survey", "survey", {"score": score})
        step("goodbye")
        row.update(outcome="self-service", survey_score=score)
    elif kind == "menu":
        step("order")
        step("order", "caller-hangup", {"phase": ""}, secs=5)
        row["outcome"] = "abandoned"
    else:
        step("agent")
        step("agent", "transfer", {"skill": "general"}, secs=0)
        wait = rng.randint(1, 400) if kind == "abandon" else int(rng.expovariate(1 / 60))
        row.update(outcome="transferred", skill="general")
        if kind == "abandon":
            step("agent", "queue-leg", {"result": "hangup", "wait_s": float(wait)}, secs=wait)
        else:
            talk = rng.randint(60, 600)
            row["team"] = rng.choice(TEAMS)
            step("agent", "queue-leg", {"result": "bridged", "wait_s": float(wait)}, secs=wait + talk)
            step("survey")
            score = rng.choice((1, 2, 3, 4, 4, 5, 5, 5))
            step("survey", "survey", {"score": score})
            step("goodbye")
            row["survey_score"] = score
    row["ended_at"] = t + timedelta(seconds=1)
    row["duration_s"] = (row["ended_at"] - start).total_seconds()
    return row, evs


def fill(engine: Any, n: int, days: int, seed: int) -> None:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    first = now - timedelta(days=days)
    calls_t: Table = Call.__table__  # type: ignore[assignment]
    events_t: Table = CallEvent.__table__  # type: ignore[assignment]
    facts_t: Table = CallKpi.__table__  # type: ignore[assignment]
    follow_t: Table = Followup.__table__  # type: ignore[assignment]
    nodes_t: Table = CallKpiNode.__table__  # type: ignore[assignment]
    batch = 10_000
    hours: dict[tuple[str, int, str, str], dict[str, float]] = {}
    node_days: dict[tuple[str, str, str, str], tuple[int, int]] = {}
    for lo in range(0, n, batch):
        calls, events, facts, follows, nodes = [], [], [], [], []
        for cid in range(lo + 1, min(n, lo + batch) + 1):
            start = first + timedelta(seconds=rng.random() * days * 86400)
            row, evs = make_call(rng, cid, start)
            live = cid > n - 30  # the last 30 calls are going on now
            if live:
                start = now - timedelta(seconds=rng.randint(5, 300))
                row, evs = make_call(rng, cid, start)
                evs = evs[:3]
                row.update(ended_at=None, status="in-progress", duration_s=None, survey_score=None)
            calls.append({
                "id": cid, "call_sid": f"CA{cid:032x}", "caller_masked": "138****0000", "started_at": row["started_at"],
                "ended_at": row["ended_at"], "status": row["status"], "outcome": row["outcome"], "menu_path": [],
                "flow_state": {}, "skill": row["skill"], "survey_score": row.get("survey_score"), "agent_id": "",
                "team": row["team"], "recording_sid": "", "recording_url": "", "duration_s": row["duration_s"],
                "pipeline_state": "", "pipeline_error": "",
            })  # fmt: skip
            events += [
                {
                    "call_id": cid,
                    "at": e.at,
                    "kind": e.kind,
                    "node": e.node,
                    "detail": dict(e.detail),
                    "request_key": "",
                }
                for e in evs
            ]
            f = facts_of(row, evs, node_kinds=KINDS)
            cls = stored_class(f, TZ)
            facts.append({**f.to_row(), **cls})
            nodes += [{"call_id": cid, "node": n, "hung_up": h} for n, h in funnel_marks(f)]
            share = (
                (cls["local_day"], cls["local_hour"], f.team, f.skill),
                contribution(f, cls["category"], cls["in_sl"]),
            )
            for key, sums, marks in rollup_changes(None, (*share, funnel_marks(f))):
                for hk in (key, (key[0], key[1], "*", "*"), (key[0], -1, key[2], key[3])):  # as add_to_rollups
                    bucket = hours.setdefault(hk, dict.fromkeys(sums, 0.0))
                    for k, v in sums.items():
                        bucket[k] += v
                for node, (e, h) in marks.items():
                    nk = (key[0], key[2], key[3], node)
                    pe, ph = node_days.get(nk, (0, 0))
                    node_days[nk] = (pe + e, ph + h)
            if f.survey_score is not None and f.survey_score < 4 and f.surveyed_at is not None:
                follows.append({"call_id": cid, "score": f.survey_score, "surveyed_at": f.surveyed_at,
                                "due_at": f.surveyed_at + timedelta(hours=48), "done_by": "", "note": "",
                                "created_at": f.surveyed_at})  # fmt: skip
        with engine.begin() as conn:
            conn.execute(insert(calls_t), calls)
            conn.execute(insert(events_t), events)
            conn.execute(insert(facts_t), facts)
            conn.execute(insert(nodes_t), nodes)
            if follows:
                conn.execute(insert(follow_t), follows)
    with engine.begin() as conn:  # the rollups the webhooks keep, summed here in one go
        conn.execute(insert(KpiHour.__table__), [  # type: ignore[arg-type]
            {"local_day": k[0], "local_hour": k[1], "team": k[2], "skill": k[3], **v} for k, v in hours.items()
        ])  # fmt: skip
        conn.execute(insert(KpiNodeDay.__table__), [  # type: ignore[arg-type]
            {"local_day": k[0], "team": k[1], "skill": k[2], "node": k[3], "entered": e, "hung_up": h}
            for k, (e, h) in node_days.items()
        ])  # fmt: skip


def timed(client: Any, url: str, runs: int) -> tuple[float, float, int]:
    """(median, p95) in ms of ``runs`` GETs after one warm-up; and the status."""
    r = client.get(url)
    code = r.status_code
    xs = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = client.get(url)
        xs.append((time.perf_counter() - t0) * 1000)
        code = max(code, r.status_code)
    xs.sort()
    return statistics.median(xs), xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))], code


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--db", default="")
    ap.add_argument("--keep", default="")
    args = ap.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="kpi-bench-"))
    settings = Settings(data_dir=work / "var", database_url=args.db, secret_key=Secret("bench"))
    engine = make_engine(settings.database_url)
    migrate(engine)
    t0 = time.perf_counter()
    fill(engine, args.calls, args.days, args.seed)
    print(f"filled {args.calls} calls (+ events, facts) over {args.days} days in {time.perf_counter() - t0:.1f} s")
    from store import users

    with transaction(session_factory(engine)) as s:
        users.create_user(s, "boss", "supervisor", "bench-pass-1", team="")
    engine.dispose()
    from hotline.app import create_app

    app = create_app(settings)
    c = app.test_client()
    with c.session_transaction() as sess:
        sess["csrf_token"] = "t"
    r = c.post("/qa/login", data={"name": "boss", "password": "bench-pass-1", "csrf_token": "t"})
    assert r.status_code == 302, r.status_code
    today = datetime.now(TZ).date()
    month_from = today - timedelta(days=args.days - 1)
    cases = [
        ("page, month", f"/qa/service?from={month_from}&to={today}", 300.0),
        ("page, one day", f"/qa/service?from={today - timedelta(days=3)}", 300.0),
        ("page, month, one team", f"/qa/service?from={month_from}&to={today}&team=家电组", 300.0),
        ("live figures", "/qa/service/live", 50.0),
        ("follow-ups", "/qa/service/followups?state=open", 300.0),
    ]
    print(f"{'case':<24} {'median ms':>10} {'p95 ms':>10} {'target':>8}  status")
    for name, url, target in cases:
        med, p95, code = timed(c, url, args.runs)
        ok = "OK" if p95 < target and code == 200 else "MISS"
        print(f"{name:<24} {med:>10.1f} {p95:>10.1f} {'<' + format(target, 'g'):>8}  {ok} (HTTP {code})")
    app.extensions["hotline"]["engine"].dispose()


if __name__ == "__main__":
    main()
