"""Buyers report a fake to the alliance: the code they scanned, where they bought it, a note.
Staff read the reports beside the trace flags. A report never marks a code suspicious: anyone
may report, so only staff weigh it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import BadRequest
from backend.trace import codes
from backend.trace.models import TraceCode, TraceReport
from backend.trace.service import client_hash

THANKS = "已收到您的举报，联盟工作人员会尽快核查。感谢您帮助守护乳山牡蛎品牌！"


def report_fake(session: Session, raw_code: str, *, place: str, note: str, ip: str) -> dict:
    """Store a report of a fake code for staff; answers its id and a thank-you."""
    value = codes.normalize(raw_code)
    spelled = value or codes.clean(raw_code)
    if not spelled:
        raise BadRequest("请提供防伪码", code="TRACE_CODE_MISSING")
    code_id = session.scalar(select(TraceCode.id).where(TraceCode.code == value)) if value else None
    report = TraceReport(
        code_id=code_id,
        raw_code=spelled,
        place=place.strip(),
        note=(note or "").strip(),
        ip_hash=client_hash(ip),
    )
    session.add(report)
    session.commit()
    return {"id": report.id, "message": THANKS}
