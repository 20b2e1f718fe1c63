"""Council pledges by purchase order: the form, its confirmation and the invoice PDFs."""

from flask import Blueprint

bp = Blueprint("councils", __name__)

from app.councils import routes  # noqa: E402,F401  (registers the views)
