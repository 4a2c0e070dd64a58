"""The broadcast composer cannot mislead: staff must choose a category, pick the audience from
value lists, and see how many sellers it matches and WeChat reaches before it can be sent; a
broadcast that matches nobody or reaches nobody is refused with why; statuses read in Chinese;
the report's parts add up to the sellers matched while it runs; every send is audited."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from backend.audit.models import AuditRecord
from backend.extensions import db
from backend.flows import broadcasts as broadcast_flow
from backend.notices import broadcasts
from backend.notices import service as notices
from backend.notices.models import Broadcast, SellerNotice
from backend.officialaccount.models import OAFollower
from backend.sellers import service as sellers
from backend.sellers.models import ACTIVE, EXPIRED, BrandLicence
from backend.timeutil import utcnow
from tests.test_seller_notices import make_sellers

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM = {
    "title": "价格指导：大号五斤装",
    "category": "price",
    "body": "本周大号五斤装指导价 98 元，请各位卖家统一调整。",
    "towns": "测试东镇",
}


def csrf(console) -> str:
    return TOKEN.search(console.get("/console/broadcasts").get_data(as_text=True)).group(1)


def counts(app) -> tuple[int, int]:
    """Broadcasts and broadcast audit records written so far."""
    with app.app_context():
        found = (
            db.session.scalar(db.select(db.func.count()).select_from(Broadcast)),
            db.session.scalar(
                db.select(db.func.count())
                .select_from(AuditRecord)
                .where(AuditRecord.action.like("broadcast.%"))
            ),
        )
        db.session.remove()
    return found


def reachable_and_not(app, sandbox) -> tuple[list[int], list[int]]:
    """Four sellers in 测试东镇 who bound and follow the OA, two who never bound, one who
    bound and then unfollowed."""
    reachable = make_sellers(app, sandbox, 4)
    unbound = make_sellers(app, sandbox, 2, bound=False)
    [gone] = make_sellers(app, sandbox, 1)
    with app.app_context():
        db.session.scalar(
            db.select(OAFollower).where(OAFollower.seller_id == gone)
        ).following = False
        db.session.commit()
        db.session.remove()
    return reachable, [*unbound, gone]


def test_the_preview_shows_matched_and_reachable_and_sends_nothing(app, sandbox, store, console_as):
    reachable_and_not(app, sandbox)
    console = console_as("operations")
    page = console.post(
        "/console/broadcasts/preview", data={**FORM, "csrf_token": csrf(console)}
    ).get_data(as_text=True)
    assert '<span class="big" id="matched">7</span>' in page
    assert '<span class="big" id="reachable">4</span>' in page
    assert "2 位未绑定公众号，1 位已取消关注或拒收" in page
    assert 'id="send-button"' in page  # only now can it be sent
    assert counts(app) == (0, 0)


def test_the_page_offers_value_lists_and_no_default_category(app, store, console_as):
    page = console_as("operations").get("/console/broadcasts").get_data(as_text=True)
    assert '<option value="" selected>请选择类别…</option>' in page
    assert "selected>台风预警" not in page
    # the demo's towns, cooperatives, platforms, licence states and tags, each with its count
    for value in ("海阳所镇", "王家滩海水养殖专业合作社", "ACTIVE", "NONE", "直播"):
        assert f'value="{value}"' in page
    assert '<input name="towns"' not in page and 'type="checkbox" name="towns"' in page
    assert 'id="send-button"' not in page  # no send before a preview


def test_sending_without_a_preview_only_previews(app, sandbox, store, console_as):
    reachable_and_not(app, sandbox)
    console = console_as("operations")
    res = console.post("/console/broadcasts", data={**FORM, "csrf_token": csrf(console)})
    assert res.status_code == 200
    assert "请先核对发送人数" in res.get_data(as_text=True)
    assert counts(app) == (0, 0)


def _send(console, **change):
    form = {**FORM, "csrf_token": csrf(console), "seen_audience": "镇：测试东镇"}
    form |= {"seen_matched": "7", "seen_reachable": "4", **change}
    return console.post(
        "/console/broadcasts", data={k: v for k, v in form.items() if v is not None}
    )


@pytest.mark.parametrize(
    ("change", "status", "why"),
    [
        ({"category": ""}, 400, "请选择通知类别"),
        ({"category": None}, 400, "请选择通知类别"),
        ({"towns": "火星镇"}, 400, "“火星镇”下没有在营卖家，请从列表中选择"),
        ({"tags": "直播"}, 422, "没有同时符合条件的在营卖家（镇：测试东镇；卖家标签：直播）"),
        (
            {"towns": "海阳所镇"},
            422,
            "符合条件的 501 位卖家都无法通过微信收到（501 位未绑定公众号）",
        ),
        ({"seen_matched": "6"}, 409, "发送人数已变化：预览时 6 位"),
        ({"seen_audience": "全部卖家"}, 409, "发送对象在预览后改动过"),
    ],
)
def test_a_misleading_broadcast_is_refused_with_why(
    app, sandbox, store, console_as, change, status, why
):
    reachable_and_not(app, sandbox)
    res = _send(console_as("operations"), **change)
    assert res.status_code == status
    assert why in res.get_data(as_text=True)
    assert counts(app) == (0, 0)


def test_the_api_previews_and_refuses_a_broadcast_nobody_can_read(app, sandbox, staff_client):
    reachable_and_not(app, sandbox)
    preview = staff_client.post("/console/api/broadcasts/preview", json={"towns": ["测试东镇"]})
    assert preview.json | {"audience": ""} == {
        "matched": 7,
        "reachable": 4,
        "unbound": 2,
        "not_following": 1,
        "audience": "",
        "refused": None,
    }
    nobody = staff_client.post("/console/api/broadcasts/preview", json={"towns": ["冯家镇"]})
    assert nobody.json["reachable"] == 0 and "都无法通过微信收到" in nobody.json["refused"]
    body = {"title": "通知", "body": "正文", "target": {"towns": ["冯家镇"]}}
    res = staff_client.post("/console/api/broadcasts", json={**body, "category": "other"})
    assert res.status_code == 422 and res.json["code"] == "NO_REACHABLE_RECIPIENTS"
    res = staff_client.post("/console/api/broadcasts", json=body)
    assert res.status_code == 400 and "请选择通知类别" in str(res.json["details"])
    assert counts(app) == (0, 0)


def test_a_send_is_audited_and_reads_in_chinese(app, sandbox, store, console_as):
    reachable_and_not(app, sandbox)
    console = console_as("operations")
    res = _send(console)
    assert res.status_code == 302, res.get_data(as_text=True)
    broadcast_id = int(res.headers["Location"].rsplit("/", 1)[1])
    with app.app_context():
        sent = db.select(AuditRecord).where(AuditRecord.action.like("broadcast.%"))
        [entry] = db.session.scalars(sent).all()
        assert (entry.staff_id, entry.action, entry.target_id) == (
            console.staff_id,
            "broadcast.send",
            str(broadcast_id),
        )
        assert entry.after == {"category": "价格指导", "recipients": 7, "reachable": 4}
        assert "对象：镇：测试东镇" in entry.summary
        db.session.remove()
    listing = console.get("/console/broadcasts").get_data(as_text=True)
    assert "待开始" in listing
    for code in ("SCHEDULED", "RUNNING", "DONE", "CANCELLED"):
        assert code not in listing.replace("'", "")  # the badge's class names are quoted
    token = csrf(console)
    console.post(f"/console/broadcasts/{broadcast_id}/cancel", data={"csrf_token": token})
    detail = console.get(f"/console/broadcasts/{broadcast_id}").get_data(as_text=True)
    assert '<b id="status">已取消</b>' in detail
    with app.app_context():
        sent = db.select(AuditRecord).where(AuditRecord.action.like("broadcast.%"))
        actions = [r.action for r in db.session.scalars(sent)]
        db.session.remove()
    assert actions == ["broadcast.send", "broadcast.cancel"]


def parts_add_up(report: dict) -> dict:
    parts = {p["key"]: p["count"] for p in report["parts"]}
    assert sum(parts.values()) == report["recipients"], report
    assert parts == {k: report[k] for k in parts}
    return parts


def test_the_report_adds_up_while_it_runs(app, sandbox, store):
    reachable, unreachable = reachable_and_not(app, sandbox)
    with app.app_context():
        broadcast = broadcast_flow.create(
            db.session,
            title="台风预警",
            body="明晚登陆，请停止发货。",
            category="typhoon",
            link="",
            target={"towns": ["测试东镇"]},
            send_at=None,
            staff=None,
        )
        broadcast_id = broadcast.id
        # composed, not started: everyone pending
        assert parts_add_up(broadcasts.report(db.session, broadcast_id))["pending"] == 7
        broadcast_flow.start(db.session, broadcast_id)  # the notices are written, not sent
        assert parts_add_up(broadcasts.report(db.session, broadcast_id))["pending"] == 7
        notice_of = dict(
            db.session.execute(
                db.select(SellerNotice.seller_id, SellerNotice.id).where(
                    SellerNotice.broadcast_id == broadcast_id
                )
            ).all()
        )
        # two reachable sellers and one who never bound are done; the rest wait
        notices.deliver_many(db.session, [notice_of[s] for s in (*reachable[:2], unreachable[0])])
        report = broadcasts.report(db.session, broadcast_id)
        assert parts_add_up(report) == {
            "sent": 2,
            "failed": 0,
            "unreachable": 1,
            "cancelled": 0,
            "pending": 4,
        }
        assert report["unreachable_by_reason"] == {"未绑定公众号": 1}
        assert report["status_name"] == "发送中"
        broadcasts.cancel(db.session, broadcast_id)
        report = broadcasts.report(db.session, broadcast_id)
        assert parts_add_up(report)["cancelled"] == 4 and report["pending"] == 0
        assert report["status_name"] == "已取消"
        db.session.remove()


def test_a_sellers_licence_state_is_their_best_licence(app, store):
    with app.app_context():
        renewed = sellers.create_seller(db.session, name="续期的卖家", town="测试南镇")
        lapsed = sellers.create_seller(db.session, name="过期的卖家", town="测试南镇")
        never = sellers.create_seller(db.session, name="未授权的卖家", town="测试南镇")
        db.session.flush()
        today = utcnow().date()
        for number, seller, status in (
            ("T-OLD", renewed, EXPIRED),
            ("T-NEW", renewed, ACTIVE),
            ("T-LAPSED", lapsed, EXPIRED),
        ):
            db.session.add(
                BrandLicence(
                    number=number,
                    seller_id=seller.id,
                    valid_from=today - timedelta(days=400),
                    valid_until=today + timedelta(days=30 if status == ACTIVE else -30),
                    status=status,
                )
            )
        db.session.commit()
        town = {"towns": ["测试南镇"]}

        def picked(state: str) -> list[int]:
            return broadcast_flow.recipients(db.session, {**town, "licence_statuses": [state]})

        assert picked("ACTIVE") == [renewed.id]
        assert picked("EXPIRED") == [lapsed.id]  # not the seller who renewed
        assert picked("NONE") == [never.id]
        options = broadcast_flow.target_options(db.session)
        assert ("测试南镇", 3) in [(c.value, c.sellers) for c in options["towns"]]
        db.session.remove()
