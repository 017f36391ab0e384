import pytest

from qa.dialogue import DialogueError, from_any, from_record, from_transcript

TRANSCRIPT = {
    "schema": 1,
    "duration": 12.0,
    "utterances": [
        {"speaker": "customer", "start": 3.0, "end": 5.0, "text": "我的手机号是[电话]", "words": []},
        {"speaker": "agent", "start": 0.2, "end": 2.5, "text": "您好，很高兴为您服务", "words": []},
        {
            "speaker": "unknown",
            "start": 6.0,
            "end": 7.0,
            "text": "",
            "words": [{"text": "嗯", "start": 6.0, "end": 6.2}],
        },
    ],
}


def test_from_transcript_orders_by_time_and_keeps_roles() -> None:
    d = from_transcript(TRANSCRIPT, "call-1")
    assert d.id == "call-1"
    assert [t.role for t in d.turns] == ["agent", "customer", "unknown"]
    assert d.turns[2].text == "嗯"  # text rebuilt from words
    assert d.timed and d.channel == "call"
    assert d.duration == pytest.approx(6.8)


def test_from_record_jddc_flags_and_chat_channel() -> None:
    d = from_record(
        {
            "id": "x",
            "turns": [{"role": "customer", "text": "配送咨询", "is_repeat": 1}, {"role": "agent", "text": "您好"}],
        }
    )
    assert d.channel == "chat" and not d.timed
    assert d.metadata["is_repeat"] is True
    assert d.turns[0].start is None


def test_stc3_helpdesk_role_alias() -> None:
    d = from_record({"id": "s", "turns": [{"role": "helpdesk", "text": "您好"}]})
    assert d.turns[0].role == "agent"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"utterances": "x"}, "'utterances' must be a list"),
        ({"turns": [{"role": "boss", "text": "hi"}]}, "unknown role"),
        ({"utterances": [{"speaker": "agent", "start": "soon", "end": 1, "text": "a"}]}, "expected a number"),
        ({"foo": 1}, "expected a Transcript"),
    ],
)
def test_bad_input_names_the_field(data: dict, message: str) -> None:
    with pytest.raises(DialogueError, match=message):
        from_any(data)


def test_reads_what_speech_writes() -> None:
    """The shell hands qa the Transcript JSON of speech.types; qa itself never imports speech."""
    types = pytest.importorskip("speech.types")
    t = types.Transcript(
        duration=6.0,
        engine="vosk",
        model="m",
        language="zh",
        utterances=(
            types.Utterance("agent", 0.1, 2.0, "您好", (types.Word("您好", 0.1, 2.0),)),
            types.Utterance("customer", 2.5, 5.0, "我的手机号是[电话]"),
        ),
        redacted=True,
    )
    d = from_transcript(t.to_dict(), "call-7")
    assert [(x.role, x.start) for x in d.turns] == [("agent", 0.1), ("customer", 2.5)]
    assert d.metadata["engine"] == "vosk" and d.channel == "call"
    assert "\ue000" <= d.turns[1].c.text[-1] <= "\ue0ff"  # [电话] became the phone marker


def test_qa_does_not_import_speech() -> None:
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "qa"
    for path in root.rglob("*.py"):
        if "review" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(("speech", "hotline", "ivr", "store")), (path, name)
