"""Reads one live-room viewer comment: which questions it asks and whether it claims a product.

No model: regexes compiled once and a vocabulary built once per shelf, tuned to how buyers in
Shandong and northern China type (typos, dialect, emoji, mixed numerals). A comment takes tens of
microseconds, so the bot keeps up with a busy room.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import cn2an
import jieba
from rapidfuzz import fuzz

from bots.cohost import model as intent_model

INTENTS = (
    "claim",
    "price",
    "grade",
    "origin",
    "harvest",
    "depuration",
    "shipping",
    "guarantee",
    "how_to_buy",
    "aftersales",
    "on_screen",
    "stock",
    "paid",
    "order_change",
    "unknown",
)
LABELS = INTENTS  # what the intent model scores

# A live comment is a few dozen characters; whatever follows this many is pasted noise.
MAX_CHARS = 300
# A bare number above this ("666", "520", "2333") is chatter, not a quantity.
MAX_BARE_QUANTITY = 20


@dataclass(frozen=True)
class ShelfItem:
    """A product of the live room's shelf, numbered as the host shows it on screen."""

    number: int
    name: str
    grade: str
    spec: str


@dataclass(frozen=True)
class Claim:
    """A buying comment: shelf number (None = the product on screen now) and units wanted."""

    number: int | None
    quantity: int


@dataclass(frozen=True)
class Reading:
    """What a comment asks (intents, in order of appearance) and what it claims, if anything."""

    intents: tuple[str, ...]
    claim: Claim | None
    unsure: Claim | None = None  # a claim to ask the viewer about rather than hold


NOTHING = Reading((), None)

# --- normalising ---------------------------------------------------------------------------------

# Slips seen in live rooms (pinyin homophones, kou for 扣), as "typed>meant".
_TYPOS = dict(
    pair.replace("_", " ").split(">")
    for pair in "顺风>顺丰 包油>包邮 包陪>包赔 吐纱>吐沙 连接>链接 多少前>多少钱 多少米>多少钱 "
    "how_much>多少钱 kou>扣 ×>x ✖>x 號>号 兩>两 幾>几 個>个 來>来 這>这 嘅>的 "
    "耳号>二号 儿号>二号 山号>三号 特达>特大 特打>特大 大德>大的 冷动>冷冻 半颗>半壳 "
    "礼和>礼盒 禮盒>礼盒 給>给 嗰>那 呢个>这个 俾我>给我 畀我>给我 "
    "da_de>大的 xiao_de>小的 zhong_de>中的 dade>大的 "
    # voice input hears a number word as its homophone: 医号 / 亮箱 / 山份 / 是号 / 舞号 / 溜号
    "医号>一号 亮箱>两箱 亮份>两份 亮盒>两盒 山份>三份 山箱>三箱 是号>四号 舞号>五号 溜号>六号 "
    "number_>#".split()
)
_TYPO_RE = re.compile("|".join(map(re.escape, sorted(_TYPOS, key=len, reverse=True))))
_NUM_CHARS = "零〇一二两俩仨三四五六七八九十百千壹贰叁肆伍陆柒捌玖拾佰"
# 扣 mistyped by pinyin (宽, 抠, 寇) or by shape (口, only before a digit: 一口一个 is chatter).
_KOU_TYPO_RE = re.compile(r"[宽抠叩寇蔻](?=\s*[0-9一二两俩仨三四五])|口(?=\s*[0-9])")
_KOU_LETTER_RE = re.compile(r"扣\s*[li](?![a-z])")
_PLUS_WORD_RE = re.compile(r"加(?=\s*[0-9])")
_NUMBER_CHARS = "0-9" + _NUM_CHARS
# After a number, pinyin input slips: 2好 / 2毫 / 2hao for 2号, 两分 for 两份, 两想 for 两箱.
_UNIT_SLIPS = {
    "好": "号",
    "毫": "号",
    "浩": "号",
    "耗": "号",
    "hao": "号",
    "分": "份",
    "粉": "份",
    "合": "盒",
    "带": "袋",
    "代": "袋",
    "想": "箱",
    "香": "箱",
    "相": "箱",
    "xiang": "箱",
    "fen": "份",
}
_UNIT_SLIP_RE = re.compile(
    rf"(?<=[{_NUMBER_CHARS}])\s*(hao|xiang|fen|[好毫浩耗合带代想香相]|[分粉](?=$|[\s,.!?~:;、。要来拍买吧啊哈呀就]))"
    r"(?![a-z])"
)
# 药 / 耀 for 要 before a number, 大得 / 大好的 for 大的 / 大号的.
_WANT_SLIP_RE = re.compile(rf"[药耀](?=\s*[{_NUMBER_CHARS}])")
_GRADE_SLIP_RE = re.compile(r"(?<=[大中小])(?:得|好(?=的))")
# 量 for 两 before a unit; da的 / zhong的 / xiao的 typed in pinyin.
_TWO_SLIP_RE = re.compile(r"量(?=\s*[份分箱想盒个袋])")
_PINYIN_GRADE_RE = re.compile(r"(?<![a-z])(da|zhong|xiao|teda)\s*(?=的|号)")
_PINYIN_GRADES = {"da": "大", "zhong": "中", "xiao": "小", "teda": "特大"}
# NFKC has already turned full-width ASCII into ASCII; the rest of the symbols and emoji go.
_NOISE_RE = re.compile(r"[^\u4e00-\u9fff0-9a-z+*#?!,.~:;、。\s]+")
_SPACES_RE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Half-width, lower-case, common typos fixed, emoji and symbols turned into spaces."""
    text = unicodedata.normalize("NFKC", text[:MAX_CHARS]).lower()
    text = _TYPO_RE.sub(lambda m: _TYPOS[m.group()], text)
    text = _KOU_LETTER_RE.sub("扣1", _KOU_TYPO_RE.sub("扣", text))
    text = _PLUS_WORD_RE.sub("+", text)
    text = _UNIT_SLIP_RE.sub(lambda m: _UNIT_SLIPS[m.group(1)], text)
    text = _WANT_SLIP_RE.sub("要", _TWO_SLIP_RE.sub("两", text))
    text = _PINYIN_GRADE_RE.sub(lambda m: _PINYIN_GRADES[m.group(1)], text)
    text = _GRADE_SLIP_RE.sub(lambda m: "的" if m.group() == "得" else "号", text)
    return _SPACES_RE.sub(" ", _NOISE_RE.sub(" ", text)).strip()


_PLAIN_DIGITS = str.maketrans({"两": "二", "俩": "二", "仨": "三", "〇": "零"})


@lru_cache(maxsize=4096)
def parse_number(token: str) -> int | None:
    """The value of a number in digits, Chinese or financial numerals (俩, 仨, 叁); else None."""
    token = token.strip()
    if token.isascii() and token.isdigit():
        return int(token)
    try:
        value = cn2an.cn2an(token.translate(_PLAIN_DIGITS), "strict")
    except ValueError:
        return None
    return int(value) if value == int(value) else None


# --- the parts of a claim ------------------------------------------------------------------------

_NUM = rf"(?:(?<![0-9第])[0-9]{{1,9}}(?![0-9])|(?<![第{_NUM_CHARS}])[{_NUM_CHARS}]{{1,5}})"
# What a buyer counts units of the shelf in; 只, 斤 and kg describe an item (约20只, 5斤装).
_UNIT = r"(?:份|个|件|盒|箱|单|袋|包|组|套|提|筐|罐|瓶)"
_APPROX = (
    rf"(?:[0-9]{{1,3}}\s*(?:-|~|到|至)\s*[0-9]{{1,3}}"
    rf"|[{_NUM_CHARS}]{{1,4}}\s*(?:到|至)\s*[{_NUM_CHARS}]{{1,4}}"
    rf"|[0-9]{{1,3}}|[{_NUM_CHARS}]{{1,4}})(?:多|来|几)?"
)
# 约20-25只 / 二十几只一箱的 / 三十多个一箱 / 5斤装 / 1kg: a spec, never a quantity.
_SPEC_RE = re.compile(
    rf"(?:(?:一|每)\s*(?:箱|盒|袋)\s*)?(?P<count>{_APPROX})\s*(?:只|头|个(?=\s*(?:一|每)\s*(?:箱|盒|袋|斤)|\s*(?:的|那|左右)))"
    rf"(?:\s*(?:一|每)\s*(?:箱|盒|袋|斤))?"
    rf"|(?P<weight>[0-9]{{1,2}}(?:\.[0-9])?|[{_NUM_CHARS}]{{1,3}})\s*(?P<wunit>斤|kg|公斤|千克)(?:\s*装)?"
)
_SHELF_COUNT_RE = re.compile(r"(?P<lo>[0-9]+)(?:\s*-\s*(?P<hi>[0-9]+))?\s*只")
_SHELF_WEIGHT_RE = re.compile(r"(?P<w>[0-9]+(?:\.[0-9])?)\s*(?P<u>斤|kg|公斤)")
_CLAUSE_END = r"(?=\s*(?:[,.!?~:;、。]|$))"
# 3号 / 3# — but 12号之前能到吗 and 几号发货 are dates.
_PRODUCT_RE = re.compile(
    rf"(?<![哪几第])(?P<n>{_NUM})\s*[号#](?!\s*(?:之前|以前|前|之后|以后|后|左右|到|发|那天|当天))"
)
_HASH_PRODUCT_RE = re.compile(rf"#\s*(?P<n>{_NUM})(?!\s*{_UNIT})")
_AFTER_PRODUCT_RE = re.compile(rf"[号#]\s*(?:要|来|拍|买)?\s*(?P<n>{_NUM}){_CLAUSE_END}")
# 礼盒的来三 / 冻的来两: a count with its unit left off, after the item.
_AFTER_ITEM_RE = re.compile(
    rf"(?<=[的种盒壳])\s*(?:再|就)?(?:来|要|拍|整|拿)\s*(?P<n>[一二两三四五六七八九十0-9]{{1,2}}){_CLAUSE_END}"
)
_QUANTITY_RE = re.compile(
    rf"(?<!剩)(?<!死了)(?<!坏了)(?<!少了)(?<![死坏少])(?P<n>{_NUM})\s*{_UNIT}(?!\s*装)"
    r"(?<!个(?=[娃孩人]))|(?P<n2>[俩仨])(?!\s*[号#])"
)
_TIMES_RE = re.compile(rf"(?<![a-z])[x*]\s*(?P<n>{_NUM})")
_PLUS_RE = re.compile(rf"\+\s*(?P<n>{_NUM})")
# 扣1 is a claim; 扣1有用吗, 扣1了然后呢, 扣1没抢到, 扣1的人好多 talk about it.
_KOU_RE = re.compile(
    rf"扣\s*(?P<n>{_NUM})(?!\s*[号#])"
    r"(?!了?(?:的|有用|有啥用|没用|没|然后|在哪|啥意|什么意|是啥|是什么|怎么|咋))"
)
_ABOUT_KOU_RE = re.compile(rf"扣\s*{_NUM}的|(?:都在|在|别人|大家)扣")
_THIS_RE = re.compile(r"这一?[个款份]")
_VERB_RE = re.compile(r"换成|下单|要|来|拍|买|整|留|抢|冲|订|扣|加|拿|弄|锁")
# 买了 / 拍过 / 买的 are past purchases, 来了 an arrival; but 2号我要了 and 扣1了 still buy.
_PAST_RE = re.compile(r"(?:过|了|的|完|到|错|自|看)")
# 要不要 asks; 要的 / 要过 talk about it.
_NOT_BUYING_AFTER = {"要": re.compile(r"(?:过|的|不要)"), "扣": re.compile(r"(?:过|的)")}
_FILLER_AFTER_VERB_RE = re.compile(r"(?:\s|给我|给俺|我|俺|个|一下|点|上|再)*")
_FILLER_BEFORE_VERB_RE = re.compile(r"(?:\s|的|我|俺|也|就|都|还|再|给我|给俺|给|先|主播)*")
_HYPOTHETICAL_RE = re.compile(
    r"要是|如果|假如|的话|万一|每天|每周|每月|每次|长期|固定|(?:有|能|包邮|便宜|够|送|行)[^\s,.!?~:;、。]{0,8}就(?:给[我俺])?(?:来|要|拍|买|整|下单|扣)"
)
# A tag asking the host to agree (3号要两份中不中) does not make the claim a question.
_TAG_RE = re.compile(
    r"(?:中不中|行不行|好不好|可以不|可以吗|行吗|好吗|ok吗|中吗|行不|好不|谢谢|哈)+$"
)
_GENERIC_TARGET = (
    rf"(?:{_NUM}\s*[号#]|(?:特大|最大|大|中|小)号?的|特大|最大|{_NUM}\s*{_UNIT}|{_NUM}|这个)"
)
_NEGATED_TARGET = rf"(?:{_GENERIC_TARGET}|(?![要来拍买])[\u4e00-\u9fff]{{1,6}}?(?:的|那种|包装))"
# 不是4号 / 4号不对: the wrong number a buyer corrects is not what they buy.
_CORRECTED_RE = re.compile(
    rf"不是\s*{_NEGATED_TARGET}|{_GENERIC_TARGET}\s*(?:不对|打错了?|看错了?|错了)|没有\s*{_GENERIC_TARGET}"
)
# 不要大的 / 3号不要了 / 别扣1: the refused part is cut out before looking for a claim.
_NEGATION_RE = re.compile(
    rf"(?:{_GENERIC_TARGET}\s*)?(?<![要买拍来扣])(?:不|别|甭|没)想?(?:要|买|扣|拍|来|下单)(?:了|啦)?"
    rf"(?:给[我俺])?(?:{_NEGATED_TARGET})?"
)
_SEPARATORS_RE = re.compile(r"[\s,.!~:;、。]+")
_ONLY_WANT_RE = re.compile(r"(?:主播)?(?:我|俺)?也?要+了?")
_BARE_NUMBER_RE = re.compile(r"\+?(?P<n>[0-9]{1,3}|[一二两俩仨三四五六七八九十])")
_FILLER_WORDS_RE = re.compile(
    r"主播|老铁|家人们|老板|唔该|晒|thx|pls|please|拜托|麻烦|先|试试|试下|尝尝|给我|给俺"
    r"|我|俺|也|就行|就好|就够|就可以|吧|谢谢|啊|呀|哈|嗯|了|的|哦|那个|那款|的那种|[\s,.!~:;、。]"
)

# Size words a buyer uses, as "said>grade"; 最大/最小 resolve against the shelf.
_GRADE_WORDS = dict(
    pair.split(">")
    for pair in "特大>特大 大一点>大 小一点>小 大>大 中>中 小>小 最大>+ 最小>-".split()
)
_GRADE_ORDER = ("特大", "大", "中", "小")
# Buyers' shorthand for a word of a product name (冻的 for 冷冻, 礼品 for 礼盒).
_NAME_ALIASES = {"冷冻": ("冻", "半壳"), "礼盒": ("礼品", "送礼", "送人")}


@dataclass(frozen=True)
class _ShelfIndex:
    grade_re: re.Pattern[str]
    names: tuple[tuple[ShelfItem, tuple[str, ...]], ...]


@lru_cache(maxsize=64)
def _shelf_index(shelf: tuple[ShelfItem, ...]) -> _ShelfIndex:
    """Grade words and the name words that tell the shelf's items apart, built once per shelf."""
    words = sorted(set(_GRADE_WORDS) | {item.grade for item in shelf if item.grade}, key=len)
    alternatives = "|".join(re.escape(word) for word in reversed(words))
    grade_re = re.compile(
        rf"(?P<a>{alternatives})(?:号的|号|的|个)|(?P<d>特大|最大)"
        rf"|(?P<b>{alternatives})(?=\s*{_NUM}\s*{_UNIT})"
        rf"|(?<=[要来买拍])(?P<c>{alternatives})(?!不)"
    )
    distinct = {item.name for item in shelf}
    word_sets = {name: set(jieba.lcut_for_search(name)) for name in distinct}
    common = set.intersection(*word_sets.values()) if len(distinct) > 1 else set()
    names = []
    for item in shelf:
        keys = {word for word in word_sets[item.name] - common if len(word) >= 2}
        if len(distinct) > 1:
            keys.add(item.name)
        keys |= {alias for key in list(keys) for alias in _NAME_ALIASES.get(key, ())}
        names.append((item, tuple(sorted(keys, key=len, reverse=True))))
    return _ShelfIndex(grade_re=grade_re, names=tuple(names))


def _name_hits(text: str, index: _ShelfIndex) -> tuple[list[ShelfItem], list[tuple[int, int]]]:
    """Shelf items whose name the comment mentions (fuzzy for long names) and where."""
    best, items, spans = 0.0, [], []
    for item, keys in index.names:
        for key in keys:
            cutoff = 100 if len(key) <= 2 else 80
            hit = fuzz.partial_ratio_alignment(key, text, score_cutoff=cutoff)
            if hit is None:
                continue
            spans.append((hit.dest_start, hit.dest_end))
            if hit.score > best:
                best, items = hit.score, [item]
            elif hit.score == best and item not in items:
                items.append(item)
            break
    return items, spans


def _grade_of(word: str, shelf: Sequence[ShelfItem]) -> str:
    grade = _GRADE_WORDS.get(word, word)
    if grade in ("+", "-"):
        present = [g for g in _GRADE_ORDER if any(item.grade == g for item in shelf)]
        ordered = present if grade == "+" else present[::-1]
        return ordered[0] if ordered else ""
    return grade


def _pick(items: Sequence[ShelfItem], grade: str | None) -> int | None:
    """Among matching items prefer the spoken grade, then the lowest number."""
    if grade:
        graded = [item for item in items if item.grade == grade]
        items = graded or items
    return min((item.number for item in items), default=None)


def _quantity(match: re.Match[str] | None) -> int | None:
    if match is None:
        return None
    number = parse_number(match.group("n") or match.groupdict().get("n2") or "")
    return number if number and number >= 1 else None


def _verb_bound(text: str, verb: re.Match[str], targets: list[tuple[int, int]]) -> int | None:
    """Where a buying verb and what it buys start: 要3号, 大的来两份, 2号我要了; else None."""
    word, start, end = verb.group(), verb.start(), verb.end()
    if _NOT_BUYING_AFTER.get(word, _PAST_RE).match(text, end):
        return None
    after = _FILLER_AFTER_VERB_RE.match(text, end).end()
    if any(target_start == after for target_start, _ in targets):
        return start
    before = [
        target_start
        for target_start, target_end in targets
        if 0 <= start - target_end <= 8
        and _FILLER_BEFORE_VERB_RE.fullmatch(text, target_end, start)
    ]
    return min(before, default=None)


def _blank(text: str, spans) -> str:
    """The text with the spans turned into spaces (offsets kept)."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = [" "] * (end - start)
    return "".join(chars)


def _without_questions(text: str) -> str:
    """The text with its question clauses blanked: 2号三箱 顺丰能到吗 claims in its first
    clause and asks in its second; 买三箱能便宜点不 only asks."""
    spans = []
    for match in _CLAUSE_RE.finditer(text):
        clause = _TAG_RE.sub("", match.group())
        marked = "?" in text[match.end() : match.end() + 3]
        if clause and (marked or _is_question(clause, False)):
            spans.append(match.span())
    return _blank(text, spans)


def _spec_range(token: str) -> tuple[float, float] | None:
    """The counts a spoken spec covers: 20-25 → (20, 25), 二十几 → (20, 29), 十五六 → (15, 16),
    四五十 → (40, 50), 30多 → (30, 39)."""
    token = token.replace(" ", "")
    for separator in ("-", "~", "到", "至"):
        if separator in token:
            low, _, high = token.partition(separator)
            low, high = parse_number(low.rstrip("多来几")), parse_number(high.rstrip("多来几"))
            return (low, high) if low and high else None
    approx = token[-1] in "多来几"
    core = token.rstrip("多来几")
    if not core.isdigit() and len(core) == 3 and core[-1] == "十":  # 四五十
        low, high = parse_number(core[0] + "十"), parse_number(core[1] + "十")
        if low and high and high > low:
            return (low, high)
    if not core.isdigit() and len(core) >= 3 and core[-1] != "十":  # 十五六 / 二十五六
        low = parse_number(core[:-1])
        high = parse_number(core[:-2] + core[-1]) if low else None
        if low and high and high == low + 1:
            return (low, high)
    value = parse_number(core)
    if not value:
        return None
    if approx:
        return (value, value + (9 if value % 10 == 0 else 2))
    return (value, value)


def _shelf_specs(item: ShelfItem) -> tuple[tuple[int, int] | None, tuple[float, str] | None]:
    count = _SHELF_COUNT_RE.search(item.spec or "")
    weight = _SHELF_WEIGHT_RE.search(item.spec or "")
    counts = None
    if count:
        low = int(count["lo"])
        counts = (low, int(count["hi"] or low))
    return counts, _weight(weight["w"], weight["u"]) if weight else None


def _weight(amount: str | float, unit: str) -> tuple[float, str]:
    """A weight in the unit family it was said in: 两斤 is not the same spec as 1kg."""
    value = float(amount) if isinstance(amount, str) else amount
    return (value, "斤") if unit == "斤" else (value, "kg")


def _spec_items(specs: list[re.Match[str]], shelf: Sequence[ShelfItem]) -> list[ShelfItem]:
    """The shelf items every spoken spec fits (a count overlapping the item's, or its weight)."""
    fitting = list(shelf)
    for spec in specs:
        if spec["count"]:
            wanted = _spec_range(spec["count"])
            if wanted is None:
                continue
            overlaps = {}
            for item in fitting:
                counts = _shelf_specs(item)[0]
                if counts:
                    shared = min(counts[1], wanted[1]) - max(counts[0], wanted[0]) + 1
                    if shared > 0:
                        wanted_len = wanted[1] - wanted[0] + 1
                        overlaps[item] = (shared / wanted_len, shared / (counts[1] - counts[0] + 1))
            best = max(overlaps.values(), default=None)
            fitting = [item for item, share in overlaps.items() if share == best]
        else:
            amount = (
                parse_number(spec["weight"])
                if not spec["weight"].replace(".", "").isdigit()
                else float(spec["weight"])
            )
            if not amount:
                continue
            said = _weight(amount, spec["wunit"])
            weighing = [item for item in fitting if _shelf_specs(item)[1] == said]
            fitting = weighing or fitting  # 来一斤 of boxes sold by 5斤 names no item
    return fitting


def read_claim(text: str, shelf: Sequence[ShelfItem]) -> tuple[Claim | None, int]:
    """The claim a normalised comment makes (or None), and where its evidence starts."""
    positive = text
    if "不" in text or "别" in text:
        positive = _NEGATION_RE.sub(lambda m: " " * len(m.group()), positive)
        positive = _CORRECTED_RE.sub(lambda m: " " * len(m.group()), positive)
    if not positive.strip():
        return None, 0
    specs = list(_SPEC_RE.finditer(positive))
    masked = "".join(
        "_" if any(a <= i < b for a, b in (m.span() for m in specs)) else ch
        for i, ch in enumerate(positive)
    )
    asking = _without_questions(masked)
    specs = [m for m in specs if asking[m.start()] != " "]
    asked = positive
    positive = _blank(
        "".join(" " if a == " " else p for a, p in zip(asking, positive, strict=True)),
        [m.span() for m in specs],
    )
    if not positive.strip():
        return None, 0
    index = _shelf_index(tuple(shelf))
    products = list(_PRODUCT_RE.finditer(positive)) + list(_HASH_PRODUCT_RE.finditer(positive))
    quantities = list(_QUANTITY_RE.finditer(positive))
    grades = list(index.grade_re.finditer(positive))
    # 扣0 / +0 buy nothing.
    kou = None if _ABOUT_KOU_RE.search(positive) else _KOU_RE.search(positive)
    kou = kou if _quantity(kou) else None
    plus = _PLUS_RE.search(positive)
    plus = plus if _quantity(plus) else None
    times = _TIMES_RE.search(positive)
    after_product = _AFTER_PRODUCT_RE.search(positive)
    named, name_spans = _name_hits(positive, index) if index.names else ([], [])
    hard = [m.span() for m in (*products, *quantities, kou, plus, times, after_product) if m]
    targets = hard + [m.span() for m in grades] + name_spans + [m.span() for m in specs]
    targets += [m.span() for m in _THIS_RE.finditer(positive)]

    items = [m.span() for m in (*products, *grades)] + name_spans
    items += [m.span() for m in _THIS_RE.finditer(positive)]
    counts = [m.span() for m in quantities] + ([times.span()] if times else [])
    # A buyer who corrects themselves ends with what they want: then the last number, quantity
    # and grade count; otherwise the first (3号两箱 一个寄济南 is still two boxes).
    corrected = bool(_SELF_CORRECTION_RE.search(text))
    stated = [m.group("n") for m in (*quantities, times) if m and m.group("n")]
    if any(parse_number(n) == 0 for n in stated):
        return None, 0  # 2号要0份 buys nothing
    where = _claim_evidence(positive, kou or plus, hard, targets, items, counts)
    if where is None:
        return None, 0
    quantity = (
        _quantity(kou)
        or _quantity(plus)
        or _quantity(times)
        or next(
            filter(None, map(_quantity, reversed(quantities) if corrected else quantities)), None
        )
        or _quantity(after_product)
        or _quantity(_AFTER_ITEM_RE.search(positive))
        or _quantity(_BARE_NUMBER_RE.fullmatch(_SEPARATORS_RE.sub("", positive)))
        or 1
    )
    products.sort(key=lambda m: m.start(), reverse=corrected)
    if not products:  # 3号还有吗？要两份: the item was named in the question
        products = list(_PRODUCT_RE.finditer(asked))
    number = next((n for n in (parse_number(m["n"]) for m in products) if n is not None), None)
    if number is None and (named or grades or specs):
        grade = None
        if grades:
            said = grades[-1] if corrected or len(grades) > 1 else grades[0]
            word = said["a"] or said["b"] or said["c"] or said["d"]
            grade = _grade_of(word, shelf)
        candidates = named or shelf
        if specs:
            candidates = [item for item in _spec_items(specs, shelf) if item in candidates]
        number = _pick(candidates, grade) if candidates else None
        if specs and len(candidates) > 1 and not grade and not named:
            number = None  # 5斤的: more than one item weighs that
    return Claim(number=number, quantity=quantity), where


def _item_and_count(
    text: str, items: list[tuple[int, int]], counts: list[tuple[int, int]]
) -> int | None:
    """Where an item and a count of it stand side by side (2号 20箱, 大号两箱, 十箱 2号, 礼盒x1):
    a buyer's order however much else the comment says (饭店用, 谢谢老妹儿)."""
    for count_start, count_end in counts:
        for item_start, item_end in items:
            if item_end <= count_start:
                gap = text[item_end:count_start]
            elif count_end <= item_start:
                gap = text[count_end:item_start]
            else:
                continue
            if len(gap) <= 4 and not _FILLER_WORDS_RE.sub("", gap):
                return min(count_start, item_start)
    return None


def _claim_evidence(
    text: str,
    kou: re.Match[str] | None,
    hard: list[tuple[int, int]],
    targets: list[tuple[int, int]],
    items: list[tuple[int, int]],
    counts: list[tuple[int, int]],
) -> int | None:
    """Where the comment shows it is buying, or None when it is not a claim."""
    if kou is not None:
        return kou.start()
    if not _HYPOTHETICAL_RE.search(text):
        for verb in _VERB_RE.finditer(text):
            where = _verb_bound(text, verb, targets)
            if where is not None:
                return where
        where = _item_and_count(text, items, counts)
        if where is not None:
            return where
    compact = _SEPARATORS_RE.sub("", text)
    if hard:
        rest = list(text)
        for start, end in targets:
            rest[start:end] = [" "] * (end - start)
        if not _FILLER_WORDS_RE.sub("", "".join(rest)):
            return 0
    if _ONLY_WANT_RE.fullmatch(compact):
        return 0
    bare = _BARE_NUMBER_RE.fullmatch(compact)
    if bare and 1 <= (parse_number(bare["n"]) or 0) <= MAX_BARE_QUANTITY:
        return 0
    return None


# --- questions -----------------------------------------------------------------------------------

# Cues that ask whenever they appear (上链接, 退款) and cues that ask only inside a question
# (好新鲜啊 is praise, 新鲜吗 is a question).
_ALWAYS = {
    "guarantee": r"包赔|包退|死蚝包",
    "how_to_buy": r"(?<!几号)链接|小黄车|购物车",
    "aftersales": r"退款|退货|退钱|(?<!包)退(?!出)|售后|投诉|换货|取消|订单",
}
_WHEN_ASKED = {
    "price": r"多少钱|多钱|啥价|什么价|价格|价位|价钱|咋卖|怎么卖|几块|块钱|贵|便宜|优惠"
    r"|打折|划算|满减|折扣|券|活动|买.送.|多少一[斤箱盒份单袋个只]",
    "grade": r"(?<!主播)(?<![你您恁])多大|几只|几个一斤|斤\S{0,2}几|几斤|多少只|多少个"
    r"|多少头|规格|个头|多重|大小|[号大中小的]\S{0,4}(?:区别|差别)|[大小]还是|更大|更小"
    r"|巴掌|太小|太大|最大|最小|几头|是(?:特大|最大|大|中|小)(?:号|的)",
    "origin": r"是(?:不是)?(?:乳山|威海|烟台|青岛|大连|南方|北方|本地|外地|海里|正宗|野生)"
    r"|乳山(?:的|哪|本地|口)|哪里?产|产地|产自|哪片海|哪个[海湾]|哪[里儿]?的(?!快递)"
    r"|外地|南方的|养的|养殖|原产|野生|正宗",
    "harvest": r"(?:什么|啥|几)时候?捞|捞的|现捞|捞上|刚捞|出水|出的?海|新鲜|鲜不鲜"
    r"|(?<!鲜)活的|活蹦|活着|还活|隔夜|(?<!能)放几天|放了几天|当天|今天的货|今早|几天了",
    "depuration": r"净化|吐沙|吐干净|干净|生着?吃|刺身|沙子|有沙|泥",
    "shipping": r"发货|快递|顺丰|包邮|邮费|运费|冷链|冰袋|物流|发不发|(?<!补)发吗|发到|能到(?!账)"
    r"|多久能?[到发]|几天能?到|要几天|几天能|偏远|发哪|寄"
    r"|(?:今天|明天|后天|当天|啥时候|什么时候|几号|哪天)发",
    "guarantee": r"(?<!笑)死|赔|坏|臭|保活|开口",
    "how_to_buy": r"(?:怎么|咋|在哪|哪里|哪儿|去哪)(?:能|可以)?(?:买|拍|下单|付|抢)|下单"
    r"|付款|支付|点哪|小程序|扣\s*[0-9一]*\s*(?:有用|有啥用|没用|了?然后|在哪|啥意思|什么意思)",
    "aftersales": r"客服|少发|漏发|发错|少了|缺了|不一样|无理由",
    "on_screen": r"这[个款]?是(?:什么|啥|几号|哪|礼盒|冻的|半壳|鲜活)|哪款|手里[是拿]"
    r"|现在(?:讲|卖|上|是)的?是?(?:哪|啥|什么|几)|(?:讲|卖|上|拿)的是?(?:哪|啥|什么|几)"
    r"|这[个款]?\S{0,2}叫(?:啥|什么)|刚才那个|是几号|几号链接",
    "stock": r"还有|有货|没货|剩|卖完|卖光|没了|没有了|补货|库存|还能[拍买抢]|抢完|抢光|售罄"
    r"|断货",
}
_ALWAYS_RE = {intent: re.compile(cue) for intent, cue in _ALWAYS.items()}
_WHEN_ASKED_RE = {intent: re.compile(cue) for intent, cue in _WHEN_ASKED.items()}
_CLAUSE_RE = re.compile(r"[^\s,.!?~:;、。]+")
_QUESTION_RE = re.compile(
    r"吗|嘛|呢|怎么|咋|啥|什么|多少|几|哪|谁|是不是|有没有|能不能|会不会|可不可以|行不行|多久|多大"
    r"|多重|多钱|为啥|how|what|还是(?!很|挺|那么|不|要|没|算|觉得|乳山)"
)
_A_NOT_A_RE = re.compile(r"([\u4e00-\u9fff]{1,2})[不没]\1")
# 要不要这么大 exclaims; 扣了没了 is 了 twice, not a question.
_NOT_A_NOT_A = {"要", "了", "的"}
_ENDS_ASKING_RE = re.compile(r"(?:不|没|没有|么)[啊呀呐哈嘞咧哇喔哦吖亲]*$")
_DANGLING_RE = re.compile(r"(?:咋|怎么)(?:办|整|弄|处理)|然后呢|呢")


def _is_question(clause: str, marked: bool) -> bool:
    if marked or _QUESTION_RE.search(clause) or _ENDS_ASKING_RE.search(clause):
        return True
    return any(m.group(1) not in _NOT_A_NOT_A for m in _A_NOT_A_RE.finditer(clause))


def read_questions(text: str) -> tuple[dict[str, int], bool]:
    """The intents a normalised comment asks with where each first appears; and whether it asks."""
    clauses = []
    for match in _CLAUSE_RE.finditer(text):
        marked = "?" in text[match.end() : match.end() + 3]
        clauses.append([match.start(), match.group(), _is_question(match.group(), marked)])
    for previous, clause in zip(clauses, clauses[1:], strict=False):
        if clause[2] and _DANGLING_RE.fullmatch(clause[1]):
            previous[2] = True
    found: dict[str, int] = {}
    for offset, clause, asked in clauses:
        cues = [_ALWAYS_RE.items(), _WHEN_ASKED_RE.items() if asked else ()]
        for intent, cue in (pair for group in cues for pair in group):
            hit = cue.search(clause)
            if hit and intent not in found:
                found[intent] = offset + hit.start()
    return found, any(asked for _, _, asked in clauses)


# A report of an order already placed or paid (刚拍了, 已付款, 下单了): never a claim.
_PAID_RE = re.compile(
    r"(?<![别不没])(?:已(?:经)?(?:拍|付|下单|买|支付|抢到)|(?:拍|付|下单|买|抢)(?:好|完)了?|(?:拍|付款|付|下单|买|抢到)了"
    r"|付过|刚[^\s,.!?~:;、。]{0,5}?(?:拍|付|下单|买|抢到)|拍到了|下过单|抢到(?![没吗])"
    r"|[拍买付扣]咗|下了\s*(?:一|1)?\s*单"
    r"|(?:上次|上回|上周|之前|昨天|前天|昨儿)[^\s,.!?~:;、。]{0,3}?(?:拿|买|拍|扣|下单))"
)
# Changing or cancelling an order already made (改地址, 拍错了, 取消, 换成中的).
_SELF_CORRECTION_RE = re.compile(
    r"不对|错了|打错|看错|拍错|扣错|不是|没有|改成|换成|算了|唔系|不要|(?<=\s)不(?=\s)"
)
# Haggling next to a claim (饭店要三十箱 能便宜多少) makes it a question of terms.
_BARGAIN_RE = re.compile(r"便宜|优惠|打折|折扣|少点|少算|批发|能少|减点|让点|多送|送点")
_CLAUSE_END_RE = re.compile(r"[\s,.!?~:;、。]|$")
_CHANGE_RE = re.compile(
    r"改(?:成|为|一下|下|个|地址|数量|收货)|拍错|扣错|下错|买错|取消|不要了|换成|合并|合单|一起发"
    r"|备注|加到|退掉|少拍|多拍|撤回|改\s*[0-9一二两三四五六七八九十]|原来(?:那|的)单|之前(?:那|的)单"
)


def _rule_intents(
    clean: str, shelf: Sequence[ShelfItem]
) -> tuple[dict[str, int], Claim | None, bool]:
    """What the rules alone read: intents with where each appears, the claim and whether the
    comment asks anything."""
    found, asks = read_questions(clean)
    paid = _PAID_RE.search(clean)
    change = _CHANGE_RE.search(clean)
    claim, where = read_claim(clean, shelf)
    if paid:
        found.setdefault("paid", paid.start())
        claim = None  # what was paid is not held again
        if not asks:  # 刚在链接里付了 reports a payment; it does not ask how to buy
            found.pop("how_to_buy", None)
    if change:
        found.setdefault("order_change", change.start())
        # 大的换成中的 changes an order; 1号拍错了 给我来2号一份 changes it and claims anew
        clause_end = _CLAUSE_END_RE.search(clean, change.end())
        if claim is not None and (clause_end is None or where < clause_end.start()):
            claim = None
    if claim is not None:
        found["claim"] = where
    elif asks and not found:
        found["unknown"] = 0
    return found, claim, asks


def _signals(found: dict[str, int], claim: Claim | None, asks: bool) -> tuple[str, ...]:
    """The rules' reading as the intent model's features."""
    signals = [f"R:{intent}" for intent in sorted(found)]
    if asks:
        signals.append("Q")
    if claim is not None:
        signals.append(f"C:{min(claim.quantity, 3)}")
    return tuple(signals)


def rule_reading(text: str, shelf: Sequence[ShelfItem] = ()) -> tuple[str, tuple[str, ...]]:
    """A comment normalised and the rules' reading of it, as the intent model sees them."""
    clean = normalise(text) if isinstance(text, str) else ""
    return clean, _signals(*_rule_intents(clean, shelf))


_SHIPPED = object()


def read_comment(text: str, shelf: Sequence[ShelfItem] = (), model=_SHIPPED) -> Reading:
    """What a viewer comment asks and whether it claims a product (and which, how many).

    The rules read the claim (deterministic: what they book can be traced to the words); the
    intent model, given the text and the rules' reading of it, decides the other intents.
    `model=None` reads by rules alone."""
    if not isinstance(text, str):
        return NOTHING
    clean = normalise(text)
    if not clean:
        return NOTHING
    found, claim, asks = _rule_intents(clean, shelf)
    weighed = intent_model.load() if model is _SHIPPED else model
    unsure = asks and claim is not None and _BARGAIN_RE.search(clean) is not None
    if weighed is not None:
        probs = weighed.probabilities(clean, _signals(found, claim, asks))
        # the rules found a claim in words the model has rarely seen buy: ask, do not hold
        unsure = unsure or (claim is not None and probs["claim"] < weighed.ask_back_below)
        wanted = {
            label
            for label, p in probs.items()
            if label != "claim" and p >= weighed.thresholds.get(label, 0.5)
        }
        found = {label: at for label, at in found.items() if label in wanted or label == "claim"}
        for label in wanted - set(found):
            found[label] = len(clean)  # after what the rules placed
        if claim is None:
            found.pop("claim", None)
        elif "claim" not in found:
            found["claim"] = 0
    if unsure:
        found.pop("claim", None)
    ordered = sorted(found, key=lambda intent: (found[intent], INTENTS.index(intent)))
    if unsure:
        return Reading(intents=tuple(ordered), claim=None, unsure=claim)
    return Reading(intents=tuple(ordered), claim=claim)


def warm_up() -> None:
    """Load jieba's dictionary and fill the caches, so the first live comment is not slow."""
    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    sample = (ShelfItem(1, "乳山鲜活牡蛎", "大", ""), ShelfItem(2, "乳山牡蛎礼盒", "特大", ""))
    for comment in ("扣1", "3号要两份，包邮吗", "礼盒来一个", "多大的？什么时候捞的？"):
        read_comment(comment, sample)
