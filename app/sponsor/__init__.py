from flask import Blueprint

from app.services import matching

bp = Blueprint("sponsor", __name__, url_prefix="/sponsor")

# Used wherever offers are shown: the campaign page, the sponsor's and the treasurer's pages.
bp.add_app_template_filter(matching.format_ratio, "ratio")
bp.add_app_template_filter(matching.describe_eligibility, "eligibility")
bp.add_app_template_filter(matching.percent, "percent_bp")

from app.sponsor import routes  # noqa: E402,F401  (registers the views)
