from __future__ import annotations

from flask import render_template
from sqlalchemy import select

from app.blueprints import admin as bp
from app.extensions import db
from app.models import Campaign, Role, User
from app.security import roles_required


@bp.get("/")
@roles_required(Role.ADMIN)
def index() -> str:
    users = db.session.scalars(select(User).order_by(User.role, User.email).limit(200))
    all_campaigns = db.session.scalars(select(Campaign).order_by(Campaign.closes_at.desc()))
    return render_template("campaigns/admin_index.html", users=list(users), campaigns=list(all_campaigns))
