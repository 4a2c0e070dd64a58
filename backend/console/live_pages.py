"""/console/live: the host's pages, made to run a show one-handed from a phone or a tablet. The
room list opens on the room live now (else the one starting soonest); a room's control room
shows the product on screen and its card, starts a flash sale in one tap with sensible defaults,
and keeps everything on it — status, sale, its result, the show's figures, shelf stock,
comments — live from the JSON state it polls once a second. Room statuses and product-card
audits are followed by the scheduler (backend/live/following.py), so no one presses sync.

The views register on the console blueprint of `pages.py`, so they share its login, CSRF
handling and error pages. Polling rather than server-sent events: a gunicorn sync worker would
be held for as long as a host keeps the page open."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal

from flask import abort, flash, redirect, render_template, request, url_for

from backend.clients.wechat import WeChatError
from backend.console import live_adoption, live_sections
from backend.console.access import login_required, staff_required
from backend.console.forms import load_form, wall_clock
from backend.console.pages import _page, _pages, bp
from backend.errors import BadRequest, DomainError, NotFound, SoldOut
from backend.extensions import db
from backend.live import flash_sales, following, hosts, panel, rooms, shelf
from backend.live.schemas import OnScreenIn, RoomIn, StartSaleIn
from backend.staff import permissions as perms
from backend.timeutil import SHANGHAI

ROOMS_PER_PAGE = 20
COMMENTS_SHOWN = 50
POLL_MILLISECONDS = 1000
ROOM_TABS = {"live": "直播中", "upcoming": "即将开播", "replay": "已结束 / 回放"}
# What switching the product on screen did to its card: (flash category, text).
CARD_STATES = {
    "pushed": ("success", "已切换讲解商品，商品卡片已推送给观众"),
    "auditing": (
        "warning",
        "已切换讲解商品。商品卡片正在审核，观众暂时看不到；微信审核通过后将自动推送",
    ),
    "ready": ("warning", "已切换讲解商品。商品卡片已通过审核，直播开始后将自动推送给观众"),
    "rejected": ("error", "已切换讲解商品，但商品卡片未通过微信审核，观众看不到商品卡片"),
    "none": ("success", "已撤下讲解商品"),
}
# What the host can do about the live provider's usual refusals (the errcodes of room/create).
ERRCODE_HINTS = {
    200002: "开播时间需晚于现在 10 分钟且在 6 个月内，直播时长需在 30 分钟到 24 小时之间",
    300002: "直播间名称需为 3 到 17 个汉字（1 个汉字相当于 2 个字母）",
    300030: "主播微信号格式不正确",
    300034: "主播昵称需为 2 到 15 个汉字",
    300036: "主播微信号未在「小程序直播」小程序完成实名认证，请主播先扫码认证",
    300040: "直播间名称含有不支持的字符（如表情符号）",
    45009: "今日创建直播间次数已达上限，请明天再试",
}
# The forms' fields; their bounds and messages are the JSON API's (backend/live/schemas.py).
SALE_FORM_FIELDS = (
    "sku_id",
    "price",
    "starts_in",
    "units",
    "seconds",
    "per_person_limit",
    "pay_minutes",
)
ROOM_FORM_FIELDS = ("name", "anchor_name", "anchor_wechat", "starts_at", "ends_at")
_YUAN = re.compile(r"\d{1,6}(\.\d{1,2})?")


@bp.app_template_filter("iso_minute")
def iso_minute(value: str | None) -> str:
    """An ISO-8601 Shanghai time from a service (…T20:00:00+08:00) as 2025-01-31 20:00."""
    return value[:16].replace("T", " ") if value else "—"


@bp.app_template_filter("clock")
def clock(epoch: float | None) -> str:
    """Unix seconds as a Shanghai wall-clock time of day (20:01:13)."""
    return "—" if epoch is None else datetime.fromtimestamp(epoch, SHANGHAI).strftime("%H:%M:%S")


@bp.app_template_filter("yuan")
def yuan(fen: int | None) -> str:
    return "—" if fen is None else f"¥{fen / 100:,.2f}"


def _yuan_text(fen: int | None) -> str:
    """Fen as the sale form's price field takes it (59.90), without a float."""
    return "" if fen is None else f"{fen // 100}.{fen % 100:02d}"


# --- form input -------------------------------------------------------------------------------


def _yuan_as_fen(raw: str):
    """A price typed in yuan (59, 59.9, 59.90) as integer fen, never through a float; anything
    else is left as typed for the schema to refuse."""
    raw = raw.strip().removeprefix("¥").strip()
    if raw.isascii() and _YUAN.fullmatch(raw):
        return int(Decimal(raw) * 100)
    if raw:
        raise BadRequest("秒杀价需为金额（元），最多两位小数，例如 59.90", code="PRICE_INVALID")
    return raw


def _refusal(failure: DomainError) -> str:
    """The service's Chinese message, with what the host can do about it when we know."""
    message = failure.message
    hint = ERRCODE_HINTS.get(failure.details.get("errcode"))
    if hint:
        message += f"。{hint}"
    if isinstance(failure, SoldOut) and "available" in failure.details:
        message += f"（当前可售 {failure.details['available']} 份）"
    return message


# --- rooms ------------------------------------------------------------------------------------


def _default_period() -> dict[str, str]:
    """The next whole hour at least an hour away, for two hours, in Shanghai wall-clock time."""
    start = datetime.now(SHANGHAI).replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    return {
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
    }


def _rooms_page(form: dict | None = None, status: int = 200):
    tab = request.args.get("tab", "")
    tab = tab if tab in ROOM_TABS else rooms.opening_kind(db.session)
    page = _page()
    listed = rooms.list_rooms(db.session, kind=tab, page=page, page_size=ROOMS_PER_PAGE)
    counts = {
        kind: listed["total"]
        if kind == tab
        else rooms.list_rooms(db.session, kind=kind, page=1, page_size=1)["total"]
        for kind in ROOM_TABS
    }
    html = render_template(
        "console/live_rooms.html",
        rows=listed["items"],
        total=listed["total"],
        tab=tab,
        tabs=ROOM_TABS,
        counts=counts,
        form=form or _default_period(),
        form_failed=form is not None,
        following=following.status_note(),
        page=page,
        pages=_pages(listed["total"], ROOMS_PER_PAGE),
    )
    return html, status


@bp.get("/live")
@login_required(perms.LIVE_HOST)
def live_rooms(staff):
    return _rooms_page()


@bp.post("/live/rooms")
@login_required(perms.LIVE_HOST)
def create_live_room(staff):
    typed = {key: request.form.get(key, "")[:80] for key in ROOM_FORM_FIELDS}
    try:
        values = {key: request.form.get(key, "") for key in ROOM_FORM_FIELDS}
        for key in ("starts_at", "ends_at"):
            values[key] = wall_clock(values[key])
        room = rooms.create_room(db.session, **load_form(RoomIn(), values), staff_id=staff.id)
    except DomainError as failure:
        db.session.rollback()
        flash(f"未能创建直播间：{_refusal(failure)}", "error")
        return _rooms_page(form=typed, status=failure.status)
    flash(f"已创建直播间「{room.name}」，微信直播间号 {room.external_id}", "success")
    return redirect(url_for(".live_room", room_id=room.id))


@bp.post("/live/sync")
@login_required(perms.LIVE_HOST)
def sync_live_rooms(staff):
    try:
        changed = following.sync_now(db.session)
    except WeChatError as exc:  # a client error no service translated
        db.session.rollback()
        code = f"（错误码 {exc.errcode}）" if exc.errcode is not None else ""
        flash(f"同步失败：微信直播暂时不可用，请稍后再试{code}", "error")
    except DomainError as failure:
        db.session.rollback()
        flash(f"同步失败：{failure.message}", "error")
    else:
        flash(f"已同步直播间状态，{changed} 个直播间有变化", "success")
    tab = request.args.get("tab", "")
    return redirect(url_for(".live_rooms", tab=tab if tab in ROOM_TABS else None))


# --- a room's control room --------------------------------------------------------------------


def _own_room(room_id: int, staff) -> None:
    """404 for a room that does not exist; Forbidden (a 403 page) for another host's room."""
    try:
        hosts.hosted_room(db.session, room_id=room_id, staff=staff)
    except NotFound:
        abort(404)


def _room_state(room_id: int, after: str | None) -> dict:
    found = panel.state(db.session, room_id=room_id, after=after, comments_shown=COMMENTS_SHOWN)
    return {**found, "adoption_offer": live_adoption.state(room_id)}


def _control_room(room_id: int, sale_form: dict | None = None, status: int = 200):
    try:
        state = _room_state(room_id, None)
    except NotFound:
        abort(404)
    skus = panel.sku_options(db.session)
    defaults = panel.sale_defaults(db.session, room_id=room_id, options=skus)
    defaults["price"] = _yuan_text(defaults["price"])
    html = render_template(
        "console/live_room.html",
        state=state,
        skus=skus,
        sale_form=sale_form or defaults,
        sale_failed=sale_form is not None,
        last_prices={str(k): _yuan_text(v) for k, v in defaults["last_prices"].items()},
        poll_ms=POLL_MILLISECONDS,
        **live_sections.section_context(room_id),
        **live_adoption.section_context(room_id),
    )
    return html, status


@bp.get("/live/rooms/<int:room_id>")
@login_required(perms.LIVE_HOST)
def live_room(room_id: int, staff):
    _own_room(room_id, staff)
    return _control_room(room_id)


@bp.get("/live/rooms/<int:room_id>/state")
@staff_required(perms.LIVE_HOST)
def live_room_state(room_id: int, staff):
    """JSON for the control room's polling; a bad or missing login answers 401 JSON."""
    hosts.hosted_room(db.session, room_id=room_id, staff=staff)
    after = request.args.get("after", "").strip()[:50] or None
    return _room_state(room_id, after)


@bp.post("/live/rooms/<int:room_id>/on-screen")
@login_required(perms.LIVE_HOST)
def put_on_screen(room_id: int, staff):
    back = url_for(".live_room", room_id=room_id)
    _own_room(room_id, staff)
    try:
        chosen = load_form(OnScreenIn(), {"sku_id": request.form.get("sku_id", "")})
        card = shelf.show(db.session, room_id=room_id, sku_id=chosen["sku_id"])
    except (BadRequest, NotFound) as failure:
        db.session.rollback()
        flash(f"未能切换讲解商品：{failure.message}", "error")
        return redirect(back)
    except DomainError as failure:  # the product is on screen; only its card did not go out
        db.session.rollback()
        flash(f"讲解商品已切换，但商品卡片未推送给观众：{_refusal(failure)}", "error")
        return redirect(back)
    category, message = CARD_STATES.get(card, ("success", card))
    flash(message, category)
    return redirect(back)


@bp.post("/live/rooms/<int:room_id>/flash-sales")
@login_required(perms.LIVE_HOST)
def start_flash_sale(room_id: int, staff):
    typed = {key: request.form.get(key, "")[:20] for key in SALE_FORM_FIELDS}
    _own_room(room_id, staff)
    try:
        values = {key: request.form.get(key, "") for key in SALE_FORM_FIELDS}
        values["price"] = _yuan_as_fen(values["price"])  # empty "starts_in": start now
        numbers = load_form(StartSaleIn(), {**values, "room_id": room_id})
        sale = flash_sales.start_sale(db.session, staff_id=staff.id, **numbers)
    except DomainError as failure:
        db.session.rollback()
        flash(f"未能开始秒杀：{_refusal(failure)}", "error")
        return _control_room(room_id, sale_form=typed, status=failure.status)
    when = f"{numbers['starts_in']} 秒后开始" if numbers.get("starts_in") else "已开始"
    flash(
        f"秒杀{when}：{sale.units} 份，每份 {yuan(sale.price)}，限时 {numbers['seconds']} 秒",
        "success",
    )
    return redirect(url_for(".live_room", room_id=room_id))


@bp.post("/live/rooms/<int:room_id>/flash-sale/stop")
@login_required(perms.LIVE_HOST)
def stop_flash_sale(room_id: int, staff):
    back = url_for(".live_room", room_id=room_id)
    _own_room(room_id, staff)
    try:
        running = rooms.room_detail(db.session, room_id=room_id, custom_params={})["flash_sale"]
    except NotFound:
        abort(404)
    asked = request.form.get("sale_id", "").strip()
    if running is None or asked != str(running["id"]):
        flash("该秒杀已结束，无需停止", "error")
        return redirect(back)
    sale = flash_sales.end_sale(db.session, sale_id=running["id"])
    final = flash_sales.sale_view(db.session, sale_id=sale.id)
    flash(
        f"秒杀已停止：已支付 {final['paid']} 份，待支付 {final['held']} 份，"
        f"{sale.released_units} 份退回库存",
        "success",
    )
    return redirect(back)
