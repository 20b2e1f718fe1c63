"""The privacy notice, contact and terms pages, and a signed-in person's data to download."""

from __future__ import annotations

import json

from flask import render_template
from flask_login import current_user
from werkzeug.wrappers import Response

from app.blueprints import account
from app.blueprints import public as bp
from app.models import utcnow
from app.privacy import personal_data
from app.security import public, signed_in


@bp.get("/privacy")
@public
def privacy() -> str:
    return render_template("privacy/privacy.html", retention_years=personal_data.RETENTION_YEARS)


@bp.get("/contact")
@public
def contact() -> str:
    return render_template("privacy/contact.html")


@bp.get("/terms")
@public
def terms() -> str:
    return render_template("privacy/terms.html")


@account.get("/my-data.json")
@signed_in
def my_data() -> Response:
    """Everything Pledgeline holds about the signed-in person, as JSON."""
    data = personal_data.export(current_user)
    response = Response(json.dumps(data, ensure_ascii=False, indent=2), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="pledgeline-my-data-{utcnow().date()}.json"'
    return response
