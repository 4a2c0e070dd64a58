"""What the console and a household's phone list of growth updates: the newest posts (one entry
per post, however many units it covers), the adopted units waiting for an update, and a
household's rafts with their adopters."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from backend.adoption.growth import WAITING_DAYS, post_key, view
from backend.adoption.models import (
    ACTIVE,
    HARVESTED,
    LOST,
    Adoption,
    AdoptionUnit,
    GrowthUpdate,
)
from backend.adoption.units import unit_name
from backend.batches.models import Farm
from backend.timeutil import utcnow


def posts(
    session: Session, *, farm_id: int | None = None, hidden: bool | None = None, limit: int = 50
) -> list[dict]:
    """The newest posts (one entry per post, however many units it covers): for the console
    (every household) and a household's own page."""
    query = select(GrowthUpdate, AdoptionUnit, Farm.name).join(
        AdoptionUnit, AdoptionUnit.id == GrowthUpdate.unit_id
    )
    query = query.join(Farm, Farm.id == GrowthUpdate.farm_id)
    if farm_id is not None:
        query = query.where(GrowthUpdate.farm_id == farm_id)
    if hidden is not None:
        query = query.where(GrowthUpdate.hidden.is_(hidden))
    query = query.order_by(GrowthUpdate.created_at.desc(), GrowthUpdate.id.desc()).limit(limit * 30)
    grouped: dict[tuple, dict] = {}
    for update, unit, farm_name in session.execute(query):
        entry = grouped.get((update.farm_id, post_key(update)))
        if entry is None:
            if len(grouped) == limit:
                continue
            entry = grouped[(update.farm_id, post_key(update))] = {
                **view(update),
                "farm": farm_name,
                "posted_by": update.posted_by,
                "created_at": update.created_at,
                "hidden": update.hidden,
                "hidden_reason": update.hidden_reason,
                "units": [],
            }
        entry["units"].append(unit_name(unit))
    for entry in grouped.values():
        entry["units"].reverse()
    return list(grouped.values())


def units_waiting(session: Session, *, days: int = WAITING_DAYS) -> list[dict]:
    """Adopted units whose household posted nothing visible for `days`: who owes an update."""
    since = utcnow() - timedelta(days=days)
    last = (
        select(GrowthUpdate.unit_id, func.max(GrowthUpdate.measured_at).label("at"))
        .where(GrowthUpdate.hidden.is_(False))
        .group_by(GrowthUpdate.unit_id)
        .subquery()
    )
    rows = session.execute(
        select(AdoptionUnit, Farm.name, last.c.at)
        .join(Adoption, Adoption.unit_id == AdoptionUnit.id)
        .join(Farm, Farm.id == AdoptionUnit.farm_id)
        .outerjoin(last, last.c.unit_id == AdoptionUnit.id)
        .where(
            Adoption.status == ACTIVE,
            AdoptionUnit.status.notin_((HARVESTED, LOST)),  # nothing more to post for
            or_(last.c.at.is_(None), last.c.at < since),
        )
        .order_by(AdoptionUnit.farm_id, AdoptionUnit.raft, AdoptionUnit.position)
    )
    return [
        {"code": unit.code, "name": unit_name(unit), "farm": farm, "last_at": at}
        for unit, farm, at in rows
    ]


def farm_rafts(session: Session, *, farm_id: int) -> list[dict]:
    """A household's units by raft, each with its adopters and last update, for its phone."""
    adopters = (
        select(Adoption.unit_id, func.count().label("n"))
        .where(Adoption.status == ACTIVE)
        .group_by(Adoption.unit_id)
        .subquery()
    )
    last = (
        select(GrowthUpdate.unit_id, func.max(GrowthUpdate.measured_at).label("at"))
        .group_by(GrowthUpdate.unit_id)
        .subquery()
    )
    rows = session.execute(
        select(AdoptionUnit, adopters.c.n, last.c.at)
        .outerjoin(adopters, adopters.c.unit_id == AdoptionUnit.id)
        .outerjoin(last, last.c.unit_id == AdoptionUnit.id)
        .where(AdoptionUnit.farm_id == farm_id)
        .order_by(AdoptionUnit.raft, AdoptionUnit.position)
    )
    rafts: dict[int, dict] = {}
    for unit, count, at in rows:
        raft = rafts.setdefault(unit.raft, {"raft": unit.raft, "units": [], "adopters": 0})
        raft["units"].append(
            {
                "id": unit.id,
                "name": unit_name(unit),
                "position": unit.position,
                "status": unit.status,
                "adopters": count or 0,
                "last_at": at,
                "open": unit.status not in (LOST, HARVESTED),
            }
        )
        raft["adopters"] += count or 0
    return list(rafts.values())
