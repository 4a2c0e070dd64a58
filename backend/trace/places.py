"""Who scanned and where, as far as a scan can tell: the client's network and a named region.

A client is its network, not its address: an IPv6 phone holds a whole /64 and could look like
endless different people address by address; an IPv4 address is its own client. Other callers
name their own client (the Official Account passes "oa:<openid>").

A region is what the mini-program's location gives (e.g. 广东省广州市): Chinese characters that
start with a province-level name. Anything else ("假货集散地", markup, a sentence) is refused, so
the region everyone sees on a code can only name a place.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

PROVINCES = (
    "北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江",
    "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州",
    "云南", "陕西", "甘肃", "青海", "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港",
    "澳门",
)  # fmt: skip
_HAN = re.compile(r"^[\u4e00-\u9fff]{2,40}$")


@lru_cache(maxsize=4096)  # an address is parsed a few times a scan, and scanned again and again
def client_of(ip: str) -> str:
    """The client a scan counts for: an IPv4 address, an IPv6 /64, or the caller's own name."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6 and address.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address.ipv4_mapped or address) if address.version == 6 else str(address)


def is_region(text: str) -> bool:
    """Whether the text names a place in China (province first)."""
    return bool(_HAN.match(text)) and text.startswith(PROVINCES)
