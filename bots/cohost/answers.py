"""The co-host bot's words: answers to viewers' questions, pay prompts, refusals and
announcements, all from the room's live facts (backend.live.shelf.room_facts) and the shop's
rules in the app config. No number here is made up."""

from __future__ import annotations

import re
from datetime import datetime

from backend.live import comments
from backend.timeutil import SHANGHAI, to_aware_utc
from bots.cohost.understanding import parse_number

FORM_NAMES = {"live": "鲜活", "frozen": "冷冻", "ready_to_eat": "即食"}
MAX_REPLY = 180  # characters; a comment bubble, not an essay

# "3号", "三号", "叁号", "３号": which product a question is about
_NUMBER = re.compile(r"([0-9０-９]{1,2}|[一二两三四五六七八九十壹贰叁肆伍陆柒捌玖拾]{1,3})\s*号")
_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")


def mentioned_number(text: str) -> int | None:
    """The shelf number a comment names ("3号多少钱"), if any."""
    found = _NUMBER.search(text)
    if not found:
        return None
    return parse_number(found.group(1).translate(_FULLWIDTH))


def yuan(fen: int) -> str:
    return f"{fen / 100:.2f}".rstrip("0").rstrip(".")


def _local(moment) -> datetime:
    if isinstance(moment, str):
        return datetime.fromisoformat(moment).astimezone(SHANGHAI)
    return to_aware_utc(moment).astimezone(SHANGHAI)


def _day(moment) -> str:
    local = _local(moment)
    return f"{local.month}月{local.day}日{local:%H:%M}"


def title(item: dict) -> str:
    return f"{item['number']}号{item['name']}（{item['grade']}）"


def _price(item: dict, config) -> str:
    text = f"{title(item)} {item['spec']}，{yuan(item['price'])}元"
    sale = item["flash_sale"]
    if sale:
        text += (
            f"，秒杀价{yuan(sale['price'])}元，还剩{sale['remaining']}份，"
            f"每人限{sale['per_person_limit']}份"
        )
    return text


def _grade(item: dict, config) -> str:
    low, high = item["pieces_per_kg"]
    size = f"，每公斤{low}-{high}只" if low and high else ""
    return f"{title(item)}是{item['grade']}规格：{item['spec']}{size}"


def _origin(item: dict, config) -> str | None:
    lot = item["lot"]
    if lot is None:
        return None
    origin = lot["origin"]
    return (
        f"{item['number']}号产自{origin['sea_area']}（{origin['cooperative']}"
        f"{origin['farm']}），乳山牡蛎地理标志产区"
    )


def _harvest(item: dict, config) -> str | None:
    lot = item["lot"]
    if lot is None:
        return None
    return (
        f"{item['number']}号这批{_day(lot['origin']['harvested_at'])}出水，"
        f"{_day(lot['packed_at'])}包装，{_day(lot['use_by'])}前食用最佳"
    )


def _depuration(item: dict, config) -> str | None:
    lot = item["lot"]
    if lot is None:
        return None
    step = lot["depuration"]
    parts = []
    if step:
        readings = "，".join(
            f"{m['name']}{m['value']}{m['unit']}" for m in step["measurements"][:3]
        )
        parts.append(f"{item['number']}号出水后做了{step['name']}（{readings}）")
    inspection = lot["inspection"]
    if inspection and inspection["passed"]:
        parts.append(f"检验合格，报告号{inspection['report_no']}")
    return "，".join(parts) or None


def _shipping(item: dict | None, config, shop: dict) -> str:
    """From the shipping zones (backend.shipping.service.shop_facts) and the courier setting."""
    form = FORM_NAMES.get(item["form"], "") if item else ""
    text = f"{form}{config['SHIP_CARRIER']}发货，每天{shop['cutoff']}前付款当天发"
    if shop["days"]:
        text += f"，大部分地区{shop['days']}到"
    not_to = "、".join(shop["live_not_to"])
    if not_to and (item is None or item["form"] == "live"):
        text += f"；鲜活产品暂不发往{not_to}及海外"
    return text


def _guarantee(item: dict | None, config) -> str:
    return f"死蚝包赔：签收后{config['DOA_CLAIM_HOURS']}小时内在订单页拍照申请售后，按死蚝只数退款"


def _how_to_buy(item: dict | None, config) -> str:
    return (
        "评论“扣1”锁定正在讲解的商品，或写“3号要2份”；锁定后"
        f"{config['PAY_WINDOW_MINUTES']}分钟内在小程序付款"
    )


def _aftersales(item: dict | None, config) -> str:
    return (
        "在小程序“我的订单”里申请售后；死蚝请在签收后"
        f"{config['DOA_CLAIM_HOURS']}小时内拍照申请，审核后原路退款"
    )


def _paid(item: dict | None, config) -> str:
    return "收到，感谢下单！按付款顺序发货，发货后小程序会通知您，物流在“我的订单”里随时可查"


def _order_change(item: dict | None, config) -> str:
    return (
        "改地址、改数量或取消：未发货的订单在小程序“我的订单”里修改或取消后重新下单；"
        "已发货的请在订单页申请售后"
    )


def _on_screen(item: dict, config) -> str:
    return f"正在讲解{_price(item, config)}"


def _stock(item: dict, config) -> str:
    sale = item["flash_sale"]
    if sale:
        return f"{item['number']}号秒杀还剩{sale['remaining']}份"
    if item["stock"] <= 0:
        return f"{item['number']}号已经卖完了"
    return f"{item['number']}号还有{item['stock']}份"


# intent -> (needs a product, how to say it)
ANSWERS = {
    "price": (True, _price),
    "grade": (True, _grade),
    "origin": (True, _origin),
    "harvest": (True, _harvest),
    "depuration": (True, _depuration),
    "stock": (True, _stock),
    "on_screen": (True, _on_screen),
    "shipping": (False, _shipping),
    "guarantee": (False, _guarantee),
    "how_to_buy": (False, _how_to_buy),
    "aftersales": (False, _aftersales),
    "paid": (False, _paid),
    "order_change": (False, _order_change),
}


def pick_item(facts: dict, number: int | None) -> dict | None:
    """The product a comment is about: the number it names, else the one on screen, else the
    only one on the shelf."""
    shelf = facts["shelf"]
    wanted = number if number is not None else facts["on_screen"]
    if wanted is None and len(shelf) == 1:
        return shelf[0]
    return next((item for item in shelf if item["number"] == wanted), None)


def answer_questions(
    intents: list[str], facts: dict, config, *, number: int | None
) -> tuple[list[str], bool]:
    """Sentences answering the questions, and whether any question went unanswered."""
    item = pick_item(facts, number)
    sentences, unanswered = [], False
    for intent in intents:
        if intent not in ANSWERS:
            unanswered = True
            continue
        needs_item, say = ANSWERS[intent]
        if needs_item and item is None:
            if number is not None:
                sentences.append(f"没有{number}号商品哦")
            else:
                sentences.append("请问您问的是几号商品？")
            continue
        # the shipping answer reads the zones the room's facts carry
        extra = (facts["shipping"],) if intent == "shipping" else ()
        sentence = say(item, config, *extra)
        if sentence is None:
            sentences.append(f"{item['number']}号暂时没有在售批次")
            unanswered = True
        elif sentence not in sentences:
            sentences.append(sentence)
    return sentences, unanswered


def addressed(nickname: str, sentences: list[str]) -> str:
    text = f"@{comments.shown_name(nickname)} " + "；".join(sentences)
    return text if len(text) <= MAX_REPLY else text[: MAX_REPLY - 1] + "…"


def pay_prompt_in_room(item: dict, quantity: int, order, *, again: bool) -> str:
    """The pay prompt as the whole room reads it: no order number, no total (finding: the room
    must not learn what a buyer pays)."""
    if again:
        return f"您已锁定{title(item)}，订单待付款，请尽快在小程序付款"
    return (
        f"已为您锁定{title(item)}{quantity}份，"
        f"请在{_local(order.pay_deadline):%H:%M}前在小程序付款，超时自动释放"
    )


def pay_prompt(item: dict, quantity: int, order, *, again: bool) -> str:
    """The pay prompt the buyer alone reads: with the order's tail number and total (the
    shipping fee joins it when the buyer gives the address)."""
    total = f"{yuan(order.total)}元" + ("" if order.address else "，运费按收货地址另计")
    if again:
        return (
            f"您已锁定{title(item)}，订单尾号{order.number[-6:]}待付款（{total}），"
            "请尽快在小程序付款"
        )
    return (
        f"已为您锁定{title(item)}{quantity}份，共{total}，"
        f"请在{_local(order.pay_deadline):%H:%M}前在小程序付款，超时自动释放"
    )


def confirm_quantity(item: dict, quantity: int) -> str:
    """The safety rail: an unusual quantity is asked back, not held."""
    return f"您要{quantity}份{title(item)}吗？确认请回复“确认”"


def sale_started(item: dict) -> str:
    sale = item["flash_sale"]
    return (
        f"秒杀开始！{title(item)} 秒杀价{yuan(sale['price'])}元，共{sale['units']}份，"
        f"每人限{sale['per_person_limit']}份，评论“扣1”就抢"
    )


def sale_starting(item: dict, seconds: int) -> str:
    sale = item["flash_sale"]
    return (
        f"{seconds}秒后开抢：{title(item)} 秒杀价{yuan(sale['price'])}元，"
        f"共{sale['units']}份，准备好“扣1”"
    )


def seconds_left(item: dict, seconds: int) -> str:
    return f"{title(item)}秒杀还剩{seconds}秒，还剩{item['flash_sale']['remaining']}份"


def low_stock(item: dict, units: int) -> str:
    return f"{title(item)}仅剩{units}份，要的抓紧"


def sold_out(item: dict) -> str:
    return f"{title(item)}已抢光，感谢大家支持！没抢到的关注下一轮"
