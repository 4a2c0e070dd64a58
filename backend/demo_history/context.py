"""What the demo year is built on, read once from the demo alliance `backend.demo` loaded: the
catalogue, the plant and its steps, the sellers and their licences, the admin account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.batches.models import Plant, ProcessStep, SeaArea
from backend.catalogue.models import Grade, Product, ProductLine, Sku
from backend.sellers.models import ACTIVE, BrandLicence, Seller
from backend.staff.models import Staff


@dataclass(frozen=True)
class SkuInfo:
    id: int
    code: str
    form: str
    price: int
    pieces_per_pack: int | None
    pack_weight_g: int
    grade_id: int
    product_name: str
    grade_name: str
    spec: str

    @property
    def title(self) -> str:
        return f"{self.product_name} {self.grade_name} {self.spec}"


@dataclass
class Context:
    end: datetime
    skus: list[SkuInfo]
    skus_by_id: dict[int, SkuInfo]
    product_line_id: int
    shelf_life_hours: dict[str, int]
    steps: list[ProcessStep]
    sea_area_ids: list[int]
    plant_id: int
    plant_key: str
    lab: str
    staff_id: int | None
    sellers: list[tuple[int, str, str, list]]  # id, name, town, tags
    licences: list[tuple[int, int]]  # licence id, seller id (active ones)
    store_seller_id: int | None

    @classmethod
    def load(cls, session: Session, end: datetime, store_name: str) -> Context | None:
        """None when the demo alliance is not there (no product line, plant or SKU)."""
        line = session.scalar(select(ProductLine).order_by(ProductLine.id).limit(1))
        plant = session.scalar(select(Plant).where(Plant.farm_id.is_(None)).order_by(Plant.id))
        rows = session.execute(
            select(Sku, Product.name, Grade.name)
            .join(Product, Product.id == Sku.product_id)
            .join(Grade, Grade.id == Sku.grade_id)
            .where(Product.product_line_id == (line.id if line else None))
            .order_by(Sku.id)
        ).all()
        if line is None or plant is None or not rows:
            return None
        skus = [
            SkuInfo(
                sku.id,
                sku.code,
                sku.form,
                sku.price,
                sku.pieces_per_pack,
                sku.pack_weight_g,
                sku.grade_id,
                product,
                grade,
                sku.spec,
            )
            for sku, product, grade in rows
            if sku.form in (line.shelf_life_hours or {})
        ]
        sellers = [
            (row.id, row.name, row.town, row.tags or [])
            for row in session.execute(
                select(Seller.id, Seller.name, Seller.town, Seller.tags)
                .where(Seller.active.is_(True), Seller.name != store_name)
                .order_by(Seller.id)
            )
        ]
        licences = [
            (row.id, row.seller_id)
            for row in session.execute(
                select(BrandLicence.id, BrandLicence.seller_id)
                .where(BrandLicence.status == ACTIVE)
                .order_by(BrandLicence.id)
            )
        ]
        return cls(
            end=end,
            skus=skus,
            skus_by_id={sku.id: sku for sku in skus},
            product_line_id=line.id,
            shelf_life_hours=dict(line.shelf_life_hours),
            steps=list(
                session.scalars(
                    select(ProcessStep)
                    .where(ProcessStep.product_line_id == line.id)
                    .order_by(ProcessStep.position)
                )
            ),
            sea_area_ids=list(session.scalars(select(SeaArea.id).order_by(SeaArea.id))),
            plant_id=plant.id,
            plant_key=plant.key_id,
            lab="乳山市水产品检测中心",
            staff_id=session.scalar(
                select(Staff.id).where(Staff.role == "admin").order_by(Staff.id).limit(1)
            ),
            sellers=sellers,
            licences=licences,
            store_seller_id=session.scalar(select(Seller.id).where(Seller.name == store_name)),
        )
