"""The sandbox Flask app: WeChat, WeChat Pay, platform and 快递100 stand-ins plus their control
endpoints."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request

from . import (
    control,
    courier,
    courier_control,
    live_control,
    oa,
    oa_control,
    oa_oauth,
    oa_oauth_control,
    pay_control,
    subscribe,
    wechat,
    wechat_control,
    wechat_shipping,
    wechat_shipping_control,
    wechat_wxa,
    wechatpay,
)
from .context import Sandbox
from .courier_state import Courier
from .errors import ControlError
from .pay_signing import pay_json
from .platforms.routes import BLUEPRINTS as PLATFORM_BLUEPRINTS


def create_app(settings: dict[str, Any] | None = None) -> Flask:
    """Build one sandbox; `settings` override `sandbox.env` and the defaults of settings.py."""
    app = Flask("sandbox")
    sandbox = Sandbox(settings)
    for keys in sandbox.settings["subscribe_templates"].values():
        subscribe.check_template_keys(keys)
    app.extensions["sandbox"] = sandbox
    app.extensions["courier"] = Courier()  # 快递100 stand-in; renews itself on reset
    app.json.ensure_ascii = False  # control answers show Chinese text as is

    blueprints = (wechat.bp, wechat_wxa.bp, wechat_shipping.bp, oa.bp, oa_oauth.bp, wechatpay.bp)
    blueprints += (control.bp, wechat_control.bp, live_control.bp, pay_control.bp, oa_control.bp)
    blueprints += (wechat_shipping_control.bp, courier.bp, courier_control.bp, oa_oauth_control.bp)
    blueprints += PLATFORM_BLUEPRINTS
    for blueprint in blueprints:
        app.register_blueprint(blueprint)

    @app.errorhandler(ControlError)
    def _control_error(error: ControlError):
        return jsonify({"error": error.message}), error.status

    @app.errorhandler(404)
    def _not_found(_error):
        if request.path.startswith("/v3/"):
            return pay_json({"code": "NOT_FOUND", "message": "请求的资源不存在"}, 404)
        return jsonify({"error": f"no sandbox route for {request.method} {request.path}"}), 404

    return app
