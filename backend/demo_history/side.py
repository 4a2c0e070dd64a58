"""The rest of the demo year: anti-counterfeit codes printed for licensed sellers and scanned by
buyers across the country (a few copied, scanned where fakes are sold), and the alliance's
broadcasts to its sellers with what WeChat delivered as more sellers bound the Official
Account."""

from __future__ import annotations

import base64
import hashlib
import random
from datetime import date, datetime, timedelta

from backend.demo_history import shape
from backend.demo_history.context import Context
from backend.demo_history.writer import Writer
from backend.notices.broadcasts import CATEGORIES
from backend.notices.models import Broadcast, NoticeDelivery, SellerNotice
from backend.officialaccount.models import OAFollower
from backend.trace.models import PrintRun, TraceCode, TraceFlag, TraceScan

HOUR = timedelta(hours=1)
FLAG_MESSAGES = {
    "TOO_MANY_SCANS": "该防伪码已被多个不同网络扫描，可能被复制",
    "IMPOSSIBLE_TRAVEL": "该防伪码短时间内在相距很远的两地被扫描，可能被复制",
    "AFTER_USE_BY": "该防伪码在保质期过后很久仍被扫描，可能被回收冒用",
    "NOT_OURS": "该码不是联盟发放的防伪码",
}


def _code(rng: random.Random) -> str:
    return base64.b32encode(rng.getrandbits(128).to_bytes(16, "big")).decode().rstrip("=")


def _client(rng: random.Random) -> str:
    return hashlib.sha256(f"hist-client-{rng.getrandbits(40)}".encode()).hexdigest()


def _near(rng: random.Random, place: int) -> tuple[float, float, str]:
    province, city, lat, lon, _, _ = shape.PLACES[place]
    return lat + rng.uniform(-0.08, 0.08), lon + rng.uniform(-0.08, 0.08), province + city


class Trace:
    """Print runs, codes, scans and flags, a day at a time."""

    def __init__(self, writer: Writer, ctx: Context, rng: random.Random):
        self.writer, self.ctx, self.rng = writer, ctx, rng

    def day(self, lots: list[tuple[int, datetime, datetime]], orders: int, end: datetime) -> None:
        """Codes for some of the day's live lots ((id, packed at, use-by)), printed for licensed
        sellers, and their scans."""
        rng, writer = self.rng, self.writer
        if not lots or not self.ctx.licences:
            return
        for _ in range(max(1, round(orders / 60))):
            lot_id, packed_at, use_by = rng.choice(lots)
            licence_id, seller_id = rng.choice(self.ctx.licences)
            quantity = rng.randint(10, 40)
            printed = packed_at + HOUR
            run_id = writer.add(
                PrintRun,
                {
                    "lot_id": lot_id,
                    "seller_id": seller_id,
                    "licence_id": licence_id,
                    "quantity": quantity,
                    "created_by": self.ctx.staff_id,
                    "created_at": printed,
                },
            )
            for serial in range(1, quantity + 1):
                self._code(run_id, lot_id, seller_id, serial, printed, use_by, end)
        if rng.random() < 0.3:  # someone scans a code that was never ours
            at = lots[0][1] + HOUR * rng.uniform(8, 20)
            if at <= end:
                raw = _code(rng)
                lat, lon, region = _near(rng, rng.choice(shape.FAKE_HUBS))
                self._scan(None, raw, at, _client(rng), lat, lon, region)
                self._flag(None, raw, None, "NOT_OURS", at, lat, lon, region)

    def _code(self, run_id, lot_id, seller_id, serial, printed, use_by, end) -> None:
        rng = self.rng
        code = _code(rng)
        scans = []
        if rng.random() < 0.45:  # the buyer scans it once or a few times, where they live
            place = rng.choices(range(len(shape.PLACES)), shape.PLACE_WEIGHTS)[0]
            client = _client(rng)
            at = printed + HOUR * rng.uniform(20, 70)
            for _ in range(1 + (rng.random() < 0.2) + (rng.random() < 0.05)):
                scans.append((at, client, *_near(rng, place)))
                at += HOUR * rng.uniform(0.01, 5)
        reason = None
        roll = rng.random()
        if roll < 0.004:  # copied and sold as ours: scanned from many networks in a fake hub
            reason = "TOO_MANY_SCANS"
            at = printed + HOUR * rng.uniform(30, 200)
            for _ in range(rng.randint(6, 12)):
                scans.append((at, _client(rng), *_near(rng, rng.choice(shape.FAKE_HUBS))))
                at += HOUR * rng.uniform(1, 20)
        elif roll < 0.006:  # two far places within the hour
            reason = "IMPOSSIBLE_TRAVEL"
            at = printed + HOUR * rng.uniform(30, 100)
            scans.append((at, _client(rng), *_near(rng, 1)))
            scans.append((at + HOUR * 0.5, _client(rng), *_near(rng, rng.choice(shape.FAKE_HUBS))))
        elif roll < 0.007:  # an old package refilled
            reason = "AFTER_USE_BY"
            scans.append(
                (
                    use_by + timedelta(days=rng.randint(20, 60)),
                    _client(rng),
                    *_near(rng, rng.choice(shape.FAKE_HUBS)),
                )
            )
        scans = sorted(scan for scan in scans if scan[0] <= end)
        if not any(scan[0] >= printed for scan in scans):
            reason = None
        code_id = self.writer.next_ids["trace_codes"]
        flagged_at = scans[-1] if reason and scans else None
        self.writer.add(
            TraceCode,
            {
                "code": code,
                "print_run_id": run_id,
                "lot_id": lot_id,
                "seller_id": seller_id,
                "serial": serial,
                "scan_count": len(scans),
                "first_scanned_at": scans[0][0] if scans else None,
                "first_region": scans[0][4] if scans else None,
                "last_scanned_at": scans[-1][0] if scans else None,
                "last_latitude": scans[-1][2] if scans else None,
                "last_longitude": scans[-1][3] if scans else None,
                "flagged": flagged_at is not None,
                "sold_at": None,
            },
        )
        for at, client, lat, lon, region in scans:
            self._scan(code_id, code, at, client, lat, lon, region)
        if flagged_at:
            at, _, lat, lon, region = flagged_at
            self._flag(code_id, code, seller_id, reason, at, lat, lon, region)

    def _scan(self, code_id, raw, at, client, lat, lon, region) -> None:
        self.writer.add(
            TraceScan,
            {
                "stream_id": f"hist-{self.writer.next_ids['trace_scans']}",
                "code_id": code_id,
                "raw_code": raw,
                "scanned_at": at,
                "ip_hash": client,
                "latitude": round(lat, 4),
                "longitude": round(lon, 4),
                "region": region,
            },
        )

    def _flag(self, code_id, raw, seller_id, reason, at, lat, lon, region) -> None:
        self.writer.add(
            TraceFlag,
            {
                "key": f"{code_id or raw}:{reason}",
                "code_id": code_id,
                "raw_code": raw,
                "seller_id": seller_id,
                "reason": reason,
                "message": FLAG_MESSAGES[reason],
                "region": region,
                "latitude": round(lat, 4),
                "longitude": round(lon, 4),
                "created_at": at,
            },
        )


def write_followers(
    writer: Writer, ctx: Context, rng: random.Random, start: datetime, days: int, taken: set[int]
) -> dict[int, tuple[datetime, str]]:
    """Sellers binding the Official Account over the year (most do; a few unfollow or refuse
    template messages): {seller id: (bound at, "ok" | "blocked" | "unfollowed")}."""
    bound = {}
    for seller_id, _name, _town, _tags in ctx.sellers:
        if seller_id in taken or rng.random() > 0.8:
            continue
        at = start + timedelta(days=days * rng.random() ** 1.6)
        state = rng.choices(("ok", "blocked", "unfollowed"), (0.9, 0.04, 0.06))[0]
        writer.add(
            OAFollower,
            {
                "openid": f"oa_hist_{seller_id:06d}",
                "unionid": None,
                "following": state != "unfollowed",
                "templates_blocked": state == "blocked",
                "seller_id": seller_id,
                "staff_id": None,
                "last_message_at": at,
                "bound_at": at,
                "created_at": at,
                "updated_at": at,
            },
        )
        bound[seller_id] = (at, state)
    return bound


BROADCASTS = [  # category, title, body
    ("price", "本周牡蛎指导价", "本周鲜活牡蛎各规格指导价已更新，请按指导价销售，勿低价倾销。"),
    ("training", "直播带货培训", "联盟将于本周六下午在海阳所镇举办直播带货培训，欢迎报名。"),
    ("rules", "品牌标识使用规范", "请使用联盟发放的防伪码和统一包装，勿自行印制品牌标识。"),
    ("typhoon", "台风预警", "台风将影响乳山海域，请提前加固浮筏，暂停出海采收。"),
    ("other", "春节发货安排", "春节期间快递停运，请提前告知买家发货时间。"),
]


def broadcast_day(
    writer: Writer,
    ctx: Context,
    rng: random.Random,
    day: date,
    at: datetime,
    followers: dict,
    end: datetime,
) -> None:
    """Most weeks one notice to all or some sellers (typhoon warnings in summer), delivered on
    WeChat to those bound and following at the time."""
    if at + HOUR > end:
        return
    if day.weekday() == 1 and day.isocalendar().week % 2 == 0:
        category, title, body = rng.choice([b for b in BROADCASTS if b[0] != "typhoon"])
    elif day.month in (7, 8, 9) and rng.random() < 0.05:
        category, title, body = BROADCASTS[3]
    else:
        return
    towns = sorted({town for _, _, town, _ in ctx.sellers})
    roll = rng.random()
    if roll < 0.55 or not towns:
        target, chosen = {}, ctx.sellers
    elif roll < 0.85:
        picked = rng.sample(towns, min(2, len(towns)))
        target, chosen = {"towns": picked}, [s for s in ctx.sellers if s[2] in picked]
    else:
        target, chosen = {"tags": ["直播"]}, [s for s in ctx.sellers if "直播" in s[3]]
    broadcast_id = writer.add(
        Broadcast,
        {
            "title": title,
            "body": body,
            "category": category,
            "link": "",
            "target": target,
            "send_at": at,
            "status": "DONE",
            "recipients": len(chosen),
            "created_by": ctx.staff_id,
            "created_at": at - HOUR * 2,
            "started_at": at,
            "finished_at": at + timedelta(minutes=20),
            "cancelled_at": None,
        },
    )
    for seller_id, _name, _town, _tags in chosen:
        notice_id = writer.add(
            SellerNotice,
            {
                "seller_id": seller_id,
                "kind": f"BROADCAST_{category.upper()}",
                "title": title,
                "body": body,
                "data": {"category": CATEGORIES[category], "more": ""},
                "dedupe_key": f"broadcast:{broadcast_id}:{seller_id}",
                "broadcast_id": broadcast_id,
                "link": f"/seller/broadcasts/{broadcast_id}",
                "created_at": at,
                "read_at": at + HOUR * rng.uniform(0.1, 48) if rng.random() < 0.4 else None,
            },
        )
        bound_at, state = followers.get(seller_id, (None, None))
        sent = at + timedelta(seconds=rng.randint(5, 600))
        if bound_at is None or bound_at > at:
            outcome = ("SKIPPED", "未绑定公众号", None)
        elif state == "unfollowed":
            outcome = ("SKIPPED", "未关注或拒收公众号消息", None)
        elif state == "blocked":
            outcome = ("FAILED", "用户拒收", sent)
        else:
            outcome = rng.choices(
                [
                    ("DELIVERED", "", sent),
                    ("FAILED", "微信发送失败：system failed", sent),
                    ("SENT", "", None),
                ],
                (0.95, 0.03, 0.02),
            )[0]
        state_now, reason, finished = outcome
        reached = state_now in ("DELIVERED", "FAILED", "SENT") and state != "blocked"
        writer.add(
            NoticeDelivery,
            {
                "notice_id": notice_id,
                "broadcast_id": broadcast_id,
                "channel": "oa_template",
                "state": state_now,
                "openid": f"oa_hist_{seller_id:06d}" if bound_at and bound_at <= at else None,
                "attempts": 1 if reached or state == "blocked" else 0,
                "msgid": f"hist{notice_id}" if reached else None,
                "reason": reason,
                "claimed_at": sent if bound_at and bound_at <= at else None,
                "sent_at": sent if reached else None,
                "finished_at": (finished + timedelta(seconds=30)) if finished else sent,
                "created_at": at,
            },
        )
