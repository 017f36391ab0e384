"""What callers say and key, as text: command words (重听, 返回 …), telling a command from a request
that contains one, reading digits back one at a time, and masking numbers for the call's record.
"""

from __future__ import annotations

CN_DIGITS = dict(zip("0123456789*#", "零一二三四五六七八九星井", strict=True))
REPEAT_WORDS = ("重听", "再说一遍", "再说一次", "重复", "没听清")
BACK_WORDS = ("返回", "上一级", "上一步", "回到上", "退回")
MAIN_WORDS = ("主菜单",)
END_WORDS = ("没有了", "没有其他", "结束", "再见", "挂了", "不用了", "就这样")
# Words around a command that do not make it a request (请帮我返回上一级菜单吧 is still "back").
FILLER_WORDS = ("麻烦", "帮我", "给我", "我要", "我想", "一下", "一级", "菜单", "谢谢", "好的", "问题",
                "请", "吧", "啊", "呀", "了", "的", "你", "我", "再", "先")  # fmt: skip


def mask_number(number: str) -> str:
    """+8613812345678 -> +86138****5678: enough to recognise a caller (or an order), not to use it."""
    number = number.strip()
    if not number:
        return ""
    if len(number) <= 6:
        return "****"
    return number[: max(0, len(number) - 8)] + "****" + number[-4:]


def spell_digits(digits: str) -> str:
    """Read a number back one digit at a time (一 二 三 …), never as a quantity."""
    return " ".join(CN_DIGITS.get(d, d) for d in digits)


def is_command(text: str, words: tuple[str, ...], *, routed: bool) -> bool:
    """Is ``text`` the command ``words`` name (重听, 返回, 没有了 …) rather than a request containing them?

    我被重复扣款了 and 退回的钱还没到 contain 重复 and 退回 but are requests: a command word counts when the
    router found no request in the text, or when nothing but command and filler words is left.
    """
    compact = "".join(ch for ch in text if ch.isalnum())
    if not any(w in compact for w in words):
        return False
    if not routed:
        return True
    covered = [False] * len(compact)
    for w in (*REPEAT_WORDS, *BACK_WORDS, *MAIN_WORDS, *END_WORDS, *FILLER_WORDS):
        start = compact.find(w)
        while start >= 0:  # overlapping words (回到上 + 上一级) cover their characters together
            covered[start : start + len(w)] = [True] * len(w)
            start = compact.find(w, start + 1)
    return covered.count(False) <= 1
