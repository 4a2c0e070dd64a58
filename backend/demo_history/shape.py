"""The shape of a demo year: how many orders a day (oysters peak in winter and before the
festivals, weekends sell more, the alliance grows), which products, at what hour, from where,
and which couriers and lots go wrong. Pure functions of a date and a seeded random."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from backend.timeutil import SHANGHAI, to_naive_utc

# Oysters are best from November to April; summer is the spawning season (few live sales).
MONTH = {
    1: 1.5,
    2: 1.3,
    3: 1.2,
    4: 1.0,
    5: 0.7,
    6: 0.45,
    7: 0.35,
    8: 0.4,
    9: 0.7,
    10: 1.0,
    11: 1.4,
    12: 1.7,
}
WEEKDAY = (0.9, 0.9, 0.95, 1.0, 1.1, 1.25, 1.15)  # Monday first
SPRING_FESTIVAL = (date(2025, 1, 29), date(2026, 2, 17), date(2027, 2, 6), date(2028, 1, 26))
MID_AUTUMN = (date(2025, 10, 6), date(2026, 9, 25), date(2027, 9, 15), date(2028, 10, 3))

# Orders by the hour (Asia/Shanghai) of a day window that starts at 05:00, when the plant packs.
HOURS = list(range(5, 29))
HOUR_WEIGHTS = [
    0.1,
    0.3,
    0.6,
    0.9,
    1.1,
    1.3,
    1.3,
    1.2,
    1.0,
    1.0,
    1.0,
    1.0,
    1.0,
    1.2,
    1.6,
    2.0,
    2.0,
    1.6,
    0.8,
    0.3,
    0.15,
    0.08,
    0.05,
    0.05,
]

# Share of each SKU in a day's units (by code; a SKU not named here gets a small share).
SKU_WEIGHTS = {
    "RS-LIVE-XL-5": 0.12,
    "RS-LIVE-L-5": 0.25,
    "RS-LIVE-M-5": 0.22,
    "RS-LIVE-S-5": 0.12,
    "RS-FROZEN-HALF-1KG": 0.10,
    "RS-RTE-DRUNK-500G": 0.08,
    "RS-GIFT-XL-8": 0.04,
    "RS-GIFT-L-8": 0.07,
}

# Where buyers live (and scan): province, city, latitude, longitude, weight, delivery days.
PLACES = [
    ("山东省", "威海市", 37.51, 122.12, 8, 1),
    ("山东省", "青岛市", 36.07, 120.38, 9, 1),
    ("山东省", "济南市", 36.65, 117.12, 7, 1),
    ("北京市", "北京市", 39.90, 116.40, 12, 2),
    ("天津市", "天津市", 39.13, 117.20, 4, 2),
    ("上海市", "上海市", 31.23, 121.47, 11, 2),
    ("江苏省", "南京市", 32.06, 118.80, 6, 2),
    ("江苏省", "苏州市", 31.30, 120.59, 5, 2),
    ("浙江省", "杭州市", 30.27, 120.16, 7, 2),
    ("河北省", "石家庄市", 38.04, 114.51, 3, 2),
    ("河北省", "保定市", 38.87, 115.46, 2, 2),
    ("辽宁省", "沈阳市", 41.80, 123.43, 3, 2),
    ("河南省", "郑州市", 34.75, 113.62, 3, 2),
    ("广东省", "广州市", 23.13, 113.26, 6, 3),
    ("广东省", "深圳市", 22.54, 114.06, 6, 3),
    ("湖北省", "武汉市", 30.59, 114.31, 3, 3),
    ("四川省", "成都市", 30.57, 104.07, 4, 3),
    ("陕西省", "西安市", 34.34, 108.94, 2, 3),
    ("福建省", "厦门市", 24.48, 118.09, 2, 3),
    ("内蒙古自治区", "呼和浩特市", 40.84, 111.75, 1, 4),
]
PLACE_WEIGHTS = [place[4] for place in PLACES]
# Where copied codes turn up: the regions most copy flags come from.
FAKE_HUBS = [13, 10, 12]  # 广东省广州市, 河北省保定市, 河南省郑州市 (indexes into PLACES)

# The store's couriers (cold chain from Rushan): code, share, extra days, dead-on-arrival factor.
# 韵达 is cheap and slow: its parcels sit a day longer and arrive dead three times as often.
STORE_COURIERS = [("SF", 0.62, 0, 1.0), ("JD", 0.26, 0, 0.8), ("YUNDA", 0.12, 1, 3.0)]
SELLER_COURIERS = ["ZTO", "YTO", "YUNDA", "STO", "SF", "EMS"]
TRACKING_PREFIX = {
    "SF": "SF",
    "JD": "JDV",
    "YUNDA": "YD",
    "ZTO": "ZT",
    "YTO": "YT",
    "STO": "ST",
    "EMS": "EM",
}

PLATFORM_SHARES = [("douyin", 0.34), ("taobao", 0.24), ("pdd", 0.2), ("jd", 0.14), ("youzan", 0.08)]
PLATFORM_STATUS = {
    "UNPAID": "待付款",
    "PAID": "待发货",
    "SHIPPED": "已发货",
    "COMPLETED": "交易成功",
    "CANCELLED": "交易关闭",
    "REFUNDED": "退款成功",
}

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗于宫姜"
GIVEN = ["海", "丽", "强", "敏", "伟", "芳", "军", "静", "磊", "娜", "洋", "勇", "艳", "杰", "涛"]
SHARERS = ["蛎姐", "海阳所阿强", "乳山小鲜", "吃货老王"]
DOA_REASONS = ["到货有死蚝", "开箱发现多只张口不闭合", "冰袋化了，部分死亡"]


def in_window(day: date, hour: float) -> datetime:
    """UTC (naive) of an hour of the day window (hours past 24 fall on the next day)."""
    local = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI) + timedelta(hours=hour)
    return to_naive_utc(local)


def _festival(day: date) -> float:
    factor = 1.0
    for festival in SPRING_FESTIVAL:
        before = (festival - day).days
        if 0 < before <= 21:
            factor *= 1.4 + 1.2 * (21 - before) / 21  # the 年货 rush builds up
        elif -6 <= before <= 0:
            factor *= 0.45  # couriers stop over the holiday
    for festival in MID_AUTUMN:
        if 0 < (festival - day).days <= 10:
            factor *= 1.6
    if day.month == 10 and day.day <= 7:
        factor *= 1.3  # 国庆
    if day.month == 11 and day.day in (10, 11):
        factor *= 2.4  # 双十一
    if day.month == 12 and day.day == 12:
        factor *= 1.6
    if (day.month == 12 and day.day >= 28) or (day.month == 1 and day.day == 1):
        factor *= 1.4  # 元旦
    return factor


def day_factor(day: date, index: int, days: int) -> float:
    """How busy a day is, before scaling: season, weekday, festivals, and growth over the year."""
    growth = 0.6 + 0.8 * index / max(days - 1, 1)
    return MONTH[day.month] * WEEKDAY[day.weekday()] * _festival(day) * growth


def festive(day: date) -> bool:
    """A gift-box day: the weeks before Spring Festival and Mid-Autumn."""
    return any(0 < (f - day).days <= 21 for f in SPRING_FESTIVAL) or any(
        0 < (f - day).days <= 10 for f in MID_AUTUMN
    )


def sku_weights(day: date, sku_codes: list[str], forms: list[str]) -> list[float]:
    """Each SKU's share of the day: summer sells frozen and ready-to-eat, festivals gift boxes."""
    summer = day.month in (6, 7, 8)
    weights = []
    for code, form in zip(sku_codes, forms, strict=True):
        weight = SKU_WEIGHTS.get(code, 0.06)
        if summer:
            weight *= 0.5 if form == "live" else 2.5
        if festive(day) and "GIFT" in code:
            weight *= 4
        weights.append(weight)
    return weights


def show_days(day: date) -> bool:
    """Whether the alliance's live room has a show that evening: four a week in season, one in
    summer, every day in the run-up to Spring Festival."""
    if any(0 < (f - day).days <= 14 for f in SPRING_FESTIVAL):
        return True
    if day.month in (6, 7, 8):
        return day.weekday() == 5
    return day.weekday() in (1, 3, 5, 6)


def hot_day(day: date) -> bool:
    """A summer day hot enough to stress live oysters in transit."""
    return day.month in (7, 8)


def name(rng: random.Random) -> str:
    return (
        rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.6 else "")
    )
