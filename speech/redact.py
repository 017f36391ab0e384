"""PII redaction of transcripts before anything is stored: phone, ID-card, bank-card numbers.

Numbers are found whether written in Arabic digits or read out in Chinese numerals (一二三…,
幺 for 1, 两 for 2, 零/〇 for 0), also when a recognizer split them over several words or put
spaces/dashes between groups. They are replaced by typed tags ([电话], [身份证], [银行卡], and
optionally [订单号]); a redacted span keeps the start of its first word and the end of its last.

Only digit-by-digit runs count: prices, times and dates are either short runs or positional
numerals (三百八十九元, 十点半, 2024年3月15日) and are left alone. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from speech.types import Transcript, Utterance, Word
from zhtext.tokens import join_tokens, needs_space

PHONE = "[电话]"
ID_CARD = "[身份证]"
BANK_CARD = "[银行卡]"
ORDER = "[订单号]"

DIGIT_CHARS: dict[str, str] = {
    **{str(i): str(i) for i in range(10)},
    **{chr(0xFF10 + i): str(i) for i in range(10)},  # full-width ０-９
    "零": "0", "〇": "0", "○": "0",
    "一": "1", "幺": "1", "壹": "1",
    "二": "2", "两": "2", "贰": "2",
    "三": "3", "叁": "3",
    "四": "4", "肆": "4",
    "五": "5", "伍": "5",
    "六": "6", "陆": "6",
    "七": "7", "柒": "7",
    "八": "8", "捌": "8",
    "九": "9", "玖": "9",
}  # fmt: skip
X_CHARS = frozenset("Xx叉")
SEPARATORS = frozenset(" -‐–—_.·,，、")
COMMAS = frozenset(",，、")  # separators between numbers (spaces and dashes also split one number's groups)
MAX_SEP = 2  # at most this many separator characters between two digits of one number

PHONE_WORDS = ("电话", "手机", "号码", "联系方式", "联系电话", "拨打", "座机", "微信")
ID_WORDS = ("身份证", "证件号", "身份号")
BANK_WORDS = ("银行卡", "卡号", "信用卡", "储蓄卡", "借记卡", "账号", "账户")
ORDER_WORDS = ("订单", "单号", "运单", "快递单", "物流单")
CONTEXT_CHARS = 10
LEAD_GAP_S = 5.0  # an utterance's context includes the one before it when it ended this close
AFTER_CHARS = 6  # "，是这个订单吗": an order word this close after a number names it
# Spoken hesitations between the groups of a number read aloud ("138 嗯 1234 嗯 5678"). A gap of
# these (and separators) joins groups only after a phone/ID/bank-card cue, and the joined digits
# must then have a number's shape by themselves, so prices and dates said with pauses stay.
FILLERS = ("那个", "就是", "然后", "嗯", "啊", "呃", "额")
MAX_FILLER_GAP = 6  # characters of fillers and separators between two groups
CUE_WORDS = PHONE_WORDS + ID_WORDS + BANK_WORDS


@dataclass(frozen=True)
class Policy:
    phones: bool = True
    id_cards: bool = True
    bank_cards: bool = True
    order_numbers: bool = False


@dataclass(frozen=True)
class Span:
    start: int  # character offsets in the text, end exclusive
    end: int
    tag: str
    digits: str


def _runs(text: str, *, fillers: bool = False) -> list[tuple[int, int, str, list[int], bool]]:
    """Digit runs: (start, end, digits, group sizes, joined over fillers). A trailing X is kept.

    Groups are split at separators; with ``fillers``, also at a gap of filler words when a
    phone/ID/bank-card cue precedes the run (the last element says whether that happened).
    """
    out: list[tuple[int, int, str, list[int], bool]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] not in DIGIT_CHARS:
            i += 1
            continue
        start, digits, groups, cur, filled = i, "", [], 0, False
        cue = fillers and any(w in text[max(0, i - CONTEXT_CHARS) : i] for w in CUE_WORDS)
        j = i
        while j < n:
            ch = text[j]
            if ch in DIGIT_CHARS:
                digits += DIGIT_CHARS[ch]
                cur += 1
                j += 1
                continue
            k = j
            while k < n and text[k] in SEPARATORS and k - j < MAX_SEP:
                k += 1
            if k > j and k < n and text[k] in DIGIT_CHARS:
                groups.append(cur)
                cur = 0
                j = k
                continue
            k = _filler_gap(text, j) if cue else j
            if k > j and k < n and text[k] in DIGIT_CHARS:
                groups.append(cur)
                cur, filled = 0, True
                j = k
                continue
            break
        end = j
        if j < n and text[j] in X_CHARS and len(digits) in (14, 17):  # ID cards end in X
            digits += "X"
            end = j + 1
        groups.append(cur)
        out.append((start, end, digits, groups, filled))
        i = max(end, i + 1)
    return out


def _filler_gap(text: str, j: int) -> int:
    """End of a gap of separators and at least one filler word starting at ``j`` (``j`` if none)."""
    k, used = j, False
    while k < len(text) and k - j < MAX_FILLER_GAP:
        if text[k] in SEPARATORS:
            k += 1
            continue
        word = next((w for w in FILLERS if text.startswith(w, k)), None)
        if word is None:
            break
        k, used = k + len(word), True
    return k if used and k - j <= MAX_FILLER_GAP else j


def _id_like(d: str) -> bool:
    """Mainland ID shape: 18 chars (17 digits + digit/X) with a plausible birth date, or 15 digits."""
    if len(d) == 18 and d[:17].isdigit() and (d[17].isdigit() or d[17] == "X"):
        y, m, day = int(d[6:10]), int(d[10:12]), int(d[12:14])
        return d[0] in "123456789" and 1900 <= y <= 2100 and 1 <= m <= 12 and 1 <= day <= 31
    if len(d) == 15 and d.isdigit():
        m, day = int(d[8:10]), int(d[10:12])
        return d[0] in "123456789" and 1 <= m <= 12 and 1 <= day <= 31
    return False


def _luhn(d: str) -> bool:
    """The check digit bank cards carry (ISO/IEC 7812)."""
    total = 0
    for i, ch in enumerate(reversed(d)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _mobile(d: str) -> bool:
    if len(d) == 11 and d[0] == "1" and d[1] in "3456789":
        return True
    return len(d) == 13 and d.startswith("86") and d[2] == "1" and d[3] in "3456789"


def _landline(d: str) -> bool:
    # area code (010, 021, 0755 …) + 7-8 digit number
    return d.startswith("0") and not d.startswith("00") and 10 <= len(d) <= 12


def _service_number(d: str) -> bool:
    """Business hotlines are not personal data: 400/800 numbers, 95xxx / 96xxx, 1xxxx short codes."""
    return (len(d) == 10 and d[:3] in ("400", "800")) or (len(d) <= 6 and d[:2] in ("95", "96", "10", "12"))


def classify(digits: str, context: str, policy: Policy, fallback: bool = True) -> str | None:
    """The tag for one digit run, or None when it is not (or not configured as) PII.

    ``fallback``: with order numbers on, a long run nothing else explains is an order number.
    """
    n = len(digits.rstrip("X"))
    has = lambda words: any(w in context for w in words)  # noqa: E731
    if has(ORDER_WORDS) and not has(PHONE_WORDS[:2]) and n >= 6:
        return ORDER if policy.order_numbers else None
    if digits.endswith("X") or _id_like(digits) or (has(ID_WORDS) and 14 <= n <= 18):
        return ID_CARD if policy.id_cards else None
    if has(BANK_WORDS) and 12 <= n <= 19:
        return BANK_CARD if policy.bank_cards else None
    if _mobile(digits) or _landline(digits) or (has(PHONE_WORDS) and 7 <= n <= 12 and not _service_number(digits)):
        return PHONE if policy.phones else None
    if 16 <= n <= 19:
        return BANK_CARD if policy.bank_cards else None
    if fallback and policy.order_numbers and 9 <= n <= 20 and not _service_number(digits):
        return ORDER
    return None


def find_spans(text: str, policy: Policy = Policy(), lead: str = "") -> list[Span]:
    """PII spans, in order: plain digit runs, and numbers read with fillers after a cue word.

    ``lead``: words said just before ``text`` (the question a number answers, "您电话多少"); they
    are context only: spans are offsets in ``text``, and a number starting in ``lead`` is not one.
    """
    if lead:
        n = len(lead)
        return [
            replace(sp, start=sp.start - n, end=sp.end - n) for sp in find_spans(lead + text, policy) if sp.start >= n
        ]
    spans = _plain_spans(text, policy)
    for joined in _filler_spans(text, policy):
        inside = [sp for sp in spans if sp.start < joined.end and joined.start < sp.end]
        if inside:  # one number: the joined span, widened to anything it overlaps
            start, end = min(joined.start, *(sp.start for sp in inside)), max(joined.end, *(sp.end for sp in inside))
            joined = replace(joined, start=start, end=end)
            spans = [sp for sp in spans if sp not in inside]
        spans.append(joined)
    return sorted(spans, key=lambda sp: sp.start)


def _filler_spans(text: str, policy: Policy) -> list[Span]:
    """Numbers joined over filler words: by shape only (mobile, landline, ID, card), whole or in groups."""
    spans: list[Span] = []
    for start, end, digits, groups, filled in _runs(text, fillers=True):
        if not filled or len(digits) < 7:
            continue
        tag = classify(digits, "", policy, fallback=False)
        spans.extend([Span(start, end, tag, digits)] if tag else _split_groups(text, start, groups, policy))
    return spans


def _order_context(before: str, after: str) -> bool:
    """An order number is being read: an order word just before it (no phone, ID or card word
    there), or just after it (…，是这个订单吗 / …这个订单开票)."""
    if any(w in before for w in CUE_WORDS):
        return False
    return any(w in before for w in ORDER_WORDS) or any(w in after for w in ORDER_WORDS)


def _plain_spans(text: str, policy: Policy) -> list[Span]:
    spans: list[Span] = []
    for start, end, digits, groups, _ in _runs(text):
        if len(digits) < 7 or _service_number(digits):
            continue
        context = text[max(0, start - CONTEXT_CHARS) : start]
        after = text[end : end + AFTER_CHARS]
        ordered = _order_context(context, after)
        shape = classify(digits, "", policy, fallback=False)
        if ordered and shape == BANK_CARD and not _luhn(digits):
            shape = None  # order numbers read back to back make 16-19 digits; a card's check digit decides
        shaped = shape is not None
        parts: list[Span] = []
        # Groups whose whole does not have a number's shape may be several numbers, or a number
        # and a word after a comma ("13812345678，3点以后"): split by shape first. Where order numbers
        # are read, only at commas: their groups are not pieced into phones or cards (12-digit order
        # numbers read in fours make 16-digit "cards"; "8 15 75 75 36 110" holds a "mobile").
        if len(groups) > 1 and not shaped:
            parts = _split_groups(text, start, groups, policy, at_commas=ordered)
        if parts:
            tag = None
        elif ordered and not shaped:
            tag = classify(digits, context + "订单", policy)  # an order number (or several), by its context
        else:
            tag = classify(digits, context, policy)
        if tag is not None:
            spans.append(_with_prefix(text, Span(start, end, tag, digits)))
        spans.extend(parts)
    return spans


def _with_prefix(text: str, span: Span) -> Span:
    """Order and waybill numbers often start with letters (SF1234…, JDV0…): redact those too."""
    if span.tag != ORDER:
        return span
    s = span.start
    while s > 0 and span.start - s < 4 and text[s - 1].isascii() and text[s - 1].isalpha():
        s -= 1
    return replace(span, start=s)


def _split_groups(text: str, start: int, groups: list[int], policy: Policy, *, at_commas: bool = False) -> list[Span]:
    """Several numbers read back to back ("13812345678 13987654321"): classify group sequences.

    Only by shape (context words could make any 7-digit tail a "phone"): mobile, landline, ID, card.
    ``at_commas`` (order numbers being read): a number starts and ends only at the run's ends or at a
    comma, because a recognizer writes the digits of one number as tokens with spaces between
    ("订单编号8 15 75 75 36 110" is one order number, not 8 and the mobile 15757536110).
    """
    # character offsets of each group in the text
    bounds: list[tuple[int, int]] = []
    pos = start
    for size in groups:
        while text[pos] not in DIGIT_CHARS:
            pos += 1
        s = pos
        seen = 0
        while seen < size:
            if text[pos] in DIGIT_CHARS:
                seen += 1
            pos += 1
        bounds.append((s, pos))
    # strong[k]: a comma (not just a space or dash) between group k-1 and group k; the run's ends count
    strong = [True] + [any(c in COMMAS for c in text[bounds[k - 1][1] : bounds[k][0]]) for k in range(1, len(bounds))]
    strong.append(True)
    out: list[Span] = []
    i = 0
    while i < len(groups):
        found = None
        for j in range(len(groups), i, -1):
            if at_commas and not (strong[i] and strong[j]):
                continue
            seg = "".join(DIGIT_CHARS.get(c, "") for c in text[bounds[i][0] : bounds[j - 1][1]])
            tag = classify(seg, "", policy, fallback=False) if len(seg) >= 7 else None
            if at_commas and tag == BANK_CARD and not _luhn(seg):
                tag = None  # order numbers read together: a card needs its check digit
            if tag is not None:
                found = (j, Span(bounds[i][0], bounds[j - 1][1], tag, seg))
                break
        if found:
            out.append(found[1])
            i = found[0]
        else:
            i += 1
    return out


def redact_text(text: str, policy: Policy = Policy(), lead: str = "") -> str:
    out, last = [], 0
    for sp in find_spans(text, policy, lead):
        out.append(text[last : sp.start])
        out.append(sp.tag)
        last = sp.end
    out.append(text[last:])
    return "".join(out)


def _word_offsets(words: tuple[Word, ...]) -> tuple[str, list[tuple[int, int]]]:
    """The joined text of the words (as join_tokens builds it) and each word's char range."""
    text, offs = "", []
    for w in words:
        tok = w.text.strip()
        if text and tok and needs_space(text, tok):
            text += " "
        offs.append((len(text), len(text) + len(tok)))
        text += tok
    return text, offs


def redact_words(words: tuple[Word, ...], policy: Policy = Policy(), lead: str = "") -> tuple[Word, ...]:
    """Words with PII spans merged into one tagged word (first start, last end, lowest conf)."""
    text, offs = _word_offsets(words)
    spans = find_spans(text, policy, lead)
    if not spans:
        return words
    out: list[Word] = []
    i = 0
    for sp in spans:
        while i < len(words) and offs[i][1] <= sp.start:
            out.append(words[i])
            i += 1
        j = i
        while j < len(words) and offs[j][0] < sp.end:
            j += 1
        if j == i:  # span in a gap (cannot happen with digits); keep going
            continue
        first, last = words[i], words[j - 1]
        prefix = first.text.strip()[: max(0, sp.start - offs[i][0])]
        suffix = last.text.strip()[max(0, sp.end - offs[j - 1][0]) :]
        conf = min(w.conf for w in words[i:j])
        merged = Word(prefix + sp.tag + suffix, first.start, last.end, conf)
        # several spans inside one word: redact the rest of that word's text too
        merged = replace(merged, text=redact_text(merged.text, policy)) if suffix else merged
        out.append(merged)
        i = j
    out.extend(words[i:])
    return tuple(out)


def redact_utterance(u: Utterance, policy: Policy = Policy(), lead: str = "") -> Utterance:
    """``lead``: the words just before (see ``find_spans``), e.g. the other party's question."""
    if u.words:
        words = redact_words(u.words, policy, lead)
        if words is u.words:
            return u
        return replace(u, words=words, text=join_tokens(w.text for w in words))
    text = redact_text(u.text, policy, lead)
    return u if text == u.text else replace(u, text=text)


def lead_of(before: Sequence[Utterance], u: Utterance) -> str:
    """The phone / ID / card word of the last utterances before ``u`` (ended at most ``LEAD_GAP_S``
    before it starts) that named one, as context for a number in ``u``: the answer to "好的，您电话
    多少" is a phone number even when the recognizer lost a digit. Only such cue words carry over,
    never an order word (that would make a mobile in the answer an order number)."""
    recent = "".join(p.text for p in before if p is not u and u.start - LEAD_GAP_S <= p.end <= u.start + 0.5)
    found = [(recent.rfind(w), w) for w in CUE_WORDS if w in recent]
    return max(found)[1] if found else ""


def redact_transcript(t: Transcript, policy: Policy | None = None, *, order_numbers: bool | None = None) -> Transcript:
    """Every utterance redacted; ``order_numbers`` overrides the policy's flag (settings shortcut).
    A number is read with the utterance before it as context (``lead_of``)."""
    policy = policy or Policy()
    if order_numbers is not None:
        policy = replace(policy, order_numbers=order_numbers)
    out = tuple(
        redact_utterance(u, policy, lead_of(t.utterances[max(0, k - 3) : k], u)) for k, u in enumerate(t.utterances)
    )
    return replace(t, utterances=out, redacted=True)
