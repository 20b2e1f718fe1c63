from __future__ import annotations

from flask import render_template
from flask_login import current_user

from app.models import Role
from app.security import roles_required
from app.services import campaigns
from app.sponsor import bp


@bp.get("/")
@roles_required(Role.SPONSOR)
def index() -> str:
    return render_template(
        "sponsor/index.html", organisation=current_user.organisation, campaigns=campaigns.public_campaigns()
    )
