from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.timeutil import utcnow


class Product(db.Model):
    """A product of the alliance's brand, e.g. 乳山鲜活牡蛎; sold as SKUs by grade and spec."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    category: Mapped[str] = mapped_column(String(30))  # 鲜活 / 冷冻 / 即食 / 礼盒, as data
    subtitle: Mapped[str] = mapped_column(String(120), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    origin: Mapped[str] = mapped_column(String(60), default="")
    image_url: Mapped[str] = mapped_column(String(300), default="")
    on_sale: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    skus: Mapped[list[Sku]] = relationship(back_populates="product", order_by="Sku.sort_order")


class Sku(db.Model):
    """What a consumer buys: a product in one grade, pack spec and storage form, priced in fen."""

    __tablename__ = "skus"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    grade: Mapped[str] = mapped_column(String(20))
    spec: Mapped[str] = mapped_column(String(60))
    form: Mapped[str] = mapped_column(String(20))  # live / frozen / ready_to_eat
    price: Mapped[int] = mapped_column(Integer)  # fen
    pieces_per_pack: Mapped[int | None] = mapped_column(Integer)  # for dead-on-arrival refunds
    on_sale: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)

    product: Mapped[Product] = relationship(back_populates="skus")
