"""Callbacks from outside servers (WeChat Pay notifications, the Official Account's messages),
each authenticated by its own signature."""

from apiflask import APIBlueprint

bp = APIBlueprint("callbacks", __name__)

from backend.callbacks import wechat_oa, wechatpay  # noqa: E402, F401  (their routes join bp)
