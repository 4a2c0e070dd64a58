"""The warehouse: orders that take the alliance's stock become parcels, cut-offs gather them
into waves, staff pick by lot and pack with trace codes, the courier's waybill ships them
(WeChat and the platforms are told), and the courier's pushes track them to the door.

Mini-program orders, live-room claims (mini-program orders from a flash sale) and the sellers'
platform orders all take the same way; a shop marked self-fulfilled ships from the seller's
own stock and never reaches the warehouse."""

from __future__ import annotations

import secrets
from collections import defaultdict
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from backend.audit import service as audit
from backend.catalogue.models import Sku
from backend.clients import courier
from backend.clients.platforms.base import PlatformError
from backend.customers.models import Customer
from backend.errors import BadRequest, Conflict, NotFound, RuleBroken
from backend.fulfilment.models import (
    DELIVERED,
    LIVE,
    MINIPROGRAM,
    PACKED,
    SHIPPED,
    STOPPED,
    WAITING,
    Parcel,
    ParcelCode,
    TrackingEvent,
    Wave,
)
from backend.inventory.models import Lot, StockReservation
from backend.orders import service as orders
from backend.orders.models import ADOPTION, HARVEST, PAID, Order
from backend.platforms import carriers
from backend.platforms import service as platforms
from backend.platforms.models import STOCK_SOLD, PlatformOrder, Shop
from backend.queue import enqueue, enqueue_at
from backend.sellers.models import Seller
from backend.settlement import service as settlement
from backend.shipping import service as shipping
from backend.staff import service as staff
from backend.staff.models import Staff
from backend.timeutil import SHANGHAI, to_aware_utc, to_naive_utc, utcnow
from backend.trace import codes as trace_codes
from backend.trace import service as trace
from backend.trace.models import PrintRun, TraceCode
from backend.transactions import lock_row, on_commit

# 快递100 states (backend.clients.courier) that need a person.
TROUBLE = ("EXCEPTION", "RETURNED", "REFUSED")
ADMIT_BATCH = 500
PAYMENT_INGEST_GRACE = timedelta(minutes=30)  # WeChat takes seconds to a minute (api-facts §7.1)


# -- admitting paid orders -------------------------------------------------------------------
def admit(session: Session) -> int:
    """Give every paid order that takes the alliance's stock a parcel (once: the parcel's
    order is unique), a batch at a time. Answers how many were admitted."""
    total = 0
    while True:
        admitted = _admit_batch(session)
        total += admitted
        if admitted < ADMIT_BATCH:
            return total


def _admit_batch(session: Session) -> int:
    admitted = 0
    store_orders = session.scalars(
        select(Order)
        .options(selectinload(Order.items))
        .outerjoin(Parcel, Parcel.order_id == Order.id)
        .where(Order.status == PAID, Order.kind != ADOPTION, Parcel.id.is_(None))
        .order_by(Order.id)
        .limit(ADMIT_BATCH)
    ).all()
    for order in store_orders:
        address = order.address or {}
        session.add(
            Parcel(
                order_id=order.id,
                channel=LIVE if order.flash_sale_id else MINIPROGRAM,
                order_number=order.number,
                paid_at=order.paid_at or order.created_at,
                units=sum(item.quantity for item in order.items),
                summary=_summary(
                    (i.product_name, i.grade, i.spec, i.quantity) for i in order.items
                ),
                receiver_name=address.get("name", "")[:40],
                phone_last4=str(address.get("phone", ""))[-4:],
                province=address.get("province", "")[:20],
            )
        )
        admitted += 1
    platform_orders = session.scalars(
        select(PlatformOrder)
        .join(Shop, Shop.id == PlatformOrder.shop_id)
        .outerjoin(Parcel, Parcel.platform_order_id == PlatformOrder.id)
        .where(
            PlatformOrder.status == "PAID",
            PlatformOrder.stock_state == STOCK_SOLD,
            PlatformOrder.tracking_no.is_(None),
            Shop.self_fulfilled.is_(False),
            Parcel.id.is_(None),
        )
        .order_by(PlatformOrder.id)
        .limit(ADMIT_BATCH)
    ).all()
    for row in platform_orders:
        receiver = row.receiver or {}
        session.add(
            Parcel(
                platform_order_id=row.id,
                channel=row.platform.upper(),
                order_number=row.order_no,
                seller_id=row.seller_id,
                paid_at=row.paid_at or row.placed_at,
                units=sum(int(line["quantity"]) for line in row.lines),
                summary=_summary(
                    (line.get("title", ""), "", "", line["quantity"]) for line in row.lines
                ),
                receiver_name=_shown(receiver.get("name"))[:40],
                phone_last4=_shown(receiver.get("phone"))[-4:],
                province=str(receiver.get("address", "")).split(" ")[0][:20],
            )
        )
        admitted += 1
    try:
        session.commit()
    except IntegrityError:  # another process admitted the same orders first
        session.rollback()
        return 0
    return admitted


def _shown(value) -> str:
    """A platform's receiver field as the desk may show it: masked values as they are, a
    ciphertext (Douyin `#…#`, Youzan `$…$`) not at all."""
    text = str(value or "")
    return "" if text[:1] in ("#", "$") else text


def _summary(lines) -> str:
    parts = [
        " ".join(filter(None, (name, grade, spec))) + f" x{qty}" for name, grade, spec, qty in lines
    ]
    return "；".join(parts)[:200]


# -- waves ------------------------------------------------------------------------------------
def last_cutoff(now: datetime) -> datetime:
    """The latest cut-off at or before `now` (UTC, naive as the database keeps it)."""
    local = to_aware_utc(now).astimezone(SHANGHAI)
    for day in (local.date(), local.date() - timedelta(days=1)):
        for cut in reversed(shipping.cutoffs()):
            moment = datetime.combine(day, cut, tzinfo=SHANGHAI)
            if moment <= local:
                return to_naive_utc(moment)
    raise ValueError("no cut-off configured")


def wave_number(cutoff_at: datetime) -> str:
    return "W" + to_aware_utc(cutoff_at).astimezone(SHANGHAI).strftime("%Y%m%d-%H%M")


def form_wave(session: Session, *, cutoff_at: datetime, staff_id: int | None = None) -> Wave | None:
    """Gather the parcels paid by `cutoff_at` and not in a wave yet into the cut-off's wave (one
    per cut-off, whoever forms it first). None when there is nothing to gather."""
    admit(session)
    waiting = (Parcel.wave_id.is_(None), Parcel.status == WAITING, Parcel.paid_at <= cutoff_at)
    number = wave_number(cutoff_at)
    wave = session.scalar(select(Wave).where(Wave.number == number))
    if wave is None:
        if not session.scalar(select(func.count()).where(*waiting)):
            return None  # nothing to gather: no empty wave
        wave = Wave(number=number, cutoff_at=cutoff_at, created_by=staff_id)
        session.add(wave)
        try:
            session.flush()
        except IntegrityError:  # formed by another node meanwhile
            session.rollback()
            wave = session.scalar(select(Wave).where(Wave.number == number))
    session.execute(
        Parcel.__table__.update().where(*waiting).values(wave_id=wave.id, updated_at=utcnow())
    )
    session.commit()
    return wave


def form_due_wave(session: Session, now: datetime | None = None) -> Wave | None:
    """The scheduler's minute: admit new paid orders, and once a cut-off has passed gather its
    wave (a wave formed already takes only latecomers the cut-off still covers)."""
    return form_wave(session, cutoff_at=last_cutoff(now or utcnow()))


def list_waves(session: Session, *, limit: int = 20) -> list[dict]:
    rows = session.execute(
        select(Wave, func.count(Parcel.id), func.sum(Parcel.units))
        .outerjoin(Parcel, Parcel.wave_id == Wave.id)
        .group_by(Wave.id)
        .order_by(Wave.cutoff_at.desc())
        .limit(limit)
    ).all()
    waves = []
    for wave, parcels, units in rows:
        states = dict(
            session.execute(
                select(Parcel.status, func.count())
                .where(Parcel.wave_id == wave.id)
                .group_by(Parcel.status)
            ).all()
        )
        waves.append({"wave": wave, "parcels": parcels, "units": units or 0, "states": states})
    return waves


def get_wave(session: Session, wave_id: int) -> Wave:
    wave = session.get(Wave, wave_id)
    if wave is None:
        raise NotFound("波次不存在", code="WAVE_NOT_FOUND")
    return wave


def wave_parcels(session: Session, wave_id: int) -> list[Parcel]:
    return list(
        session.scalars(select(Parcel).where(Parcel.wave_id == wave_id).order_by(Parcel.id))
    )


def pick_list(session: Session, wave_id: int) -> list[dict]:
    """What to take from which lot for a wave: the lots its parcels' holds took (FEFO), the
    soonest use-by first, with each lot's parcels."""
    get_wave(session, wave_id)
    parcels = {p.id: p for p in wave_parcels(session, wave_id) if p.status != STOPPED}
    by_order = {p.order_id: p for p in parcels.values() if p.order_id}
    by_platform = {p.platform_order_id: p for p in parcels.values() if p.platform_order_id}
    owners = []
    if by_order:
        owners.append(StockReservation.order_id.in_(by_order))
    if by_platform:
        owners.append(StockReservation.platform_order_id.in_(by_platform))
    if not owners:
        return []
    rows = session.execute(
        select(StockReservation, Lot, Sku)
        .join(Lot, Lot.id == StockReservation.lot_id)
        .join(Sku, Sku.id == StockReservation.sku_id)
        .where(or_(*owners), StockReservation.quantity > 0)
        .order_by(Lot.use_by, Lot.id)
    ).all()
    lots: dict[int, dict] = {}
    for hold, lot, sku in rows:
        if hold.status not in ("COMMITTED", "SHIPPED"):
            continue
        parcel = by_order.get(hold.order_id) or by_platform.get(hold.platform_order_id)
        entry = lots.setdefault(
            lot.id,
            {"lot": lot, "sku": sku, "units": 0, "parcels": []},
        )
        entry["units"] += hold.quantity
        entry["parcels"].append({"parcel": parcel, "quantity": hold.quantity})
    return list(lots.values())


# -- packing ----------------------------------------------------------------------------------
def get_parcel(session: Session, parcel_id: int) -> Parcel:
    parcel = session.get(Parcel, parcel_id)
    if parcel is None:
        raise NotFound("包裹不存在", code="PARCEL_NOT_FOUND")
    return parcel


def _locked(session: Session, parcel_id: int) -> Parcel:
    """The parcel, held until the caller commits (packing stations and jobs take turns)."""
    lock_row(session, Parcel, parcel_id)
    parcel = session.get(Parcel, parcel_id, populate_existing=True)
    if parcel is None:
        raise NotFound("包裹不存在", code="PARCEL_NOT_FOUND")
    return parcel


def parcel_by_tracking(session: Session, tracking_no: str) -> Parcel | None:
    return session.scalar(select(Parcel).where(Parcel.tracking_no == tracking_no))


def parcel_by_number(session: Session, order_number: str) -> Parcel | None:
    return session.scalar(select(Parcel).where(Parcel.order_number == order_number))


def parcel_lots(session: Session, parcel: Parcel) -> set[int]:
    """The lots the parcel's order holds units of (what its trace codes must come from)."""
    owner = (
        StockReservation.order_id == parcel.order_id
        if parcel.order_id
        else StockReservation.platform_order_id == parcel.platform_order_id
    )
    return set(
        session.scalars(select(StockReservation.lot_id).where(owner, StockReservation.quantity > 0))
    )


def pick_lots_of(session: Session, parcel: Parcel) -> list[dict]:
    """The lots to pick one parcel from: lot, SKU and units, the soonest use-by first."""
    owner = (
        StockReservation.order_id == parcel.order_id
        if parcel.order_id
        else StockReservation.platform_order_id == parcel.platform_order_id
    )
    rows = session.execute(
        select(Lot, Sku, func.sum(StockReservation.quantity))
        .join(StockReservation, StockReservation.lot_id == Lot.id)
        .join(Sku, Sku.id == Lot.sku_id)
        .where(owner, StockReservation.quantity > 0)
        .group_by(Lot.id, Sku.id)
        .order_by(Lot.use_by, Lot.id)
    ).all()
    return [{"lot": lot, "sku": sku, "units": int(units)} for lot, sku, units in rows]


def expected_seller(session: Session, parcel: Parcel) -> int | None:
    """Whose print runs may label the parcel: the platform shop's seller, or for the store's
    own orders the alliance store's seller (STORE_SELLER_ID, else STORE_SELLER_NAME)."""
    if parcel.seller_id:
        return parcel.seller_id
    config = current_app.config
    return config["STORE_SELLER_ID"] or session.scalar(
        select(Seller.id).where(Seller.name == config["STORE_SELLER_NAME"]).order_by(Seller.id)
    )


def _still_shippable(session: Session, parcel: Parcel) -> None:
    """Refuse work on a parcel whose order can no longer ship (cancelled, refunding,
    refunded, shipped by other means): the parcel stops."""
    if parcel.status == STOPPED:
        raise Conflict("该订单已取消或退款，包裹已停止发货", code="PARCEL_STOPPED")
    status = _order_status(session, parcel)
    if status != PAID:
        parcel.status = STOPPED
        session.commit()
        raise Conflict(
            "该订单已不是待发货状态（可能已退款或取消），请勿发货",
            code="ORDER_NOT_SHIPPABLE",
            details={"status": status},
        )


def _order_status(session: Session, parcel: Parcel) -> str:
    if parcel.order_id:
        return session.scalar(select(Order.status).where(Order.id == parcel.order_id))
    row = session.get(PlatformOrder, parcel.platform_order_id)
    return "PAID" if row.status == "PAID" and not row.tracking_no else row.status


def bind_code(session: Session, *, parcel_id: int, code: str, staff_id: int | None) -> Parcel:
    """Stick a trace code on a parcel being packed. Refused: a code that is not ours, from a
    lot the order does not hold, from another seller's print run, already on a parcel, or one
    more than the parcel's units."""
    parcel = _locked(session, parcel_id)
    if parcel.status != WAITING:
        raise Conflict("包裹已打包，不能再绑定防伪码", code="PARCEL_ALREADY_PACKED")
    _still_shippable(session, parcel)
    value = trace_codes.normalize(code)
    found = session.execute(
        select(TraceCode, PrintRun.seller_id)
        .join(PrintRun, PrintRun.id == TraceCode.print_run_id)
        .where(TraceCode.code == (value or ""))
    ).first()
    if found is None:
        raise NotFound("防伪码不存在，请核对后重新扫描", code="TRACE_CODE_NOT_FOUND")
    trace_code, seller_id = found
    bound = session.scalar(select(ParcelCode).where(ParcelCode.code_id == trace_code.id))
    if bound is not None:
        raise Conflict(
            "该防伪码已绑定到其他包裹" if bound.parcel_id != parcel.id else "该防伪码已绑定",
            code="CODE_ALREADY_BOUND",
            details={"parcel_id": bound.parcel_id},
        )
    if trace_code.lot_id not in parcel_lots(session, parcel):
        raise RuleBroken(
            "防伪码所属批次与该订单拣货批次不符",
            code="CODE_WRONG_LOT",
            details={"code_lot_id": trace_code.lot_id},
        )
    if seller_id != expected_seller(session, parcel):
        raise RuleBroken("防伪码属于其他卖家的印制批次", code="CODE_WRONG_SELLER")
    if len(parcel.codes) >= parcel.units:
        raise RuleBroken(
            f"该包裹共 {parcel.units} 件，防伪码已绑满",
            code="CODES_EXCEED_UNITS",
            details={"units": parcel.units},
        )
    session.add(
        ParcelCode(
            parcel_id=parcel.id,
            code_id=trace_code.id,
            code=trace_code.code,
            lot_id=trace_code.lot_id,
            bound_by=staff_id,
        )
    )
    try:
        session.commit()
    except IntegrityError:  # bound on another packing station at the same moment
        session.rollback()
        raise Conflict("该防伪码已绑定到其他包裹", code="CODE_ALREADY_BOUND") from None
    session.refresh(parcel)
    return parcel


def unbind_code(session: Session, *, parcel_id: int, code: str) -> Parcel:
    """Take a wrongly scanned code off a parcel not packed yet."""
    parcel = get_parcel(session, parcel_id)
    if parcel.status != WAITING:
        raise Conflict("包裹已打包，不能再修改防伪码", code="PARCEL_ALREADY_PACKED")
    value = trace_codes.normalize(code) or ""
    bound = session.scalar(
        select(ParcelCode).where(ParcelCode.parcel_id == parcel.id, ParcelCode.code == value)
    )
    if bound is None:
        raise NotFound("该包裹没有绑定这个防伪码", code="CODE_NOT_BOUND")
    session.delete(bound)
    session.commit()
    session.refresh(parcel)
    return parcel


def confirm_packed(session: Session, *, parcel_id: int, staff_id: int | None) -> Parcel:
    """The parcel is packed with a code on every unit: its waybill is requested (queued,
    retried while the courier is down) and it ships once the waybill comes."""
    parcel = _locked(session, parcel_id)
    if parcel.status != WAITING:
        raise Conflict("包裹已打包", code="PARCEL_ALREADY_PACKED")
    _still_shippable(session, parcel)
    if len(parcel.codes) != parcel.units:
        raise RuleBroken(
            f"每件商品都需绑定防伪码：共 {parcel.units} 件，已绑定 {len(parcel.codes)} 个",
            code="CODES_MISSING",
            details={"units": parcel.units, "bound": len(parcel.codes)},
        )
    parcel.status, parcel.packed_by, parcel.packed_at = PACKED, staff_id, utcnow()
    parcel.push_salt = secrets.token_hex(12)
    audit.record(
        session,
        staff=session.get(Staff, staff_id) if staff_id else None,
        action="parcel.packed",
        target_type="parcel",
        target_id=parcel.id,
        summary=f"包裹 {parcel.order_number} 打包完成（{parcel.units} 件，防伪码已绑定）",
        before={"status": WAITING},
        after={"status": PACKED},
    )
    parcel_id = parcel.id
    on_commit(session, lambda: enqueue("jobs.fulfilment.label_parcel", parcel_id))
    session.commit()
    return parcel


# -- waybill and shipping ---------------------------------------------------------------------
def label_parcel(session: Session, parcel_id: int) -> Parcel:
    """Get the parcel's waybill from the courier and ship it: the order (or the platform order)
    is shipped with the tracking number, the codes are marked sold, and WeChat or the platform
    is told (queued). A CourierError that is transient propagates (the job retries); any other
    is kept on the parcel for staff."""
    parcel = get_parcel(session, parcel_id)
    if parcel.status != PACKED:
        return parcel  # shipped already (a retried job), or stopped
    if parcel.tracking_no is None:
        try:
            waybill = courier.create_waybill(**_waybill_request(session, parcel))
        except courier.CourierError as error:
            if error.transient:
                raise
            parcel.waybill_error = f"{error.code}: {error.message}"[:200]
            staff.raise_alert(
                session,
                kind="WAYBILL_FAILED",
                title=f"包裹 {parcel.order_number} 面单申请失败：{error.message}"[:120],
                parcel_id=parcel.id,
            )
            session.commit()
            return parcel
        parcel = _locked(session, parcel_id)
        if parcel.tracking_no is not None or parcel.status != PACKED:
            session.commit()  # another run labelled it meanwhile: its waybill stands
            return parcel
        parcel.carrier, parcel.tracking_no = waybill.carrier, waybill.tracking_no
        parcel.label_url, parcel.waybill_error = waybill.label_url, None
    _ship(session, parcel)
    session.commit()
    return parcel


def _waybill_request(session: Session, parcel: Parcel) -> dict:
    config = current_app.config
    receiver = _receiver(session, parcel)
    return {
        "carrier": config["FULFIL_CARRIER"],
        "order_ref": f"HELI-P{parcel.id}",
        "sender": {
            "name": config["FULFIL_SENDER_NAME"],
            "mobile": config["FULFIL_SENDER_PHONE"],
            "address": config["FULFIL_SENDER_ADDRESS"],
        },
        "receiver": receiver,
        "cargo": parcel.summary[:40] or "乳山牡蛎",
        "count": 1,
        "weight_grams": sum(
            shipping.parcel_weight(pick["sku"]) * pick["units"]
            for pick in pick_lots_of(session, parcel)
        ),
        "callback_url": config["PUBLIC_BASE_URL"].rstrip("/") + "/callbacks/courier/kuaidi100",
        "salt": parcel.push_salt,
    }


def _receiver(session: Session, parcel: Parcel) -> dict:
    if parcel.order_id:
        address = session.scalar(select(Order.address).where(Order.id == parcel.order_id)) or {}
        return {
            "name": address.get("name", ""),
            "mobile": address.get("phone", ""),
            "address": "".join(
                address.get(k, "") for k in ("province", "city", "district", "detail")
            ),
        }
    try:
        plain = platforms.receiver_for_waybill(session, parcel.platform_order_id)
    except PlatformError as error:
        raise courier.CourierError("DECRYPT", error.message, transient=error.retryable) from error
    if plain is None:
        raise courier.CourierError(
            "ENCRYPTED_RECEIVER", "平台收件信息已加密且无法解密，请用该平台的电子面单打印"
        )
    return {"name": plain["name"], "mobile": plain["phone"], "address": plain["address"]}


def _ship(session: Session, parcel: Parcel) -> None:
    """Move the order with the parcel's tracking number (in the caller's transaction)."""
    now = utcnow()
    if parcel.order_id:
        shipped = orders.mark_shipped(
            session,
            order_id=parcel.order_id,
            carrier=parcel.carrier,
            tracking_no=parcel.tracking_no,
        )
        if not shipped:  # refunded or cancelled while the waybill was on its way
            parcel.status = STOPPED
            staff.raise_alert(
                session,
                kind="PARCEL_STOPPED_AFTER_LABEL",
                title=f"包裹 {parcel.order_number} 已出面单但订单已退款或取消，请勿发出",
                parcel_id=parcel.id,
            )
            return
        parcel_id, order_id = parcel.id, parcel.order_id
        on_commit(session, lambda: enqueue("jobs.fulfilment.upload_shipping", parcel_id))
        on_commit(session, lambda: enqueue("jobs.fulfilment.tell_buyer", order_id, "SHIPPED"))
    else:
        row = session.get(PlatformOrder, parcel.platform_order_id)
        platforms.record_shipment(
            session, row, carrier=parcel.carrier, tracking_no=parcel.tracking_no
        )
        settlement.record_shipped_cost(session, row)  # 一件代发: the seller owes its wholesale cost
    parcel.status, parcel.shipped_at = SHIPPED, now
    trace.mark_sold(session, [bound.code for bound in parcel.codes], at=now)


def upload_shipping(session: Session, parcel_id: int) -> bool:
    """Tell WeChat the mini-program order's shipping (小程序发货信息管理): its funds stay
    frozen until then. Transient errors propagate for the job's retry; others are kept on the
    parcel and alert staff. Answers whether it was uploaded now."""
    from backend.clients import wechat

    parcel = get_parcel(session, parcel_id)
    if parcel.order_id is None or parcel.wechat_uploaded_at is not None:
        return False
    order = session.get(Order, parcel.order_id)
    if order.kind == HARVEST:  # an adoption's harvest is free: no WeChat payment to tell about
        return False
    openid = session.scalar(select(Customer.openid).where(Customer.id == order.customer_id))
    try:
        wechat.upload_shipping_info(
            mchid=current_app.config["WECHATPAY_MCHID"],
            out_trade_no=order.number,
            payer_openid=openid,
            tracking_no=parcel.tracking_no,
            express_company=carriers.wechat_delivery_id(parcel.carrier),
            item_desc=parcel.summary[:120],
            receiver_phone=(order.address or {}).get("phone"),
        )
    except wechat.ShippingError as error:
        # 10060001 (payment not found) is transient only while WeChat may still be ingesting it.
        ingesting = (
            error.errcode == 10060001
            and order.paid_at
            and (utcnow() - order.paid_at < PAYMENT_INGEST_GRACE)
        )
        if error.transient and (error.errcode != 10060001 or ingesting):
            raise
        if error.errcode == 10060002:  # fully shipped already: an earlier upload landed
            parcel.wechat_uploaded_at = utcnow()
        else:
            parcel.wechat_error = f"{error.errcode}: {error.errmsg}"[:200]
            staff.raise_alert(
                session,
                kind="WECHAT_SHIPPING_REFUSED",
                title=f"订单 {order.number} 发货信息上传被微信拒绝：{error.errcode}",
                parcel_id=parcel.id,
            )
        session.commit()
        return False
    parcel.wechat_uploaded_at, parcel.wechat_error = utcnow(), None
    session.commit()
    return True


# -- tracking ---------------------------------------------------------------------------------
def apply_tracking(session: Session, push: courier.TrackingPush) -> Parcel | None:
    """A courier push: its scans are kept (each once, whatever order pushes come in); the
    parcel's state follows the newest scan only, so a late push of an older state changes
    nothing. Delivered starts the auto-confirm timer and the dead-on-arrival window; trouble
    alerts staff and tells the buyer. None for a tracking number we never shipped."""
    parcel = parcel_by_tracking(session, push.tracking_no)
    if parcel is None:
        return None
    parcel = _locked(session, parcel.id)
    known = {
        (at, state)
        for at, state in session.execute(
            select(TrackingEvent.at, TrackingEvent.state).where(
                TrackingEvent.parcel_id == parcel.id
            )
        )
    }
    for event in push.events:
        at = _stored(event.at)
        if (at, event.state) in known:
            continue
        known.add((at, event.state))
        session.add(
            TrackingEvent(
                parcel_id=parcel.id,
                at=at,
                state=event.state,
                context=event.context[:300],
                location=(event.location or "")[:80],
            )
        )
    latest = _stored(push.latest_at)
    if parcel.last_event_at is not None and latest <= parcel.last_event_at:
        session.commit()  # an older state, pushed late
        return parcel
    parcel.last_event_at, parcel.courier_state = latest, push.state
    if push.state == "DELIVERED" and parcel.status == SHIPPED:
        _delivered(session, parcel, latest)
    elif push.state in TROUBLE:
        _trouble(session, parcel, push)
    session.commit()
    return parcel


def _stored(moment: datetime) -> datetime:
    """A courier's time as the database keeps times (naive UTC)."""
    return to_naive_utc(moment) if moment.tzinfo else moment


def _delivered(session: Session, parcel: Parcel, at: datetime) -> None:
    parcel.status, parcel.delivered_at = DELIVERED, at
    if parcel.order_id is None:
        return
    if not orders.mark_delivered(session, order_id=parcel.order_id, at=at):
        return
    order_id = parcel.order_id
    due = to_aware_utc(at) + timedelta(days=current_app.config["AUTO_CONFIRM_DAYS"])
    on_commit(
        session,
        lambda: enqueue_at(
            due, "jobs.orders.confirm_delivered", order_id, job_id=f"confirm-order-{order_id}"
        ),
    )
    on_commit(session, lambda: enqueue("jobs.fulfilment.tell_buyer", order_id, "DELIVERED"))


def _trouble(session: Session, parcel: Parcel, push: courier.TrackingPush) -> None:
    words = {"EXCEPTION": "派送异常", "RETURNED": "已退回", "REFUSED": "被拒收"}[push.state]
    latest = push.events[0].context if push.events else ""
    staff.raise_alert(
        session,
        kind="DELIVERY_TROUBLE",
        title=f"包裹 {parcel.order_number}（{parcel.tracking_no}）{words}：{latest}"[:120],
        parcel_id=parcel.id,
        state=push.state,
    )
    if parcel.order_id:
        order_id = parcel.order_id
        on_commit(session, lambda: enqueue("jobs.fulfilment.tell_buyer", order_id, "TROUBLE"))


def parcel_events(session: Session, parcel_id: int) -> list[TrackingEvent]:
    return list(
        session.scalars(
            select(TrackingEvent)
            .where(TrackingEvent.parcel_id == parcel_id)
            .order_by(TrackingEvent.at.desc(), TrackingEvent.id.desc())
        )
    )


def parcel_of_order(session: Session, order_id: int) -> Parcel | None:
    return session.scalar(select(Parcel).where(Parcel.order_id == order_id))


def parcel_of_platform_order(session: Session, platform_order_id: int) -> Parcel | None:
    return session.scalar(select(Parcel).where(Parcel.platform_order_id == platform_order_id))


# -- the desk ---------------------------------------------------------------------------------
DESK_FILTERS = ("channel", "status", "province", "seller_id", "wave_id", "sku_id")


def desk(
    session: Session,
    *,
    filters: dict,
    search: str = "",
    paid_before: datetime | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[Parcel], int]:
    """The parcels to fulfil, newest payment first, filtered; `search` is an order number or
    the last four digits of the receiver's phone."""
    query = select(Parcel)
    for name in DESK_FILTERS:
        value = filters.get(name)
        if value in (None, ""):
            continue
        if name == "sku_id":
            query = query.where(Parcel.id.in_(_parcels_with_sku(int(value))))
        else:
            query = query.where(getattr(Parcel, name) == value)
    if paid_before is not None:
        query = query.where(Parcel.paid_at <= paid_before)
    search = search.strip()
    if search:
        if len(search) == 4 and search.isdigit():
            query = query.where(Parcel.phone_last4 == search)
        else:
            query = query.where(or_(Parcel.order_number == search, Parcel.tracking_no == search))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(
        query.order_by(Parcel.paid_at.desc(), Parcel.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return list(rows), total


def _parcels_with_sku(sku_id: int):
    return (
        select(Parcel.id)
        .join(
            StockReservation,
            or_(
                and_(
                    Parcel.order_id.is_not(None),
                    StockReservation.order_id == Parcel.order_id,
                ),
                and_(
                    Parcel.platform_order_id.is_not(None),
                    StockReservation.platform_order_id == Parcel.platform_order_id,
                ),
            ),
        )
        .where(StockReservation.sku_id == sku_id)
    )


def timeline(session: Session, parcel: Parcel) -> list[dict]:
    """The order's whole story for the desk: its own history, the parcel's steps and the
    courier's scans, oldest first."""
    steps: list[dict] = []
    if parcel.order_id:
        for event in orders.history(session, parcel.order_id):
            steps.append({"at": event.created_at, "what": event.kind, "detail": event.data})
    for at, what in (
        (parcel.packed_at, "PACKED"),
        (parcel.shipped_at, "LABELLED"),
        (parcel.wechat_uploaded_at, "WECHAT_SHIPPING_UPLOADED"),
    ):
        if at is not None:
            steps.append({"at": at, "what": what, "detail": {}})
    for event in parcel_events(session, parcel.id):
        steps.append(
            {"at": event.at, "what": f"COURIER_{event.state}", "detail": {"context": event.context}}
        )
    return sorted(steps, key=lambda step: step["at"])


def dead_on_arrival_rates(session: Session) -> dict:
    """Dead-on-arrival claims against parcels shipped: per courier, per lot (by its code) and
    claims per day (Asia/Shanghai dates of the claims)."""
    from backend.aftersales.models import DEAD_ON_ARRIVAL, AfterSale

    per_courier: dict = defaultdict(lambda: {"shipped": 0, "claims": 0})
    for carrier, count in session.execute(
        select(Parcel.carrier, func.count())
        .where(Parcel.shipped_at.is_not(None))
        .group_by(Parcel.carrier)
    ):
        per_courier[carrier]["shipped"] = count
    per_lot: dict = defaultdict(lambda: {"shipped": 0, "claims": 0})
    for code, count in session.execute(
        select(Lot.code, func.count(func.distinct(ParcelCode.parcel_id)))
        .join(ParcelCode, ParcelCode.lot_id == Lot.id)
        .join(Parcel, Parcel.id == ParcelCode.parcel_id)
        .where(Parcel.shipped_at.is_not(None))
        .group_by(Lot.code)
    ):
        per_lot[code]["shipped"] = count
    per_day: dict = defaultdict(int)
    claims = session.execute(
        select(AfterSale.id, AfterSale.created_at, Parcel.carrier, Lot.code)
        .join(Parcel, Parcel.order_id == AfterSale.order_id)
        .join(ParcelCode, ParcelCode.parcel_id == Parcel.id)
        .join(Lot, Lot.id == ParcelCode.lot_id)
        .where(AfterSale.type == DEAD_ON_ARRIVAL)
        .distinct()
    ).all()
    counted = set()
    for case_id, created_at, carrier, lot_code in claims:
        per_lot[lot_code]["claims"] += 1
        if case_id in counted:
            continue
        counted.add(case_id)
        per_courier[carrier]["claims"] += 1
        per_day[to_aware_utc(created_at).astimezone(SHANGHAI).date().isoformat()] += 1
    return {
        "per_courier": dict(per_courier),
        "per_lot": dict(per_lot),
        "per_day": dict(sorted(per_day.items())),
    }


def check_desk_filters(filters: dict) -> None:
    unknown = set(filters) - set(DESK_FILTERS)
    if unknown:
        raise BadRequest(
            "未知的筛选条件", code="UNKNOWN_FILTER", details={"names": sorted(unknown)}
        )
