"""Base of every request schema."""

from apiflask import Schema
from marshmallow import EXCLUDE


class In(Schema):
    """Input: unknown fields (e.g. a price sent by a client) are dropped, never trusted."""

    class Meta:
        unknown = EXCLUDE
