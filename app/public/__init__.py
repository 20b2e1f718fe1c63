from flask import Blueprint

bp = Blueprint("public", __name__)

from app.public import routes, transparency  # noqa: E402,F401  (registers the views)
