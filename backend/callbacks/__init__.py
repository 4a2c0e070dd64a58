"""Callbacks from outside servers (WeChat Pay notifications, the courier's tracking pushes),
each authenticated by its own signature. The Official Account's messages go to its bot
(bots/officialaccount/callback.py)."""

from apiflask import APIBlueprint

bp = APIBlueprint("callbacks", __name__)

from backend.callbacks import (  # noqa: E402, F401  (routes)
    courier,
    platform_pushes,
    wechatpay,
    wxa_messages,
)
