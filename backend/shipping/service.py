"""Shipping: which provinces live products may go to, what a parcel costs there (by weight, in
fen, with a cold-chain surcharge), how long it takes, and the cut-off buyers read. Orders, the
store, the console and the co-host bot all ask here; the zones are rows staff edit."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, time

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.audit import service as audit
from backend.audit.service import Actor
from backend.catalogue import service as catalogue
from backend.catalogue.models import Sku
from backend.errors import BadRequest, Conflict, NotConfigured, NotFound, RuleBroken, get_or_404
from backend.shipping.models import DEFAULT_ZONE, ShippingZone
from backend.shipping.provinces import PROVINCES, province_of, short_name
from backend.timeutil import SHANGHAI, utcnow

LIVE_FORMS = frozenset({"live"})  # what cannot reach every region alive
COLD_CHAIN_FORMS = frozenset({"live", "ready_to_eat"})  # 鲜活 and 冷藏即食 travel chilled
DEFAULT_LABEL = "其他省份（默认）"
MAX_FEE = 100_000  # fen: 1000 元, past any real parcel
DAYS_LONGEST = 20


class RegionNotShipped(RuleBroken):
    code = "REGION_NOT_SHIPPED"


@dataclass(frozen=True)
class Quote:
    """What shipping lines to a province costs; `fee` includes `cold_chain_fee`."""

    province: str
    ships: bool
    fee: int
    cold_chain_fee: int
    days: str
    weight_grams: int
    message: str


def yuan(fen: int) -> str:
    return f"{fen / 100:.2f}".rstrip("0").rstrip(".")


def province(text: str) -> str:
    """The full name of the province a buyer typed; 422 when it names none (not one we ship
    to, whatever it is)."""
    found = province_of(text)
    if found is None:
        raise RuleBroken(
            f"无法识别收货省份“{(text or '')[:20]}”，请填写省、自治区或直辖市（如 山东省）；"
            "暂不支持寄往海外",
            code="PROVINCE_UNKNOWN",
        )
    return found


def _zone(session: Session, full_name: str) -> ShippingZone:
    rows = {
        zone.province: zone
        for zone in session.scalars(
            select(ShippingZone).where(ShippingZone.province.in_([full_name, DEFAULT_ZONE]))
        )
    }
    zone = rows.get(full_name) or rows.get(DEFAULT_ZONE)
    if zone is None:
        raise NotConfigured("运费规则尚未设置，暂不能下单", code="SHIPPING_NOT_CONFIGURED")
    return zone


def parcel_weight(sku: Sku) -> int:
    """Grams one pack weighs on the courier's scale: the goods and their cold box."""
    return sku.pack_weight_g + current_app.config["SHIP_PACKAGING_GRAMS"]


def quote(session: Session, *, province_text: str, lines: list[tuple[Sku, int]]) -> Quote:
    """What shipping these (SKU, quantity) lines to the province costs, or why they cannot go
    (ships False); 400 for a province it cannot name."""
    full_name = province(province_text)
    zone = _zone(session, full_name)
    live = [sku for sku, _ in lines if sku.form in LIVE_FORMS]
    if live and not zone.ships_live:
        names = "、".join(dict.fromkeys(sku.product.name for sku in live))
        message = (
            f"鲜活产品暂不发往{full_name}（{names}无法保证鲜活送达），"
            "请更换收货地址或选择冷冻、即食商品"
        )
        return Quote(full_name, False, 0, 0, zone.days, 0, message)
    weight = sum(parcel_weight(sku) * quantity for sku, quantity in lines)
    kilograms = max(1, math.ceil(weight / 1000))
    cold = zone.cold_chain_fee if any(sku.form in COLD_CHAIN_FORMS for sku, _ in lines) else 0
    fee = zone.first_weight_fee + (kilograms - 1) * zone.extra_kg_fee + cold
    surcharge = f"（含冷链{yuan(cold)}元）" if cold else ""
    message = f"发往{full_name}运费{yuan(fee)}元{surcharge}，预计{zone.days}送达"
    return Quote(full_name, True, fee, cold, zone.days, weight, message)


def charge(session: Session, *, province_text: str, lines: list[tuple[Sku, int]]) -> Quote:
    """The shipping of an order's lines to the province; 422 REGION_NOT_SHIPPED when a live
    product cannot go there."""
    found = quote(session, province_text=province_text, lines=lines)
    if not found.ships:
        live = sorted(sku.id for sku, _ in lines if sku.form in LIVE_FORMS)
        raise RegionNotShipped(found.message, details={"province": found.province, "sku_ids": live})
    return found


def quote_sku(session: Session, *, sku_id: int, quantity: int, province_text: str) -> Quote:
    """What shipping `quantity` packs of an on-sale SKU to the province costs."""
    sku = catalogue.skus_for_sale(session, [sku_id]).get(sku_id)
    if sku is None or not (sku.on_sale and sku.product.on_sale):
        raise NotFound("商品不存在或已下架", code="SKU_NOT_FOUND")
    return quote(session, province_text=province_text, lines=[(sku, quantity)])


def cutoffs() -> list[time]:
    """The day's cut-offs (Asia/Shanghai) from FULFIL_CUTOFFS ("14:00" or "10:00,14:00"): each
    forms a wave; paid before the last one, an order leaves the same day."""
    return sorted(
        datetime.strptime(text.strip(), "%H:%M").time()
        for text in current_app.config["FULFIL_CUTOFFS"].split(",")
    )


def _cutoff() -> time:
    return cutoffs()[-1]


def cutoff_label() -> str:
    """The cut-off as buyers read it: "14点", or "14:30"."""
    cutoff = _cutoff()
    return f"{cutoff.hour}点" if cutoff.minute == 0 else f"{cutoff:%H:%M}"


def cutoff_text(now: datetime | None = None) -> str:
    """When an order paid at `now` leaves (aware, or naive UTC as stored; default now), read in
    Asia/Shanghai against the day's last cut-off (FULFIL_CUTOFFS)."""
    now = now or utcnow()
    local = (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(SHANGHAI)
    if local.time() < _cutoff():
        return f"今日{cutoff_label()}前付款，当天发出"
    return f"已过今日{cutoff_label()}发货截止，明日发出"


def _order_key(zone: ShippingZone) -> tuple[int, int]:
    names = list(PROVINCES)
    if zone.province == DEFAULT_ZONE:
        return (0, 0)
    return (1, names.index(zone.province) if zone.province in names else len(names))


def list_zones(session: Session) -> list[ShippingZone]:
    """Every zone, the default first, then the provinces in the usual order."""
    return sorted(session.scalars(select(ShippingZone)), key=_order_key)


def zone_label(zone: ShippingZone) -> str:
    return DEFAULT_LABEL if zone.province == DEFAULT_ZONE else zone.province


def zone_view(zone: ShippingZone) -> dict:
    return {
        "id": zone.id,
        "province": zone.province,
        "label": zone_label(zone),
        "ships_live": zone.ships_live,
        "first_weight_fee": zone.first_weight_fee,
        "extra_kg_fee": zone.extra_kg_fee,
        "cold_chain_fee": zone.cold_chain_fee,
        "days": zone.days,
    }


def zone_province(text: str) -> str:
    """The province a zone is for, from what staff typed ("默认" / "*" for the default zone)."""
    cleaned = (text or "").strip()
    if cleaned in (DEFAULT_ZONE, "默认", DEFAULT_LABEL, "其他省份"):
        return DEFAULT_ZONE
    found = province_of(cleaned)
    if found is None:
        raise BadRequest(
            f"无法识别省份“{cleaned[:20]}”：请填写省、自治区或直辖市（如 山东省、内蒙古），"
            "或“默认”表示其他省份",
            code="PROVINCE_UNKNOWN",
        )
    return found


def save_zone(
    session: Session,
    *,
    province: str,
    ships_live: bool,
    first_weight_fee: int,
    extra_kg_fee: int,
    cold_chain_fee: int,
    days: str,
    staff: Actor | None = None,
) -> ShippingZone:
    """Set a province's zone (creating it if it has none); fees are whole fen, 0..MAX_FEE."""
    key = zone_province(province)
    fees = {"首重运费": first_weight_fee, "续重运费": extra_kg_fee, "冷链附加费": cold_chain_fee}
    wrong = [name for name, fee in fees.items() if not 0 <= fee <= MAX_FEE]
    if wrong:
        raise BadRequest(
            f"{'、'.join(wrong)}需在 0 到 {yuan(MAX_FEE)} 元之间", code="FEE_OUT_OF_RANGE"
        )
    days = (days or "").strip()
    if not 1 <= len(days) <= DAYS_LONGEST:
        raise BadRequest(f"请填写送达时效（不超过 {DAYS_LONGEST} 个字）", code="DAYS_INVALID")
    zone = session.scalar(select(ShippingZone).where(ShippingZone.province == key))
    if zone is None:
        zone = ShippingZone(province=key)
        session.add(zone)
    before = _zone_terms(zone) if zone.id else None
    zone.ships_live = ships_live
    zone.first_weight_fee = first_weight_fee
    zone.extra_kg_fee = extra_kg_fee
    zone.cold_chain_fee = cold_chain_fee
    zone.days = days
    session.flush()
    audit.record(
        session,
        staff=staff,
        action="shipping.zone_save",
        target_type="shipping_zone",
        target_id=zone.id,
        summary=f"配送区域 {zone_label(zone)}：首重 {yuan(first_weight_fee)} 元，"
        f"续重 {yuan(extra_kg_fee)} 元，冷链 {yuan(cold_chain_fee)} 元，{days}",
        before=before,
        after=_zone_terms(zone),
    )
    session.commit()
    return zone


def _zone_terms(zone: ShippingZone) -> dict:
    return {
        "ships_live": zone.ships_live,
        "first_weight_fee": zone.first_weight_fee,
        "extra_kg_fee": zone.extra_kg_fee,
        "cold_chain_fee": zone.cold_chain_fee,
        "days": zone.days,
    }


def delete_zone(session: Session, *, zone_id: int, staff: Actor | None = None) -> None:
    """Remove a province's own zone: the default zone answers for it again."""
    zone = get_or_404(session, ShippingZone, zone_id, "配送区域不存在", code="ZONE_NOT_FOUND")
    if zone.province == DEFAULT_ZONE:
        raise Conflict("默认区域不能删除，可直接修改", code="DEFAULT_ZONE_KEPT")
    audit.record(
        session,
        staff=staff,
        action="shipping.zone_delete",
        target_type="shipping_zone",
        target_id=zone.id,
        summary=f"删除配送区域 {zone_label(zone)}（改按默认区域）",
        before=_zone_terms(zone),
    )
    session.delete(zone)
    session.commit()


def seed_zones(session: Session, rows: list[dict]) -> int:
    """Add the zones of provinces that have none (a zone staff edited stays); answers how many.
    The caller commits."""
    have = set(session.scalars(select(ShippingZone.province)))
    added = 0
    for row in rows:
        if row["province"] not in have:
            session.add(ShippingZone(**row))
            have.add(row["province"])
            added += 1
    return added


def _not_live(zones: list[ShippingZone]) -> list[str]:
    return [
        short_name(z.province) for z in zones if not z.ships_live and z.province != DEFAULT_ZONE
    ]


def regions_not_shipped_live(session: Session) -> list[str]:
    """The provinces live products do not go to, by short name in the usual order."""
    return _not_live(list_zones(session))


def shop_facts(session: Session) -> dict:
    """What the co-host bot says about shipping: where live products do not go, the usual days
    (the default zone's) and the cut-off."""
    zones = list_zones(session)
    default = next((z for z in zones if z.province == DEFAULT_ZONE), None)
    return {
        "live_not_to": _not_live(zones),
        "days": default.days if default else None,
        "cutoff": cutoff_label(),
    }
