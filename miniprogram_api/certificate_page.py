"""GET /adoption/c/{token}: the adoption certificate as a page anyone can open from a shared
link — the unit, where it lies on the raft and on a map, the household that tends it, and a QR
code of this page to pass on. A link that names no certificate answers a page too."""

from urllib.parse import quote

import segno
from flask import Blueprint, current_app, render_template

from backend.adoption import adopting
from backend.adoption import units as unit_rules
from backend.errors import NotFound
from backend.extensions import db

bp = Blueprint("adoption_page", __name__, template_folder="templates")


def certificate_url(token: str) -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + f"/adoption/c/{token}"


@bp.get("/c/<token>")
def certificate_page(token: str):
    try:
        adoption = adopting.by_certificate(db.session, token)
    except NotFound:
        return render_template("adoption_certificate.html", missing=True), 404
    unit = adoption.unit
    url = certificate_url(token)
    title = f"{unit.sea_area.name} {unit_rules.unit_name(unit)}"
    return render_template(
        "adoption_certificate.html",
        missing=False,
        certificate=adopting.certificate(adoption),
        rafts=unit_rules.rafts_around(db.session, unit),
        here={"raft": unit.raft, "position": unit.position},
        qr_svg=segno.make(url, error="m").svg_inline(scale=4, border=2),
        map_url="https://apis.map.qq.com/uri/v1/marker?marker="
        + quote(f"coord:{unit.latitude},{unit.longitude};title:{title}", safe=":;,")
        + "&referer=heli",
    )
