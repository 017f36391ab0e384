from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qa.sampling import CallInfo, PolicyError, Rule, SamplingPolicy, load_policy, parse_policy, sample

MONDAY = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, ISO week 47


def calls(n: int = 60) -> list[CallInfo]:
    out = []
    for i in range(n):
        out.append(
            CallInfo(
                call_id=i,
                agent=f"agent{i % 3}",
                team="t1",
                start=MONDAY + timedelta(hours=5 * i),
                duration=30 + i,
                total=40.0 + i,
                customer_sentiment=-0.8 if i == 7 else 0.2,
                flags=("angry_customer",) if i in (3, 4) else (),
            )
        )
    return out


def test_reproducible_and_order_independent() -> None:
    policy = load_policy()
    a = sample(calls(), policy, seed=2026)
    b = sample(list(reversed(calls())), policy, seed=2026)
    assert a.picks == b.picks
    c = sample(calls(), policy, seed=2027)
    assert {p.call_id for p in c.picks if p.kind == "random"} != {p.call_id for p in a.picks if p.kind == "random"}
    assert a.audit["seed"] == "2026" and a.audit["policy_version"] == policy.version


def test_n_random_per_agent_week_plus_targeted_with_reasons() -> None:
    s = sample(calls(), load_policy(), seed=1)
    groups = {(p.agent, p.week) for p in s.picks}
    assert len(groups) == 6  # 3 agents x 2 weeks (60 calls every 5 h)
    for g in groups:
        assert sum(1 for p in s.picks if (p.agent, p.week) == g and p.kind == "random") == 3
    by_id = {p.call_id: p for p in s.picks}
    assert by_id[3].kind == "targeted" and "angry_customer" in by_id[3].reasons
    assert "negative_sentiment" in by_id[7].reasons
    assert by_id[0].reasons[-1] == "lowest_score" or "lowest_score" in by_id[0].reasons
    ids = [p.call_id for p in s.picks]
    assert len(ids) == len(set(ids))  # a call is picked once


def test_ineligible_calls_are_never_picked() -> None:
    base = calls(12)
    base[0] = CallInfo(0, "agent0", "t1", MONDAY, 5.0, 10.0)  # too short
    base[3] = CallInfo(3, "agent0", "t1", MONDAY, 60.0, 10.0, reviewed=True)
    base[6] = CallInfo(6, "agent0", "t1", MONDAY, 60.0, 10.0, has_recording=False)
    s = sample(base, load_policy(), seed=1)
    assert not {0, 3, 6} & {p.call_id for p in s.picks}


def test_targeted_cap_keeps_rule_order() -> None:
    policy = SamplingPolicy(
        random_per_agent_week=0,
        max_targeted_per_agent_week=1,
        rules=(Rule("angry", flag="angry_customer"), Rule("low", total_below=1000)),
    )
    s = sample(calls(), policy, seed=1)
    first_week = [p for p in s.picks if p.agent == "agent0" and p.week == "2026-W47"]
    assert [p.call_id for p in first_week] == [3]


def test_weeks_are_local_iso_weeks() -> None:
    sunday_night_utc = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)  # Monday 01:00 in Shanghai
    s = sample([CallInfo(1, "a", "t", sunday_night_utc, 60.0)], load_policy(), seed=1)
    assert s.picks[0].week == "2026-W48"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"random_per_agent_week": -1}, "random_per_agent_week: must be >= 0"),
        ({"random_per_agent_week": 2.5}, "random_per_agent_week: expected a whole number"),
        ({"targeted": [{"reason": "x", "flag": "sleepy"}]}, "targeted rule 'x' flag: must be one of"),
        ({"targeted": [{"reason": "x"}]}, "targeted rule 'x': needs one of"),
        ({"targeted": [{"reason": "x", "flag": "auto_fail", "sentiment_below": -1}]}, "give only one of"),
        ({"timezone": "Mars/Olympus"}, "timezone: unknown time zone"),
        ({"colour": 1}, "unknown keys"),
        ({"min_duration_s": float("nan")}, "min_duration_s: expected a finite number"),
        ({"min_duration_s": float("inf")}, "min_duration_s: expected a finite number"),
        (
            {"targeted": [{"reason": "x", "total_below": float("nan")}]},
            "targeted rule 'x' total_below: expected a finite number",
        ),
        (
            {"targeted": [{"reason": "x", "sentiment_below": "low"}]},
            "targeted rule 'x' sentiment_below: expected a number",
        ),
    ],
)
def test_policy_errors_name_the_rule(data: dict, message: str) -> None:
    with pytest.raises(PolicyError) as exc:
        parse_policy(data, "policy.yaml")
    assert str(exc.value).startswith("policy.yaml: ") and message in str(exc.value)


def test_policy_file_errors(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="file not found"):
        load_policy(tmp_path / "none.yaml")
    twice = tmp_path / "twice.yaml"
    twice.write_text("random_per_agent_week: 3\nrandom_per_agent_week: 5\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"twice\.yaml: duplicate key 'random_per_agent_week' \(line 2"):
        load_policy(twice)
