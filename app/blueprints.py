"""The site's URL areas, one blueprint each, and nothing else.

Views live in the feature package whose rules they call (the treasurer's reconciliation page in
`treasury`, the sponsor's offer form in `matching`), but they keep the URL area and the endpoint
names people and tests know ("treasurer.reconciliation", "sponsor.new_offer"): an endpoint is the
blueprint's name and the view's name, wherever the view's module lives. `create_app` imports the
view modules and registers these in this order.
"""

from flask import Blueprint

public = Blueprint("public", __name__)
pledges = Blueprint("pledges", __name__)
webhooks = Blueprint("webhooks", __name__, url_prefix="/webhooks")
api = Blueprint("api", __name__, url_prefix="/api/v1")
account = Blueprint("account", __name__, url_prefix="/account")
treasurer = Blueprint("treasurer", __name__, url_prefix="/treasurer")
sponsor = Blueprint("sponsor", __name__, url_prefix="/sponsor")
admin = Blueprint("admin", __name__, url_prefix="/admin")
councils = Blueprint("councils", __name__)

ALL = (public, pledges, webhooks, api, account, treasurer, sponsor, admin, councils)
