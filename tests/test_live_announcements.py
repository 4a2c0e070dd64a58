"""Scheduled messages (自动发言): the host sets them on the console (JSON API and the room page's
section), and the co-host bot posts each tick once — with two bots, after a restart — only
inside the window and only while the room is live."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask import render_template

from backend.console.live_sections import section_context
from backend.extensions import db
from backend.live import announcements, comments
from backend.live.models import LiveAnnouncement
from backend.timeutil import SHANGHAI, to_aware_utc
from bots.cohost.bot import CoHost
from tests.helpers import at, go_live, room_body, set_live_status
from tests.test_console_pages import csrf_token

TEXT = "关注主播不迷路，下单前请填好收货地址"


@pytest.fixture
def room(sandbox, staff_client, store):
    """A live room run by the admin: {"id", "external"}."""
    created = staff_client.post("/console/api/live/rooms", json=room_body())
    assert created.status_code == 201, created.json
    return {
        "id": created.json["id"],
        "external": go_live(sandbox, staff_client, created.json["id"]),
    }


def url(room_id: int, announcement_id: int | None = None) -> str:
    base = f"/console/api/live/rooms/{room_id}/announcements"
    return base if announcement_id is None else f"{base}/{announcement_id}"


def add(staff_client, room_id: int, **body):
    return staff_client.post(url(room_id), json={"text": TEXT, "interval_seconds": 60, **body})


def posted(app, room_id: int) -> list[dict]:
    """The scheduled messages the bot posted in the room, as staff read the stream."""
    with app.app_context():
        items = comments.read(room_id=room_id, after=None, limit=500)["items"]
        db.session.remove()
    return [item for item in items if item.get("announcement_id")]


def run_bot(app, bot: CoHost, rounds: int = 2) -> None:
    with app.app_context():
        for _ in range(rounds):
            bot.due_now()
            bot.step(block_ms=10)
        db.session.remove()


def post_due(app, room_id: int, now: float) -> list[int]:
    with app.app_context():
        done = announcements.post_due(db.session, room_id=room_id, now=now)
        db.session.remove()
    return done


def anchor(app, announcement_id: int) -> float:
    with app.app_context():
        found = db.session.get(LiveAnnouncement, announcement_id)
        moment = to_aware_utc(found.anchor_at).timestamp()
        db.session.remove()
    return moment


# -- the console's JSON API --------------------------------------------------------------------


def test_a_host_adds_edits_pauses_and_deletes_announcements(staff_client, room):
    added = add(staff_client, room["id"], interval_seconds=300)
    assert added.status_code == 201, added.json
    body = added.json
    assert body["text"] == TEXT and body["interval_seconds"] == 300
    assert body["interval_text"] == "每 5 分钟" and body["window_text"] == "直播期间"
    assert body["enabled"] is True and body["status_text"] == "发送中"
    assert body["posted_count"] == 0 and body["last_posted_at"] is None

    window = add(staff_client, room["id"], starts_at=at(30), ends_at=at(90)).json
    assert window["starts_at"] and window["ends_at"] and "至" in window["window_text"]

    paused = staff_client.patch(url(room["id"], body["id"]), json={"enabled": False})
    assert paused.status_code == 200 and paused.json["status_text"] == "已暂停"
    edited = staff_client.patch(
        url(room["id"], body["id"]), json={"text": "  新鲜到货  ", "interval_seconds": 3600}
    )
    assert edited.json["text"] == "新鲜到货" and edited.json["interval_text"] == "每 1 小时"
    assert edited.json["enabled"] is False  # still paused

    listed = staff_client.get(url(room["id"])).json
    assert listed["total"] == 2 and [i["id"] for i in listed["items"]] == [body["id"], window["id"]]
    gone = staff_client.delete(url(room["id"], body["id"]), json={})
    assert gone.status_code == 204
    again = staff_client.delete(url(room["id"], body["id"]), json={})
    assert again.status_code == 404 and again.json["code"] == "ANNOUNCEMENT_NOT_FOUND"
    assert staff_client.get(url(room["id"])).json["total"] == 1


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"text": "好" * 141}, 400, "VALIDATION_ERROR"),
        ({"text": "   "}, 400, "ANNOUNCEMENT_EMPTY"),
        ({"text": "\x00\x01"}, 400, "ANNOUNCEMENT_EMPTY"),
        ({"text": "想要便宜的加微信私聊"}, 422, "ANNOUNCEMENT_BLOCKED"),
        ({"interval_seconds": 59}, 400, "VALIDATION_ERROR"),
        ({"interval_seconds": 3601}, 400, "VALIDATION_ERROR"),
        ({"interval_seconds": "60"}, 400, "VALIDATION_ERROR"),
        ({"starts_at": at(60), "ends_at": at(30)}, 400, "INVALID_WINDOW"),
        ({"ends_at": at(-5)}, 422, "WINDOW_OVER"),
        ({"starts_at": "今晚八点"}, 400, "VALIDATION_ERROR"),
    ],
)
def test_bad_announcements_are_refused_in_chinese(staff_client, room, body, status, code):
    res = add(staff_client, room["id"], **body)
    assert res.status_code == status and res.json["code"] == code, res.json
    assert res.json["message"] and not res.json["message"].isascii()
    assert staff_client.get(url(room["id"])).json["total"] == 0


def test_a_long_text_and_the_room_limit(staff_client, room):
    assert add(staff_client, room["id"], text="好" * 140).status_code == 201
    for _ in range(announcements.MAX_PER_ROOM - 1):
        assert add(staff_client, room["id"]).status_code == 201
    full = add(staff_client, room["id"])
    assert full.status_code == 422 and full.json["code"] == "TOO_MANY_ANNOUNCEMENTS"


def test_only_the_rooms_host_with_the_live_permission(app, client, staff_client, console_as, room):
    mine = add(staff_client, room["id"]).json
    other_host = console_as("host")
    refused = add(other_host, room["id"])
    assert refused.status_code == 403 and refused.json["code"] == "NOT_YOUR_ROOM"
    patched = other_host.patch(url(room["id"], mine["id"]), json={"enabled": False})
    assert patched.status_code == 403
    assert other_host.get(url(room["id"])).status_code == 403
    warehouse = console_as("warehouse")
    assert warehouse.get(url(room["id"])).status_code == 403
    assert client.get(url(room["id"])).status_code == 401  # not signed in
    form = staff_client.post(url(room["id"]), data={"text": TEXT, "interval_seconds": "60"})
    assert form.status_code == 415
    assert staff_client.get(url(room["id"] + 1)).status_code == 404
    # another room's announcement is not found through this room
    second = staff_client.post(
        "/console/api/live/rooms", json=room_body(name="第二场开海直播")
    ).json
    moved = staff_client.patch(url(second["id"], mine["id"]), json={"enabled": False})
    assert moved.status_code == 404 and moved.json["code"] == "ANNOUNCEMENT_NOT_FOUND"


# -- the bot ----------------------------------------------------------------------------------


def test_the_bot_posts_each_tick_once_with_two_bots_and_after_a_restart(app, staff_client, room):
    first = add(staff_client, room["id"]).json
    one, two = CoHost(app, "bot-one"), CoHost(app, "bot-two")
    run_bot(app, one)
    run_bot(app, two)
    run_bot(app, CoHost(app, "bot-one"))  # bot-one restarted
    said = posted(app, room["id"])
    assert [item["text"] for item in said] == [TEXT]
    assert said[0]["bot"] and said[0]["kind"] == "announcement"
    assert said[0]["nickname"] == "合蛎小助手"

    start = anchor(app, first["id"])
    assert post_due(app, room["id"], start + 60.5) == [first["id"]]  # the next tick
    assert post_due(app, room["id"], start + 61) == []  # the same tick, another bot
    assert post_due(app, room["id"], start + 60 * 5 + 45) == []  # reached too late: skipped
    assert post_due(app, room["id"], start + 60 * 6 + 1) == [first["id"]]
    assert len(posted(app, room["id"])) == 3
    listed = staff_client.get(url(room["id"])).json["items"][0]
    assert listed["posted_count"] == 3 and listed["last_posted_at"]


def test_nothing_is_posted_outside_the_window(app, staff_client, room):
    later = add(staff_client, room["id"], starts_at=at(10), ends_at=at(20)).json
    run_bot(app, CoHost(app, "bot"))
    assert posted(app, room["id"]) == []
    start = anchor(app, later["id"])
    assert post_due(app, room["id"], start - 1) == []
    assert post_due(app, room["id"], start + 1) == [later["id"]]
    assert post_due(app, room["id"], start + 9 * 60 + 10) == [later["id"]]
    assert post_due(app, room["id"], start + 10 * 60 + 1) == []  # the window ended
    assert len(posted(app, room["id"])) == 2


def test_nothing_is_posted_while_the_room_is_not_live(app, sandbox, staff_client, room):
    first = add(staff_client, room["id"]).json
    set_live_status(sandbox, staff_client, room["external"], 105)  # paused by the host
    run_bot(app, CoHost(app, "bot"))
    assert post_due(app, room["id"], anchor(app, first["id"]) + 1) == []
    set_live_status(sandbox, staff_client, room["external"], 101)
    run_bot(app, CoHost(app, "bot"))
    assert len(posted(app, room["id"])) == 1
    set_live_status(sandbox, staff_client, room["external"], 103)  # the show ended
    assert post_due(app, room["id"], anchor(app, first["id"]) + 60) == []
    assert len(posted(app, room["id"])) == 1


def test_a_paused_announcement_waits_and_a_resumed_one_posts_at_once(app, staff_client, room):
    first = add(staff_client, room["id"], enabled=False).json
    run_bot(app, CoHost(app, "bot"))
    assert posted(app, room["id"]) == []
    resumed = staff_client.patch(url(room["id"], first["id"]), json={"enabled": True})
    assert resumed.json["enabled"] is True
    bot = CoHost(app, "bot")
    run_bot(app, bot)
    assert len(posted(app, room["id"])) == 1
    staff_client.patch(url(room["id"], first["id"]), json={"enabled": False})
    start = anchor(app, first["id"])
    assert post_due(app, room["id"], start + 60) == []
    staff_client.delete(url(room["id"], first["id"]), json={})
    run_bot(app, bot)
    assert len(posted(app, room["id"])) == 1


def test_a_changed_interval_counts_its_ticks_afresh(app, staff_client, room):
    first = add(staff_client, room["id"]).json
    run_bot(app, CoHost(app, "bot"))
    staff_client.patch(url(room["id"], first["id"]), json={"interval_seconds": 120})
    start = anchor(app, first["id"])
    assert post_due(app, room["id"], start + 1) == [first["id"]]
    assert post_due(app, room["id"], start + 61) == []  # within the first two minutes
    assert post_due(app, room["id"], start + 121) == [first["id"]]


# -- the console page's section ----------------------------------------------------------------


def test_the_room_page_section_adds_pauses_and_deletes(app, staff_client, room):
    page = f"/console/live/rooms/{room['id']}"
    form = {"text": TEXT, "interval_seconds": "120", "starts_at": "", "ends_at": ""}
    assert staff_client.post(f"{page}/announcements", data=form).status_code == 400  # no token
    form["csrf_token"] = csrf_token(staff_client, page)
    done = staff_client.post(f"{page}/announcements", data=form)
    assert done.status_code == 302 and done.headers["Location"].endswith("#announcements")
    [added] = staff_client.get(url(room["id"])).json["items"]
    assert added["interval_seconds"] == 120 and added["window_text"] == "直播期间"

    refused = staff_client.post(f"{page}/announcements", data={**form, "interval_seconds": "5"})
    assert refused.status_code == 302
    assert staff_client.get(url(room["id"])).json["total"] == 1
    with staff_client.session_transaction() as web:
        flashed = web.get("_flashes", [])
    assert flashed[-1][0] == "error" and "发送间隔需在 60 秒到 60 分钟之间" in flashed[-1][1]

    starts = (datetime.now(SHANGHAI) + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")
    windowed = {**form, "starts_at": starts, "ends_at": ""}
    assert staff_client.post(f"{page}/announcements", data=windowed).status_code == 302
    assert (
        staff_client.get(url(room["id"]))
        .json["items"][1]["starts_at"]
        .startswith(starts.replace(" ", "T"))
    )

    token = {"csrf_token": form["csrf_token"]}
    assert (
        staff_client.post(f"{page}/announcements/{added['id']}/pause", data=token).status_code
        == 302
    )
    assert staff_client.get(url(room["id"])).json["items"][0]["enabled"] is False
    assert (
        staff_client.post(f"{page}/announcements/{added['id']}/resume", data=token).status_code
        == 302
    )
    assert staff_client.get(url(room["id"])).json["items"][0]["enabled"] is True
    assert (
        staff_client.post(f"{page}/announcements/{added['id']}/delete", data=token).status_code
        == 302
    )
    assert staff_client.get(url(room["id"])).json["total"] == 1


def test_the_section_template_renders_what_the_host_set(app, staff_client, room):
    add(staff_client, room["id"], text="<b>今晚</b>开海", interval_seconds=900)
    paused = add(staff_client, room["id"], enabled=False).json
    with app.test_request_context():
        context = section_context(room["id"])
        html = render_template(
            "console/_live_announcements.html", room={"id": room["id"]}, **context
        )
        db.session.remove()
    assert "&lt;b&gt;今晚&lt;/b&gt;开海" in html and "<b>今晚" not in html
    assert "每 15 分钟" in html and "直播期间" in html and "已暂停" in html
    assert f"/announcements/{paused['id']}/resume" in html
    assert 'name="csrf_token"' in html
