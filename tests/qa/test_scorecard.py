import copy
from pathlib import Path

import pytest
import yaml

from qa.scorecard import DEFAULT_PATH, ScorecardError, load_scorecard, parse_scorecard


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))


def test_default_scorecard_loads() -> None:
    card = load_scorecard()
    assert card.version and card.name == "default"
    assert list(card.dimensions) == ["服务态度", "专业度", "解决效率", "语言表达"]
    assert {i.id for i in card.auto_fail_items} == {"abuse", "pii_leak"}
    assert {i.name for i in card.auto_fail_items} == {"辱骂客户", "泄露客户个人信息"}


def _item(raw: dict, iid: str) -> dict:
    return next(i for i in raw["items"] if i["id"] == iid)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: _item(r, "greeting").update(check="script.hello"), "item 'greeting': unknown check 'script.hello'"),
        (lambda r: _item(r, "greeting").update(weight=-1), "item 'greeting' weight: must be > 0"),
        (lambda r: _item(r, "greeting").update(weight="heavy"), "item 'greeting' weight: expected a number"),
        (lambda r: _item(r, "closing").update(dimension="态度"), "item 'closing': dimension '态度' is not one of"),
        (
            lambda r: _item(r, "closing").update(params={"last": 3}),
            "item 'closing': check script.closing takes no parameter",
        ),
        (
            lambda r: _item(r, "closing").update(params={"last_turns": "3"}),
            "item 'closing': parameter 'last_turns' has the wrong type",
        ),
        (
            lambda r: _item(r, "greeting").update(auto_fail=True),
            "item 'greeting': check script.greeting cannot be an auto-fail",
        ),
        (lambda r: _item(r, "hold").update(na="maybe"), "item 'hold' na: must be one of"),
        (lambda r: _item(r, "hold").update(colour="red"), "item 'hold': unknown keys"),
        (lambda r: r["items"].append(copy.deepcopy(_item(r, "hold"))), "item 'hold': id used twice"),
        (lambda r: r["phrases"].pop("closing_check"), "phrases 'closing_check': missing"),
        (lambda r: r["phrases"].update(greeting="您好"), "phrases 'greeting': expected a list"),
        (
            lambda r: r["forbidden"].append({"phrase": "笨", "category": "mean"}),
            "forbidden '笨' category: must be one of",
        ),
        (lambda r: r.pop("version"), "version: required"),
        (lambda r: r["dimensions"].append({"name": "创新", "weight": 5}), "dimension '创新': has no items"),
        # let through by the old parser: NaN weights and parameters make every total NaN
        (
            lambda r: _item(r, "greeting").update(weight=float("nan")),
            "item 'greeting' weight: expected a finite number",
        ),
        (
            lambda r: r["dimensions"][0].update(weight=float("inf")),
            "dimension '服务态度' weight: expected a finite number",
        ),
        (
            lambda r: _item(r, "forbidden").update(params={"per_hit": float("nan")}),
            "item 'forbidden': parameter 'per_hit' has the wrong type (expected a finite number",
        ),
        (lambda r: r["thresholds"].update(silence_s=float("nan")), "thresholds 'silence_s': expected a finite number"),
        # "false" in quotes is a string, and the old parser's bool("false") kept the item auto-fail
        (lambda r: _item(r, "abuse").update(auto_fail="false"), "item 'abuse' auto_fail: expected true or false"),
        (
            lambda r: _item(r, "pii_leak").update(params={"kinds": ["id_card", 18]}),
            "item 'pii_leak': parameter 'kinds' has the wrong type (expected a string, got 18)",
        ),
    ],
)
def test_validation_errors_name_file_and_item(raw: dict, mutate, message: str) -> None:
    mutate(raw)
    with pytest.raises(ScorecardError) as exc:
        parse_scorecard(raw, "cards/test.yaml")
    assert str(exc.value).startswith("cards/test.yaml: ")
    assert message in str(exc.value)


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("items: [\n", encoding="utf-8")
    with pytest.raises(ScorecardError, match=r"bad\.yaml: not valid YAML"):
        load_scorecard(bad)
    with pytest.raises(ScorecardError, match=r"missing\.yaml: file not found"):
        load_scorecard(tmp_path / "missing.yaml")


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    """The old loader kept the second ``weight`` silently; the editor meant one of them."""
    text = DEFAULT_PATH.read_text(encoding="utf-8").replace(
        "  - {name: 专业度, weight: 25}", "  - {name: 专业度, weight: 25, weight: 40}"
    )
    card = tmp_path / "card.yaml"
    card.write_text(text, encoding="utf-8")
    with pytest.raises(ScorecardError, match=r"card\.yaml: duplicate key 'weight' \(line \d+, first on line \d+\)"):
        load_scorecard(card)
