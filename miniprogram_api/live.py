"""Live-room entry points for the mini-program: rooms, a room's state, comments, reminders."""

from apiflask.fields import Integer, String
from apiflask.validators import Length, OneOf, Range, Regexp

from backend import ratelimit
from backend.adoption import live_offers
from backend.extensions import db
from backend.live import comments, entries, rooms, shelf
from backend.schemas import MAX_ID, In
from miniprogram_api import api_v1
from miniprogram_api.auth import current_customer_id, token_auth
from miniprogram_api.schemas import EntryOut, ShareIn


class RoomListQuery(In):
    kind = String(load_default="live", validate=OneOf(list(rooms.KINDS)))
    page = Integer(load_default=1, validate=Range(1, 10000))
    page_size = Integer(load_default=10, validate=Range(1, 50))


class RoomQuery(In):
    seller_id = Integer(validate=Range(1, MAX_ID), metadata={"description": "分享直播间的卖家"})
    sharer = String(validate=Length(1, 64), metadata={"description": "分享者 openid 或主播"})


class CommentIn(In):
    text = String(required=True, validate=Length(0, 500))


class CommentQuery(In):
    after = String(
        validate=Regexp(r"^\d{1,19}-\d{1,19}$"),
        metadata={"description": "上一页最后一条评论的 id"},
    )
    limit = Integer(load_default=50, validate=Range(1, 200))


@api_v1.get("/live/rooms")
@api_v1.input(RoomListQuery, location="query", arg_name="query")
@api_v1.doc(summary="直播间列表：即将开始 / 直播中 / 回放")
def list_rooms(query):
    return rooms.list_rooms(
        db.session, kind=query["kind"], page=query["page"], page_size=query["page_size"]
    )


@api_v1.get("/live/rooms/<int:room_id>")
@api_v1.input(RoomQuery, location="query", arg_name="query")
@api_v1.doc(summary="直播间详情：状态、讲解中的商品、秒杀、上屏认养、进入直播间的插件链接")
def room_detail(room_id: int, query):
    detail = rooms.room_detail(db.session, room_id=room_id, custom_params=query)
    offer = live_offers.current_offer(db.session, room_id)
    return {
        **detail,
        "shelf": shelf.listing(db.session, room_id),
        "adoption_offer": live_offers.offer_view(db.session, offer),
    }


@api_v1.post("/live/rooms/<int:room_id>/entries")
@api_v1.auth_required(token_auth)
@api_v1.input(ShareIn, arg_name="body")
@api_v1.output(EntryOut, status_code=201, description="已记下进入直播间（及带来观众的分享者）")
@api_v1.doc(
    summary="进入直播间：提交插件 getShareParams() 的结果，记下谁分享带来了观众（每人每场一次，"
    "分享者只记第一次；重复提交答 200）",
    responses=[200, 201, 400, 404, 422],
)
def enter_room(room_id: int, body):
    entered = entries.enter(
        db.session,
        room_id=room_id,
        customer_id=current_customer_id(),
        share=entries.read_share(**body),
    )
    answer = {"room_id": entered.room_id, "attributed": entered.sharer is not None}
    return {**answer, "created": entered.created}, 201 if entered.created else 200


@api_v1.post("/live/rooms/<int:room_id>/reminders")
@api_v1.auth_required(token_auth)
@api_v1.doc(summary="开播提醒（每人一次）")
def remind_me(room_id: int):
    rooms.remind_me(db.session, room_id=room_id, customer_id=current_customer_id())
    return {"ok": True}


@api_v1.get("/live/rooms/<int:room_id>/comments")
@api_v1.auth_required(token_auth, optional=True)
@api_v1.input(CommentQuery, location="query", arg_name="query")
@api_v1.doc(summary="评论流（?after= 游标）：昵称、内容、时间；登录后可见发给自己的订单信息")
def read_comments(room_id: int, query):
    rooms.get_room(db.session, room_id)
    viewer = token_auth.current_user
    return comments.read_public(
        room_id=room_id,
        after=query.get("after"),
        limit=query["limit"],
        viewer_id=viewer["customer_id"] if viewer else None,
    )


@api_v1.post("/live/rooms/<int:room_id>/comments")
@api_v1.auth_required(token_auth)
@api_v1.input(CommentIn, arg_name="body")
@api_v1.doc(
    summary="发表评论（内容安全检查，限频）",
    responses={201: "已发表", 403: "已被禁言", 503: "内容安全检查暂时不可用"},
)
def post_comment(room_id: int, body):
    ratelimit.count(("live-comment", current_customer_id()))
    return comments.post(
        db.session, room_id=room_id, customer_id=current_customer_id(), text=body["text"]
    ), 201
