"""/console/fulfilment: the warehouse's desk — every parcel to ship across the channels, waves
and their pick lists by lot, the packing station (scan trace codes, confirm, print the waybill
and the packing slip), and an order's whole timeline; CSV export of the desk."""

from __future__ import annotations

from datetime import timedelta

from flask import Response, abort, flash, redirect, render_template, request, url_for

from backend.clients import courier
from backend.console.access import login_required
from backend.console.pages import _choice, _page, _pages, bp
from backend.csv_export import csv_download, csv_text
from backend.errors import DomainError
from backend.extensions import db
from backend.fulfilment import service as fulfilment
from backend.fulfilment.models import (
    DELIVERED,
    LIVE,
    MINIPROGRAM,
    PACKED,
    SHIPPED,
    STOPPED,
    WAITING,
)
from backend.platforms.service import PLATFORM_NAMES
from backend.schemas import number_in
from backend.sellers import queries as seller_queries
from backend.staff import permissions as perms
from backend.timeutil import to_shanghai_iso, utcnow

DESK_PER_PAGE = 50
CSV_ROWS = 10_000
CHANNELS = {MINIPROGRAM: "小程序", LIVE: "直播抢购"} | {
    key.upper(): name for key, name in PLATFORM_NAMES.items()
}
PARCEL_STATUSES = {
    WAITING: "待打包",
    PACKED: "已打包，待出面单",
    SHIPPED: "已发货",
    DELIVERED: "已签收",
    STOPPED: "已停止（退款/取消）",
}
COURIER_STATES = {
    "COLLECTED": "已揽收",
    "IN_TRANSIT": "运输中",
    "OUT_FOR_DELIVERY": "派送中",
    "DELIVERED": "已签收",
    "EXCEPTION": "派送异常",
    "RETURNED": "已退回",
    "REFUSED": "拒收",
}
STEPS = {
    "CREATED": "下单",
    "PAID": "支付成功",
    "SHIPPED": "发货",
    "DELIVERED": "签收",
    "COMPLETED": "确认收货",
    "PACKED": "打包完成",
    "LABELLED": "出面单",
    "WECHAT_SHIPPING_UPLOADED": "微信发货信息已上传",
    "WECHAT_SHIPPING_DONE": "微信确认发货完成",
    "WECHAT_SETTLED": "微信资金已结算",
}


def _filters() -> dict:
    filters = {
        "channel": _choice("channel", CHANNELS),
        "status": _choice("status", PARCEL_STATUSES),
        "province": request.args.get("province", "").strip()[:20] or None,
    }
    for name in ("seller_id", "wave_id", "sku_id"):
        value = request.args.get(name, "").strip()
        filters[name] = number_in(value)
    return filters


def _paid_before():
    """ "截单" filter: paid before today's last passed cut-off (the orders a wave must take)."""
    if request.args.get("cutoff") != "1":
        return None
    return fulfilment.last_cutoff(utcnow())


@bp.get("/fulfilment")
@login_required(perms.ORDERS_FULFIL)
def fulfilment_desk(staff):
    filters, search = _filters(), request.args.get("q", "").strip()[:64]
    if request.args.get("format") == "csv":
        rows, _ = fulfilment.desk(
            db.session,
            filters=filters,
            search=search,
            paid_before=_paid_before(),
            page=1,
            page_size=CSV_ROWS,
        )
        return _csv(rows)
    page = _page()
    rows, total = fulfilment.desk(
        db.session,
        filters=filters,
        search=search,
        paid_before=_paid_before(),
        page=page,
        page_size=DESK_PER_PAGE,
    )
    return render_template(
        "console/fulfilment_desk.html",
        rows=rows,
        total=total,
        filters=filters,
        search=search,
        cutoff=request.args.get("cutoff") == "1",
        waves=fulfilment.list_waves(db.session, limit=8),
        channels=CHANNELS,
        statuses=PARCEL_STATUSES,
        courier_states=COURIER_STATES,
        page=page,
        pages=_pages(total, DESK_PER_PAGE),
        next_cutoff=_next_cutoff_text(),
    )


def _next_cutoff_text() -> str:
    cut = fulfilment.last_cutoff(utcnow()) + timedelta(days=1)
    for moment in (fulfilment.last_cutoff(utcnow() + timedelta(hours=h)) for h in range(1, 25)):
        if moment > utcnow():
            cut = moment
            break
    return to_shanghai_iso(cut)[11:16]


def _csv(rows) -> Response:
    table: list[list] = [
        [
            "订单号",
            "渠道",
            "状态",
            "商品",
            "件数",
            "收件人",
            "手机尾号",
            "省份",
            "支付时间",
            "波次",
            "快递",
            "运单号",
            "物流状态",
        ]
    ]
    for parcel in rows:
        table.append(
            [
                parcel.order_number,
                CHANNELS.get(parcel.channel, parcel.channel),
                PARCEL_STATUSES.get(parcel.status, parcel.status),
                parcel.summary,
                parcel.units,
                parcel.receiver_name,
                parcel.phone_last4,
                parcel.province,
                to_shanghai_iso(parcel.paid_at)[:16].replace("T", " "),
                parcel.wave_id or "",
                parcel.carrier or "",
                parcel.tracking_no or "",
                COURIER_STATES.get(parcel.courier_state or "", ""),
            ]
        )
    return csv_download(csv_text(table), "fulfilment.csv")


@bp.post("/fulfilment/waves")
@login_required(perms.ORDERS_FULFIL)
def form_wave_now(staff):
    """Staff gather a wave now (a cut-off of their own): every parcel paid until now."""
    wave = fulfilment.form_wave(db.session, cutoff_at=utcnow(), staff_id=staff.id)
    if wave is None:
        flash("当前没有待成波的订单", "error")
        return redirect(url_for(".fulfilment_desk"))
    flash(f"已生成波次 {wave.number}", "success")
    return redirect(url_for(".fulfilment_wave", wave_id=wave.id))


@bp.get("/fulfilment/waves/<int:wave_id>")
@login_required(perms.ORDERS_FULFIL)
def fulfilment_wave(wave_id: int, staff):
    wave = fulfilment.get_wave(db.session, wave_id)
    return render_template(
        "console/fulfilment_wave.html",
        wave=wave,
        picks=fulfilment.pick_list(db.session, wave_id),
        parcels=fulfilment.wave_parcels(db.session, wave_id),
        statuses=PARCEL_STATUSES,
        channels=CHANNELS,
    )


@bp.get("/fulfilment/parcels/<int:parcel_id>")
@login_required(perms.ORDERS_FULFIL)
def fulfilment_parcel(parcel_id: int, staff):
    parcel = fulfilment.get_parcel(db.session, parcel_id)
    return render_template(
        "console/fulfilment_parcel.html",
        parcel=parcel,
        lots=fulfilment.pick_lots_of(db.session, parcel),
        timeline=fulfilment.timeline(db.session, parcel),
        steps=STEPS,
        statuses=PARCEL_STATUSES,
        channels=CHANNELS,
        courier_states=COURIER_STATES,
        seller_names=seller_queries.seller_names(db.session, {parcel.seller_id}),
    )


def _back(parcel_id: int):
    return redirect(url_for(".fulfilment_parcel", parcel_id=parcel_id) + "#scan")


@bp.post("/fulfilment/parcels/<int:parcel_id>/codes")
@login_required(perms.ORDERS_FULFIL)
def bind_parcel_code(parcel_id: int, staff):
    code = request.form.get("code", "").strip()[:64]
    try:
        parcel = fulfilment.bind_code(db.session, parcel_id=parcel_id, code=code, staff_id=staff.id)
    except DomainError as refused:
        db.session.rollback()
        flash(f"{code}：{refused.message}", "error")
        return _back(parcel_id)
    flash(f"已绑定 {code}（{len(parcel.codes)}/{parcel.units}）", "success")
    return _back(parcel_id)


@bp.post("/fulfilment/parcels/<int:parcel_id>/codes/remove")
@login_required(perms.ORDERS_FULFIL)
def unbind_parcel_code(parcel_id: int, staff):
    code = request.form.get("code", "").strip()[:64]
    try:
        fulfilment.unbind_code(db.session, parcel_id=parcel_id, code=code)
    except DomainError as refused:
        db.session.rollback()
        flash(refused.message, "error")
        return _back(parcel_id)
    flash(f"已移除 {code}", "success")
    return _back(parcel_id)


@bp.post("/fulfilment/parcels/<int:parcel_id>/packed")
@login_required(perms.ORDERS_FULFIL)
def confirm_parcel_packed(parcel_id: int, staff):
    try:
        fulfilment.confirm_packed(db.session, parcel_id=parcel_id, staff_id=staff.id)
    except DomainError as refused:
        db.session.rollback()
        flash(refused.message, "error")
        return _back(parcel_id)
    flash("打包完成，正在申请快递面单", "success")
    return redirect(url_for(".fulfilment_parcel", parcel_id=parcel_id))


@bp.get("/fulfilment/parcels/<int:parcel_id>/label")
@login_required(perms.ORDERS_FULFIL)
def parcel_label(parcel_id: int, staff):
    """The courier's label, fetched through us: the slip page shows only our own images."""
    parcel = fulfilment.get_parcel(db.session, parcel_id)
    if not parcel.label_url:
        abort(404)
    try:
        body, kind = courier.fetch_label(parcel.label_url)
    except courier.CourierError:
        abort(502)
    return Response(body, mimetype=kind, headers={"Cache-Control": "private, max-age=3600"})


@bp.get("/fulfilment/parcels/<int:parcel_id>/slip")
@login_required(perms.ORDERS_FULFIL)
def parcel_slip(parcel_id: int, staff):
    parcel = fulfilment.get_parcel(db.session, parcel_id)
    return render_template(
        "console/fulfilment_slip.html",
        parcel=parcel,
        lots=fulfilment.pick_lots_of(db.session, parcel),
        channels=CHANNELS,
    )
