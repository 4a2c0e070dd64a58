"""Seller notices over the Official Account (the sandbox's template messages, with its real
client_msg_id dedupe and TEMPLATESENDJOBFINISH events), alliance broadcasts, and the inbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import requests

from backend.config import PROJECT_ROOT
from backend.extensions import db
from backend.notices import service as notices
from backend.notices.models import NoticeDelivery
from backend.officialaccount.models import OAFollower
from backend.sellers import service as sellers
from backend.timeutil import SHANGHAI, to_aware_utc, utcnow
from jobs import notices as notice_jobs
from tests.helpers import SQLITE_RUN_ONLY, run_jobs, wait_for
from tests.test_console_pages import log_in


def make_sellers(app, sandbox, count: int, *, bound: bool = True, **fields) -> list[int]:
    """Sellers who follow the Official Account and bound their WeChat to it (in 测试东镇 unless
    said otherwise: the demo alliance's 3000 sellers live elsewhere)."""
    fields.setdefault("town", "测试东镇")
    ids = []
    with app.app_context():
        for _ in range(count):
            seller = sellers.create_seller(
                db.session, name=f"测试卖家{len(ids)}{fields.get('town', '')}", **fields
            )
            db.session.flush()
            if bound:
                openid = f"oa-seller-{seller.id}"
                requests.post(
                    f"{sandbox.url}/sandbox/oa/users",
                    json={"openid": openid, "follow": True, "push": False},
                    timeout=5,
                )
                # a late WeChat event of an earlier test may have created the follower already
                follower = db.session.scalar(
                    db.select(OAFollower).where(OAFollower.openid == openid)
                ) or OAFollower(openid=openid)
                follower.seller_id, follower.following = seller.id, True
                db.session.add(follower)
            ids.append(seller.id)
        db.session.commit()
        db.session.remove()
    return ids


def messages(sandbox, openid: str | None = None) -> list[dict]:
    params = {"kind": "template", **({"openid": openid} if openid else {})}
    return requests.get(f"{sandbox.url}/sandbox/oa/messages", params=params, timeout=10).json()[
        "messages"
    ]


def seller_headers(staff_client, seller_id: int) -> dict:
    token = staff_client.post(f"/console/api/sellers/{seller_id}/api-tokens", json={}).json["token"]
    return {"Authorization": f"Bearer {token}"}


def typhoon(**extra) -> dict:
    return {
        "title": "台风“海葵”预警",
        "body": "预计明晚登陆乳山，请提前停止发货并加固养殖筏架。",
        "category": "typhoon",
        "link": "/notices/typhoon",
        "target": {"towns": ["测试东镇"]},
        **extra,
    }


def test_an_order_event_reaches_its_seller_once(app, client, sandbox, staff_client, oa):
    [seller_id] = make_sellers(app, sandbox, 1)
    with app.app_context():
        for _ in range(2):  # the same event twice (a re-read order): one notice
            notices.notify(
                db.session,
                seller_id=seller_id,
                kind="PLATFORM_ORDER_PAID",
                title="抖店新订单",
                body="金额 196.00 元，订单 6918000000000000100",
                dedupe_key="platform-order:douyin:6918000000000000100:PAID",
                link="/api/seller/v1/orders/1",
            )
            db.session.commit()
        db.session.remove()
    run_jobs(app)
    with app.app_context():  # a retried job sends nothing more
        notice_jobs.deliver_notice(db.session.scalar(db.select(NoticeDelivery.notice_id)))
        db.session.remove()
    [sent] = messages(sandbox, f"oa-seller-{seller_id}")
    assert sent["data"]["keyword1"]["value"] == "抖店新订单"
    # 20 characters, the amount among them
    assert sent["data"]["keyword2"]["value"] == "金额 196.00 元，订单 6918…"
    assert sent["url"].endswith("/api/seller/v1/orders/1")

    def delivered():
        with app.app_context():
            state = db.session.scalar(db.select(NoticeDelivery.state))
            db.session.remove()
        return state == "DELIVERED"

    wait_for(delivered)  # TEMPLATESENDJOBFINISH came back through the OA callback


def test_a_typhoon_warning_reaches_every_seller_once(app, client, sandbox, staff_client, oa):
    reachable = make_sellers(app, sandbox, 12, town="测试东镇")
    unbound = make_sellers(app, sandbox, 2, bound=False, town="测试东镇")
    [unfollowed] = make_sellers(app, sandbox, 1, town="测试东镇")
    requests.post(  # the seller unfollows after binding; we have not heard yet
        f"{sandbox.url}/sandbox/oa/users",
        json={"openid": f"oa-seller-{unfollowed}", "follow": False, "push": False},
        timeout=5,
    )
    others = make_sellers(app, sandbox, 3, town="测试西镇")
    res = staff_client.post("/console/api/broadcasts", json=typhoon(target={"towns": ["测试东镇"]}))
    assert res.status_code == 201, res.json
    broadcast = res.json
    assert broadcast["recipients"] == 15 and broadcast["status"] == "SCHEDULED"
    run_jobs(app)
    report = wait_for(
        lambda: (
            (r := staff_client.get(f"/console/api/broadcasts/{broadcast['id']}").json)["delivered"]
            == 12
            and r
        )
    )
    assert report["status"] == "DONE" and report["pending"] == 0 and report["progress"] == 1
    assert report["sent"] == 12
    assert report["skipped_by_reason"] == {"未绑定公众号": 2}
    assert report["failed_by_reason"] == {"43004 未关注公众号": 1}
    for seller_id in reachable:
        assert len(messages(sandbox, f"oa-seller-{seller_id}")) == 1
    for seller_id in others:
        assert messages(sandbox, f"oa-seller-{seller_id}") == []

    # Everyone targeted has it in the inbox, WeChat or not; reading it shows in the report.
    for seller_id in (unbound[0], reachable[0]):
        headers = seller_headers(staff_client, seller_id)
        inbox = client.get("/api/seller/v1/notices", headers=headers).json["items"]
        assert [n["title"] for n in inbox] == ["台风“海葵”预警"]
        assert client.post(f"/api/seller/v1/notices/{inbox[0]['id']}/read", headers=headers)
    stranger = seller_headers(staff_client, others[0])
    assert (
        client.post(f"/api/seller/v1/notices/{inbox[0]['id']}/read", headers=stranger).status_code
        == 404
    )
    assert staff_client.get(f"/console/api/broadcasts/{broadcast['id']}").json["read"] == 2
    again = staff_client.post(f"/console/api/broadcasts/{broadcast['id']}/cancel", json={})
    assert again.status_code == 409


@pytest.mark.parametrize(
    "change, code",
    [
        ({"title": "  "}, "EMPTY_NOTICE"),
        ({"body": ""}, "EMPTY_NOTICE"),
        ({"body": "台" * 1001}, "VALIDATION_ERROR"),
        ({"title": "超强台风海葵将于明晚登陆乳山请各位卖家停止发货"}, "VALIDATION_ERROR"),
        ({"title": "超强台风海葵将于明晚登陆乳山请各位卖家停止发货" * 2}, "VALIDATION_ERROR"),
        ({"target": {"towns": ["火星镇"]}}, "UNKNOWN_TARGET_VALUE"),
        ({"target": {"towns": ["测试东镇"], "tags": ["直播"]}}, "NO_RECIPIENTS"),
        ({"target": {"towns": ["海阳所镇"]}}, "NO_REACHABLE_RECIPIENTS"),
        ({"category": ""}, "VALIDATION_ERROR"),
        ({"target": {"planets": ["火星"]}}, "VALIDATION_ERROR"),
        ({"send_at": "2020-01-01T08:00:00+08:00"}, "SEND_AT_IN_PAST"),
        ({"category": "gossip"}, "VALIDATION_ERROR"),
    ],
)
def test_bad_broadcasts_are_refused_before_anything_is_sent(
    app, sandbox, staff_client, change, code
):
    make_sellers(app, sandbox, 1)
    res = staff_client.post("/console/api/broadcasts", json=typhoon(**change))
    # only "nobody matches or is reachable" is a broken rule (422); the rest is a bad request
    broken = code in ("NO_RECIPIENTS", "NO_REACHABLE_RECIPIENTS")
    assert res.status_code == (422 if broken else 400), res.json
    assert res.json["code"] == code
    assert messages(sandbox) == []


def test_the_api_refuses_a_long_title_with_the_pages_message(app, sandbox, staff_client):
    make_sellers(app, sandbox, 1)
    res = staff_client.post("/console/api/broadcasts", json=typhoon(title="培" * 21))
    assert res.status_code == 400 and res.json["code"] == "VALIDATION_ERROR"
    assert res.json["details"]["json"]["title"] == ["模板字段最多 20 个字（标题）"]
    assert (
        staff_client.post("/console/api/broadcasts", json=typhoon(title="培" * 20)).status_code
        == 201
    )


def test_a_scheduled_broadcast_waits_and_can_be_cancelled_once(app, sandbox, staff_client):
    make_sellers(app, sandbox, 2)
    later = to_aware_utc(utcnow() + timedelta(hours=2)).astimezone(SHANGHAI).isoformat()
    broadcast = staff_client.post("/console/api/broadcasts", json=typhoon(send_at=later)).json
    run_jobs(app)
    assert staff_client.get(f"/console/api/broadcasts/{broadcast['id']}").json["status"] == (
        "SCHEDULED"
    )
    cancelled = staff_client.post(f"/console/api/broadcasts/{broadcast['id']}/cancel", json={})
    assert cancelled.status_code == 200 and cancelled.json["status"] == "CANCELLED"
    again = staff_client.post(f"/console/api/broadcasts/{broadcast['id']}/cancel", json={})
    assert again.status_code == 409 and again.json["code"] == "BROADCAST_NOT_CANCELLABLE"
    with app.app_context():
        assert notice_jobs.start_broadcast(broadcast["id"]) == 0  # its time came: nothing
        db.session.remove()
    assert messages(sandbox) == []


@SQLITE_RUN_ONLY
def test_wechat_failing_for_30_seconds_delays_but_loses_nothing(app, sandbox, staff_client, oa):
    ids = make_sellers(app, sandbox, 5)
    requests.post(
        f"{sandbox.url}/sandbox/oa/faults",
        json={"errcode": -1, "seconds": 30, "apis": ["template"]},
        timeout=5,
    )
    started = time.monotonic()
    broadcast = staff_client.post("/console/api/broadcasts", json=typhoon()).json
    while time.monotonic() - started < 90:
        run_jobs(app)  # chunks come back after 1, 2, 5, 10, 15, 30 s
        report = staff_client.get(f"/console/api/broadcasts/{broadcast['id']}").json
        if report["status"] == "DONE":
            break
        time.sleep(1)
    assert report["sent"] == 5 and time.monotonic() - started >= 30
    for seller_id in ids:
        assert len(messages(sandbox, f"oa-seller-{seller_id}")) == 1


def test_a_worker_killed_mid_fan_out_still_sends_each_notice_once(
    app, sandbox, staff_client, oa, monkeypatch
):
    ids = make_sellers(app, sandbox, 40)
    requests.post(f"{sandbox.url}/sandbox/faults", json={"latency_ms": 100}, timeout=5)
    monkeypatch.setitem(app.config, "NOTICE_STALE_SECONDS", 2)
    broadcast = staff_client.post("/console/api/broadcasts", json=typhoon()).json
    env = {
        **os.environ,
        "DATABASE_URL": app.config["DATABASE_URL"],
        "REDIS_URL": app.config["REDIS_URL"],
        "SANDBOX_URL": sandbox.url,
        "WECHAT_API_BASE": sandbox.url + "/",
        "SECRET_KEY": "test-secret",
        "NOTICE_STALE_SECONDS": "2",  # its chunk's lease
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "jobs.worker", "notices", "default", "broadcasts"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: len(messages(sandbox)) >= 3, timeout=60)
        kill_tree(worker.pid)  # the worker and the work horse it forked (its own session)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            kill_tree(worker.pid)
    requests.post(f"{sandbox.url}/sandbox/faults", json={"latency_ms": 0}, timeout=5)
    assert len(messages(sandbox)) < 40  # killed mid-run
    time.sleep(2.5)  # the dead worker's claims and lease go stale
    with app.app_context():
        assert notice_jobs.sweep_notices() > 0
        db.session.remove()
    run_jobs(app)
    report = staff_client.get(f"/console/api/broadcasts/{broadcast['id']}").json
    assert report["sent"] == 40 and report["pending"] == 0
    for seller_id in ids:
        assert len(messages(sandbox, f"oa-seller-{seller_id}")) == 1


def kill_tree(pid: int) -> None:
    """SIGKILL a process and every process it started, as a crashed machine would."""
    try:
        children = open(f"/proc/{pid}/task/{pid}/children").read().split()
    except OSError:
        children = []
    os.kill(pid, signal.SIGKILL)
    for child in children:
        kill_tree(int(child))


def test_staff_compose_on_the_console_and_watch_the_report(app, sandbox, client, store, oa):
    make_sellers(app, sandbox, 3)
    log_in(client)
    page = client.get("/console/broadcasts").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    form = {
        "csrf_token": token,
        "title": "开海培训通知",
        "category": "training",
        "body": "周六上午九点在海阳所镇运营中心培训直播带货。",
        "towns": "测试东镇",
        # what the page's preview showed staff, which they confirm by sending
        "seen_matched": "3",
        "seen_reachable": "3",
        "seen_audience": "镇：测试东镇",
    }
    too_long = client.post("/console/broadcasts", data={**form, "title": "培" * 21})
    assert too_long.status_code == 400 and "模板字段最多 20 个字" in too_long.get_data(as_text=True)
    not_cut = client.post("/console/broadcasts", data={**form, "title": "培" * 41})
    assert not_cut.status_code == 400 and "模板字段最多 20 个字" in not_cut.get_data(as_text=True)
    made = client.post("/console/broadcasts", data=form)
    assert made.status_code == 302
    run_jobs(app)
    detail = wait_for(
        lambda: (
            (html := client.get(made.headers["Location"]).get_data(as_text=True))
            and '<td class="num" id="sent">3</td>' in html
            and html
        )
    )
    assert "开海培训通知" in detail and "已完成" in detail
