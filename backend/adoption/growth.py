"""Growth updates (生长动态): a farming household posts photos and measurements of its units —
from the phone pages or through its system's signed API — each adopter is told once by
subscribe message, the adopter follows a timeline, and staff may hide an update.

One post may cover several units of the household (a whole raft): it becomes one row per unit,
sharing the photos and one external id (`<id>` for one unit, `<id>#<unit id>` for each of
many), so a replayed post finds its rows and creates nothing twice."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.adoption.models import (
    HARVESTED,
    LOST,
    AdoptionUnit,
    GrowthUpdate,
)
from backend.adoption.units import unit_name
from backend.audit import service as audit
from backend.errors import BadRequest, Conflict, Forbidden, NotFound, RuleBroken
from backend.media import service as media
from backend.media.storage import storage
from backend.queue import enqueue_many
from backend.staff.models import Staff
from backend.timeutil import SHANGHAI, to_aware_utc, utcnow
from backend.transactions import on_commit

PHONE, API = "phone", "api"
MAX_PHOTOS = 6
MAX_UNITS = 100  # a post covers at most this many units (a raft has a few dozen)
PHOTO_PREFIX = "g"  # growth photos are public pictures: /api/v1/pictures/<key>
_PHOTO_KEY = re.compile(r"g[A-Za-z0-9_-]{31}")
_EXTERNAL_ID = re.compile(r"[A-Za-z0-9_\-.:]{1,50}")
# What may be measured, its unit, and the range a real measurement falls in.
MEASUREMENTS = {
    "size_mm": ("壳长", "毫米", 5, 300),
    "weight_g": ("单只重", "克", 1, 2000),
    "water_temp_c": ("水温", "℃", -3, 35),
    "salinity_permille": ("盐度", "‰", 5, 45),
}
FUTURE_SLACK = timedelta(minutes=10)  # a phone's clock a little ahead
OLDEST = timedelta(days=60)
WAITING_DAYS = 14  # an adopted unit with no update for this long is waiting for one


def _check_measurements(raw: dict) -> dict:
    """The measurements as numbers within their ranges (RuleBroken, 422, naming the one wrong)."""
    checked = {}
    for key, value in (raw or {}).items():
        if value is None or value == "":
            continue
        if key not in MEASUREMENTS:
            raise RuleBroken(f"不认识的测量项：{key}", code="MEASUREMENT_UNKNOWN")
        label, unit, low, high = MEASUREMENTS[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RuleBroken(f"{label}须为数字", code="MEASUREMENT_INVALID", details={"key": key})
        if not low <= value <= high:
            raise RuleBroken(
                f"{label} {value}{unit} 不在合理范围（{low}–{high}{unit}），请检查后重填",
                code="MEASUREMENT_OUT_OF_RANGE",
                details={"key": key, "min": low, "max": high},
            )
        checked[key] = round(float(value), 1) if isinstance(value, float) else value
    return checked


def _units_of_farm(session: Session, farm_id: int, unit_ids: list[int]) -> list[AdoptionUnit]:
    ids = sorted(set(unit_ids))
    if not ids:
        raise BadRequest("请选择要发布动态的单元", code="UNITS_MISSING")
    if len(ids) > MAX_UNITS:
        raise BadRequest(f"一次最多选择 {MAX_UNITS} 个单元", code="TOO_MANY_UNITS")
    units = list(session.scalars(select(AdoptionUnit).where(AdoptionUnit.id.in_(ids))))
    if len(units) != len(ids):
        raise NotFound("认养单元不存在", code="UNIT_NOT_FOUND")
    others = [unit.code for unit in units if unit.farm_id != farm_id]
    if others:
        raise Forbidden(
            f"单元 {'、'.join(others[:3])} 不是本养殖户的，不能为它发布生长动态",
            code="UNIT_OF_ANOTHER_FARM",
            details={"units": others},
        )
    ended = [unit_name(unit) for unit in units if unit.status in (LOST, HARVESTED)]
    if ended:
        raise RuleBroken(
            f"{'、'.join(ended[:3])} 已灭失或已收获，不能再发布生长动态", code="UNIT_ENDED"
        )
    return sorted(units, key=lambda unit: unit.id)


def units_by_codes(session: Session, codes: list[str]) -> list[AdoptionUnit]:
    """The units of these codes, in order (NotFound naming any unknown one)."""
    found = {
        unit.code: unit
        for unit in session.scalars(select(AdoptionUnit).where(AdoptionUnit.code.in_(codes)))
    }
    missing = [code for code in codes if code not in found]
    if missing:
        raise NotFound(
            f"认养单元 {'、'.join(missing[:3])} 不存在",
            code="UNIT_NOT_FOUND",
            details={"units": missing},
        )
    return [found[code] for code in codes]


def _row_keys(external_id: str, units: list[AdoptionUnit]) -> list[str]:
    if len(units) == 1:
        return [external_id]
    return [f"{external_id}#{unit.id}" for unit in units]


def post_key(update: GrowthUpdate) -> str:
    """What the rows of one post share."""
    return (update.external_id or f"#{update.id}").split("#")[0]


def _replayed(session: Session, farm_id: int, keys: list[str], units) -> list[GrowthUpdate]:
    rows = list(
        session.scalars(
            select(GrowthUpdate)
            .where(GrowthUpdate.farm_id == farm_id, GrowthUpdate.external_id.in_(keys))
            .order_by(GrowthUpdate.id)
        )
    )
    if rows and sorted(row.unit_id for row in rows) != [unit.id for unit in units]:
        raise Conflict("该外部编号已用于其他单元的动态，请换一个编号", code="EXTERNAL_ID_REUSED")
    return rows


def _checked_photo_keys(keys: list[str]) -> list[str]:
    for key in keys:
        if not isinstance(key, str) or not _PHOTO_KEY.fullmatch(key) or storage().get(key) is None:
            raise RuleBroken("照片不存在，请重新上传", code="PHOTO_NOT_FOUND")
    return list(keys)


def _check_time(measured_at: datetime | None, units: list[AdoptionUnit]) -> datetime:
    now = utcnow()
    measured_at = measured_at or now
    if measured_at > now + FUTURE_SLACK:
        raise RuleBroken("测量时间不能晚于现在", code="MEASURED_IN_FUTURE")
    seeded = min(unit.seeded_on for unit in units)
    day_in_china = to_aware_utc(measured_at).astimezone(SHANGHAI).date()  # seeded_on's calendar
    if measured_at < now - OLDEST or day_in_china < seeded:
        raise RuleBroken(
            "测量时间太早（早于投苗或 60 天以前），请填写本次测量的时间", code="MEASURED_TOO_EARLY"
        )
    return measured_at


def post_update(
    session: Session,
    *,
    farm_id: int,
    unit_ids: list[int],
    photos: list[str] = (),
    new_photos: list[bytes] = (),
    measurements: dict | None = None,
    note: str = "",
    measured_at: datetime | None = None,
    source: str = PHONE,
    external_id: str | None = None,
    posted_by: str = "",
) -> tuple[list[GrowthUpdate], bool]:
    """Post one update for units of this household (photos already stored as `photos` keys, or
    uploaded now as `new_photos`, each checked to be a real picture). Answers (rows, created):
    a replayed external id answers the rows it made. Each active adopter is told after commit."""
    if source not in (PHONE, API):
        raise BadRequest("来源只能是 phone 或 api", code="SOURCE_INVALID")
    units = _units_of_farm(session, farm_id, unit_ids)
    external_id = external_id or f"{source}-{secrets.token_hex(8)}"
    if not _EXTERNAL_ID.fullmatch(external_id):
        raise BadRequest(
            "外部编号只能包含字母、数字和 -_.:，最长 50 位", code="EXTERNAL_ID_INVALID"
        )
    keys = _row_keys(external_id, units)
    earlier = _replayed(session, farm_id, keys, units)
    if earlier:
        return earlier, False
    checked = _check_measurements(measurements or {})
    note = (note or "").strip()
    if len(note) > 300:
        raise RuleBroken("说明最多 300 字", code="NOTE_TOO_LONG")
    if len(photos) + len(new_photos) > MAX_PHOTOS:
        raise RuleBroken(f"每条动态最多 {MAX_PHOTOS} 张照片", code="TOO_MANY_PHOTOS")
    limit = current_app.config["PHOTO_MAX_BYTES"]
    for data in new_photos:
        media.checked_picture(data, limit)  # 422 PHOTO_TYPE for anything but a real picture
    if not (photos or new_photos or checked):
        raise RuleBroken("请至少拍一张照片或填写一项测量值", code="UPDATE_EMPTY")
    measured_at = _check_time(measured_at, units)
    picture_keys = _checked_photo_keys(list(photos))
    for data in new_photos:
        key = PHOTO_PREFIX + secrets.token_urlsafe(24)[: media.KEY_LENGTH - 1]
        storage().put(key, data)
        picture_keys.append(key)
    rows = [
        GrowthUpdate(
            unit_id=unit.id,
            farm_id=farm_id,
            source=source,
            external_id=key,
            posted_by=posted_by[:40],
            photos=picture_keys,
            measurements=checked,
            note=note,
            measured_at=measured_at,
        )
        for unit, key in zip(units, keys, strict=True)
    ]
    session.add_all(rows)
    try:
        session.flush()
    except IntegrityError:  # the same post twice at once: the other one made it
        session.rollback()
        return _replayed(session, farm_id, keys, units), False
    ids = [(row.id,) for row in rows]
    on_commit(session, lambda: enqueue_many("jobs.adoption.tell_growth_adopters", ids))
    session.commit()
    return rows, True


def get_update(session: Session, update_id: int) -> GrowthUpdate:
    update = session.get(GrowthUpdate, update_id)
    if update is None:
        raise NotFound("生长动态不存在", code="UPDATE_NOT_FOUND")
    return update


def _siblings(session: Session, update: GrowthUpdate) -> list[GrowthUpdate]:
    """The rows of the post this row belongs to (itself included)."""
    key = post_key(update)
    if update.external_id is None:
        return [update]
    return list(
        session.scalars(
            select(GrowthUpdate).where(
                GrowthUpdate.farm_id == update.farm_id,
                or_(GrowthUpdate.external_id == key, GrowthUpdate.external_id.like(f"{key}#%")),
            )
        )
    )


def hide_update(session: Session, *, update_id: int, staff_id: int, reason: str) -> int:
    """Staff hide a post (every unit's row of it) with a reason, audited; adopters see it no
    more and are not told of it. Answers how many rows it hid."""
    reason = (reason or "").strip()
    if not 2 <= len(reason) <= 100:
        raise BadRequest("请填写隐藏原因（2–100 字）", code="REASON_REQUIRED")
    update = get_update(session, update_id)
    if update.hidden:
        raise Conflict("该动态已隐藏", code="UPDATE_ALREADY_HIDDEN")
    staff = session.get(Staff, staff_id)
    rows = _siblings(session, update)
    for row in rows:
        row.hidden, row.hidden_by, row.hidden_reason = True, staff_id, reason
    unit = session.get(AdoptionUnit, update.unit_id)
    audit.record(
        session,
        staff=staff,
        action="growth.hide",
        target_type="growth_update",
        target_id=update.id,
        summary=f"隐藏 {unit.code} 等 {len(rows)} 个单元的生长动态：{reason}",
        before={"hidden": False},
        after={"hidden": True, "reason": reason},
    )
    session.commit()
    return len(rows)


def photo_urls(keys: list[str]) -> list[dict]:
    return [
        {"url": media.picture_url(key) + "?w=800", "thumb": media.picture_url(key) + "?w=200"}
        for key in keys
    ]


def measurement_text(measurements: dict) -> str:
    """壳长 62毫米 · 水温 14.5℃ · 盐度 31.2‰"""
    return " · ".join(
        f"{MEASUREMENTS[key][0]} {measurements[key]}{MEASUREMENTS[key][1]}"
        for key in MEASUREMENTS
        if key in measurements
    )


def view(update: GrowthUpdate) -> dict:
    return {
        "id": update.id,
        "unit_id": update.unit_id,
        "measured_at": to_aware_utc(update.measured_at).astimezone(SHANGHAI).isoformat(),
        "measurements": update.measurements,
        "measurement_text": measurement_text(update.measurements),
        "note": update.note,
        "photos": photo_urls(update.photos),
        "source": update.source,
    }


def timeline(session: Session, *, unit_id: int, include_hidden: bool = False) -> list[dict]:
    """A unit's updates, newest first (hidden ones only for staff)."""
    query = select(GrowthUpdate).where(GrowthUpdate.unit_id == unit_id)
    if not include_hidden:
        query = query.where(GrowthUpdate.hidden.is_(False))
    rows = session.scalars(query.order_by(GrowthUpdate.measured_at.desc(), GrowthUpdate.id.desc()))
    return [view(row) for row in rows]
