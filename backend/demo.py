"""Demo data: the Rushan oyster alliance's store (fresh oysters by size grade, frozen,
ready-to-eat, gift boxes) and a staff account. Running it twice changes nothing."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.catalogue.models import Product, Sku
from backend.inventory import service as inventory
from backend.staff import service as staff_service
from backend.staff.models import Staff

ORIGIN = "山东乳山·海阳所镇"

# (product, category, subtitle, [(code, grade, spec, form, price_fen, pieces, stock)])
CATALOGUE = [
    (
        "乳山鲜活牡蛎",
        "鲜活",
        "当天出水 · 净化 24 小时 · 顺丰冷链",
        [
            ("RS-LIVE-XL-5", "特大", "5斤装 约15-18只", "live", 13800, 15, 200),
            ("RS-LIVE-L-5", "大", "5斤装 约20-25只", "live", 9800, 20, 400),
            ("RS-LIVE-M-5", "中", "5斤装 约30-35只", "live", 6900, 30, 600),
            ("RS-LIVE-S-5", "小", "5斤装 约40-50只", "live", 4900, 40, 600),
        ],
    ),
    (
        "乳山冷冻半壳牡蛎",
        "冷冻",
        "急冻锁鲜 · 开袋即烤",
        [
            ("RS-FROZEN-HALF-1KG", "大", "1kg 约12只", "frozen", 7900, 12, 500),
        ],
    ),
    (
        "即食醉牡蛎",
        "即食",
        "花雕酒腌制 · 冷藏即食",
        [
            ("RS-RTE-DRUNK-500G", "中", "500g 罐装", "ready_to_eat", 5900, None, 300),
        ],
    ),
    (
        "乳山牡蛎礼盒",
        "礼盒",
        "年节送礼 · 含开蚝刀和手套",
        [
            ("RS-GIFT-XL-8", "特大", "8斤礼盒 约24只", "live", 26800, 24, 120),
            ("RS-GIFT-L-8", "大", "8斤礼盒 约32只", "live", 19800, 32, 150),
        ],
    ),
]


def seed(session: Session) -> bool:
    """Load the demo store unless it is already there; answers whether it loaded anything."""
    if session.scalar(select(Product.id).limit(1)) is not None:
        return False
    for order, (name, category, subtitle, skus) in enumerate(CATALOGUE):
        product = Product(
            name=name,
            category=category,
            subtitle=subtitle,
            origin=ORIGIN,
            description=f"{name}，产自{ORIGIN}，乳山牡蛎区域公用品牌授权。",
            sort_order=order,
        )
        session.add(product)
        for sku_order, (code, grade, spec, form, price, pieces, stock) in enumerate(skus):
            sku = Sku(
                product=product,
                code=code,
                grade=grade,
                spec=spec,
                form=form,
                price=price,
                pieces_per_pack=pieces,
                sort_order=sku_order,
            )
            session.add(sku)
            session.flush()
            inventory.set_on_hand(session, sku_id=sku.id, on_hand=stock)
    session.commit()
    if session.scalar(select(Staff.id).where(Staff.username == "admin")) is None:
        staff_service.create_staff(
            session, username="admin", password="heli-demo", display_name="联盟管理员", role="admin"
        )
    return True
