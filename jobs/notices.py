"""Seller notices over WeChat: one job per order push, chunk jobs for broadcasts, and a sweeper
that re-enqueues chunks and deliveries whose job was lost (a worker killed mid-send)."""

from backend.extensions import db
from backend.flows import broadcasts as broadcast_flow
from backend.notices import broadcasts
from backend.notices import service as notices
from backend.queue import enqueue, enqueue_in
from jobs.base import job


@job
def deliver_notice(notice_id: int, attempt: int = 0) -> str:
    states = notices.deliver_or_retry(db.session, [notice_id], attempt, later=_deliver_later)
    return states[notice_id]


def _deliver_later(notice_ids: list[int], attempt: int, seconds: float) -> None:
    [notice_id] = notice_ids
    enqueue_in(seconds, "jobs.notices.deliver_notice", notice_id, attempt, queue=notices.QUEUE)


@job
def start_broadcast(broadcast_id: int) -> int:
    return broadcast_flow.start(db.session, broadcast_id)


@job
def deliver_chunk(notice_ids: list[int], attempt: int = 0) -> dict:
    return broadcasts.deliver_chunk(db.session, notice_ids, attempt)


@job
def sweep_notices() -> int:
    """Every 5 s: chunks and deliveries nobody is working on go out again; finished broadcasts
    close."""
    broadcast_flow.start_due(db.session)
    taken = broadcasts.take_over_lost_chunks()
    waiting = notices.waiting_deliveries(db.session)
    for at in range(0, len(waiting), 100):
        enqueue("jobs.notices.deliver_chunk", waiting[at : at + 100], queue=notices.QUEUE)
    broadcasts.finish_done(db.session)
    return taken + len(waiting)
