"""A page's form checked by the schema its JSON-API twin uses, so both doors take the same
fields with the same bounds and messages."""

from __future__ import annotations

import re
from datetime import datetime

from apiflask import Schema
from apiflask.fields import Integer, List
from marshmallow import ValidationError

from backend.errors import BadRequest
from backend.schemas import messages
from backend.timeutil import SHANGHAI

_WALL_CLOCK = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?")


def wall_clock(raw: str) -> str:
    """A time a form took in Asia/Shanghai (2025-01-31 20:00) with its offset, for the schema
    (anything else is passed on for the schema to refuse)."""
    raw = raw.strip()
    if _WALL_CLOCK.fullmatch(raw):
        try:
            return datetime.fromisoformat(raw).replace(tzinfo=SHANGHAI).isoformat()
        except ValueError:
            pass
    return raw


def _as_number(value):
    """A form sends text: digits typed for a whole number become that number."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 100:
        return int(value)
    return value


def load_form(schema: Schema, values: dict) -> dict:
    """The form's values loaded by schema; an empty field counts as not given. A refusal is one
    BadRequest whose message lists every field's reason in Chinese."""
    typed = {}
    for name, value in values.items():
        value = value.strip() if isinstance(value, str) else value
        if value in ("", None, []):
            continue
        field = schema.fields.get(name)
        if isinstance(field, Integer):
            value = _as_number(value)
        elif isinstance(field, List) and isinstance(field.inner, Integer):
            value = [_as_number(v.strip() if isinstance(v, str) else v) for v in value]
        typed[name] = value
    try:
        return schema.load(typed)
    except ValidationError as invalid:
        raise BadRequest(
            "；".join(messages(invalid)), code="FORM_INVALID", details=invalid.messages
        ) from None
