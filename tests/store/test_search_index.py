"""The bigram text index answers what a plain scan of the transcripts answers, on both databases."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text

from store import pipeline, search, search_index
from store.db import make_engine, migrate, session_factory, transaction
from store.models import Call
from store.models_pipeline import TranscriptRow

ALPHABET = "退款订单发票冰箱坏了您好京东客服请问的是不我A1"  # few characters: many repeats, bigrams that overlap
PUNCT = "，。？ \n"


def test_tokens_are_bigrams_and_last_characters() -> None:
    assert search_index.tokens("我的退款，好") == ["我的", "的退", "退款", "款", "好"]
    assert search_index.tokens("Ab1 c") == ["ab", "b1", "1", "c"]
    assert search_index.tokens("，。") == []
    assert search_index.fts_query("退款怎么") == '"退款 款怎 怎么"'
    assert search_index.fts_query("退") == '"退" *'
    assert search_index.fts_query("退款？好") == '"退款" AND "好" *'
    assert search_index.fts_query("？") is None
    assert search_index.ts_query("退款怎") == "('退款' <-> '款怎')"
    assert search_index.ts_query("退") == "'退':*"
    assert search_index.is_exact("退款") and not search_index.is_exact("退款？")


def test_long_texts_split_into_overlapping_tsvector_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_index, "CHUNK", 50)
    monkeypatch.setattr(search_index, "MAX_QUERY", 10)
    chunks = search_index.tsvectors("退" * 120)  # 120 tokens: 0-49, 40-89, 80-119
    assert len(chunks) == 3
    assert all(c.endswith(("'退退':50", "'退':40")) for c in chunks)


def _random_text(rng: random.Random) -> str:
    n = rng.randint(0, 60)
    return "".join(rng.choice(ALPHABET) if rng.random() > 0.12 else rng.choice(PUNCT) for _ in range(n))


def _queries(rng: random.Random, texts: list[str], n: int) -> Iterator[str]:
    for _ in range(n):
        roll = rng.random()
        if roll < 0.6:  # a piece of a real text: 1 to 6 characters, punctuation included
            t = rng.choice([t for t in texts if t] or ["退"])
            i = rng.randrange(len(t))
            yield t[i : i + rng.randint(1, 6)]
        else:  # anything from the alphabet: many miss
            yield "".join(rng.choice(ALPHABET + "，") for _ in range(rng.randint(1, 4)))


def _agree(url: str, seed: int) -> None:
    """Random transcripts (some replaced, some deleted), random queries: index == scan."""
    engine = make_engine(url)
    migrate(engine)
    factory = session_factory(engine)
    rng = random.Random(seed)
    with transaction(factory) as s:
        for i in range(120):
            call = Call(call_sid=f"CA{i}", menu_path=[], flow_state={}, team="T1" if i % 2 else "T2")
            s.add(call)
            s.flush()
            pipeline.save_transcript(s, call.id, text=_random_text(rng), data={})
    with transaction(factory) as s:  # the pipeline re-runs some calls, retention deletes some
        ids = list(s.scalars(select(Call.id)))
        for cid in rng.sample(ids, 20):
            pipeline.save_transcript(s, cid, text=_random_text(rng), data={})
        pipeline.delete_transcripts(s, rng.sample(ids, 10))
        gone = rng.choice(ids)
        s.execute(delete(TranscriptRow).where(TranscriptRow.call_id == gone))  # a Core delete: stale entry
        search_index.drop_transcripts(s, [gone])
    with transaction(factory) as s:
        texts = {cid: t for cid, t in s.execute(select(TranscriptRow.call_id, TranscriptRow.text))}
        teams = {cid: t for cid, t in s.execute(select(Call.id, Call.team))}
        indexed = s.scalar(
            text(f"SELECT count(DISTINCT {'rowid' if 'sqlite' in url else 'call_id'}) FROM transcript_terms")
        )
        with_tokens = [t for t in texts.values() if search_index.tokens(t)]
        assert indexed == (len(texts) if "sqlite" in url else len(with_tokens))  # PG keeps no empty vectors
        checked = 0
        for q in _queries(rng, list(texts.values()), 150):
            if not q.strip():
                continue
            want = sorted(cid for cid, t in texts.items() if q.strip().lower() in t.lower())
            for f, keep in (
                (search.CallFilter(q=q, per_page=500), lambda c: True),
                (search.CallFilter(q=q, team="T1", per_page=500), lambda c: teams[c] == "T1"),
            ):
                page = search.list_calls(s, f)
                assert sorted(r.id for r in page.rows) == [c for c in want if keep(c)], (q, f.team)
                assert page.total == len([c for c in want if keep(c)]), q
            checked += 1
        assert checked > 100
        # the per-row path (common words) answers the same
        search.MAX_ID_LIST, old = 0, search.MAX_ID_LIST
        try:
            for q in ("退", "退款", "款，"):
                want = sorted(cid for cid, t in texts.items() if q in t)
                page = search.list_calls(s, search.CallFilter(q=q, per_page=500))
                assert sorted(r.id for r in page.rows) == want, q
        finally:
            search.MAX_ID_LIST = old
        assert s.scalar(select(func.count()).select_from(TranscriptRow)) == len(texts)
    search.forget_counts()
    engine.dispose()


def test_index_and_scan_agree_sqlite(tmp_path: Path) -> None:
    search.forget_counts()
    _agree(f"sqlite:///{tmp_path / 'db.sqlite'}", seed=17)


@pytest.mark.scaleout
def test_index_and_scan_agree_postgresql(pg_url: str) -> None:
    search.forget_counts()
    _agree(pg_url, seed=18)


def test_migration_builds_the_index_for_existing_transcripts(tmp_path: Path) -> None:
    """Transcripts written before 0009 are indexed by the migration (and a second run adds none)."""
    from alembic import command
    from alembic.config import Config

    from store.db import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0006_recording_trust_event_pii")
        conn.execute(
            text(
                "INSERT INTO calls (id, call_sid, started_at, menu_path, flow_state) VALUES "
                "(1, 'CA1', '2026-01-01 00:00:00', '[]', '{}'), (2, 'CA2', '2026-01-01 00:00:00', '[]', '{}')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO transcripts (call_id, engine, model, language, duration_s, data, text, created_at) "
                "VALUES (1, '', '', 'zh', 1, '{}', '我想退款', '2026-01-01'), "
                "(2, '', '', 'zh', 1, '{}', '发票', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO scores (call_id, scorecard, scorecard_version, total, auto_fail, customer_satisfaction, "
                "customer_sentiment, flags, items, details, created_at) VALUES "
                "(1, 'd', '1', 50, 0, 0, 0, '[\"angry_customer\", \"long_silence\"]', '{}', '{}', '2026-01-01')"
            )
        )
    migrate(engine)
    with engine.begin() as conn:
        assert search_index.build(conn) == 0
        assert conn.scalar(text("SELECT flag_bits FROM scores WHERE call_id = 1")) == 2 | 4
    with transaction(session_factory(engine)) as s:
        assert [r.id for r in search.list_calls(s, search.CallFilter(q="退款")).rows] == [1]
        assert [r.id for r in search.list_calls(s, search.CallFilter(q="票")).rows] == [2]
        assert [r.id for r in search.list_calls(s, search.CallFilter(flags=["angry_customer"])).rows] == [1]
    engine.dispose()


SLOW = {
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000000) "
    "SELECT count(*) FROM n",
    "postgresql": "SELECT count(*) FROM (SELECT pg_sleep(5)) AS x",
}


def _budget_stops_and_session_goes_on(url: str) -> None:
    engine = make_engine(url)
    migrate(engine)
    with transaction(session_factory(engine)) as s:
        with pytest.raises(search._OverBudget):
            search._budgeted(s, text(SLOW[engine.dialect.name]), 0.05)
        assert s.scalar(text("SELECT 1")) == 1  # the transaction is still usable
        assert search._budgeted(s, text("SELECT 7"), 0.5) == 7
    engine.dispose()


def test_count_budget_stops_a_slow_count_sqlite(tmp_path: Path) -> None:
    _budget_stops_and_session_goes_on(f"sqlite:///{tmp_path / 'db.sqlite'}")


@pytest.mark.scaleout
def test_count_budget_stops_a_slow_count_postgresql(pg_url: str) -> None:
    _budget_stops_and_session_goes_on(pg_url)


def test_slow_count_is_estimated_and_the_page_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Over budget: the independence estimate, marked as such, and reused rather than recounted."""
    search.forget_counts()
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    factory = session_factory(engine)
    with transaction(factory) as s:
        for i in range(40):
            call = Call(call_sid=f"CA{i}", menu_path=[], flow_state={}, team="T1" if i % 4 == 0 else "T2")
            s.add(call)
            s.flush()
            pipeline.save_transcript(s, call.id, text="退款" if i % 2 == 0 else "发票", data={})
    real = search.count_calls
    calls: list[float | None] = []

    def slow(s: Any, f: Any, *, probe: str = search.PROBE_IN, budget_s: float | None = None) -> int:
        calls.append(budget_s)
        if budget_s is not None:
            raise search._OverBudget()
        return real(s, f, probe=probe)

    monkeypatch.setattr(search, "count_calls", slow)
    f = search.CallFilter(team="T1", q="退款")
    with transaction(factory) as s:
        page = search.list_calls(s, f)
        assert page.total_kind == search.ESTIMATE
        assert page.total == round(40 * (10 / 40) * (20 / 40))  # whole x team share x text share
        assert len(page.rows) == 10  # the rows themselves are exact
        budgeted = calls.count(search.COUNT_BUDGET_S)
        again = search.list_calls(s, f)
        assert again.total_kind == search.ESTIMATE and calls.count(search.COUNT_BUDGET_S) == budgeted
    search.forget_counts()
    engine.dispose()


def _keyset_pages(url: str) -> None:
    """Walking the list by key gives the rows that OFFSET pages give, for each keyset sort."""
    from datetime import timedelta

    from store.base import utcnow
    from store.models_pipeline import ScoreRow

    engine = make_engine(url)
    migrate(engine)
    factory = session_factory(engine)
    rng = random.Random(5)
    t0 = utcnow()
    with transaction(factory) as s:
        for i in range(57):
            when = t0 - timedelta(minutes=rng.randrange(30))  # many equal times: the id breaks ties
            call = Call(call_sid=f"CA{i}", menu_path=[], flow_state={}, started_at=when)
            s.add(call)
            s.flush()
            s.add(ScoreRow(call_id=call.id, total=float(rng.randrange(5)), customer_sentiment=0.1, flags=[]))
    with transaction(factory) as s:
        for sort in ("-started_at", "started_at", "total", "-total", "sentiment"):
            by_offset = [
                r.id
                for p in range(1, 8)
                for r in search.list_calls(s, search.CallFilter(sort=sort, per_page=9, page=p)).rows
            ]
            by_key: list[int] = []
            f = search.CallFilter(sort=sort, per_page=9)
            while True:
                page = search.list_calls(s, f)
                by_key += [r.id for r in page.rows]
                if page.next_after is None:
                    break
                f = replace(f, after=page.next_after)
            assert by_key == by_offset and len(by_key) == 57, sort
            assert [r.id for r in search.iter_calls(s, search.CallFilter(sort=sort), batch=10)] == by_offset
    search.forget_counts()
    engine.dispose()


def test_keyset_pages_sqlite(tmp_path: Path) -> None:
    _keyset_pages(f"sqlite:///{tmp_path / 'db.sqlite'}")


@pytest.mark.scaleout
def test_keyset_pages_postgresql(pg_url: str) -> None:
    _keyset_pages(pg_url)
