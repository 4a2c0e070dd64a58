from backend.extensions import db
from backend.live import claims, flash_claims, flash_sales, following, rooms, summary
from backend.queue import enqueue
from jobs.base import job

WRITER_SECONDS = 5  # then other jobs of the queue get their turn


@job
def write_flash_claims() -> bool:
    """Kicked by flash-sale claims: write the won claims' orders from the stream."""
    return _write_flash_claims()


def _write_flash_claims() -> bool:
    """After WRITER_SECONDS with claims still coming, go on from the back of the queue."""
    drained = flash_claims.write_from_stream(
        db.session, consumer=flash_claims.consumer_name(), seconds=WRITER_SECONDS
    )
    if not drained:
        enqueue("jobs.live.write_flash_claims")
    return drained


@job
def end_flash_sale(sale_id: int) -> int:
    """At a sale's end: what it still holds goes back to stock."""
    return flash_sales.end_sale(db.session, sale_id=sale_id).released_units


@job
def reconcile_flash_sales() -> list[dict]:
    """Every minute: write claims a dead writer left in the stream, then prove each running
    sale's units add up (alarms staff otherwise)."""
    _write_flash_claims()
    return [
        flash_sales.reconcile(db.session, sale_id=sale_id)
        for sale_id in flash_sales.open_sale_ids(db.session)
    ]


@job
def sync_live_rooms() -> dict:
    """Every 10 s: mirror live rooms' status from the provider when due (every 10 s while a
    room is live or starts within the hour, every minute otherwise); ended shows get their
    summary (the bot writes it too when it sees the end first)."""
    followed = following.follow_statuses(db.session)
    summary.summarise_finished(db.session)
    return followed


@job
def follow_goods_audits() -> dict:
    """Every 15 s: ask WeChat about product cards awaiting audit when due, and push the ones
    that passed to the rooms showing them (once)."""
    return following.follow_audits(db.session)


@job
def send_live_reminders(room_id: int) -> dict:
    return rooms.send_reminders(db.session, room_id=room_id)


@job
def send_summary_to_host(room_id: int) -> bool:
    return summary.send_to_host(db.session, room_id)


@job
def send_pay_prompt(room_id: int, comment_id: str) -> str:
    return claims.send_pay_prompt(db.session, room_id=room_id, comment_id=comment_id)
