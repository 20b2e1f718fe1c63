from flask import Blueprint

bp = Blueprint("treasurer", __name__, url_prefix="/treasurer")

from app.treasurer import actions, audit_log, campaigns, dashboard, exports, ledger, reconcile, routes  # noqa: E402,F401  (registers the views)
