"""/farm: the phone pages of a farming household's members (server-rendered, Chinese): their
units, posting a growth update with photos from the phone's camera, and their posts."""

from flask import Blueprint

bp = Blueprint("farmweb", __name__, template_folder="templates")

from backend.farmweb import pages  # noqa: E402, F401  (routes register on bp)
