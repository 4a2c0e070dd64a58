from backend.extensions import db
from backend.live import claims, flash_sales, rooms, summary
from jobs.base import job


@job
def end_flash_sale(sale_id: int) -> int:
    """At a sale's end: what it still holds goes back to stock."""
    return flash_sales.end_sale(db.session, sale_id=sale_id).released_units


@job
def reconcile_flash_sales() -> list[dict]:
    """Every minute: prove each running sale's units add up (alarms staff otherwise)."""
    return [
        flash_sales.reconcile(db.session, sale_id=sale_id)
        for sale_id in flash_sales.open_sale_ids(db.session)
    ]


@job
def sync_live_rooms() -> int:
    """Every minute: mirror live rooms' status from the provider; ended shows get their
    summary (the bot writes it too when it sees the end first)."""
    changed = rooms.sync(db.session)
    summary.summarise_finished(db.session)
    return changed


@job
def send_live_reminders(room_id: int) -> dict:
    return rooms.send_reminders(db.session, room_id=room_id)


@job
def send_summary_to_host(room_id: int) -> bool:
    return summary.send_to_host(db.session, room_id)


@job
def send_pay_prompt(room_id: int, comment_id: str) -> str:
    return claims.send_pay_prompt(db.session, room_id=room_id, comment_id=comment_id)
