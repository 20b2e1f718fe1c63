from __future__ import annotations

from flask import render_template
from sqlalchemy import select

from app.extensions import db
from app.models import Campaign, Role
from app.security import roles_required
from app.treasurer import bp


@bp.get("/")
@roles_required(Role.TREASURER, Role.ADMIN)
def index() -> str:
    rows = db.session.scalars(select(Campaign).order_by(Campaign.closes_at.desc()))
    return render_template("treasurer/index.html", campaigns=list(rows))
