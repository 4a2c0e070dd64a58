"""Which of our SKUs a seller's unmapped platform item probably is, from the words of its title
and code: its grade (特大, 大, XL ...), its pack weight (5斤, 1kg, 500g) and its form (鲜活,
冷冻, 即食) and whether it is a gift box, each read against our SKUs' own data. A SKU that
contradicts a word found is out; the one that agrees on most wins, and only when it wins alone
and agrees on its grade or weight. The reason names the words, so staff can judge it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from backend.catalogue.models import Product, Sku
from backend.platforms.models import STOCK_SHORT, STOCK_UNMAPPED, PlatformOrder
from backend.sellers.models import Seller

FORM_WORDS = {  # longest first: 冷冻 before 冻
    "live": ("鲜活", "活"),
    "frozen": ("冷冻", "急冻", "冻"),
    "ready_to_eat": ("即食", "醉"),
}
FORM_NAMES = {"live": "鲜活", "frozen": "冷冻", "ready_to_eat": "即食"}
GIFT_WORDS = ("礼盒", "礼品", "送礼")
GIFT_CATEGORY = "礼盒"
WEIGHT = re.compile(r"(\d+(?:\.\d+)?)\s*(公斤|千克|kg|斤|克|g)(?![a-z])", re.IGNORECASE)
GRAMS = {"公斤": 1000, "千克": 1000, "kg": 1000, "斤": 500, "克": 1, "g": 1}
# How much each kind of agreement counts; a suggestion needs a grade or a weight.
POINTS = {"grade": 3, "weight": 3, "form": 2, "gift": 1}


@dataclass(frozen=True)
class SkuChoice:
    """One of our SKUs as the mapping form lists it."""

    id: int
    code: str
    label: str  # 乳山鲜活牡蛎 · 特大 · 5斤装 约15-18只
    grade_code: str
    grade_name: str
    form: str
    grams: int | None  # the pack weight its spec names
    gift: bool


@dataclass(frozen=True)
class Suggestion:
    sku_id: int | None  # None: nothing fits alone (the reason says why)
    code: str
    reason: str


def _grams(text: str) -> int | None:
    found = WEIGHT.search(text)
    if not found:
        return None
    return round(float(found.group(1)) * GRAMS[found.group(2).lower()])


def sku_choices(session: Session) -> list[SkuChoice]:
    """Every SKU of ours, for the mapping form and the suggestions."""
    skus = session.scalars(
        select(Sku)
        .join(Product)
        .options(selectinload(Sku.grade), selectinload(Sku.product))
        .order_by(Product.sort_order, Product.id, Sku.sort_order, Sku.id)
    )
    return [
        SkuChoice(
            id=sku.id,
            code=sku.code,
            label=f"{sku.product.name} · {sku.grade.name} · {sku.spec}",
            grade_code=sku.grade.code,
            grade_name=sku.grade.name,
            form=sku.form,
            grams=_grams(sku.spec),
            gift=sku.product.category == GIFT_CATEGORY,
        )
        for sku in skus
    ]


def _grade_words(text: str, choices: list[SkuChoice]) -> tuple[str, str] | None:
    """(the word, the grade code) of the grade the text names: Chinese names longest first
    (特大 is not 大), else a grade code as a word of its own (XL in RS-LIVE-XL-5)."""
    names = sorted({(c.grade_name, c.grade_code) for c in choices}, key=lambda g: -len(g[0]))
    for name, code in names:
        if name and name in text:
            return name, code
    words = set(re.findall(r"[A-Za-z]+", text.upper()))
    for code in sorted({c.grade_code for c in choices}, key=len, reverse=True):
        if code.upper() in words:
            return code, code
    return None


def _form_word(text: str) -> tuple[str, str] | None:
    for form, words in FORM_WORDS.items():
        for word in words:
            if word in text:
                return word, form
    return None


def suggest(title: str, code: str, choices: list[SkuChoice]) -> Suggestion:
    """Our SKU for a platform item with this title and seller's code, with the reason."""
    text = f"{title} {code}"
    grade = _grade_words(text, choices)
    grams = _grams(text)
    weight_word = WEIGHT.search(text).group(0) if grams else ""
    form = _form_word(text)
    gift_word = next((w for w in GIFT_WORDS if w in text), None)
    scored = []
    for choice in choices:
        if grade and choice.grade_code != grade[1]:
            continue
        if grams and choice.grams != grams:
            continue
        if form and choice.form != form[1]:
            continue
        if gift_word and not choice.gift:
            continue
        score = (
            (POINTS["grade"] if grade else 0)
            + (POINTS["weight"] if grams else 0)
            + (POINTS["form"] if form else 0)
            + (POINTS["gift"] if gift_word else 0)
            # a gift box is picked only when the title says so
            - (POINTS["gift"] if choice.gift and not gift_word else 0)
        )
        scored.append((score, choice))
    words = []
    if grade:
        words.append(f"「{grade[0]}」→ 等级{grade[1]}")
    if weight_word:
        words.append(f"「{weight_word}」→ {grams} 克装")
    if form:
        words.append(f"「{form[0]}」→ {FORM_NAMES[form[1]]}")
    if gift_word:
        words.append(f"「{gift_word}」→ 礼盒")
    if not (grade or grams):
        return Suggestion(None, "", "标题和编码中没有等级或重量，无法推荐，请手动选择")
    if not scored:
        return Suggestion(None, "", f"{'，'.join(words)}：没有同时符合的联盟规格，请手动选择")
    best = max(score for score, _ in scored)
    top = [choice for score, choice in scored if score == best]
    if len(top) > 1:
        codes = "、".join(choice.code for choice in top[:4])
        return Suggestion(None, "", f"{'，'.join(words)}：{codes} 同样符合，请手动选择")
    return Suggestion(top[0].id, top[0].code, "，".join(words))


@dataclass(frozen=True)
class WaitingLine:
    """An order line as the desk shows it: the platform's title, the seller's code, and for
    an unmapped one our suggested SKU."""

    title: str
    code: str
    quantity: int
    mapped: bool
    suggestion: Suggestion | None


def waiting_lines(row_lines: list[dict], choices: list[SkuChoice]) -> list[WaitingLine]:
    """An order's lines for the desk, each unmapped one with its suggestion."""
    return [
        WaitingLine(
            title=line.get("title") or "",
            code=line.get("sku_code") or "",
            quantity=line.get("quantity", 0),
            mapped=line.get("sku_id") is not None,
            suggestion=None
            if line.get("sku_id") is not None
            else suggest(line.get("title") or "", line.get("sku_code") or "", choices),
        )
        for line in row_lines
    ]


@dataclass(frozen=True)
class Desk:
    """What the platform-orders desk shows: the orders waiting for staff, each order's lines
    (with suggestions), their sellers' names, and our SKUs to map to."""

    waiting: list[PlatformOrder]
    lines: dict[int, list[WaitingLine]]
    sellers: dict[int, str]
    skus: list[SkuChoice]


def desk(session: Session, *, limit: int) -> Desk:
    """The first `limit` orders waiting for a mapping or for stock, oldest first."""
    waiting = list(
        session.scalars(
            select(PlatformOrder)
            .where(PlatformOrder.stock_state.in_((STOCK_UNMAPPED, STOCK_SHORT)))
            .order_by(PlatformOrder.id)
            .limit(limit)
        )
    )
    choices = sku_choices(session)
    seller_ids = {row.seller_id for row in waiting}
    sellers = dict(
        session.execute(select(Seller.id, Seller.name).where(Seller.id.in_(seller_ids))).all()
    )
    lines = {row.id: waiting_lines(row.lines, choices) for row in waiting}
    return Desk(waiting=waiting, lines=lines, sellers=sellers, skus=choices)
