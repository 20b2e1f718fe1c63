from flask import Blueprint

bp = Blueprint("sponsor", __name__, url_prefix="/sponsor")

from app.sponsor import routes  # noqa: E402,F401  (registers the views)
