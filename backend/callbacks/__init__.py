"""Callbacks from outside servers (WeChat Pay notifications), each authenticated by its own
signature. The Official Account's messages go to its bot (bots/officialaccount/callback.py)."""

from apiflask import APIBlueprint

bp = APIBlueprint("callbacks", __name__)

from backend.callbacks import wechatpay  # noqa: E402, F401  (its routes join bp)
