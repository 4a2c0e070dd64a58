"""Adoption (认养, the "格子海" model): a rope, cage or grid cell of a farm's raft that a netizen
adopts, follows as it grows, and receives the harvest of."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.batches.models import Farm, SeaArea
from backend.catalogue.models import ProductLine
from backend.extensions import db
from backend.timeutil import utcnow

# A unit's state. HELD is a hold for a buyer paying (it lapses at held_until); LOST is final.
FREE, HELD, ADOPTED, HARVESTED, LOST = "FREE", "HELD", "ADOPTED", "HARVESTED", "LOST"
KINDS = {"rope": "吊绳", "cage": "网笼", "grid": "格子"}
# What the loss terms give an adopter: another unit, or part of the price back.
REPLACE, REFUND = "replace", "refund"

# An adoption's state: paying, then active until its harvest, or ended.
PENDING, ACTIVE, CANCELLED, COMPENSATED = "PENDING", "ACTIVE", "CANCELLED", "COMPENSATED"


class AdoptionUnit(db.Model):
    """One adoptable unit on a raft of a farm's sea area: its place, what grows in it, what it
    costs, what the adopter receives and what happens when it is lost."""

    __tablename__ = "adoption_units"
    __table_args__ = (UniqueConstraint("sea_area_id", "raft", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)  # "RS-A03-R3-12"
    farm_id: Mapped[int] = mapped_column(ForeignKey("farms.id"), index=True)  # the household
    sea_area_id: Mapped[int] = mapped_column(ForeignKey("sea_areas.id"), index=True)
    product_line_id: Mapped[int] = mapped_column(ForeignKey("product_lines.id"))  # the species
    kind: Mapped[str] = mapped_column(String(10))  # rope / cage / grid
    raft: Mapped[int] = mapped_column(Integer)  # 3号筏
    position: Mapped[int] = mapped_column(Integer)  # 12号笼
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    seeded_on: Mapped[date] = mapped_column(Date)
    adopt_until: Mapped[date] = mapped_column(Date)  # the seeding window closes
    harvest_from: Mapped[date] = mapped_column(Date)
    harvest_to: Mapped[date] = mapped_column(Date)
    price: Mapped[int] = mapped_column(Integer)  # fen
    yield_g: Mapped[int] = mapped_column(Integer)  # what the adopter receives, e.g. 5000 = 10 斤
    max_parcels: Mapped[int] = mapped_column(Integer)
    loss_terms: Mapped[str] = mapped_column(String(10), default=REPLACE)
    loss_refund_percent: Mapped[int] = mapped_column(Integer, default=50)
    status: Mapped[str] = mapped_column(String(10), default=FREE, index=True)
    held_until: Mapped[datetime | None]
    lost_at: Mapped[datetime | None]
    lost_reason: Mapped[str | None] = mapped_column(String(100))
    lost_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    farm: Mapped[Farm] = relationship()
    sea_area: Mapped[SeaArea] = relationship()
    product_line: Mapped[ProductLine] = relationship()


class Adoption(db.Model):
    """A buyer's adoption of a unit, paid through its order. `holding_unit_id` is the unit while
    the adoption holds it (paying, active, harvested): unique, so no unit is adopted twice."""

    __tablename__ = "adoptions"
    __table_args__ = (UniqueConstraint("customer_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # 认养编号, on the certificate
    certificate_token: Mapped[str] = mapped_column(String(40), unique=True)  # unguessable
    unit_id: Mapped[int] = mapped_column(ForeignKey("adoption_units.id"), index=True)
    holding_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("adoption_units.id"), unique=True
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))  # a retried adopt: once
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), unique=True)
    price: Mapped[int] = mapped_column(Integer)  # fen, 0 for a replacement
    status: Mapped[str] = mapped_column(String(12), default=PENDING, index=True)
    live_room_id: Mapped[int | None] = mapped_column(ForeignKey("live_rooms.id"), index=True)
    sharer: Mapped[str | None] = mapped_column(String(64))
    # A loss's compensation, once: the replacement adoption, or the refund.
    replaces_adoption_id: Mapped[int | None] = mapped_column(
        ForeignKey("adoptions.id"), unique=True
    )
    compensation: Mapped[str | None] = mapped_column(String(10))  # replace / refund
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"), unique=True)
    compensated_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    unit: Mapped[AdoptionUnit] = relationship(foreign_keys=[unit_id])


class GrowthUpdate(db.Model):
    """Photos and measurements of a unit, from the household's phone or the farm's system."""

    __tablename__ = "growth_updates"
    __table_args__ = (UniqueConstraint("farm_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("adoption_units.id"), index=True)
    farm_id: Mapped[int] = mapped_column(ForeignKey("farms.id"), index=True)
    source: Mapped[str] = mapped_column(String(10))  # phone / api
    external_id: Mapped[str | None] = mapped_column(String(64))  # the farm system's id: once
    posted_by: Mapped[str] = mapped_column(String(40), default="")
    photos: Mapped[list] = mapped_column(JSON, default=list)  # picture keys
    # {"size_mm": 62, "water_temp_c": 14.5, "salinity_permil": 31.2}
    measurements: Mapped[dict] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(String(300), default="")
    measured_at: Mapped[datetime]
    hidden: Mapped[bool] = mapped_column(default=False, index=True)
    hidden_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    hidden_reason: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class AdopterMessage(db.Model):
    """A subscribe message to an adopter about one thing (an update, a loss, a harvest), once."""

    __tablename__ = "adopter_messages"
    __table_args__ = (UniqueConstraint("adoption_id", "kind", "ref_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    adoption_id: Mapped[int] = mapped_column(ForeignKey("adoptions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # UPDATE / LOST / HARVEST
    ref_id: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(30), default="sending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AdoptionDelivery(db.Model):
    """One parcel of an adoption's harvest, on the date the adopter chose, to them or a gift
    address. On its date the unit's lift becomes a batch (`batch_id`); the batch's packed lot
    becomes an order (`order_id`) that the fulfilment center ships."""

    __tablename__ = "adoption_deliveries"
    __table_args__ = (UniqueConstraint("adoption_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    adoption_id: Mapped[int] = mapped_column(ForeignKey("adoptions.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    deliver_on: Mapped[date] = mapped_column(Date, index=True)
    weight_g: Mapped[int] = mapped_column(Integer)
    address: Mapped[dict] = mapped_column(JSON)
    gift: Mapped[bool] = mapped_column(default=False)
    gift_message: Mapped[str] = mapped_column(String(60), default="")
    harvested_g: Mapped[int | None] = mapped_column(Integer)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), unique=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class FarmMember(db.Model):
    """A person of a farming household who may post from the phone pages: bound to their
    Official Account openid by a one-time code staff hand out."""

    __tablename__ = "farm_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    farm_id: Mapped[int] = mapped_column(ForeignKey("farms.id"), index=True)
    name: Mapped[str] = mapped_column(String(30))
    openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    bind_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    bind_code_expires_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    bound_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LiveAdoptionOffer(db.Model):
    """An adoption offer a host puts on screen in a live room: units of a raft (or any free
    unit of a sea area) that comments and the claim button hold, like a flash sale."""

    __tablename__ = "live_adoption_offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("live_rooms.id"), index=True)
    sea_area_id: Mapped[int] = mapped_column(ForeignKey("sea_areas.id"))
    raft: Mapped[int | None] = mapped_column(Integer)
    pay_minutes: Mapped[int] = mapped_column(Integer, default=15)
    status: Mapped[str] = mapped_column(String(10), default="RUNNING", index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
