"""What staff send to compose a broadcast, checked the same way on the console's pages and its
JSON API: the title is one WeChat template field (officialaccount.templates.FIELD_LIMIT
characters)."""

from __future__ import annotations

from apiflask.fields import AwareDateTime, List, Nested, String
from apiflask.validators import Length, OneOf
from marshmallow import RAISE, ValidationError, post_load, pre_load

from backend.notices.broadcasts import CATEGORIES, MAX_BODY
from backend.officialaccount.templates import FIELD_LIMIT
from backend.schemas import In
from backend.timeutil import to_naive_utc

MAX_LINK = 300


class TargetIn(In):
    class Meta:
        unknown = RAISE  # a misspelt criterion must not turn into "every seller"

    towns = List(String(validate=Length(1, 30)), load_default=list)
    cooperatives = List(String(validate=Length(1, 60)), load_default=list)
    platforms = List(String(validate=Length(1, 10)), load_default=list)
    licence_statuses = List(String(validate=Length(1, 12)), load_default=list)
    tags = List(String(validate=Length(1, 30)), load_default=list)


def _chosen(category: str) -> None:
    """No default category: an empty one is asked for, not guessed."""
    if not category:
        raise ValidationError("请选择通知类别")


class BroadcastIn(In):
    title = String(
        required=True, validate=Length(max=FIELD_LIMIT, error="模板字段最多 {max} 个字（标题）")
    )
    body = String(required=True, validate=Length(max=MAX_BODY, error="正文最多 {max} 个字"))
    category = String(
        required=True,
        error_messages={"required": "请选择通知类别"},
        validate=[_chosen, OneOf(["", *CATEGORIES], error="未知的通知类别")],
    )
    link = String(load_default="", validate=Length(max=MAX_LINK, error="链接最多 {max} 个字符"))
    target = Nested(TargetIn, load_default=dict)
    send_at = AwareDateTime(load_default=None, allow_none=True)

    @pre_load
    def _strip(self, data, **kwargs):
        """Surrounding spaces do not count towards a limit (the service strips them)."""
        if isinstance(data, dict):
            data = dict(data)
            for name in ("title", "body"):
                if isinstance(data.get(name), str):
                    data[name] = data[name].strip()
        return data

    @post_load
    def _stored_time(self, data: dict, **kwargs) -> dict:
        """send_at as the database keeps times (naive UTC)."""
        if data["send_at"] is not None:
            data["send_at"] = to_naive_utc(data["send_at"])
        return data
