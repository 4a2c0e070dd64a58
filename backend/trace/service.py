"""Traceability: print runs of codes for licensed sellers' lots, and scans that show a package's
chain and say plainly when a code looks copied."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from flask import current_app
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from backend import ratelimit
from backend.audit import service as audit
from backend.catalogue.models import Sku
from backend.errors import BadRequest, NotFound, RuleBroken, get_or_404
from backend.inventory.models import KEPT, SELLABLE, Lot
from backend.sellers import service as sellers
from backend.sellers.models import BrandLicence, Seller
from backend.staff.models import Staff
from backend.timeutil import naive_utc_from_timestamp, to_shanghai_iso, utcnow
from backend.trace import codes, places, scan_log
from backend.trace.chain import LotChain, lot_chain
from backend.trace.models import PrintRun, TraceCode, TraceFlag, TraceScan
from backend.transactions import on_commit

INSERT_CHUNK = 5000
MAX_PRINT_RUN = 100_000

TOO_MANY_SCANS = "TOO_MANY_SCANS"
IMPOSSIBLE_TRAVEL = "IMPOSSIBLE_TRAVEL"
AFTER_USE_BY = "AFTER_USE_BY"
NOT_OURS = "NOT_OURS"


def create_print_run(
    session: Session, *, seller_id: int, lot_id: int, quantity: int, staff_id: int | None
) -> PrintRun:
    """Issue `quantity` codes for packages of a sellable lot to a seller licensed for it."""
    if not 1 <= quantity <= MAX_PRINT_RUN:
        raise BadRequest(f"每次印制数量需在 1 到 {MAX_PRINT_RUN} 之间", code="INVALID_QUANTITY")
    lot = get_or_404(session, Lot, lot_id, "批次库存不存在", code="LOT_NOT_FOUND")
    if lot.status not in (SELLABLE, KEPT) or lot.use_by <= utcnow():
        raise RuleBroken("该批次已过期，不能印制防伪码", code="LOT_EXPIRED")
    seller = sellers.get_seller(session, seller_id)
    product_id = session.scalar(select(Sku.product_id).where(Sku.id == lot.sku_id))
    licence = sellers.licence_for_codes(session, seller_id=seller_id, product_id=product_id)
    issued = session.scalar(
        select(func.coalesce(func.sum(PrintRun.quantity), 0)).where(PrintRun.lot_id == lot_id)
    )
    if issued + quantity > lot.received:
        raise RuleBroken(
            "防伪码数量不能超过该批次的包装数量",
            code="PRINT_RUN_EXCEEDS_LOT",
            details={"lot_packs": lot.received, "already_issued": issued},
        )
    run = PrintRun(
        lot_id=lot_id,
        seller_id=seller_id,
        licence_id=licence.id,
        quantity=quantity,
        created_by=staff_id,
    )
    session.add(run)
    session.flush()
    audit.record(
        session,
        staff=session.get(Staff, staff_id) if staff_id else None,
        action="codes.print_run",
        target_type="print_run",
        target_id=run.id,
        summary=f"为 {seller.name} 印制防伪码 {quantity} 个（批次 {lot.code}）",
        after={"quantity": quantity, "lot": lot.code},
    )
    for start in range(0, quantity, INSERT_CHUNK):
        rows = [
            {
                "code": codes.new_code(),
                "print_run_id": run.id,
                "lot_id": lot_id,
                "seller_id": seller_id,
                "serial": serial,
                "scan_count": 0,
                "flagged": False,
            }
            for serial in range(start + 1, min(start + INSERT_CHUNK, quantity) + 1)
        ]
        session.execute(insert(TraceCode), rows)
    session.commit()
    return run


def print_run_codes(
    session: Session, *, print_run_id: int, offset: int = 0, limit: int | None = None
) -> list[TraceCode]:
    """A print run's codes in serial order (for CSV and label exports)."""
    if session.get(PrintRun, print_run_id) is None:
        raise NotFound("印制批次不存在", code="PRINT_RUN_NOT_FOUND")
    query = (
        select(TraceCode)
        .where(TraceCode.print_run_id == print_run_id)
        .order_by(TraceCode.serial)
        .offset(offset)
    )
    return list(session.scalars(query.limit(limit) if limit else query))


@dataclass
class Place:
    latitude: float | None = None
    longitude: float | None = None
    region: str | None = None


def _distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371 * math.asin(math.sqrt(h))


def _signals(
    state: scan_log.CodeState, use_by: datetime, place: Place, now: float, client: str
) -> dict:
    """Reasons this scan makes the code look copied, each with a note for staff. One holder
    cannot raise them alone: many scans count only from different clients, and two far-apart
    places only when another client reported the previous one."""
    config = current_app.config
    found = {}
    if state.clients > config["TRACE_MAX_CLIENTS"]:
        found[TOO_MANY_SCANS] = f"超过 {config['TRACE_MAX_CLIENTS']} 个不同网络查询"
    if (
        place.latitude is not None
        and state.previous_latitude is not None
        and state.previous_at is not None
        and state.previous_client not in (None, client)
    ):
        km = _distance_km(
            (state.previous_latitude, state.previous_longitude), (place.latitude, place.longitude)
        )
        hours = max((now - state.previous_at) / 3600, 1 / 60)
        if km > config["TRACE_MIN_TRAVEL_KM"] and km / hours > config["TRACE_MAX_SPEED_KMH"]:
            found[IMPOSSIBLE_TRAVEL] = (
                f"{round(hours * 60)} 分钟内在相距 {round(km)} 公里的两地被查询"
            )
    grace = timedelta(days=config["TRACE_USE_BY_GRACE_DAYS"])
    if _utc(now) > use_by + grace:
        found[AFTER_USE_BY] = "保质期过后很久仍被查询"
    return found


def _utc(timestamp: float) -> datetime:
    return naive_utc_from_timestamp(timestamp)


def client_hash(ip: str) -> str:
    """The scanning client (its network, see places.client_of), hashed: scans keep no address."""
    return _hashed(current_app.config["SECRET_KEY"], places.client_of(ip))


@lru_cache(maxsize=4096)
def _hashed(secret: str, client: str) -> str:
    return hashlib.sha256(f"{secret}:{client}".encode()).hexdigest()[:32]


# What a scan reads of a code: a plain row, lighter than loading the ORM object.
SCAN_COLUMNS = (
    TraceCode.id,
    TraceCode.lot_id,
    TraceCode.print_run_id,
    TraceCode.scan_count,
    TraceCode.first_scanned_at,
    TraceCode.first_region,
    TraceCode.last_scanned_at,
    TraceCode.last_latitude,
    TraceCode.last_longitude,
    TraceCode.flagged,
    TraceCode.sold_at,
)


SEED_CLIENTS = 10_000  # a code scanned by more clients than this is long flagged anyway


def _code_state_in_db(session: Session, code) -> tuple[dict, list[str]]:
    """What Redis starts from for a code it does not know yet (its ids and state), and the
    clients that scanned it."""

    def stamp(value: datetime | None) -> float | None:
        return value.replace(tzinfo=UTC).timestamp() if value else None

    flags = ""
    if code.flagged:
        flags = ",".join(
            sorted(session.scalars(select(TraceFlag.reason).where(TraceFlag.code_id == code.id)))
        )
    located = None
    clients: list[str] = []
    if code.scan_count:
        located = session.execute(
            select(TraceScan.scanned_at, TraceScan.ip_hash)
            .where(TraceScan.code_id == code.id, TraceScan.latitude.is_not(None))
            .order_by(TraceScan.scanned_at.desc(), TraceScan.id.desc())
            .limit(1)
        ).first()
        clients = list(
            session.scalars(
                select(TraceScan.ip_hash)
                .where(TraceScan.code_id == code.id)
                .distinct()
                .limit(SEED_CLIENTS)
            )
        )
    state = {
        "id": code.id,
        "lot": code.lot_id,
        "run": code.print_run_id,
        "n": code.scan_count,
        "first_at": stamp(code.first_scanned_at),
        "first_region": code.first_region,
        "last_at": stamp(code.last_scanned_at),
        "last_lat": code.last_latitude,
        "last_lon": code.last_longitude,
        "loc_at": stamp(located.scanned_at) if located else None,
        "sold": stamp(code.sold_at),
        "loc_client": located.ip_hash if located else None,
        "flags": flags,
    }
    return state, clients


def _flag_entry(
    code_id: int | None, raw_code: str, reason: str, note: str, now: float, place: Place
) -> dict:
    return {
        "code_id": code_id,
        "raw_code": raw_code,
        "reason": reason,
        "message": note,
        "at": now,
        "lat": place.latitude,
        "lon": place.longitude,
        "region": place.region,
    }


def scan(
    session: Session,
    raw_code: str,
    *,
    ip: str,
    place: Place,
    limits: Sequence[tuple[str, object]] = (),
) -> dict:
    """Count a scan and answer what the code proves, with plain warnings when it looks copied.

    The scan first spends `limits`, flow rates as (rule, who) of backend.ratelimit:
    TooManyRequests, and nothing looked up or logged, when one is spent. Every scan (also of
    codes that are not ours) is logged; persist_scans stores the log. NotFound for codes that
    are not ours. A region that names no place is dropped."""
    now = time.time()
    value = codes.normalize(raw_code)
    client = client_hash(ip)
    if place.region is not None and not places.is_region(place.region):
        place = Place(place.latitude, place.longitude, None)
    where = {
        "now": now,
        "client": client,
        "region": place.region,
        "latitude": place.latitude,
        "longitude": place.longitude,
    }
    rates = ratelimit.windows(*limits)
    state = None
    if value:  # the hot path: limits, count and log in one round trip
        state = scan_log.record(value, rates=rates, **where)
    else:
        rates.count()
    if state is None:  # Redis does not know the code (its first scan, or a new Redis)
        code = None
        if value:
            code = session.execute(select(*SCAN_COLUMNS).where(TraceCode.code == value)).first()
        if code is None:
            entry = {
                "code_id": None,
                "raw_code": value or codes.clean(raw_code),
                "at": now,
                "ip_hash": client,
                "lat": place.latitude,
                "lon": place.longitude,
                "region": place.region,
            }
            made_up = [_flag_entry(None, value, NOT_OURS, "非联盟发放的防伪码", now, place)]
            scan_log.log(entry, made_up if value else [])  # a well-formed code never issued
            raise NotFound(
                "未查询到该防伪码，可能不是乳山牡蛎正品，请谨慎购买并联系卖家",
                code="TRACE_CODE_NOT_FOUND",
            )
        seed, seed_clients = _code_state_in_db(session, code)
        state = scan_log.record(value, seed=seed, seed_clients=seed_clients, **where)
    lot = lot_chain(session, state.lot_id, state.records_version)
    raised = [
        _flag_entry(state.code_id, value, reason, note, now, place)
        for reason, note in _signals(state, lot.use_by, place, now, client).items()
        if reason not in state.flags
    ]
    if raised:
        state.flags |= {flag["reason"] for flag in raised}
        scan_log.add_flags(value, state.flags, raised)
    return _answer(session, value, state.print_run_id, lot, state)


def _warnings(state: scan_log.CodeState, use_by: datetime) -> list[dict]:
    if not state.flags:
        return []
    first = to_shanghai_iso(_utc(state.first_at))[:16].replace("T", " ")
    where = f"（{state.first_region}）" if state.first_region else ""
    texts = {
        TOO_MANY_SCANS: (
            f"此码已在 {state.clients} 个不同网络被查询，首次查询于 {first}{where}，谨防假冒"
        ),
        IMPOSSIBLE_TRAVEL: "此码曾在短时间内于相距很远的两地被查询，疑似被复制，谨防假冒",
        AFTER_USE_BY: (
            f"此码对应的商品已于 {to_shanghai_iso(use_by)[:10]} 过期，请勿购买，谨防假冒"
        ),
    }
    order = (TOO_MANY_SCANS, IMPOSSIBLE_TRAVEL, AFTER_USE_BY)
    return [{"code": reason, "message": texts[reason]} for reason in order if reason in state.flags]


_sellers_of_runs: dict[int, dict] = {}


def _seller_of_run(session: Session, print_run_id: int) -> dict:
    """The licensed seller a print run went to (never changes, so kept per process)."""
    seller = _sellers_of_runs.get(print_run_id)
    if seller is None:
        name, phone, number = session.execute(
            select(Seller.name, Seller.phone, BrandLicence.number)
            .join(PrintRun, PrintRun.seller_id == Seller.id)
            .join(BrandLicence, BrandLicence.id == PrintRun.licence_id)
            .where(PrintRun.id == print_run_id)
        ).one()
        seller = {"name": name, "phone": phone or None, "licence": number}
        _sellers_of_runs[print_run_id] = seller
    return seller


def _answer(
    session: Session, code: str, print_run_id: int, lot: LotChain, state: scan_log.CodeState
) -> dict:
    warnings = _warnings(state, lot.use_by)
    return {
        "code": code,
        "verdict": "SUSPICIOUS" if warnings else "GENUINE",
        "message": warnings[0]["message"] if warnings else "乳山牡蛎正品，可放心食用",
        "warnings": warnings,
        "seller": _seller_of_run(session, print_run_id),
        "scans": {
            "count": state.count,
            "clients": state.clients,
            "first_scanned_at": to_shanghai_iso(_utc(state.first_at)),
            "first_region": state.first_region,
        },
        "sold": _sold(state),
        **lot.chain,
    }


def _sold(state: scan_log.CodeState) -> dict | None:
    """A code the warehouse packed on a parcel: the buyer checks it is the parcel in hand."""
    if state.sold_at is None:
        return None
    when = to_shanghai_iso(_utc(state.sold_at))[:10]
    return {
        "at": to_shanghai_iso(_utc(state.sold_at)),
        "message": f"已售出，请核对：此码已于 {when} 随包裹发出，请确认是您收到的包裹上的码",
    }


def mark_sold(session: Session, code_values: list[str], *, at: datetime) -> None:
    """The codes left the warehouse on a parcel: their scans now say they were sold."""
    if not code_values:
        return
    session.execute(
        TraceCode.__table__.update().where(TraceCode.code.in_(code_values)).values(sold_at=at)
    )
    stamp = at.replace(tzinfo=UTC).timestamp()
    on_commit(session, lambda: scan_log.mark_sold(code_values, stamp))
