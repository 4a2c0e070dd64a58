"""End to end through the signed processing API: the sandbox line replays days of batches into an
empty store, and replaying them again changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from backend import demo
from backend.batches.models import Batch, Plant
from backend.extensions import db
from backend.inventory import queries as inventory_queries
from backend.inventory.models import Lot
from sandbox.processing_line import replay

# 3 days × 4 batches: twelve consecutive batches always include a failed inspection.
DAYS, BATCHES_PER_DAY, SEED = 3, 4, 7


def _seed_alliance_without_stock(app) -> tuple[str, str]:
    with app.app_context():
        demo.seed(db.session)
        plant = db.session.scalar(select(Plant))
        key = plant.key_id, plant.secret
        db.session.remove()
    return key


def _stock_totals(app) -> tuple[int, int, int]:
    """(lots, units on hand, batches) in the store."""
    with app.app_context():
        lots, on_hand = db.session.execute(
            select(func.count(Lot.id), func.coalesce(func.sum(Lot.on_hand), 0))
        ).one()
        batches = db.session.scalar(select(func.count(Batch.id)))
        db.session.remove()
    return int(lots), int(on_hand), int(batches)


def test_replay_fills_the_store_with_lots_and_is_idempotent(app, client):
    key_id, secret = _seed_alliance_without_stock(app)
    url = app.config["PUBLIC_BASE_URL"]
    # One clock for both runs, so a day boundary between them cannot widen the window.
    options = {"echo": [].append, "now": datetime.now(UTC)}

    summary = replay(url, key_id, secret, DAYS, BATCHES_PER_DAY, SEED, **options)

    assert summary["batches"] == DAYS * BATCHES_PER_DAY
    assert summary["failed_inspections"] >= 1
    assert summary["lots"] > 0 and summary["packs"] > 0

    products = client.get("/api/v1/products").json["items"]
    stocked = [sku for product in products for sku in product["skus"] if sku["stock"] > 0]
    forms = {sku["form"] for sku in stocked}
    assert {"live", "frozen", "ready_to_eat"} <= forms
    for sku in stocked:
        assert sku["lot"]["sea_area"] and sku["lot"]["use_by"], sku
        assert sku["lot"]["use_by"].endswith("+08:00")

    with app.app_context():
        rejected = db.session.scalars(select(Batch).where(Batch.status == "REJECTED")).all()
        assert rejected
        rejected_ids = [batch.id for batch in rejected]
        assert (
            db.session.scalar(select(func.count(Lot.id)).where(Lot.batch_id.in_(rejected_ids))) == 0
        )
        assert inventory_queries.ledger_mismatches(db.session) == []
        db.session.remove()

    before = _stock_totals(app)
    again = replay(url, key_id, secret, DAYS, BATCHES_PER_DAY, SEED, **options)
    assert _stock_totals(app) == before
    assert again == summary  # every report answered with its first answer
