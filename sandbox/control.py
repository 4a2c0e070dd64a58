"""General control endpoints: faults, reset, health, the WeChat clock (no vendor has these)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from .context import current_sandbox
from .errors import ControlError
from .faults import Faults

bp = Blueprint("control", __name__, url_prefix="/sandbox")


def control_body() -> dict[str, Any]:
    """The JSON object a control endpoint was sent; an empty body counts as `{}`."""
    if not request.get_data():
        return {}
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise ControlError("body must be a JSON object")
    return body


@bp.get("/health")
def health():
    return jsonify({"ok": True})


@bp.post("/reset")
def reset():
    """Forget orders, tokens, codes, credits, media, live rooms and goods, visits, logs and
    faults; stop pending deliveries. Ids handed out stay handed out (sandbox/ids.py)."""
    current_sandbox().state.reset()
    return jsonify({"ok": True})


@bp.route("/faults", methods=["GET", "POST", "DELETE"])
def faults():
    """POST merges the given fault keys, DELETE clears them all; both answer the current faults."""
    sb = current_sandbox()
    body = control_body() if request.method == "POST" else {}
    with sb.state.lock:
        if request.method == "DELETE":
            sb.state.faults = Faults()
        elif request.method == "POST":
            try:
                sb.state.faults.update(body)
            except ValueError as error:
                raise ControlError(str(error)) from None
        return jsonify({"faults": sb.state.faults.as_dict()})


@bp.route("/clock", methods=["GET", "POST"])
def clock():
    """POST `{"advance": seconds}` moves the WeChat clock (token/code lifetimes, rate windows)."""
    sb = current_sandbox()
    with sb.state.lock:
        if request.method == "POST":
            advance = control_body().get("advance")
            if not isinstance(advance, int | float) or isinstance(advance, bool) or advance < 0:
                raise ControlError("advance must be a non-negative number of seconds")
            sb.state.clock_offset += advance
        return jsonify({"offset": sb.state.clock_offset, "now": sb.state.now()})
