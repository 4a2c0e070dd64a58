"""小程序直播 rooms through wechatpy: media upload, room/create rules, getliveinfo, the live_status
state machine (control + sandbox clock), replays, quotas and injected faults."""

from __future__ import annotations

import pytest
import requests
from wechatpy.exceptions import APILimitedException, WeChatClientException

from sandbox.wxacode import make_png

MINUTE, HOUR, DAY = 60, 3600, 24 * 3600


def _error(call) -> WeChatClientException:
    with pytest.raises(WeChatClientException) as raised:
        call()
    return raised.value


def _errcode(call) -> int:
    return _error(call).errcode


def upload(wx, name: str = "cover.png") -> str:
    answer = wx.media.upload("image", (name, make_png({"name": name})))
    return answer["media_id"]


def room_body(wx, control, **overrides) -> dict:
    now = int(control.get("/sandbox/clock")["now"])
    image = upload(wx)
    body = {
        "name": "合力冬季新米直播",
        "coverImg": image,
        "shareImg": image,
        "feedsImg": image,
        "startTime": now + HOUR,
        "endTime": now + 3 * HOUR,
        "anchorName": "李主播",
        "anchorWechat": "heli_anchor",
        "type": 0,
        "closeLike": 0,
        "closeGoods": 0,
        "closeComment": 0,
    }
    body.update(overrides)
    return body


def create_room(wx, control, **overrides) -> int:
    answer = wx.wxa._post("wxaapi/broadcast/room/create", data=room_body(wx, control, **overrides))
    assert answer["errcode"] == 0
    return answer["roomId"]


def live_info(wx, **body) -> dict:
    return wx.wxa._post("wxa/business/getliveinfo", data={"start": 0, "limit": 10, **body})


def status_of(wx, room_id: int) -> int:
    (room,) = [r for r in live_info(wx)["room_info"] if r["roomid"] == room_id]
    return room["live_status"]


def set_status(control, room_id: int, live_status: int, expect: int = 200) -> dict:
    path = f"/sandbox/live/rooms/{room_id}/status"
    return control.post(path, {"live_status": live_status}, expect=expect)


def test_media_upload_is_served_and_checked(wx, control, sandbox):
    png = make_png({"k": "v"})
    answer = wx.media.upload("image", ("cover.png", png))
    assert answer["type"] == "image" and answer["created_at"] > 0
    picture = requests.get(f"{sandbox.url}/sandbox/media/{answer['media_id']}", timeout=5)
    assert picture.content == png and picture.headers["Content-Type"] == "image/png"

    assert _errcode(lambda: wx.media.upload("picture", ("a.png", png))) == 40004
    assert _errcode(lambda: wx.media.upload("image", ("a.txt", b"plain text"))) == 40005


def test_media_ids_expire_after_three_days(wx, control):
    body = room_body(wx, control)
    control.post("/sandbox/clock", {"advance": 3 * DAY})
    body["startTime"] += 3 * DAY
    body["endTime"] += 3 * DAY
    assert _errcode(lambda: wx.wxa._post("wxaapi/broadcast/room/create", data=body)) == 300031


def test_create_and_list_a_room(wx, control, sandbox):
    room_id = create_room(wx, control, closeReplay=0)
    answer = live_info(wx)
    assert (answer["errcode"], answer["errmsg"], answer["total"]) == (0, "ok", 1)
    (room,) = answer["room_info"]
    assert room["roomid"] == room_id and room["name"] == "合力冬季新米直播"
    assert room["live_status"] == 102 and room["anchor_name"] == "李主播" and room["goods"] == []
    assert room["end_time"] - room["start_time"] == 2 * HOUR
    assert room["cover_img"].startswith(f"{sandbox.url}/sandbox/media/")
    assert (room["close_replay"], room["close_kf"], room["is_feeds_public"]) == (0, 1, 1)
    (view,) = control.get("/sandbox/live/rooms")["rooms"]
    assert view["anchor_wechat"] == "heli_anchor" and view["live_status"] == 102


@pytest.mark.parametrize(
    ("overrides", "errcode"),
    [
        ({"name": "直播"}, 300002),  # 2 chinese characters: shorter than 3
        ({"name": "五常大米" * 4 + "新米"}, 300002),  # 18 chinese characters
        ({"name": "abcde"}, 300002),  # 5 letters = 2.5 chinese characters
        ({"name": "直播🎉大米"}, 300040),
        ({"coverImg": "no-such-media"}, 300031),
        ({"shareImg": "no-such-media"}, 300032),
        ({"feedsImg": "no-such-media"}, 300037),
        ({"startTime": "tomorrow"}, 200002),
        ({"anchorName": "李"}, 300034),
        ({"anchorName": "主播" * 8}, 300034),
        ({"anchorWechat": "13"}, 300030),
        ({"subAnchorWechat": "stranger_01"}, 300039),
        ({"createrWechat": "x"}, 300041),
        ({"closeLike": 2}, 200002),
        ({"type": "phone"}, 200002),
    ],
)
def test_create_room_rules(wx, control, overrides, errcode):
    body = room_body(wx, control, **overrides)
    assert _errcode(lambda: wx.wxa._post("wxaapi/broadcast/room/create", data=body)) == errcode


@pytest.mark.parametrize(
    ("start", "length", "hint"),
    [
        (5 * MINUTE, 2 * HOUR, "10 minutes"),
        (200 * DAY, 2 * HOUR, "6 months"),
        (HOUR, 20 * MINUTE, "30 minutes to 24 hours"),
        (HOUR, 25 * HOUR, "30 minutes to 24 hours"),
    ],
)
def test_time_rules_answer_200002(wx, control, start, length, hint):
    now = int(control.get("/sandbox/clock")["now"])
    body = room_body(wx, control, startTime=now + start, endTime=now + start + length)
    error = _error(lambda: wx.wxa._post("wxaapi/broadcast/room/create", data=body))
    assert error.errcode == 200002
    assert "startTime or endTime is invalid" in error.errmsg and hint in error.errmsg


def test_names_count_a_chinese_character_as_two_letters(wx, control):
    for name in ("三个字", "abcdef", "五常大米" * 4 + "新", "直播abcd"):
        create_room(wx, control, name=name)
    assert live_info(wx)["total"] == 4


def test_unverified_anchor_gets_the_qrcode_until_verified(wx, control):
    body = room_body(wx, control, anchorWechat="new_anchor_7")
    error = _error(lambda: wx.wxa._post("wxaapi/broadcast/room/create", data=body))
    assert error.errcode == 300036
    assert error.response.json()["qrcode_url"].startswith("https://res.wx.qq.com/")

    control.post("/sandbox/live/anchors", {"wechat": "new_anchor_7"})
    assert wx.wxa._post("wxaapi/broadcast/room/create", data=body)["roomId"] > 0


def test_host_drives_the_room_and_replay_appears(wx, control):
    room_id = create_room(wx, control, closeReplay=0)
    for live_status in (101, 105, 101, 106, 101, 103):
        assert set_status(control, room_id, live_status)["live_status"] == live_status
        assert status_of(wx, room_id) == live_status

    replay = live_info(wx, action="get_replay", room_id=room_id)
    assert replay["errcode"] == 0 and replay["total"] == 1 and "room_info" not in replay
    (entry,) = replay["live_replay"]
    assert entry["media_url"] and entry["create_time"].endswith("Z") and entry["expire_time"]


def test_replay_rules(wx, control):
    kept_private = create_room(wx, control)  # closeReplay defaults to 1 (closed), per the doc
    set_status(control, kept_private, 101)
    set_status(control, kept_private, 103)
    assert live_info(wx, action="get_replay", room_id=kept_private)["live_replay"] == []
    not_ended = create_room(wx, control, closeReplay=0)
    assert live_info(wx, action="get_replay", room_id=not_ended)["live_replay"] == []
    assert _errcode(lambda: live_info(wx, action="get_replay", room_id=999)) == 300022
    assert _errcode(lambda: live_info(wx, action="get_replay")) == 200002
    assert _errcode(lambda: live_info(wx, action="replay", room_id=not_ended)) == 200002


def test_never_started_room_expires_at_its_end_time(wx, control):
    room_id = create_room(wx, control)
    # A margin of a minute: the room's times are whole seconds and the real clock keeps running.
    control.post("/sandbox/clock", {"advance": 3 * HOUR - MINUTE})
    assert status_of(wx, room_id) == 102
    control.post("/sandbox/clock", {"advance": MINUTE})
    assert status_of(wx, room_id) == 107
    assert "not possible" in set_status(control, room_id, 101, expect=400)["error"]


def test_live_room_ends_at_its_end_time(wx, control):
    room_id = create_room(wx, control)
    control.post("/sandbox/clock", {"advance": HOUR})
    set_status(control, room_id, 101)
    control.post("/sandbox/clock", {"advance": 2 * HOUR})
    assert status_of(wx, room_id) == 103


def test_abnormal_room_recovers_within_15_minutes_or_ends(wx, control):
    recovers, lost = create_room(wx, control), create_room(wx, control)
    for room_id in (recovers, lost):
        set_status(control, room_id, 101)
        set_status(control, room_id, 106)
    control.post("/sandbox/clock", {"advance": 14 * MINUTE})
    set_status(control, recovers, 101)
    assert status_of(wx, lost) == 106
    control.post("/sandbox/clock", {"advance": MINUTE})
    assert (status_of(wx, recovers), status_of(wx, lost)) == (101, 103)
    set_status(control, lost, 101, expect=400)


def test_impossible_transitions_are_refused(wx, control):
    room_id = create_room(wx, control)
    for live_status in (103, 105, 106, 107, 102, 999):
        set_status(control, room_id, live_status, expect=400)
    set_status(control, 4242, 101, expect=404)
    set_status(control, room_id, 104)  # banned before it started
    for live_status in (101, 103):
        set_status(control, room_id, live_status, expect=400)
    assert status_of(wx, room_id) == 104


def test_list_is_sorted_by_start_time_desc_and_paged(wx, control):
    now = int(control.get("/sandbox/clock")["now"])
    ids = [
        create_room(wx, control, startTime=now + hours * HOUR, endTime=now + (hours + 1) * HOUR)
        for hours in (2, 5, 1)
    ]
    first = live_info(wx, start=0, limit=2)
    assert first["total"] == 3
    assert [r["roomid"] for r in first["room_info"]] == [ids[1], ids[0]]
    assert [r["roomid"] for r in live_info(wx, start=2, limit=2)["room_info"]] == [ids[2]]
    assert _errcode(lambda: live_info(wx, start=-1)) == 200002


@pytest.mark.parametrize("sandbox_settings", [{"live_create_room_per_day": 1}])
def test_daily_create_quota(wx, control):
    create_room(wx, control)
    body = room_body(wx, control)
    with pytest.raises(APILimitedException):
        wx.wxa._post("wxaapi/broadcast/room/create", data=body)
    control.post("/sandbox/clock", {"advance": DAY})  # quotas reset at midnight China time
    create_room(wx, control)


def test_faults_and_reset_apply(wx, control):
    control.post("/sandbox/faults", {"wechat_errcode": -1, "wechat_errcode_times": 1})
    assert _errcode(lambda: live_info(wx)) == -1
    create_room(wx, control)
    control.post("/sandbox/reset")
    assert control.get("/sandbox/live/rooms")["rooms"] == []
    assert live_info(wx)["total"] == 0


def test_a_restarted_or_reset_sandbox_never_hands_out_a_room_id_twice(
    make_sandbox, wechat_client_for, control, tmp_path
):
    """WeChat keeps its room ids across our restarts: the backend holds the ones it was given."""

    def rooms_of(server, count: int) -> list[int]:
        wx, ctl = wechat_client_for(server.url), type(control)(server.url)
        return [create_room(wx, ctl) for _ in range(count)]

    first = make_sandbox(state_dir=str(tmp_path))
    before = rooms_of(first, 3)
    first.stop()
    again = make_sandbox(state_dir=str(tmp_path))
    after = rooms_of(again, 2)
    assert min(after) > max(before)
    type(control)(again.url).post("/sandbox/reset")
    assert rooms_of(again, 1)[0] > max(after)
