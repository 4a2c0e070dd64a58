"""How the platforms write money, times, buyers and product ids."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from functools import lru_cache

from ..times import CST

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

# Made-up buyers: an order's receiver is picked by its sequence number, so nothing is stored.
NAMES = ("王芳", "李娜", "张伟", "刘洋", "陈静", "杨帆", "赵磊", "黄敏", "周杰", "吴婷")
PLACES = (
    ("山东省", "威海市", "乳山市", "海阳所镇海滨路{n}号"),
    ("山东省", "青岛市", "市南区", "香港中路{n}号"),
    ("北京市", "北京市", "朝阳区", "建国路{n}号院"),
    ("上海市", "上海市", "浦东新区", "世纪大道{n}号"),
    ("广东省", "广州市", "天河区", "天河路{n}号"),
    ("浙江省", "杭州市", "西湖区", "文三路{n}号"),
)


def yuan(fen: int) -> str:
    """ "138.00" (Taobao, JD, Youzan)."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def yuan_number(fen: int) -> float:
    """138.0 (PDD): the float nearest the decimal, which JSON writes as its shortest form."""
    return float(yuan(fen))


def cst(unix: int) -> str:
    return datetime.fromtimestamp(unix, CST).strftime(TIME_FORMAT)


def parse_cst(text: str) -> int:
    """ "yyyy-MM-dd HH:mm:ss" in Asia/Shanghai as unix seconds; ValueError when malformed."""
    return int(datetime.strptime(text, TIME_FORMAT).replace(tzinfo=CST).timestamp())


def receiver(seq: int) -> dict[str, str]:
    province, city, district, street = PLACES[seq % len(PLACES)]
    return {
        "name": NAMES[seq % len(NAMES)],
        "phone": f"1{38 + seq % 3}{seq * 7919 % 100_000_000:08d}",
        "province": province,
        "city": city,
        "district": district,
        "detail": street.format(n=seq % 300 + 1),
    }


def mask_phone(phone: str) -> str:
    """138****0000 (TOP, JD, PDD)."""
    return phone[:3] + "****" + phone[-4:]


def mask_name(name: str) -> str:
    return name[:1] + "*" * (len(name) - 1)


def mask_detail(detail: str) -> str:
    return detail[:3] + "*" * 4


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def douyin_cipher(plain: str) -> str:
    """An opaque `encrypt_*` value shaped like Douyin's: `#<index>#<cipher>*<key id>#1##`."""
    digest = hashlib.sha256(plain.encode("utf-8")).digest()
    return f"#{_b64(digest[:6])}#{_b64(digest[6:27])}*CgwIARCtHBiqICABKAESPgo8##1##"


def youzan_cipher(plain: str) -> str:
    """An opaque Youzan value: `$<cipher>$1$`."""
    digest = hashlib.sha256(b"youzan" + plain.encode("utf-8")).digest()
    return f"${_b64(digest)}$1$"


@lru_cache(maxsize=4096)
def product_number(platform: str, code: str, digits: int = 12) -> int:
    """A stable platform id for a merchant code (product id, sku id, num_iid, goods_id)."""
    value = int(hashlib.md5(f"{platform}:{code}".encode()).hexdigest()[:15], 16)
    return 10 ** (digits - 1) + value % (9 * 10 ** (digits - 1))


def product_code(outer_id: str) -> str:
    """The merchant code of the product a SKU belongs to: `RS-LIVE-XL-5` -> `RS-LIVE`."""
    parts = outer_id.split("-")
    return "-".join(parts[:2]) if len(parts) > 2 else outer_id
