from flask import Blueprint

bp = Blueprint("pledges", __name__)

from app.pledges import routes  # noqa: E402,F401  (registers the views)
