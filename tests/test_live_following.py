"""Following the live provider without anyone pressing sync (backend/live/following.py and
cards.py), against the sandbox's 小程序直播: a product card under audit is pushed once when the
audit passes (or when its room goes live), never twice; rooms' status is followed every 10 s
while a room is live or about to start and every minute otherwise; the daily quotas are paced
and a 45009 stops a follower for the day."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from backend.clients import quota
from backend.extensions import db
from backend.live import cards, following, rooms
from backend.live.models import LIVE, LiveGoods, LiveRoom
from backend.queue import redis_client
from backend.timeutil import SHANGHAI
from jobs import scheduler
from tests.helpers import go_live, room_body

HOUR = 3600


@pytest.fixture
def room(staff_client, store) -> dict:
    res = staff_client.post("/console/api/live/rooms", json=room_body())
    assert res.status_code == 201, res.json
    return res.json


def _external(app, room_id: int) -> str:
    with app.app_context():
        external = db.session.get(LiveRoom, room_id).external_id
        db.session.remove()
    return external


def _pushes(sandbox, external: str) -> list[dict]:
    res = requests.get(f"{sandbox.url}/sandbox/live/pushes", params={"roomId": external}, timeout=5)
    return res.json()["pushes"]


def _show(staff_client, room_id: int, sku_id: int | None) -> str:
    res = staff_client.post(f"/console/api/live/rooms/{room_id}/on-screen", json={"sku_id": sku_id})
    assert res.status_code == 200, res.json
    return res.json["card"]


def _goods_id(app, sku_id: int) -> str:
    with app.app_context():
        goods_id = db.session.scalar(
            db.select(LiveGoods.goods_id).where(LiveGoods.sku_id == sku_id)
        )
        db.session.remove()
    return goods_id


def _audit(sandbox, goods_id: str, status: int) -> None:
    res = requests.post(
        f"{sandbox.url}/sandbox/live/goods/{goods_id}/audit", json={"status": status}, timeout=5
    )
    assert res.status_code == 200, res.text


def _fault(sandbox, errcode: int, times: int = 1) -> None:
    body = {"wechat_errcode": errcode, "wechat_errcode_times": times}
    assert requests.post(f"{sandbox.url}/sandbox/faults", json=body, timeout=5).status_code == 200


def _card(app, room_id: int) -> dict:
    with app.app_context():
        state = cards.card_state(db.session, db.session.get(LiveRoom, room_id))
        db.session.remove()
    return state


def _follow_audits(app, now: float) -> dict:
    with app.app_context():
        done = following.follow_audits(db.session, now=now)
        db.session.remove()
    return done


def _follow_statuses(app, now: float) -> dict:
    with app.app_context():
        done = following.follow_statuses(db.session, now=now)
        db.session.remove()
    return done


def _status(app, room_id: int) -> int:
    with app.app_context():
        status = db.session.get(LiveRoom, room_id).live_status
        db.session.remove()
    return status


def _used(app, api: str) -> int:
    with app.app_context():
        return quota.used(api)


# -- product cards: audit, then push once ----------------------------------------------------


def test_a_card_under_audit_is_pushed_once_when_the_audit_passes(
    app, sandbox, staff_client, store, room
):
    external = go_live(sandbox, staff_client, room["id"])
    sku = store["RS-LIVE-XL-5"]
    assert _show(staff_client, room["id"], sku) == "auditing"
    assert _card(app, room["id"])["state"] == "auditing"
    assert _card(app, room["id"])["tone"] == "warn"  # never shown as success
    start = time.time()
    assert _follow_audits(app, start)["checked"] == 1  # still under audit at WeChat
    assert _pushes(sandbox, external) == []

    _audit(sandbox, _goods_id(app, sku), 2)  # the reviewers approve
    assert _follow_audits(app, start + 5)["reason"] == "not_due"  # on screen: every 30 s
    done = _follow_audits(app, start + 30)
    assert (done["changed"], done["pushed"]) == (1, [room["id"]])
    assert len(_pushes(sandbox, external)) == 1
    assert _card(app, room["id"]) == {"state": "pushed", "tone": "good", "text": "已推送给观众"}

    # Nothing pushes it again: the followers' next ticks, a status sync, push_due itself.
    assert _follow_audits(app, start + 60) == {"checked": 0}
    assert _follow_statuses(app, start + 60)["synced"] is True
    with app.app_context():
        assert cards.push_due(db.session) == []
    assert len(_pushes(sandbox, external)) == 1
    # The host showing it again is a new showing: pushed again, at once (it is approved).
    assert _show(staff_client, room["id"], sku) == "pushed"
    assert len(_pushes(sandbox, external)) == 2


def test_pushers_racing_for_one_waiting_card_push_it_once(app, sandbox, staff_client, store, room):
    external = go_live(sandbox, staff_client, room["id"])
    sku = store["RS-LIVE-L-5"]
    assert _show(staff_client, room["id"], sku) == "auditing"
    goods_id = _goods_id(app, sku)
    _audit(sandbox, goods_id, 2)
    with app.app_context():
        db.session.execute(
            db.update(LiveGoods).where(LiveGoods.goods_id == goods_id).values(audit_status=2)
        )
        db.session.commit()
        db.session.remove()
    pushed: list[list[int]] = []

    def push() -> None:
        with app.app_context():
            pushed.append(cards.push_due(db.session))
            db.session.remove()

    threads = [threading.Thread(target=push) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(pushed) == [[]] * 5 + [[room["id"]]]
    assert len(_pushes(sandbox, external)) == 1


def test_an_approved_card_waits_for_its_room_to_go_live(app, sandbox, staff_client, store, room):
    sku = store["RS-LIVE-M-5"]
    assert _show(staff_client, room["id"], sku) == "auditing"
    _audit(sandbox, _goods_id(app, sku), 2)
    assert _show(staff_client, room["id"], sku) == "ready"  # approved, the room not live yet
    assert _card(app, room["id"])["text"] == "审核已通过，直播开始后自动推送给观众"
    external = _external(app, room["id"])
    assert _pushes(sandbox, external) == []

    res = requests.post(
        f"{sandbox.url}/sandbox/live/rooms/{external}/status", json={"live_status": 101}, timeout=5
    )
    assert res.status_code == 200
    done = _follow_statuses(app, time.time())  # the next tick sees the room live...
    assert done["changed"] == 1 and done["pushed"] == [room["id"]]  # ...and pushes the card
    assert _status(app, room["id"]) == LIVE
    assert len(_pushes(sandbox, external)) == 1
    assert _follow_statuses(app, time.time() + 10)["pushed"] == []
    assert len(_pushes(sandbox, external)) == 1


def test_a_rejected_card_is_never_pushed_and_says_so(app, sandbox, staff_client, store, room):
    external = go_live(sandbox, staff_client, room["id"])
    sku = store["RS-GIFT-XL-8"]
    assert _show(staff_client, room["id"], sku) == "auditing"
    _audit(sandbox, _goods_id(app, sku), 3)
    done = _follow_audits(app, time.time())
    assert (done["changed"], done["pushed"]) == (1, [])
    card = _card(app, room["id"])
    assert card["state"] == "rejected" and card["tone"] == "bad" and "未通过" in card["text"]
    assert _show(staff_client, room["id"], sku) == "rejected"
    assert _pushes(sandbox, external) == []


def test_a_card_taken_off_screen_before_its_audit_passed_is_not_pushed(
    app, sandbox, staff_client, store, room
):
    external = go_live(sandbox, staff_client, room["id"])
    first, second = store["RS-LIVE-XL-5"], store["RS-LIVE-S-5"]
    assert _show(staff_client, room["id"], first) == "auditing"
    assert _show(staff_client, room["id"], second) == "auditing"  # the host moved on
    _audit(sandbox, _goods_id(app, first), 2)
    assert _follow_audits(app, time.time())["pushed"] == []
    assert _pushes(sandbox, external) == []
    assert _show(staff_client, room["id"], None) == "none"
    _audit(sandbox, _goods_id(app, second), 2)
    assert _follow_audits(app, time.time() + 600)["pushed"] == []
    assert _pushes(sandbox, external) == [] and _card(app, room["id"]) is None


def test_a_failed_automatic_push_is_shown_and_tried_again(app, sandbox, staff_client, store, room):
    external = go_live(sandbox, staff_client, room["id"])
    sku = store["RS-LIVE-L-5"]
    _show(staff_client, room["id"], sku)
    with app.app_context():  # the audit follower saw it approved
        goods_id = _goods_id(app, sku)
        _audit(sandbox, goods_id, 2)
        db.session.execute(
            db.update(LiveGoods).where(LiveGoods.sku_id == sku).values(audit_status=2)
        )
        db.session.commit()
        _fault(sandbox, -1)  # WeChat fails the import into the room once
        assert cards.push_due(db.session) == []
        card = cards.card_state(db.session, db.session.get(LiveRoom, room["id"]))
        assert card["state"] == "failed" and card["tone"] == "bad" and "错误码 -1" in card["text"]
        assert cards.push_due(db.session) == []  # the failed try holds its turn a minute
        redis_client().delete(cards._claim_key(room["id"], sku))  # a minute later
        assert cards.push_due(db.session) == [room["id"]]
        assert cards.push_due(db.session) == []
        db.session.remove()
    assert [push["goodsId"] for push in _pushes(sandbox, external)] == [int(goods_id)]
    assert _card(app, room["id"])["state"] == "pushed"


# -- rooms' status, followed -----------------------------------------------------------------


def test_a_room_starting_within_the_hour_is_followed_every_ten_seconds(
    app, sandbox, staff_client, room
):
    start = time.time()
    first = _follow_statuses(app, start)
    assert first["synced"] is True and first["every"] == following.FAST_SECONDS
    assert _follow_statuses(app, start + 5)["reason"] == "not_due"
    external = _external(app, room["id"])
    requests.post(
        f"{sandbox.url}/sandbox/live/rooms/{external}/status", json={"live_status": 101}, timeout=5
    )
    done = _follow_statuses(app, start + 10)
    assert done["synced"] is True and done["changed"] == 1
    assert _status(app, room["id"]) == LIVE
    assert _used(app, following.STATUS_API) == 2  # one getliveinfo page per sync
    with app.app_context():
        note = following.status_note()
    assert note["error"] is None and note["every"] == following.FAST_SECONDS


def test_rooms_far_off_are_followed_every_minute(app, staff_client, store):
    res = staff_client.post(
        "/console/api/live/rooms",
        json=room_body(starts_at=_at(hours=3), ends_at=_at(hours=5)),
    )
    assert res.status_code == 201, res.json
    start = time.time()
    assert _follow_statuses(app, start)["every"] == following.SLOW_SECONDS
    assert _follow_statuses(app, start + 10)["reason"] == "not_due"
    assert _follow_statuses(app, start + 30)["reason"] == "not_due"
    assert _follow_statuses(app, start + 60)["synced"] is True
    assert _used(app, following.STATUS_API) == 2


def _at(*, hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def _later_today(start: float, seconds: float) -> float:
    """`seconds` after `start`, but still on WeChat's day of `start` (CI may run at 23:55 China)."""
    return start + min(seconds, quota.seconds_to_midnight(start) - 0.5)


def test_a_45009_stops_following_for_the_rest_of_the_day(app, sandbox, staff_client, room):
    start = time.time()
    _fault(sandbox, 45009)
    failed = _follow_statuses(app, start)
    assert failed == {"synced": False, "reason": "error", "errcode": 45009}
    with app.app_context():
        assert following.status_note()["error"] == following.QUOTA_TEXT
        assert quota.is_spent(following.STATUS_API)
    calls = _used(app, following.STATUS_API)
    for later in (10, 60, 600):
        assert _follow_statuses(app, _later_today(start, later)) == {
            "synced": False,
            "reason": "quota",
        }
    assert _used(app, following.STATUS_API) == calls  # WeChat not asked again today
    # The console still shows the last known status and says why it is not following.
    page = staff_client.get(f"/console/live/rooms/{room['id']}/state").json
    assert page["room"]["following"]["error"] == following.QUOTA_TEXT
    tomorrow = start + 24 * HOUR
    assert _follow_statuses(app, tomorrow)["synced"] is True


def test_other_errcodes_are_noted_and_tried_again_on_the_next_tick(app, sandbox, room):
    start = time.time()
    _fault(sandbox, -1)
    failed = _follow_statuses(app, start)
    assert failed["reason"] == "error" and failed["errcode"] == -1
    with app.app_context():
        assert "错误码 -1" in following.status_note()["error"]
        assert not quota.is_spent(following.STATUS_API)
    assert _follow_statuses(app, start + 10)["synced"] is True
    with app.app_context():
        assert following.status_note()["error"] is None


def test_the_pace_stretches_so_the_quota_lasts_the_day(app):
    noon = datetime(2026, 12, 6, 12, 0, tzinfo=SHANGHAI).timestamp()
    with app.app_context():
        api = "getliveinfo"

        def pace(calls: int = 1, at: float = noon):
            return following.pace(api, per_day=100_000, calls=calls, fastest=10, slowest=60, now=at)

        assert pace() == 10
        quota.spend(api, 88_000, now=noon)  # 2 000 calls of the 90 % share left, 12 hours to go
        assert pace() == 10  # an hour at 10 s (360) and the rest at 60 s (660) still fit
        quota.spend(api, 1_000, now=noon)  # 1 000 left: no longer, so spread them evenly
        assert pace() == pytest.approx(43.2)
        assert pace(calls=3) == pytest.approx(129.6)
        quota.spend(api, 1_000, now=noon)  # the followers' share is spent
        assert pace() is None
        assert pace(at=noon + 12 * HOUR) == 10  # a new day at WeChat


def test_audits_keep_to_their_small_quota(app, sandbox, staff_client, store, room, monkeypatch):
    go_live(sandbox, staff_client, room["id"])
    monkeypatch.setitem(app.config, "LIVE_AUDIT_CALLS_PER_DAY", 4)  # a 90 % share: 3 calls
    _show(staff_client, room["id"], store["RS-LIVE-XL-5"])  # adds the card, asks its audit once
    start = time.time()
    assert _follow_audits(app, start)["checked"] == 1
    assert _used(app, following.AUDIT_API) == 2
    # one call left for the rest of the day: the 30 s pace stretches to make it last
    assert _follow_audits(app, _later_today(start, 30))["reason"] == "not_due"
    with app.app_context():
        quota.spend(following.AUDIT_API)  # a host's own look takes the last one
    assert _follow_audits(app, _later_today(start, 60)) == {"checked": 0, "reason": "quota"}
    assert _used(app, following.AUDIT_API) == 3


def test_a_45009_on_the_goods_warehouse_leaves_the_host_switching(
    app, sandbox, staff_client, store, room
):
    go_live(sandbox, staff_client, room["id"])
    sku = store["RS-LIVE-XL-5"]
    _show(staff_client, room["id"], sku)
    _fault(sandbox, 45009)
    assert _follow_audits(app, time.time())["errcode"] == 45009
    calls = _used(app, following.AUDIT_API)
    # the host switches again: WeChat is not asked about the audit today, the switch stands
    assert _show(staff_client, room["id"], store["RS-LIVE-L-5"]) == "auditing"
    assert _show(staff_client, room["id"], sku) == "auditing"
    assert _used(app, following.AUDIT_API) == calls
    assert _follow_audits(app, _later_today(time.time(), 600))["reason"] == "quota"


def test_the_manual_sync_also_pushes_what_became_pushable(app, sandbox, staff_client, store, room):
    external = go_live(sandbox, staff_client, room["id"])
    sku = store["RS-LIVE-XL-5"]
    _show(staff_client, room["id"], sku)
    _audit(sandbox, _goods_id(app, sku), 2)
    assert staff_client.post("/console/api/live/rooms/sync", json={}).json == {"changed": 0}
    assert len(_pushes(sandbox, external)) == 1
    assert _card(app, room["id"])["state"] == "pushed"


# -- the schedule ----------------------------------------------------------------------------


def test_the_followers_are_on_the_schedule_every_tick():
    entries = {entry.id: entry for entry in scheduler.SCHEDULE}
    assert entries["sync-live-rooms"].func_path == "jobs.live.sync_live_rooms"
    assert entries["sync-live-rooms"].seconds == following.FAST_SECONDS
    assert entries["follow-goods-audits"].func_path == "jobs.live.follow_goods_audits"
    assert entries["follow-goods-audits"].seconds <= following.AUDIT_HOT_SECONDS


def test_the_jobs_run_the_followers(app, sandbox, staff_client, room):
    from jobs.live import follow_goods_audits, sync_live_rooms

    external = _external(app, room["id"])
    requests.post(
        f"{sandbox.url}/sandbox/live/rooms/{external}/status", json={"live_status": 101}, timeout=5
    )
    with app.app_context():
        assert sync_live_rooms()["changed"] == 1
        assert sync_live_rooms()["reason"] == "not_due"  # the next tick comes 10 s later
        assert follow_goods_audits() == {"checked": 0}
        assert rooms.get_room(db.session, room["id"]).live_status == LIVE
        db.session.remove()
