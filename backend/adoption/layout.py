"""Staff lay out a raft's units from the console: positions as staff type them ("1-24",
"1-12,15"), the units made by `units.create_units`, and the audit record, in one transaction."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from backend.adoption import units as unit_rules
from backend.adoption.models import KINDS, AdoptionUnit
from backend.audit import service as audit
from backend.audit.service import Actor
from backend.errors import BadRequest

MAX_POSITION = 9999
MAX_UNITS = 500  # units laid out at once
_PART = re.compile(r"(\d{1,4})(?:\s*[-–~～至]\s*(\d{1,4}))?")


def parse_positions(text: str) -> list[int]:
    """ "1-24" or "1-12,15,20" (commas, 、 or spaces between parts) as sorted positions."""
    parts = [p for p in re.split(r"[,，、;；\s]+", (text or "").strip()) if p]
    if not parts:
        raise BadRequest("请填写位置，例如 1-24 或 1-12,15", code="BAD_POSITIONS")
    positions: set[int] = set()
    for part in parts:
        match = _PART.fullmatch(part)
        if match is None:
            raise BadRequest(
                f"位置“{part[:12]}”看不懂：请写编号或范围，例如 1-24 或 1-12,15",
                code="BAD_POSITIONS",
            )
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if low < 1 or high > MAX_POSITION or low > high:
            raise BadRequest(
                f"位置范围“{part}”不对：编号从 1 到 {MAX_POSITION}，且前小后大",
                code="BAD_POSITIONS",
            )
        if high - low + len(positions) >= MAX_UNITS:
            raise BadRequest(f"一次最多新建 {MAX_UNITS} 个单元", code="TOO_MANY_UNITS")
        positions.update(range(low, high + 1))
    return sorted(positions)


def positions_text(positions: list[int]) -> str:
    """Sorted positions written back as ranges: [1, 2, 3, 7] → "1-3,7"."""
    runs: list[list[int]] = []
    for position in positions:
        if runs and position == runs[-1][1] + 1:
            runs[-1][1] = position
        else:
            runs.append([position, position])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def lay_out_units(
    session: Session,
    *,
    staff: Actor,
    sea_area_code: str,
    farm_id: int,
    product_line_code: str,
    raft: int,
    positions: str,
    **terms,
) -> list[AdoptionUnit]:
    """Create the units of raft `raft` at `positions` with the same terms, audited, and
    commit. The unit rules (dates in order, prices above 0, no position twice) are
    `units.create_units`'s."""
    wanted = parse_positions(positions)
    made = unit_rules.create_units(
        session,
        sea_area_code=sea_area_code,
        farm_id=farm_id,
        product_line_code=product_line_code,
        raft=raft,
        positions=wanted,
        **terms,
    )
    first = made[0]
    written = positions_text(wanted)
    audit.record(
        session,
        staff=staff,
        action="adoption.units_create",
        target_type="adoption_raft",
        target_id=f"{sea_area_code}-R{raft}",
        summary=f"新建认养单元：{first.sea_area.name} {raft}号筏 {written}（{len(made)} 个"
        f"{KINDS[first.kind]}），每个 ¥{first.price / 100:.2f}，收获 {first.yield_g / 500:g} 斤",
        after={
            "positions": written,
            "kind": first.kind,
            "price": first.price,
            "yield_g": first.yield_g,
            "max_parcels": first.max_parcels,
            "seeded_on": first.seeded_on.isoformat(),
            "adopt_until": first.adopt_until.isoformat(),
            "harvest": f"{first.harvest_from.isoformat()}~{first.harvest_to.isoformat()}",
            "loss_terms": first.loss_terms,
            "loss_refund_percent": first.loss_refund_percent,
        },
    )
    session.commit()
    return made
