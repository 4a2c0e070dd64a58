"""Demo data: the Rushan oyster alliance — its product line (grades, processing steps, shelf
life), farms and sea areas, a processing plant, the store's products, and staff accounts.
Stock is not typed in: the processing line reports it (`python -m sandbox.processing_line`).
Running it twice changes nothing."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from backend.adoption import units as adoption_units
from backend.adoption.models import REFUND, REPLACE
from backend.batches import packing
from backend.batches import service as batches
from backend.batches.models import (
    GENERIC,
    INSPECTION,
    PACKING,
    SORTING,
    Farm,
    Plant,
    ProcessStep,
    SeaArea,
)
from backend.catalogue.models import Grade, Product, ProductLine, Sku
from backend.inventory.models import Lot
from backend.sellers import service as sellers_service
from backend.sellers.models import ACTIVE, EXPIRED, BrandLicence, Seller
from backend.shipping import service as shipping
from backend.shipping.models import DEFAULT_ZONE
from backend.staff import service as staff_service
from backend.staff.models import Staff
from backend.timeutil import utcnow

ORIGIN = "山东乳山·海阳所镇"

GRADES = [  # code, name, pieces per kg (min, max)
    ("XL", "特大", 4, 8),
    ("L", "大", 9, 12),
    ("M", "中", 13, 16),
    ("S", "小", 17, 22),
]

STEPS = [  # code, name, kind, required, measurements
    (
        "wash",
        "清洗",
        GENERIC,
        True,
        [
            {"key": "water_temp_c", "name": "水温", "unit": "°C", "min": 0, "max": 30},
            {"key": "duration_min", "name": "清洗时长", "unit": "分钟", "min": 1, "max": 240},
        ],
    ),
    ("sort", "机器分级", SORTING, True, []),
    (
        "depurate",
        "净化",
        GENERIC,
        True,
        [
            {"key": "hours", "name": "净化时长", "unit": "小时", "min": 20, "max": 96},
            {"key": "water_temp_c", "name": "水温", "unit": "°C", "min": 5, "max": 25},
            {"key": "salinity_permille", "name": "盐度", "unit": "‰", "min": 20, "max": 40},
            {
                "key": "uv_dose",
                "name": "紫外线剂量",
                "unit": "mJ/cm²",
                "min": 0,
                "max": 200,
                "required": False,
            },
        ],
    ),
    ("inspect", "检验", INSPECTION, True, []),
    ("pack", "包装", PACKING, True, []),
]

FARMS = [  # farm, cooperative, [(sea area code, name, lat, lon)]
    (
        "于家养殖户",
        "海阳所牡蛎养殖合作社",
        [
            ("RS-HYS-01", "海阳所东湾 1 号海区", 36.7421, 121.5835),
        ],
    ),
    (
        "王家滩合作社",
        "王家滩海水养殖专业合作社",
        [
            ("RS-HYS-02", "王家滩外海 2 号海区", 36.7288, 121.6102),
            ("RS-HYS-03", "王家滩外海 3 号海区", 36.7195, 121.6237),
        ],
    ),
    (
        "乳山口养殖场",
        "乳山口海洋牧场合作社",
        [
            ("RS-RSK-01", "乳山口浮筏 1 号海区", 36.8012, 121.4783),
        ],
    ),
]

# product, category, subtitle, [(code, grade, spec, form, pack weight g, price fen, pieces)]
CATALOGUE = [
    (
        "乳山鲜活牡蛎",
        "鲜活",
        "当天出水 · 净化 24 小时 · 顺丰冷链",
        [
            ("RS-LIVE-XL-5", "XL", "5斤装 约15-18只", "live", 2500, 13800, 15),
            ("RS-LIVE-L-5", "L", "5斤装 约20-25只", "live", 2500, 9800, 20),
            ("RS-LIVE-M-5", "M", "5斤装 约30-35只", "live", 2500, 6900, 30),
            ("RS-LIVE-S-5", "S", "5斤装 约40-50只", "live", 2500, 4900, 40),
        ],
    ),
    (
        "乳山冷冻半壳牡蛎",
        "冷冻",
        "急冻锁鲜 · 开袋即烤",
        [
            ("RS-FROZEN-HALF-1KG", "L", "1kg 约12只", "frozen", 1000, 7900, 12),
        ],
    ),
    (
        "即食醉牡蛎",
        "即食",
        "花雕酒腌制 · 冷藏即食",
        [
            ("RS-RTE-DRUNK-500G", "M", "500g 罐装", "ready_to_eat", 1200, 5900, None),
        ],
    ),
    (
        "乳山牡蛎礼盒",
        "礼盒",
        "年节送礼 · 含开蚝刀和手套",
        [
            ("RS-GIFT-XL-8", "XL", "8斤礼盒 约24只", "live", 4000, 26800, 24),
            ("RS-GIFT-L-8", "L", "8斤礼盒 约32只", "live", 4000, 19800, 32),
        ],
    ),
]

# Where the alliance's courier (顺丰冷链 from Rushan) ships, and for how much (fen): province(s),
# live products go there, first kg, each further kg, cold-chain surcharge, days.
SHIPPING_ZONES = [
    ((DEFAULT_ZONE,), True, 1800, 600, 1500, "2-3天"),
    (("山东省",), True, 1000, 200, 800, "次日达"),
    (
        ("北京市", "天津市", "河北省", "江苏省", "上海市", "浙江省", "安徽省", "河南省", "辽宁省"),
        True, 1400, 400, 1200, "1-2天",
    ),
    (("内蒙古自治区", "甘肃省", "宁夏回族自治区", "海南省"), True, 2200, 800, 2000, "3-4天"),
    (("新疆维吾尔自治区", "西藏自治区", "青海省"), False, 2800, 1200, 2500, "4-6天"),
    (("香港特别行政区", "澳门特别行政区"), False, 4500, 1500, 3000, "3-5天"),
    (("台湾省",), False, 6000, 2000, 3000, "5-7天"),
]  # fmt: skip


def shipping_zones() -> list[dict]:
    return [
        {
            "province": province,
            "ships_live": live,
            "first_weight_fee": first,
            "extra_kg_fee": extra,
            "cold_chain_fee": cold,
            "days": days,
        }
        for provinces, live, first, extra, cold, days in SHIPPING_ZONES
        for province in provinces
    ]


def seed(session: Session) -> bool:
    """Load the demo alliance unless it is already there; answers whether it loaded anything."""
    if session.scalar(select(ProductLine.id).limit(1)) is not None:
        return False
    line = ProductLine(
        code="oyster",
        name="牡蛎",
        sorting_tolerance=0.02,
        shelf_life_hours={"live": 72, "frozen": 180 * 24, "ready_to_eat": 10 * 24},
    )
    session.add(line)
    session.flush()
    grades = {}
    for position, (code, name, low, high) in enumerate(GRADES):
        grades[code] = Grade(
            product_line_id=line.id,
            code=code,
            name=name,
            position=position,
            min_pieces_per_kg=low,
            max_pieces_per_kg=high,
        )
        session.add(grades[code])
    for position, (code, name, kind, required, measurements) in enumerate(STEPS, start=1):
        session.add(
            ProcessStep(
                product_line_id=line.id,
                code=code,
                name=name,
                position=position,
                kind=kind,
                required=required,
                measurements=measurements,
            )
        )
    for name, cooperative, areas in FARMS:
        farm = Farm(name=name, cooperative=cooperative, town="海阳所镇")
        session.add(farm)
        session.flush()
        for code, area_name, lat, lon in areas:
            session.add(
                SeaArea(farm_id=farm.id, code=code, name=area_name, latitude=lat, longitude=lon)
            )
    session.add(
        Plant(
            name="乳山海阳所牡蛎加工厂",
            key_id=os.environ.get("PROCESSING_KEY_ID", "plant-rushan-01"),
            secret=os.environ.get("PROCESSING_SECRET") or os.urandom(16).hex(),
        )
    )
    session.flush()
    for order, (name, category, subtitle, skus) in enumerate(CATALOGUE):
        product = Product(
            product_line_id=line.id,
            name=name,
            category=category,
            subtitle=subtitle,
            origin=ORIGIN,
            sort_order=order,
            description=f"{name}，产自{ORIGIN}，乳山牡蛎区域公用品牌授权。",
        )
        session.add(product)
        for sku_order, (code, grade, spec, form, weight, price, pieces) in enumerate(skus):
            session.add(
                Sku(
                    product=product,
                    grade=grades[grade],
                    code=code,
                    spec=spec,
                    form=form,
                    pack_weight_g=weight,
                    price=price,
                    pieces_per_pack=pieces,
                    sort_order=sku_order,
                )
            )
    shipping.seed_zones(session, shipping_zones())
    _seed_adoption_units(session)
    session.commit()
    _seed_sellers(session)
    if session.scalar(select(Staff.id).where(Staff.username == "admin")) is None:
        staff_service.create_staff(
            session, username="admin", password="heli-demo", display_name="联盟管理员", role="admin"
        )
    return True


SELLER_COUNT = 3000
TOWNS = ["海阳所镇", "白沙滩镇", "大孤山镇", "乳山口镇", "冯家镇", "下初镇"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗于宫姜"


# 格子海: two rafts of the Yu household's sea area open to adoption, dated from the day of seeding.
ADOPTION_RAFTS = [  # raft, kind, units, price (fen), yield (g), parcels, loss terms
    (3, "cage", 24, 39800, 5000, 4, REPLACE),
    (5, "rope", 24, 26800, 4000, 2, REFUND),
]


def _seed_adoption_units(session: Session) -> None:
    day = adoption_units.today()
    farm_id = session.scalar(select(Farm.id).where(Farm.name == FARMS[0][0]))
    for raft, kind, count, price, yield_g, parcels, terms in ADOPTION_RAFTS:
        adoption_units.create_units(
            session,
            sea_area_code=FARMS[0][2][0][0],
            farm_id=farm_id,
            product_line_code="oyster",
            raft=raft,
            positions=list(range(1, count + 1)),
            kind=kind,
            seeded_on=day - timedelta(days=60),
            adopt_until=day + timedelta(days=30),
            harvest_from=day + timedelta(days=45),
            harvest_to=day + timedelta(days=120),
            price=price,
            yield_g=yield_g,
            max_parcels=parcels,
            loss_terms=terms,
            loss_refund_percent=60,
        )


def _seed_sellers(session: Session) -> None:
    """3000 small sellers; most hold a brand licence, some expiring soon, some lapsed."""
    products = list(session.scalars(select(Product.id)))
    before = session.scalar(select(func.max(Seller.id))) or 0
    session.execute(
        insert(Seller),
        [
            {
                "name": f"{SURNAMES[i % len(SURNAMES)]}记乳山牡蛎{i + 1:04d}号店",
                "contact_name": f"{SURNAMES[i % len(SURNAMES)]}先生",
                "phone": f"139{i:08d}",
                "town": TOWNS[i % len(TOWNS)],
                "cooperative": FARMS[i % len(FARMS)][1],
                "tags": ["直播"] if i % 5 == 0 else [],
                "active": True,
            }
            for i in range(SELLER_COUNT)
        ],
    )
    ids = list(session.scalars(select(Seller.id).where(Seller.id > before).order_by(Seller.id)))
    today = sellers_service.today()
    store = Seller(name=current_app.config["STORE_SELLER_NAME"], town="海阳所镇", tags=["联盟商城"])
    session.add(store)
    session.flush()
    licences = [
        {
            "number": "RSMH-STORE-0001",
            "seller_id": store.id,
            "product_ids": products,
            "valid_from": today - timedelta(days=365),
            "valid_until": today + timedelta(days=3650),
            "status": ACTIVE,
            "note": "联盟小程序商城自营，仓库发货的包裹使用其防伪码",
        }
    ]
    for i in range(SELLER_COUNT):
        if i % 10 == 9:
            continue  # a tenth sell without a licence: they get no codes
        until = today + timedelta(days=(i * 37) % 400 - 20)  # a few lapsed, a few expiring soon
        licences.append(
            {
                "number": f"RSMH-DEMO-{i + 1:04d}",
                "seller_id": ids[i],
                "product_ids": products,
                "valid_from": today - timedelta(days=365),
                "valid_until": until,
                "status": ACTIVE if until >= today else EXPIRED,
                "note": "",
            }
        )
    session.execute(insert(BrandLicence), licences)
    session.commit()


def pack_batch(
    session: Session,
    packs: dict[str, int],
    *,
    packed_at: datetime | None = None,
    sea_area: str = "RS-HYS-01",
) -> list[int]:
    """Run one batch of the demo plant through every processing step and pack `packs`
    ({sku code: packs}) at packed_at (default now); answers the new lots' ids. The services are
    the ones the processing API calls, so the batch obeys every rule a real one does."""
    plant = session.scalar(select(Plant).where(Plant.farm_id.is_(None)).order_by(Plant.id))
    skus = {sku.code: sku for sku in session.scalars(select(Sku))}
    weights: dict[str, int] = {}
    for code, count in packs.items():
        grade = skus[code].grade.code
        weights[grade] = weights.get(grade, 0) + count * skus[code].pack_weight_g
    packed_at = packed_at or utcnow()
    code = f"D{uuid.uuid4().hex[:10]}"
    batches.open_batch(
        session,
        plant,
        code=code,
        product_line="oyster",
        sea_area=sea_area,
        harvested_at=packed_at - timedelta(hours=30),
        weight_g=sum(weights.values()),
    )
    batches.report_step(
        session,
        plant,
        batch_code=code,
        step="wash",
        performed_at=packed_at - timedelta(hours=29),
        measurements={"water_temp_c": 12.5, "duration_min": 30},
    )
    batches.report_sorting(
        session,
        plant,
        batch_code=code,
        performed_at=packed_at - timedelta(hours=28),
        grades=[{"grade": g, "count": w // 150, "weight_g": w} for g, w in weights.items()],
    )
    batches.report_step(
        session,
        plant,
        batch_code=code,
        step="depurate",
        performed_at=packed_at - timedelta(hours=4),
        measurements={"hours": 24, "water_temp_c": 15, "salinity_permille": 31},
    )
    batches.report_inspection(
        session,
        plant,
        batch_code=code,
        performed_at=packed_at - timedelta(hours=1),
        passed=True,
        report_no=f"RS-QC-{code}",
        lab="乳山市水产品检测中心",
    )
    result = packing.report_packing(
        session,
        plant,
        batch_code=code,
        packed_at=packed_at,
        packs=[{"sku": c, "count": n} for c, n in packs.items()],
    )
    session.commit()
    codes = [lot["code"] for lot in result["lots"]]
    return list(session.scalars(select(Lot.id).where(Lot.code.in_(codes)).order_by(Lot.id)))
