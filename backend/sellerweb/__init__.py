"""/seller: the sellers' phone pages (server-rendered, Chinese), opened from WeChat pushes."""

from flask import Blueprint

bp = Blueprint("sellerweb", __name__, template_folder="templates")

from backend.sellerweb import login_pages, pages  # noqa: E402, F401  (routes register on bp)
