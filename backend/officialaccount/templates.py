"""WeChat's rules for a template message's fields, checked before anything is sent."""

from __future__ import annotations

import re

from backend.errors import BadRequest

FIELD_LIMIT = 20  # WeChat shows at most 20 characters of a template field
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def template_data(title: str, detail: str, when: str) -> dict:
    """The template's fields, checked against WeChat's rules before anything is sent."""
    fields = {"keyword1": title, "keyword2": detail, "keyword3": when}
    for key, value in fields.items():
        if not value or _CONTROL.search(value) or len(value) > FIELD_LIMIT:
            raise BadRequest(
                f"模板字段最多 {FIELD_LIMIT} 个字且不能含换行（{key}：{value[:30]}）",
                code="TEMPLATE_FIELD_INVALID",
                details={"field": key},
            )
    return {key: {"value": value} for key, value in fields.items()}
