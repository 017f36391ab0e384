"""jieba segmentation with domain words: one private tokenizer per word list, shared across threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from zhtext.segment import DOMAIN_FREQ, DOMAIN_WORDS, segmenter, tokenize


def test_tokenize_keeps_domain_words() -> None:
    words = tokenize("我想用京东白条付款，再用京豆抵扣，七天无理由退货可以吗")
    assert "京东白条" in words
    assert "京豆" in words
    assert "," in words and " " not in words  # normal form: full-width punctuation folded


def test_extra_words_stay_whole_and_stay_private() -> None:
    seg = segmenter(["快递柜取件码"], 200_000)
    assert "快递柜取件码" in seg.cut("我的快递柜取件码不对")
    assert "快递柜取件码" not in tokenize("我的快递柜取件码不对")  # another word list, another tokenizer
    assert segmenter(["快递柜取件码", "快递柜取件码"], 200_000) is seg  # built once per word list
    assert not hasattr(seg, "add_word")  # words go in at construction only: cut stays lock-free


def test_concurrent_cuts_agree_with_sequential_ones() -> None:
    """``cut`` shares one tokenizer without a lock (jieba keeps each call's DAG local): same words either way."""
    seg = segmenter(DOMAIN_WORDS, DOMAIN_FREQ)
    texts = [
        f"{i}号订单的京东白条分期怎么还没到账，我要投诉{i % 7}次了" if i % 2 else f"快递{i}天没有物流信息了帮我查一下"
        for i in range(400)
    ]
    expected = [seg.cut(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(seg.cut, texts))
    assert got == expected
