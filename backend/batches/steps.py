"""Staff edit a product line's processing steps as data: a step's name, whether it is required,
and the measurements it records (name, unit, allowed range). A change that would strand batches
already being processed is refused with the reason."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.audit import service as audit
from backend.audit.service import Actor
from backend.batches.models import Batch, BatchStep, ProcessStep
from backend.errors import BadRequest, Conflict, get_or_404

KEY = re.compile(r"[a-z][a-z0-9_]{0,29}")
MOST_MEASUREMENTS = 12
REQUIRED_WORDS = {"必填": True, "选填": False}


def parse_measurements(text: str) -> list[dict]:
    """The form's measurements, one a line: `key 名称 单位 最小 最大 必填|选填`, e.g.
    `hours 净化时长 小时 0 96 必填`; BadRequest naming the line that is wrong."""
    found, keys = [], set()
    lines = [line.split() for line in (text or "").splitlines() if line.strip()]
    if len(lines) > MOST_MEASUREMENTS:
        raise BadRequest(f"测量项最多 {MOST_MEASUREMENTS} 个", code="TOO_MANY_MEASUREMENTS")
    for number, parts in enumerate(lines, start=1):
        if len(parts) != 6 or parts[5] not in REQUIRED_WORDS:
            raise BadRequest(
                f"第 {number} 行应为“代码 名称 单位 最小 最大 必填/选填”，"
                "例如 hours 净化时长 小时 0 96 必填",
                code="MEASUREMENT_LINE_INVALID",
            )
        key, name, unit, low, high, required = parts
        if not KEY.fullmatch(key) or key in keys:
            raise BadRequest(
                f"第 {number} 行的代码须为小写字母开头的字母、数字、下划线，且不重复",
                code="MEASUREMENT_KEY_INVALID",
            )
        try:
            low_value, high_value = float(low), float(high)
        except ValueError:
            raise BadRequest(
                f"第 {number} 行的最小、最大须为数字", code="MEASUREMENT_RANGE"
            ) from None
        if low_value > high_value:
            raise BadRequest(f"第 {number} 行的最小值大于最大值", code="MEASUREMENT_RANGE")
        keys.add(key)
        found.append(
            {
                "key": key,
                "name": name[:20],
                "unit": unit[:10],
                "min": int(low_value) if low_value.is_integer() else low_value,
                "max": int(high_value) if high_value.is_integer() else high_value,
                "required": REQUIRED_WORDS[required],
            }
        )
    return found


def measurements_text(step: ProcessStep) -> str:
    """A step's measurements as the form shows them (the inverse of parse_measurements)."""
    return "\n".join(
        f"{m['key']} {m['name']} {m.get('unit') or '-'} {m.get('min', 0)} {m.get('max', 0)} "
        f"{'必填' if m.get('required', True) else '选填'}"
        for m in step.measurements
    )


def _stranded(session: Session, step: ProcessStep) -> int:
    """Batches being processed that went past this step without it: making it required would
    leave them unable to go on."""
    later = select(ProcessStep.id).where(
        ProcessStep.product_line_id == step.product_line_id,
        ProcessStep.position > step.position,
    )
    past = select(BatchStep.batch_id).where(BatchStep.step_id.in_(later))
    did = select(BatchStep.batch_id).where(BatchStep.step_id == step.id)
    return len(
        session.scalars(
            select(Batch.id).where(
                Batch.product_line_id == step.product_line_id,
                Batch.status == "OPEN",
                Batch.id.in_(past),
                Batch.id.not_in(did),
            )
        ).all()
    )


def update_step(
    session: Session,
    *,
    step_id: int,
    name: str,
    required: bool,
    measurements: list[dict],
    staff: Actor | None,
) -> ProcessStep:
    """Save a step's name, required flag and measurements (batches already reported keep the
    values they recorded)."""
    step = get_or_404(session, ProcessStep, step_id, "工序不存在", code="STEP_NOT_FOUND")
    name = (name or "").strip()
    if not name or len(name) > 30:
        raise BadRequest("工序名称须为 1 到 30 个字", code="STEP_NAME_INVALID")
    if required and not step.required:
        stranded = _stranded(session, step)
        if stranded:
            raise Conflict(
                f"有 {stranded} 个加工中的批次已越过「{step.name}」，改为必做会让它们无法继续；"
                "请等这些批次包装完成后再改",
                code="STEP_WOULD_STRAND_BATCHES",
                details={"batches": stranded},
            )
    before = {"name": step.name, "required": step.required, "measurements": step.measurements}
    step.name, step.required, step.measurements = name, required, measurements
    after = {"name": name, "required": required, "measurements": measurements}
    if after != before:
        audit.record(
            session,
            staff=staff,
            action="step.edit",
            target_type="process_step",
            target_id=step.id,
            summary=f"工序「{before['name']}」→「{name}」（{'必做' if required else '可跳过'}，"
            f"{len(measurements)} 个测量项）",
            before=before,
            after=after,
        )
    session.commit()
    return step


def steps_of_lines(session: Session) -> dict[int, list[ProcessStep]]:
    """Every line's steps in order, keyed by product line id."""
    steps: dict[int, list[ProcessStep]] = {}
    for step in session.scalars(select(ProcessStep).order_by(ProcessStep.position)):
        steps.setdefault(step.product_line_id, []).append(step)
    return steps
