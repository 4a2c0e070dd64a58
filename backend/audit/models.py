from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, event
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.timeutil import utcnow


class AuditRecord(db.Model):
    """One staff action that changed something: who, when, what object, before and after.
    Written in the same transaction as the change; never updated or deleted by the app."""

    __tablename__ = "audit_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    staff_name: Mapped[str] = mapped_column(String(40))  # as it was when they acted
    action: Mapped[str] = mapped_column(String(40), index=True)
    target_type: Mapped[str] = mapped_column(String(30))
    target_id: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)


class AuditRecordsAreKept(RuntimeError):
    pass


@event.listens_for(AuditRecord, "before_update")
@event.listens_for(AuditRecord, "before_delete")
def _kept(_mapper, _connection, record: AuditRecord) -> None:
    raise AuditRecordsAreKept(f"audit record {record.id} cannot be changed or deleted")
