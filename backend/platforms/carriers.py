"""Couriers sellers ship with, and each platform's own code for them (write-backs must use the
platform's code). The platforms publish these in their logistics-company lists; the codes here
are the ones our stand-ins accept (docs/api-facts.md has none verified, see docs/platforms.md)."""

CARRIERS = {
    "SF": {
        "name": "顺丰速运",
        "douyin": "shunfeng",
        "taobao": "SF",
        "jd": "467",
        "pdd": "44",
        "youzan": "7",
    },
    "ZTO": {
        "name": "中通快递",
        "douyin": "zhongtong",
        "taobao": "ZTO",
        "jd": "1499",
        "pdd": "115",
        "youzan": "4",
    },
    "YTO": {
        "name": "圆通速递",
        "douyin": "yuantong",
        "taobao": "YTO",
        "jd": "463",
        "pdd": "85",
        "youzan": "2",
    },
    "YUNDA": {
        "name": "韵达快递",
        "douyin": "yunda",
        "taobao": "YUNDA",
        "jd": "1327",
        "pdd": "121",
        "youzan": "3",
    },
    "STO": {
        "name": "申通快递",
        "douyin": "shentong",
        "taobao": "STO",
        "jd": "470",
        "pdd": "1",
        "youzan": "1",
    },
    "EMS": {
        "name": "EMS",
        "douyin": "ems",
        "taobao": "EMS",
        "jd": "465",
        "pdd": "118",
        "youzan": "11",
    },
    "JD": {
        "name": "京东快递",
        "douyin": "jd",
        "taobao": "JD",
        "jd": "2087",
        "pdd": "120",
        "youzan": "138",
    },
}


def platform_code(carrier: str, platform: str) -> str:
    return CARRIERS[carrier][platform]
