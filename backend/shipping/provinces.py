"""China's 34 province-level regions, by the full name and the short name buyers type
("山东省" / "山东", "内蒙古自治区" / "内蒙古", "广西壮族自治区" / "广西")."""

from __future__ import annotations

import re

# full name -> short name, in the usual order (GB/T 2260)
PROVINCES: dict[str, str] = {
    "北京市": "北京", "天津市": "天津", "河北省": "河北", "山西省": "山西",
    "内蒙古自治区": "内蒙古", "辽宁省": "辽宁", "吉林省": "吉林", "黑龙江省": "黑龙江",
    "上海市": "上海", "江苏省": "江苏", "浙江省": "浙江", "安徽省": "安徽", "福建省": "福建",
    "江西省": "江西", "山东省": "山东", "河南省": "河南", "湖北省": "湖北", "湖南省": "湖南",
    "广东省": "广东", "广西壮族自治区": "广西", "海南省": "海南", "重庆市": "重庆",
    "四川省": "四川", "贵州省": "贵州", "云南省": "云南", "西藏自治区": "西藏",
    "陕西省": "陕西", "甘肃省": "甘肃", "青海省": "青海", "宁夏回族自治区": "宁夏",
    "新疆维吾尔自治区": "新疆", "台湾省": "台湾", "香港特别行政区": "香港",
    "澳门特别行政区": "澳门",
}  # fmt: skip
_BY_SHORT = {short: full for full, short in PROVINCES.items()}
_SPACES = re.compile(r"\s+")
# Longest first, so that a whole address typed into the province field ("山东省威海市") or a
# variant ("广西省", "内蒙") still finds its province.
_SHORTS = sorted(_BY_SHORT, key=len, reverse=True)
_ALIASES = {"内蒙": "内蒙古自治区"}


def province_of(text: str) -> str | None:
    """The full name of the province the text names (None if it names none)."""
    text = _SPACES.sub("", text or "")
    if text in PROVINCES:
        return text
    for short in _SHORTS:
        if text.startswith(short):
            return _BY_SHORT[short]
    for alias, full in _ALIASES.items():
        if text.startswith(alias):
            return full
    return None


def short_name(province: str) -> str:
    return PROVINCES.get(province, province)
