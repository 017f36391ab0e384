"""The menu file: the node-id contract, and clear errors for every kind of broken menu."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hotline.settings import Settings
from ivr.menu import MenuError, load_menu

from .helpers import MENU_PATH, menu

CONTRACT = {
    "order": ["1"], "order.status": ["1", "1"], "order.modify": ["1", "2"], "order.invoice": ["1", "3"],
    "order.merge": ["1", "4"], "payment": ["2"], "payment.failed": ["2", "1"], "payment.coupon": ["2", "2"],
    "payment.refund": ["2", "3"], "payment.crossborder": ["2", "4"], "aftersales": ["3"],
    "aftersales.apply": ["3", "1"], "aftersales.repair": ["3", "2"], "aftersales.special": ["3", "3"],
    "aftersales.extended": ["3", "4"], "account": ["4"], "account.login": ["4", "1"],
    "account.stolen": ["4", "2"], "account.realname": ["4", "3"], "account.privacy": ["4", "4"],
    "logistics": ["5"], "logistics.time": ["5", "1"], "logistics.address": ["5", "2"],
    "logistics.lost": ["5", "3"], "logistics.coldchain": ["5", "4"], "member": ["6"],
    "member.plus": ["6", "1"], "member.baitiao": ["6", "2"], "member.enterprise": ["6", "3"], "agent": ["0"],
}  # fmt: skip


def test_node_ids_and_keys_follow_the_contract() -> None:
    m = menu()
    for nid, path in CONTRACT.items():
        assert m.key_path(nid) == path, nid
    for nid, node in m.nodes.items():
        assert node.prompt, nid
        if node.kind in ("menu", "info", "collect", "transfer") and nid not in ("main", "order.status.result"):
            assert node.keywords, f"{nid} has no speech keywords"


def test_refund_synonyms_present() -> None:
    kws = menu().nodes["payment.refund"].keywords
    for word in ("退款", "退钱", "钱没到账", "还没退"):
        assert word in kws


def _base() -> dict:
    return yaml.safe_load(MENU_PATH.read_text(encoding="utf-8"))


def _broken(tmp_path: Path, data: dict | str) -> MenuError:
    path = tmp_path / "broken.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(MenuError) as err:
        load_menu(path)
    assert str(path) in str(err.value)
    return err.value


def test_unknown_target(tmp_path: Path) -> None:
    data = _base()
    data["nodes"]["payment"]["choices"]["3"] = "payment.nowhere"
    err = _broken(tmp_path, data)
    assert "node 'payment': key '3' goes to unknown node 'payment.nowhere'" in str(err)


def test_duplicate_key(tmp_path: Path) -> None:
    text = MENU_PATH.read_text(encoding="utf-8").replace(
        'choices: {"1": payment.failed, "2": payment.coupon,', 'choices: {"1": payment.failed, "1": payment.coupon,'
    )
    err = _broken(tmp_path, text)
    assert "node 'payment'" in str(err) and "duplicate key '1'" in str(err)


def test_duplicate_node(tmp_path: Path) -> None:
    text = MENU_PATH.read_text(encoding="utf-8") + "\n  survey:\n    kind: hangup\n    prompt: x\n"
    err = _broken(tmp_path, text)
    assert "node 'survey'" in str(err) and "duplicate key 'survey'" in str(err)


def test_unreachable(tmp_path: Path) -> None:
    data = _base()
    del data["nodes"]["member"]["choices"]["3"]
    err = _broken(tmp_path, data)
    assert "node 'member.enterprise': unreachable" in str(err)


def test_no_way_out(tmp_path: Path) -> None:
    data = _base()
    data["nodes"]["order.status"].pop("then")
    data["nodes"].pop("order.status.result")
    err = _broken(tmp_path, data)
    assert "node 'order.status': no way out" in str(err)
    data = _base()
    data["nodes"]["member"]["choices"] = {}
    err = _broken(tmp_path, data)
    assert "node 'member': no way out" in str(err)


def test_missing_prompts(tmp_path: Path) -> None:
    data = _base()
    del data["nodes"]["payment.refund"]["prompt"]
    del data["nodes"]["order"]["short"]
    err = _broken(tmp_path, data)
    assert "node 'payment.refund': prompt is missing" in str(err)
    assert "node 'order': short prompt is missing" in str(err)
    assert len(err.problems) == 2


def test_reserved_and_bad_keys(tmp_path: Path) -> None:
    data = _base()
    data["nodes"]["payment"]["choices"]["*"] = "payment.refund"
    data["nodes"]["order"]["choices"]["12"] = "order.merge"
    err = _broken(tmp_path, data)
    assert "node 'payment': key '*' is reserved" in str(err)
    assert "node 'order': key '12' is not a single keypad digit" in str(err)


def test_child_ids_prefixed_by_parent(tmp_path: Path) -> None:
    data = _base()
    data["nodes"]["payment"]["choices"]["3"] = "order.invoice"
    data["nodes"]["payment.refund"]["kind"] = "info"
    err = _broken(tmp_path, data)
    assert "node 'order.invoice': id must start with its parent's id 'payment.'" in str(err)


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    assert "not valid YAML" in str(_broken(tmp_path, "nodes: [\n"))
    with pytest.raises(MenuError, match="file not found"):
        load_menu(tmp_path / "absent.yaml")


def _settings(data: dict) -> dict:
    return data["settings"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        # a string is not a list: the old parser took each character as a keyword / yes-word
        (lambda d: d["nodes"]["order"].update(keywords="订单"), "node 'order': keywords: expected a list, got '订单'"),
        (lambda d: _settings(d).update(yes_words="是"), "node 'settings': yes_words: expected a list"),
        # typos were silently ignored (no keywords, default settings)
        (lambda d: d["nodes"]["order"].update(keyword=["下单"]), "node 'order': unknown keys ['keyword']"),
        (lambda d: d.update(setting=d.pop("settings")), "node '-': unknown keys ['setting']"),
        # numbers that are not numbers crashed with a bare ValueError / AttributeError, or were taken as NaN
        (
            lambda d: _settings(d).update(max_failures="three"),
            "node 'settings': max_failures: expected a whole number, got 'three'",
        ),
        (
            lambda d: _settings(d).update(confidence_threshold=float("nan")),
            "node 'settings': confidence_threshold: expected a finite number",
        ),
        (lambda d: d["nodes"]["order"].update(choices=["order.status"]), "node 'order': choices: expected a mapping"),
        (
            lambda d: d["nodes"]["order.status"].update(min_digits=30),
            "node 'order.status': min_digits 30 is more than max_digits 20",
        ),
        # an empty message was spoken as "None"; an unknown placeholder raised KeyError in the middle of a call
        (lambda d: d["messages"].update(welcome=None), "node 'messages': message 'welcome' is missing"),
        (
            lambda d: d["messages"].update(confirm="您是要办理{lable}吗？"),
            "node 'messages': message 'confirm' can only use {label}",
        ),
    ],
)
def test_shapes_the_old_parser_let_through(tmp_path: Path, mutate, message: str) -> None:
    data = _base()
    mutate(data)
    err = _broken(tmp_path, data)
    assert message in str(err)


def test_server_refuses_to_start_on_a_broken_menu(tmp_path: Path, settings: Settings) -> None:
    from hotline.app import create_app

    data = _base()
    data["nodes"]["main"]["choices"]["7"] = "nowhere"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(MenuError, match="key '7' goes to unknown node 'nowhere'"):
        create_app(settings.with_(menu_path=bad))


def test_serve_refuses_a_broken_menu_with_a_clear_error(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hotline.cli import cli

    data = _base()
    data["nodes"]["main"]["choices"]["7"] = "nowhere"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    env = {"HOTLINE_MENU_PATH": str(bad), "HOTLINE_DATA_DIR": str(tmp_path / "var"), "HOTLINE_DATABASE_URL": ""}
    result = CliRunner().invoke(cli, ["serve", "--port", "0", "--ws-port", "0"], env=env)
    assert result.exit_code != 0
    assert "refusing to start" in result.output and str(bad) in result.output
    assert "node 'main'" in result.output and "unknown node 'nowhere'" in result.output


def test_serve_refuses_router_data_that_does_not_fit_the_menu(tmp_path: Path, settings: Settings) -> None:
    from hotline.app import create_app
    from ivr.webhooks import RouterError

    data = yaml.safe_load(MENU_PATH.read_text(encoding="utf-8"))
    del data["nodes"]["payment"]["choices"]["4"]
    del data["nodes"]["payment.crossborder"]
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RouterError, match=r"payment\.crossborder.*train_router"):
        create_app(settings.with_(menu_path=edited, ivr_router="model"))
    create_app(settings.with_(menu_path=edited, ivr_router="keywords"))  # keywords only: starts
