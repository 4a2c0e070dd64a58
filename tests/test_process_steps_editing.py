"""Staff edit a product line's processing steps as data: name, required or not, and the
measurements each records; a change that would strand batches being processed is refused."""

from __future__ import annotations

import re

import pytest

from backend.audit.models import AuditRecord
from backend.batches import service as batches
from backend.batches import steps
from backend.batches.models import BatchStep, Plant, ProcessStep
from backend.errors import BadRequest, Conflict
from backend.extensions import db
from backend.timeutil import utcnow

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def step_id(app, code: str) -> int:
    with app.app_context():
        found = db.session.scalar(db.select(ProcessStep.id).where(ProcessStep.code == code))
        db.session.remove()
    return found


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("hours 净化时长 小时 0 96", "应为"),
        ("Hours 净化时长 小时 0 96 必填", "代码须为"),
        ("hours 净化时长 小时 九 96 必填", "须为数字"),
        ("hours 净化时长 小时 96 0 必填", "最小值大于最大值"),
        ("hours a 小时 0 1 必填\nhours b 小时 0 1 选填", "不重复"),
    ],
)
def test_bad_measurement_lines_say_which_line_and_why(text, why):
    with pytest.raises(BadRequest, match=why):
        steps.parse_measurements(text)


def test_a_step_is_edited_on_the_catalogue_page_and_batches_check_the_new_range(
    app, console_as, store
):
    console = console_as("operations")
    wash = step_id(app, "wash")
    token = TOKEN.search(console.get("/console/catalogue").get_data(as_text=True)).group(1)
    page = console.post(
        f"/console/process-steps/{wash}",
        data={
            "csrf_token": token,
            "name": "清洗消毒",
            "required": "1",
            "measurements": "water_temp_c 水温 °C 0 25 必填\nduration_min 清洗时长 分钟 1 120 必填",
        },
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "工序「清洗消毒」已保存" in page
    with app.app_context():
        step = db.session.get(ProcessStep, wash)
        assert step.name == "清洗消毒" and step.measurements[0]["max"] == 25
        # the processing API now refuses water the old range allowed
        plant = db.session.scalars(db.select(Plant)).first()
        batches.open_batch(
            db.session,
            plant,
            code="B-STEPS-1",
            product_line="oyster",
            sea_area=db.session.execute(db.text("select code from sea_areas limit 1")).scalar(),
            harvested_at=utcnow(),
            weight_g=100_000,
        )
        db.session.commit()
        batch = batches.get_batch(db.session, plant_id=plant.id, code="B-STEPS-1")
        with pytest.raises(BadRequest, match="水温"):
            batches._check_measurements(step, {"water_temp_c": 28, "duration_min": 30})
        assert batch.status == "OPEN"
        [entry] = db.session.scalars(
            db.select(AuditRecord).where(AuditRecord.action == "step.edit")
        ).all()
        assert entry.before["name"] == "清洗" and entry.after["name"] == "清洗消毒"
        db.session.remove()


def test_making_a_step_required_is_refused_while_batches_went_past_it(app, store):
    with app.app_context():
        wash = db.session.scalar(db.select(ProcessStep).where(ProcessStep.code == "wash"))
        sort = db.session.scalar(db.select(ProcessStep).where(ProcessStep.code == "sort"))
        steps.update_step(
            db.session,
            step_id=wash.id,
            name=wash.name,
            required=False,
            measurements=wash.measurements,
            staff=None,
        )
        plant = db.session.scalars(db.select(Plant)).first()
        area = db.session.execute(db.text("select code from sea_areas limit 1")).scalar()
        made = batches.open_batch(
            db.session,
            plant,
            code="B-SKIPPED-WASH",
            product_line="oyster",
            sea_area=area,
            harvested_at=utcnow(),
            weight_g=50_000,
        )
        db.session.add(BatchStep(batch_id=made["id"], step_id=sort.id, performed_at=utcnow()))
        db.session.commit()
        with pytest.raises(Conflict, match="1 个加工中的批次已越过"):
            steps.update_step(
                db.session,
                step_id=wash.id,
                name=wash.name,
                required=True,
                measurements=wash.measurements,
                staff=None,
            )
        db.session.rollback()
        assert db.session.get(ProcessStep, wash.id).required is False
        db.session.remove()
