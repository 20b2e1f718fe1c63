"""The privacy notice, contact and terms pages, and a signed-in person's data to download."""

from __future__ import annotations

import json

from flask import redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, logout_user
from flask_wtf import FlaskForm
from govuk_frontend_wtf.wtforms_widgets import GovCheckboxInput, GovSubmitInput
from werkzeug.wrappers import Response
from wtforms import BooleanField, SubmitField
from wtforms.validators import InputRequired

from app.accounts import auth
from app.blueprints import account
from app.blueprints import public as bp
from app.extensions import db
from app.models import Role, utcnow
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


class EraseForm(FlaskForm):
    confirm = BooleanField(
        "I understand my name and email address will be replaced everywhere, and I will not be able to sign in again",
        widget=GovCheckboxInput(),
        validators=[InputRequired(message="Confirm that you understand what erasing your data means")],
    )
    submit = SubmitField("Erase my personal data", widget=GovSubmitInput())


STAFF = (Role.TREASURER, Role.ADMIN)


@account.route("/erase", methods=["GET", "POST"])
@signed_in
def erase() -> ResponseReturnValue:
    """Erase one's own personal data at once: nothing the law requires is lost by it (see
    `personal_data`), so no one needs to approve it. Staff accounts are erased by an admin."""
    form = EraseForm()
    staff = current_user.role in STAFF
    if not staff and form.validate_on_submit():
        auth.end_session(current_user)
        personal_data.erase(current_user.email, actor=current_user)
        db.session.commit()
        session.clear()
        logout_user()
        return redirect(url_for("public.erased"))
    status = 400 if request.method == "POST" else 200
    return render_template("privacy/erase.html", form=form, staff=staff), status


@bp.get("/erased")
@public
def erased() -> str:
    return render_template("privacy/erased.html")
