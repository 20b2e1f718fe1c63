"""The treasurer's home: every campaign, with links to its overview and actions."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import select

from app.blueprints import treasurer as bp
from app.extensions import db
from app.models import Campaign, Role
from app.security import roles_required


@bp.get("/")
@roles_required(Role.TREASURER, Role.ADMIN)
def index() -> str:
    rows = db.session.scalars(select(Campaign).order_by(Campaign.closes_at.desc()))
    return render_template("treasury/index.html", campaigns=list(rows))
