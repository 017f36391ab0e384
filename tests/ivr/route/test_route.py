"""Table tests of the real router (trained model, real menu, jieba): requests -> branches and nodes."""

from __future__ import annotations

import pytest

from ivr.route import Router, load_router
from ivr.route_model import request_key
from ivr.routing import CLARIFY, FALLBACK, ROUTE


@pytest.fixture(scope="module")
def router() -> Router:
    return load_router()


def top(node: str) -> str:
    return node.split(".")[0]


# the hotline's everyday vocabulary (issue 7) -> the branch (and node) it must reach
VOCABULARY = [
    ("买了四天就降价了能保价吗", "payment.refund"),
    ("我要申请价格保护", "payment.refund"),
    ("刚买就降价了，能退差价吗", "payment.refund"),
    ("我要开发票", "order.invoice"),
    ("发票抬头写错了", "order.invoice"),
    ("开票信息填错了怎么改", "order.invoice"),
    ("我买的东西没货了，什么时候有货", "order.status"),
    ("缺货要等多久", "order.status"),
    ("签收了没收到", "logistics.lost"),
    ("快递显示已签收，可是我没收到东西", "logistics.lost"),
    ("物流不更新", "logistics"),
    ("我的快递怎么一天都没有物流了", "logistics"),
    ("我要改地址", "logistics.address"),
    ("送货时间能不能改到周末", "logistics.time"),
    ("退货的上门取件什么时候来", "aftersales.apply"),
    ("空调什么时候来安装", "aftersales.repair"),
    ("白条怎么还款", "member.baitiao"),
    ("PLUS会员怎么退订", "member.plus"),
    ("plus会员的运费券领不了", "member.plus"),
    ("京豆怎么用不了", "payment.coupon"),
    ("实名认证一直失败", "account.realname"),
    ("我的账号被盗了", "account.stolen"),
    ("忘记密码登录不上", "account.login"),
    ("支付失败了但是钱扣了", "payment.failed"),
    ("冷冻的东西送到都化了", "logistics.coldchain"),
    ("几个订单能合并开票吗", "order.merge"),
    ("过了退货期还能退吗", "aftersales.extended"),
    ("海外购的关税怎么算", "payment.crossborder"),
    ("我要取消订单", "order.modify"),
]


@pytest.mark.parametrize(("text", "node"), VOCABULARY)
def test_vocabulary_reaches_its_branch(router: Router, text: str, node: str) -> None:
    r = router.route(text)
    assert r.action == ROUTE, (text, r)
    assert top(r.node) == top(node), (text, r)


def test_most_vocabulary_reaches_the_exact_node(router: Router) -> None:
    exact = sum(router.route(t).node == n for t, n in VOCABULARY)
    assert exact >= len(VOCABULARY) - 3, exact


@pytest.mark.parametrize("text", ["人工", "转人工", "我要转人工", "人工客服", "客服", "找客服", "帮我转三号客服",
                                  "我要转人工，我要开发票", "喂，给我接人工服务"])  # fmt: skip
def test_agent_is_always_honoured(router: Router, text: str) -> None:
    r = router.route(text)
    assert (r.node, r.action, r.confidence, r.path) == ("agent", ROUTE, 1.0, ("0",)), r


def test_agent_is_honoured_inside_a_submenu(router: Router) -> None:
    r = router.route("转人工", scope="logistics")
    assert r.node == "agent" and r.action == ROUTE


@pytest.mark.parametrize(
    ("text", "branch", "not_node"),
    [
        ("不是物流的问题，是发票开错了", "order", "logistics"),
        ("不要人工，我要查订单", "order", "agent"),
        ("我不要退款，我要换货", "aftersales", "payment.refund"),
        ("不是账号被盗，是忘记密码了", "account", "account.stolen"),
        ("不用转人工，我改个收货地址", "logistics", "agent"),
    ],
)
def test_negations(router: Router, text: str, branch: str, not_node: str) -> None:
    r = router.route(text)
    assert r.action == ROUTE and top(r.node) == branch and r.node != not_node, r


def test_a_not_a_question_is_not_a_negation(router: Router) -> None:
    r = router.route("帮我查一下是不是丢件了")
    assert r.action == ROUTE and top(r.node) == "logistics", r


def test_customer_service_mentioned_in_passing_is_not_an_agent_request(router: Router) -> None:
    r = router.route("买自营的东西开发票要找哪个客服")
    assert r.node != "agent" and top(r.node) == "order", r


def test_scope_routes_within_the_current_menu_first(router: Router) -> None:
    # at 物流配送 "改一下时间" means the delivery time
    r = router.route("改一下时间", scope="logistics")
    assert r.node == "logistics.time" and r.path == ("5", "1"), r
    # a submenu's leaf in scope: 退款 at 支付与退款 is the refund progress
    assert router.route("退款", scope="payment").node == "payment.refund"


def test_scope_does_not_trap_a_clear_request_for_elsewhere(router: Router) -> None:
    r = router.route("我的白条额度太低了", scope="logistics")
    assert r.node == "member.baitiao" and r.action == ROUTE, r


def test_scope_given_as_a_leaf_uses_its_menu(router: Router) -> None:
    r = router.route("改地址", scope="logistics.time")
    assert r.node == "logistics.address"


def test_nonsense_and_empty_fall_back(router: Router) -> None:
    for text in ("", "   ", "。。。"):
        r = router.route(text)
        assert r.action == FALLBACK and r.node == "main" and r.path == () and r.confidence == 0.0
    r = router.route("今天天气怎么样")
    assert r.action != ROUTE, r


def test_close_requests_get_a_two_way_question(router: Router) -> None:
    r = router.route("空调是送货上门安装吗")
    assert r.action == CLARIFY, r
    assert set(r.options) == {"aftersales", "logistics"}
    assert "售后与退换货" in r.question and "物流配送" in r.question
    # after an unclear answer already, no second question: the keypad menu
    assert router.route("空调是送货上门安装吗", unclear=1).action == FALLBACK


def test_resolve_a_clarifying_answer(router: Router) -> None:
    opts = ("aftersales", "logistics")
    assert router.resolve("第二个", opts).node == "logistics"
    assert router.resolve("前者", opts).node == "aftersales"
    r = router.resolve("安装", opts)
    assert r.action == ROUTE and top(r.node) == "aftersales"
    assert router.resolve("转人工", opts).node == "agent"


def test_path_matches_the_menu_keys(router: Router) -> None:
    assert router.path("payment.refund") == ("2", "3")
    assert router.path("logistics") == ("5",)
    r = router.route("退款什么时候到账")
    assert r.path == tuple(router.menu.key_path(r.node))


def test_request_key_full_width_traditional_and_placeholders() -> None:
    assert request_key("ＰＬＵＳ會員 怎麼退訂？") == "plus会员怎么退订"
    assert request_key("订单[订单x]还没到!") == "订单还没到"
    assert request_key("乾隆年間") == "乾隆年间"  # phrase aware (OpenCC): a character table writes 干隆


def test_traditional_request_routes_like_the_simplified_one(router: Router) -> None:
    simplified, traditional = router.route("发票抬头开错了"), router.route("發票抬頭開錯了")
    assert (traditional.node, traditional.action) == (simplified.node, simplified.action) == ("order.invoice", "route")


def test_results_are_json_safe(router: Router) -> None:
    out = router.route("我要开发票").as_json()
    assert list(out) == ["text", "path", "node", "confidence", "action"]
    assert 0.0 <= out["confidence"] <= 1.0 and isinstance(out["path"], list)


def test_speed(router: Router) -> None:
    import time

    texts = [t for t, _ in VOCABULARY] * 4
    t0 = time.perf_counter()
    for t in texts:
        router.route(t)
    per = (time.perf_counter() - t0) / len(texts) * 1000
    assert per < 5.0, f"{per:.2f} ms per request"
