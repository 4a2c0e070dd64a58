"""How a batch is shown to the processing line and to staff."""

from backend.batches.models import Batch
from backend.timeutil import to_shanghai_iso


def render_batch(batch: Batch) -> dict:
    harvest = batch.harvest
    return {
        "id": batch.id,
        "code": batch.code,
        "status": batch.status,
        "harvest": {
            "sea_area": harvest.sea_area.code,
            "harvested_at": to_shanghai_iso(harvest.harvested_at),
            "weight_g": harvest.weight_g,
        },
        "steps": [
            {
                "step": s.step.code,
                "name": s.step.name,
                "performed_at": to_shanghai_iso(s.performed_at),
                "measurements": s.measurements,
            }
            for s in sorted(batch.steps, key=lambda s: s.step.position)
        ],
        "sorting": [
            {"grade_id": r.grade_id, "count": r.count, "weight_g": r.weight_g}
            for r in batch.sorting
        ],
        "inspection": None
        if batch.inspection is None
        else {
            "passed": batch.inspection.passed,
            "report_no": batch.inspection.report_no,
            "lab": batch.inspection.lab,
        },
    }
