"""The rules of `upload_shipping_info`, in the order they are checked: the JSON shape (47001: an
object for shipping_list, logistics_type 5), then the documented codes in the order of the
api-facts §7.1 table. Codes the docs do not give are marked *sandbox choice*."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .context import Sandbox
from .errors import WeChatError
from .wechat_shipping_state import EXPRESS

UNIFIED, SPLIT = 1, 2


def format_error(message: str) -> WeChatError:
    return WeChatError(47001, f"data format error, {message}")


def typed(container: dict, key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
    """The value of an optional field, 47001 when it has the wrong JSON type."""
    value = container.get(key)
    bad_bool = isinstance(value, bool) and kind is int
    if value is not None and (bad_bool or not isinstance(value, kind)):
        raise format_error(f"{where}{key} has the wrong type")
    return value


def utf8_len(value: str) -> int:
    return len(value.encode("utf-8"))


def check_shape(body: Any) -> None:
    """47001: anything whose JSON type is wrong (an object for shipping_list, logistics_type 5)."""
    if not isinstance(body, dict):
        raise format_error("body must be a JSON object")
    key = typed(body, "order_key", dict) or {}
    typed(key, "order_number_type", int, "order_key.")
    for name in ("transaction_id", "mchid", "out_trade_no"):
        typed(key, name, str, "order_key.")
    logistics_type = typed(body, "logistics_type", int)
    if logistics_type is not None and not 0 <= logistics_type <= 4:
        raise format_error("logistics_type is not a valid enum value")  # api-facts: 5 -> 47001
    typed(body, "delivery_mode", int)
    typed(body, "is_all_delivered", bool)
    typed(body, "upload_time", str)
    payer = typed(body, "payer", dict) or {}
    typed(payer, "openid", str, "payer.")
    for index, item in enumerate(typed(body, "shipping_list", list) or []):
        where = f"shipping_list[{index}]."
        if not isinstance(item, dict):
            raise format_error(f"shipping_list[{index}] must be an object")
        for name in ("tracking_no", "express_company", "item_desc"):
            typed(item, name, str, where)
        contact = typed(item, "contact", dict, where) or {}
        for name in ("consignor_contact", "receiver_contact"):
            typed(contact, name, str, where + "contact.")


def masked(phone: str) -> bool:
    """Masked except the last four digits, as `189****1234`."""
    return "*" in phone and len(phone) >= 5 and phone[-4:].isdigit() and "*" not in phone[-4:]


def check_rules(sb: Sandbox, body: dict[str, Any]) -> datetime:
    key = body.get("order_key") or {}
    number_type = key.get("order_number_type")
    if number_type not in (1, 2):
        raise WeChatError(268485194, "order_number_type invalid")
    if number_type == 2 and not key.get("transaction_id"):
        raise WeChatError(268485195, "transaction_id required")
    if number_type == 1 and not key.get("mchid"):
        raise WeChatError(268485196, "mchid required")
    if number_type == 1 and not key.get("out_trade_no"):
        raise WeChatError(268485197, "out_trade_no required")
    logistics_type = body.get("logistics_type")
    if not logistics_type:
        raise WeChatError(10060005, "logistics_type invalid")
    mode = body.get("delivery_mode")
    if mode not in (UNIFIED, SPLIT):
        raise WeChatError(268485224, "delivery_mode invalid")
    if mode == SPLIT and logistics_type != EXPRESS:
        raise WeChatError(10060006, "split delivery is only for express logistics")
    if mode == SPLIT and body.get("is_all_delivered") is None:
        raise WeChatError(10060007, "is_all_delivered required in split delivery mode")
    items = body.get("shipping_list") or []
    if not items or (mode == UNIFIED and len(items) != 1):
        raise WeChatError(268485228, "unified delivery mode needs exactly one shipping item")
    if len(items) > int(sb.settings["shipping_split_max"]):
        raise WeChatError(10060024, "shipping_list too long")
    for item in items:
        check_item(item, logistics_type)
    return upload_time(body.get("upload_time"))


def check_item(item: dict[str, Any], logistics_type: int) -> None:
    desc = item.get("item_desc") or ""
    if not desc:
        raise WeChatError(10060008, "item_desc required")
    if len(desc) > 120:
        raise WeChatError(10060009, "item_desc too long")
    if logistics_type != EXPRESS:
        return
    tracking_no = item.get("tracking_no") or ""
    if not tracking_no:
        raise WeChatError(268485226, "tracking_no required for express")
    if utf8_len(tracking_no) > 128:
        raise WeChatError(10060026, "tracking_no too long")
    company = item.get("express_company") or ""
    if not company:
        raise WeChatError(268485227, "express_company required for express")
    if utf8_len(company) > 128:  # the limit itself is a sandbox choice
        raise WeChatError(10060025, "express_company too long")
    contact = {k: v for k, v in (item.get("contact") or {}).items() if v}
    if company == "SF" and not contact:  # 47003 is a sandbox choice: no code is documented
        raise WeChatError(47003, "argument invalid! contact required for SF express")
    for name, phone in contact.items():
        if not masked(phone):
            raise WeChatError(47003, f"argument invalid! contact.{name} must be masked")


def upload_time(value: Any) -> datetime:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) and "T" in value else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        example = "2022-12-15T13:29:35.120+08:00"
        raise WeChatError(268485216, f"upload_time must be RFC 3339, e.g. {example}")
    return parsed
