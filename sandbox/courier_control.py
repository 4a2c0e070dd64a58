"""Control endpoints of the 快递100 stand-in (not part of 快递100): move a parcel along (which
pushes to the subscriber), look at waybills and push attempts, script faults, and the printable
labels the e-waybill answer links to."""

from __future__ import annotations

from dataclasses import replace
from html import escape
from typing import Any

from flask import Blueprint, Response, jsonify, request

from .control import control_body
from .courier_push import deliver, make_push
from .courier_state import EVENTS, Tracked, add_event, current_courier
from .errors import ControlError

bp = Blueprint("courier_control", __name__, url_prefix="/sandbox/courier")


@bp.post("/waybills/<number>/events")
def advance(number: str):
    """`{event, com?, context?, location?, wait?}`: the parcel reaches a new state; a subscriber
    gets the push (with the faults in force). `wait` (default true) answers the first round."""
    body = control_body()
    event = body.get("event")
    if event not in EVENTS:
        raise ControlError(f"event must be one of {tuple(EVENTS)}")
    for key in ("com", "context", "location"):
        if key in body and not isinstance(body[key], str):
            raise ControlError(f"{key} must be a string")
    sb, courier = current_courier()
    with sb.state.lock:
        data = courier.current(sb)
        tracked = data.find(number, body.get("com"))
        if tracked is None:
            raise ControlError(f"no single tracked number {number} (give com?)", 404)
        if tracked.state == "3":
            raise ControlError("the parcel was delivered: 快递100 no longer tracks it")
        add_event(tracked, event, body.get("context"), body.get("location", ""))
        pushes = _pushes_for(sb, courier, tracked, data.faults)
        view = _view(tracked)
    deliveries = deliver(sb, courier, pushes, wait=bool(body.get("wait", True))) if pushes else []
    return jsonify({**view, "event": event, "deliveries": deliveries})


def _pushes_for(sb, courier, tracked: Tracked, faults) -> list:
    subscription = tracked.subscription
    if subscription is None or subscription.status != "polling":
        return []
    status = "shutdown" if tracked.state == "3" else "polling"
    push = make_push(sb, courier, tracked, status)
    pushes = [(push, faults.push_copies)]
    older = subscription.last_push
    if faults.push_out_of_order and older is not None:
        pushes.append((replace(older, kind="older", bad_sign=False), 1))
    subscription.last_push = push
    subscription.status = status
    return pushes


@bp.get("/waybills")
def waybills():
    sb, courier = current_courier()
    with sb.state.lock:
        data = courier.current(sb)
        labels = {(lb.com, lb.number): lb for lb in data.labels.values()}
        views = []
        for key, tracked in data.tracked.items():
            label = labels.get(key)
            views.append(
                {
                    **_view(tracked),
                    "task_id": label.task_id if label else None,
                    "order_id": label.order_id if label else None,
                }
            )
    return jsonify({"waybills": views})


@bp.get("/pushes")
def pushes():
    number = request.args.get("number")
    sb, courier = current_courier()
    with sb.state.lock:
        entries = [p for p in courier.current(sb).pushes if number is None or p["number"] == number]
    return jsonify({"pushes": entries})


@bp.route("/faults", methods=["GET", "POST", "DELETE"])
def faults():
    """POST merges the given keys, DELETE clears them all; both answer the faults in force."""
    body = control_body() if request.method == "POST" else {}
    sb, courier = current_courier()
    with sb.state.lock:
        data = courier.current(sb)
        if request.method == "DELETE":
            data.faults = type(data.faults)()
        elif request.method == "POST":
            try:
                data.faults.update(body)
            except ValueError as error:
                raise ControlError(str(error)) from None
        return jsonify({"faults": data.faults.as_dict()})


@bp.get("/labels/<task_id>.<kind>")
def label(task_id: str, kind: str):
    """The printable 76×130 mm label an e-waybill answer links to (SVG for IMAGE, HTML for HTML)."""
    sb, courier = current_courier()
    with sb.state.lock:
        found = courier.current(sb).labels.get(task_id)
    if found is None or kind not in ("svg", "html"):
        raise ControlError(f"no label {task_id}.{kind}", 404)
    svg = _label_svg(found.number, found.com, found.param)
    if kind == "svg":
        return Response(svg, mimetype="image/svg+xml")
    page = f"<!doctype html><html><head><meta charset='utf-8'><title>{found.number}</title>"
    return Response(f"{page}</head><body>{svg}</body></html>", mimetype="text/html")


def _label_svg(number: str, com: str, param: dict[str, Any]) -> str:
    bars, x = [], 20
    for char in number:  # a made-up barcode: wide and narrow bars from the characters
        width = 2 + ord(char) % 3
        bars.append(f'<rect x="{x}" y="60" width="{width}" height="70" fill="#000"/>')
        x += width + 2
    rec, send = param["recMan"], param["sendMan"]
    lines = [
        f"{com} {number}",
        f"收 {rec['name']} {rec.get('mobile') or rec.get('tel')}",
        rec["printAddr"],
        f"寄 {send['name']} {send.get('mobile') or send.get('tel')}",
        send["printAddr"],
        f"{param['cargo']} × {param.get('count', 1)}",
    ]
    texts = "".join(
        f'<text x="20" y="{170 + 28 * i}" font-size="18">{escape(str(line))}</text>'
        for i, line in enumerate(lines)
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="760" height="1300" viewBox="0 0 760 1300">'
        f'<rect width="760" height="1300" fill="#fff"/>{"".join(bars)}{texts}</svg>'
    )


def _view(tracked: Tracked) -> dict[str, Any]:
    subscription = tracked.subscription
    return {
        "com": tracked.com,
        "number": tracked.number,
        "state": tracked.state,
        "ischeck": "1" if tracked.state == "3" else "0",
        "events": list(reversed(tracked.events)),
        "subscription": None
        if subscription is None
        else {
            "callbackurl": subscription.callbackurl,
            "salt": subscription.salt,
            "status": subscription.status,
        },
    }
