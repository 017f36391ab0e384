"""The example requests, the policy file and the shipped model agree with the menu; held-out is held out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ivr.menu import load_menu
from ivr.route import load_router
from ivr.route_eval import evaluate
from ivr.route_files import DATA_DIR, DEFAULT_MENU, Policy, load_examples, load_policy, load_synonyms
from ivr.route_model import NONE, Model, request_key


def test_examples_label_real_nodes_and_cover_every_node() -> None:
    router = load_router()
    train = load_examples(DATA_DIR / "requests.tsv")
    held = load_examples(DATA_DIR / "requests_heldout.tsv")
    for ex in (*train, *held):
        assert ex.node == NONE or ex.node in router.nodes, ex
        assert all(a in router.nodes for a in ex.also), ex
    leaves = {n for n in router.nodes if router.menu.nodes[n].kind != "menu"}
    assert leaves <= {ex.node for ex in train}, leaves - {ex.node for ex in train}


def test_held_out_requests_are_never_trained_on() -> None:
    train = {request_key(ex.text) for ex in load_examples(DATA_DIR / "requests.tsv")}
    held = load_examples(DATA_DIR / "requests_heldout.tsv")
    assert len(held) >= 100
    assert not [ex.text for ex in held if request_key(ex.text) in train]
    sessions = {ex.source for ex in load_examples(DATA_DIR / "requests.tsv") if ex.source.startswith("jddc:")}
    assert not [ex for ex in held if ex.source in sessions]
    model = Model.load(DATA_DIR / "router_model.npz")
    assert model.meta["examples"] == len(train) or model.meta["examples"] >= len(train) - 5


def test_held_out_targets() -> None:
    """Issue 7 targets on requests the model never saw: >= 93% reach an acceptable branch, <= 15% clarify."""
    m = evaluate(load_router(), load_examples(DATA_DIR / "requests_heldout.tsv"))
    assert m["reached"] >= 0.93, m
    assert m["clarify_rate"] <= 0.15, m
    assert m["branch_acc"] >= 0.85, m


def test_shipped_model_is_small() -> None:
    assert (DATA_DIR / "router_model.npz").stat().st_size < 400_000


def test_policy_file_loads_and_bad_values_are_named(tmp_path: Path) -> None:
    pol = load_policy()
    assert 0 < pol.route_min <= 1 and pol.max_unclear == 2
    with pytest.raises(ValueError, match="route_min"):
        Policy.from_mapping({"route_min": 1.5})
    with pytest.raises(ValueError, match=r"unknown keys \['route_minimum'\]"):
        Policy.from_mapping({"route_minimum": 0.5})
    with pytest.raises(ValueError, match="agent_phrases"):
        Policy.from_mapping({"agent_phrases": "人工"})
    bad = tmp_path / "policy.yaml"
    bad.write_text("clarify_question: 是{a}吗\n", encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        load_policy(bad)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # the old check passed these: the router raised KeyError when it asked, or cut 2.5 to 2
        ({"clarify_question": "请问是{a}还是{b}？{c}"}, "clarify_question: can only use {a} and {b}"),
        ({"max_unclear": 2.5}, "max_unclear: expected a whole number, got 2.5"),
        ({"negation_window": -1}, "negation_window: must be >= 0, got -1"),
    ],
)
def test_policy_values_the_old_check_let_through(data: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"policy.yaml: {message}")):
        Policy.from_mapping(data, "policy.yaml")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        # an empty list item became the phrase "None"; broken YAML was a bare yaml error, no RouterError
        ("synonyms.yaml", "order.status:\n  - 没货\n  -\n", "node 'order.status'[1]: expected a string, got None"),
        ("synonyms.yaml", "order.status: [没货, '  ']\n", "node 'order.status'[1]: must not be empty"),
        ("synonyms.yaml", "order.status: [没货]\norder.status: [缺货]\n", "duplicate key 'order.status'"),
        ("policy.yaml", "route_min: [0.5\n", "not valid YAML"),
    ],
)
def test_route_data_errors_name_the_file(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError) as exc:
        (load_synonyms if name == "synonyms.yaml" else load_policy)(path)
    assert str(exc.value).startswith(f"{path}: ") and message in str(exc.value)


def test_synonyms_name_routable_nodes() -> None:
    router = load_router()
    for node in load_synonyms():
        assert node in router.nodes, node


def test_menu_keywords_are_used() -> None:
    menu = load_menu(DEFAULT_MENU)
    router = load_router()
    for kw in menu.nodes["account.stolen"].keywords:
        assert request_key(kw) in router.phrases


def test_missing_model_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"train_router\.py"):
        Model.load(tmp_path / "router_model.npz")


def test_training_script_rebuilds_a_working_model(tmp_path: Path) -> None:
    """scripts/train_router.py on a copy of the data: a model that routes, nothing written to the repo."""
    import shutil
    import subprocess
    import sys

    for name in ("requests.tsv", "policy.yaml", "synonyms.yaml"):
        shutil.copy(DATA_DIR / name, tmp_path / name)
    root = DATA_DIR.parents[1]
    proc = subprocess.run(
        [sys.executable, str(root / "scripts" / "train_router.py"), "--data", str(tmp_path), "--no-cv"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    router = load_router(data_dir=tmp_path)
    assert router.model is not None and router.model.meta["examples"] > 500
    # the shipped model was trained on the features the code computes today: a change of text handling
    # (normal form, jieba's words, phrase matching) that changes them needs a retrained model
    shipped = Model.load(DATA_DIR / "router_model.npz")
    assert router.model.classes == shipped.classes
    assert router.model.index == shipped.index, "features changed: retrain with scripts/train_router.py"
    assert router.route("买了四天就降价了能保价吗").node == "payment.refund"
