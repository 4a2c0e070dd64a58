from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.timeutil import utcnow

FORMS = ("live", "frozen", "ready_to_eat")


class ProductLine(db.Model):
    """What the alliance grows and processes (oysters, mussels, pears): its grades, processing
    steps and shelf life are data rows, not code."""

    __tablename__ = "product_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(30))
    # Hours from packing to use-by, per storage form, e.g. {"live": 72, "frozen": 4320}.
    shelf_life_hours: Mapped[dict] = mapped_column(JSON, default=dict)
    # How much more weight sorting may report than was harvested (scale error, sea water).
    sorting_tolerance: Mapped[float] = mapped_column(Float, default=0.02)

    grades: Mapped[list[Grade]] = relationship(order_by="Grade.position")


class Grade(db.Model):
    """A size grade of a product line, by pieces per kg or by single-piece weight band."""

    __tablename__ = "grades"
    __table_args__ = (UniqueConstraint("product_line_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_line_id: Mapped[int] = mapped_column(ForeignKey("product_lines.id"), index=True)
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer, default=0)
    min_pieces_per_kg: Mapped[int | None] = mapped_column(Integer)
    max_pieces_per_kg: Mapped[int | None] = mapped_column(Integer)
    min_piece_weight_g: Mapped[int | None] = mapped_column(Integer)
    max_piece_weight_g: Mapped[int | None] = mapped_column(Integer)


class Product(db.Model):
    """A product of the alliance's brand, e.g. 乳山鲜活牡蛎; sold as SKUs by grade and spec."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_line_id: Mapped[int] = mapped_column(ForeignKey("product_lines.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    category: Mapped[str] = mapped_column(String(30))  # 鲜活 / 冷冻 / 即食 / 礼盒, as data
    subtitle: Mapped[str] = mapped_column(String(120), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    origin: Mapped[str] = mapped_column(String(60), default="")
    image_url: Mapped[str] = mapped_column(String(300), default="")
    on_sale: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    product_line: Mapped[ProductLine] = relationship()
    skus: Mapped[list[Sku]] = relationship(back_populates="product", order_by="Sku.sort_order")


class Sku(db.Model):
    """What a consumer buys: (product, grade, pack size, storage form), priced in fen."""

    __tablename__ = "skus"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    grade_id: Mapped[int] = mapped_column(ForeignKey("grades.id"))
    code: Mapped[str] = mapped_column(String(40), unique=True)
    spec: Mapped[str] = mapped_column(String(60))
    form: Mapped[str] = mapped_column(String(20))  # one of FORMS
    pack_weight_g: Mapped[int] = mapped_column(Integer)  # graded weight one pack takes
    price: Mapped[int] = mapped_column(Integer)  # fen
    pieces_per_pack: Mapped[int | None] = mapped_column(Integer)  # for dead-on-arrival refunds
    on_sale: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)

    product: Mapped[Product] = relationship(back_populates="skus")
    grade: Mapped[Grade] = relationship()
