"""Couriers sellers ship with, and each platform's own code for them (write-backs must use the
platform's code). The platforms publish these in their logistics-company lists; the codes here
are the ones our stand-ins accept (docs/api-facts.md has none verified, see docs/platforms.md).

`kuaidi100` is 快递100's company code (our e-waybills and tracking, backend/clients/courier.py
holds the same table); `wechat` is the `delivery_id` of WeChat's get_delivery_list that
upload_shipping_info takes (韵达 is "YD" there, "YUNDA" in 微信小店's list; sources in
docs/couriers.md)."""

CARRIERS = {
    "SF": {
        "name": "顺丰速运",
        "douyin": "shunfeng",
        "taobao": "SF",
        "jd": "467",
        "pdd": "44",
        "youzan": "7",
        "kuaidi100": "shunfeng",
        "wechat": "SF",
    },
    "ZTO": {
        "name": "中通快递",
        "douyin": "zhongtong",
        "taobao": "ZTO",
        "jd": "1499",
        "pdd": "115",
        "youzan": "4",
        "kuaidi100": "zhongtong",
        "wechat": "ZTO",
    },
    "YTO": {
        "name": "圆通速递",
        "douyin": "yuantong",
        "taobao": "YTO",
        "jd": "463",
        "pdd": "85",
        "youzan": "2",
        "kuaidi100": "yuantong",
        "wechat": "YTO",
    },
    "YUNDA": {
        "name": "韵达快递",
        "douyin": "yunda",
        "taobao": "YUNDA",
        "jd": "1327",
        "pdd": "121",
        "youzan": "3",
        "kuaidi100": "yunda",
        "wechat": "YD",
    },
    "STO": {
        "name": "申通快递",
        "douyin": "shentong",
        "taobao": "STO",
        "jd": "470",
        "pdd": "1",
        "youzan": "1",
        "kuaidi100": "shentong",
        "wechat": "STO",
    },
    "EMS": {
        "name": "EMS",
        "douyin": "ems",
        "taobao": "EMS",
        "jd": "465",
        "pdd": "118",
        "youzan": "11",
        "kuaidi100": "ems",
        "wechat": "EMS",
    },
    "JD": {
        "name": "京东快递",
        "douyin": "jd",
        "taobao": "JD",
        "jd": "2087",
        "pdd": "120",
        "youzan": "138",
        "kuaidi100": "jd",
        "wechat": "JD",
    },
}


def platform_code(carrier: str, platform: str) -> str:
    return CARRIERS[carrier][platform]


def kuaidi100_com(carrier: str) -> str:
    """快递100's company code of our carrier code."""
    return CARRIERS[carrier]["kuaidi100"]


def wechat_delivery_id(carrier: str) -> str:
    """The delivery_id WeChat's upload_shipping_info wants for our carrier code."""
    return CARRIERS[carrier]["wechat"]


def carrier_of_kuaidi100(com: str) -> str | None:
    """Our carrier code of a 快递100 company code (None: a carrier we do not ship with)."""
    return next((code for code, entry in CARRIERS.items() if entry["kuaidi100"] == com), None)
