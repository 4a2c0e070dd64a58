"""Base of every request schema, and fields that explain themselves in Chinese.

The console's pages and its JSON API load the same schema (`backend.console.forms.load_form` for a
page), so a field has one set of bounds and one message whichever door it comes through.
"""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import AwareDateTime, Date, Integer, String
from apiflask.validators import Length, Range
from marshmallow import EXCLUDE, ValidationError

# Ids beyond a 32-bit integer cannot exist, and would overflow SQLite and PostgreSQL integers.
MAX_ID = 2**31 - 1


class In(Schema):
    """Input: unknown fields (e.g. a price sent by a client) are dropped, never trusted."""

    class Meta:
        unknown = EXCLUDE


class WholeNumber(Integer):
    """An integer. JSON has one number type, so 2.0 is the integer 2; 2.5, "2" and true are
    not integers."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _validated(self, value):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return super()._validated(value)


def _required(label: str, required: bool, kwargs: dict) -> dict:
    messages = {"required": f"请填写{label}", "null": f"请填写{label}"}
    return {
        "required": required,
        "error_messages": messages,
        "metadata": {"label": label},
        **kwargs,
    }


def text(label: str, longest: int, *, shortest: int = 1, required: bool = True, **kwargs) -> String:
    """Text of shortest..longest characters."""
    too_short = f"请填写{label}" if shortest == 1 else f"{label}至少 {shortest} 个字"
    checks = [Length(max=longest, error=f"{label}不能超过 {longest} 个字")]
    if shortest:
        checks.insert(0, Length(min=shortest, error=too_short))
    return String(validate=checks, **_required(label, required, kwargs))


def whole(
    label: str, low: int, high: int, *, required: bool = True, error: str = "", **kwargs
) -> Integer:
    """A whole number in low..high (JSON must send a number, not a string)."""
    out_of_range = error or f"{label}需在 {low} 到 {high} 之间"
    field = WholeNumber(
        validate=Range(low, high, error=out_of_range),
        **_required(label, required, kwargs),
    )
    field.error_messages["invalid"] = f"{label}必须是整数"
    return field


def identifier(label: str, *, required: bool = True, **kwargs) -> Integer:
    """The id of something of ours."""
    return whole(label, 1, MAX_ID, required=required, **kwargs)


def moment(label: str, *, required: bool = True, **kwargs) -> AwareDateTime:
    """A time with its offset (ISO 8601, e.g. 2025-01-31T20:00:00+08:00)."""
    field = AwareDateTime(**_required(label, required, kwargs))
    for key in ("invalid", "invalid_awareness"):
        field.error_messages[key] = f"{label}格式应为 年-月-日 时:分，例如 2025-01-31 20:00"
    return field


def day(label: str, *, required: bool = True, **kwargs) -> Date:
    """A calendar date (2025-01-31)."""
    field = Date(**_required(label, required, kwargs))
    field.error_messages["invalid"] = f"{label}格式应为 年-月-日，例如 2025-01-31"
    return field


def number_in(raw: str | None, *, maximum: int = MAX_ID) -> int | None:
    """A query or form value that should be a whole number 0..maximum: ASCII digits only
    ("²".isdigit() is true, but int() refuses it), else None."""
    if raw and raw.isascii() and raw.isdigit() and len(raw) <= 18 and int(raw) <= maximum:
        return int(raw)
    return None


def messages(error: ValidationError) -> list[str]:
    """The Chinese messages of a validation error, for a page to show."""

    def walk(value) -> list[str]:
        if isinstance(value, dict):
            return [text for inner in value.values() for text in walk(inner)]
        if isinstance(value, list):
            return [text for inner in value for text in walk(inner)]
        return [str(value)]

    return walk(error.messages)
