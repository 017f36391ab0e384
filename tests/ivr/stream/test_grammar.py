"""Grammars as data from the real (Mandarin) menu, and the start-up vocabulary report.

No Mandarin Vosk model exists on these machines: the Chinese grammar is checked as data, and
the Korean model's report is expected to list every Chinese token as out of vocabulary.
"""

from __future__ import annotations

import logging

import pytest

from ivr.caller_text import BACK_WORDS, REPEAT_WORDS
from ivr.flow_types import State
from ivr.menu import Menu, load_menu
from ivr.stream.grammar import grammar_for, menu_vocabulary
from ivr.stream.hub import StreamHub, report_vocabulary
from ivr.stream.replay import RecordingRedirector
from ivr.stream.session import SessionConfig
from speech.stt import Transcriber
from tests.ivr.stream.conftest import MENU_PATH, TOKEN


@pytest.fixture(scope="module")
def zh_menu() -> Menu:
    return load_menu(MENU_PATH)


def test_every_keyword_is_in_some_grammar(zh_menu: Menu) -> None:
    vocab = set(menu_vocabulary(zh_menu))
    for node in zh_menu.nodes.values():
        for kw in node.keywords:
            assert kw in vocab, (node.id, kw)
    main = set(grammar_for(zh_menu, State(node="main")))
    for node in zh_menu.descendants("main"):
        for kw in node.keywords:
            assert kw in main, (node.id, kw)  # at the top every request is reachable by voice


def test_grammar_per_node(zh_menu: Menu) -> None:
    pay = set(grammar_for(zh_menu, State(node="payment")))
    for nid in ("payment.failed", "payment.coupon", "payment.refund", "payment.crossborder"):
        assert set(zh_menu.node(nid).keywords) <= pay
    assert set(zh_menu.node("agent").keywords) <= pay  # an agent can be asked for anywhere
    assert not set(zh_menu.node("logistics.lost").keywords) & pay  # other branches are not listened for
    assert {REPEAT_WORDS[0], BACK_WORDS[0]} <= pay
    info = set(grammar_for(zh_menu, State(node="payment.refund")))  # an info node listens like its menu
    assert info == pay
    confirm = grammar_for(zh_menu, State(node="main", phase="confirm", candidate="payment"))
    assert set(confirm) == set(zh_menu.yes_words) | set(zh_menu.no_words)
    assert grammar_for(zh_menu, State(node="order.status")) == ()  # digits only: not listening


def test_grammar_words_are_unique_and_clean(zh_menu: Menu) -> None:
    for nid in zh_menu.nodes:
        g = grammar_for(zh_menu, State(node=nid))
        assert len(g) == len(set(g))
        assert all(w == w.strip() and w for w in g)
        assert "[unk]" not in g  # the engine adds it


def test_korean_model_reports_chinese_words_oov(
    zh_menu: Menu, ko_engine: Transcriber, caplog: pytest.LogCaptureFixture
) -> None:
    from ivr.flow import Flow

    hub = StreamHub(SessionConfig(flow=Flow(zh_menu), token=TOKEN), ko_engine, RecordingRedirector())
    with caplog.at_level(logging.WARNING, logger="ivr.stream"):
        missing = report_vocabulary(hub)
    assert missing is not None
    tokens = {c for w in menu_vocabulary(zh_menu) for c in w if "\u4e00" <= c <= "\u9fff"}
    assert tokens <= set(missing)  # Han phrases are split into characters; none is Korean
    assert all(t.isascii() for t in set(missing) - tokens)  # e.g. "plus" of PLUS会员
    assert "not in the speech model's vocabulary" in caplog.text
    assert ko_engine.missing_words(["배송", "상담원", "환불 문의"]) == []
    assert ko_engine.missing_words(["배송", "退款"]) == ["退", "款"]
