from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from app.accounts import auth
from app.accounts.forms import ChangePasswordForm, SignInForm, SignOutEverywhereForm, SignOutForm
from app.blueprints import account as bp
from app.extensions import db, limiter
from app.models import Pledge, Role, User
from app.security import public, safe_next, signed_in


def _login_limit() -> str:
    return str(current_app.config["LOGIN_ATTEMPT_LIMIT"])


def _account_key() -> str:
    return "sign-in:" + auth.normalise_email(request.form.get("email", ""))[:254]


def _failed(response: Response) -> bool:
    # Only failed attempts count toward the limit; a successful sign-in redirects.
    return response.status_code != 302


# Where each role's work starts, when sign-in was not asked for on the way to a page.
ROLE_HOMES = {Role.TREASURER: "treasurer.index", Role.ADMIN: "admin.index", Role.SPONSOR: "sponsor.index"}


def home_for(user: User) -> str:
    return url_for(ROLE_HOMES.get(user.role, "account.home"))


@bp.route("/sign-in", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, methods=["POST"], deduct_when=_failed)
@limiter.limit(_login_limit, methods=["POST"], key_func=_account_key, deduct_when=_failed)
def sign_in() -> Response | str | tuple[str, int]:
    form = SignInForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if current_user.is_authenticated and request.method == "GET":
        return redirect(safe_next(form.next.data, home_for(current_user)))
    if form.validate_on_submit():
        user = auth.authenticate(form.email.data or "", form.password.data or "")
        if user is not None:
            # A fresh session at sign-in: nothing set before it (by anyone) carries over.
            session.clear()
            auth.start_session(user, remember=bool(form.remember.data))
            login_user(user, remember=bool(form.remember.data))
            db.session.commit()
            current_app.logger.info("sign-in: user %s", user.id)
            return redirect(safe_next(form.next.data, home_for(user)))
        current_app.logger.warning("sign-in failed from %s", request.remote_addr)
        form.password.errors = ["Enter a correct email address and password"]
        return render_template("accounts/sign_in.html", form=form), 200
    return render_template("accounts/sign_in.html", form=form), (200 if request.method == "GET" else 400)


@bp.post("/sign-out")
@signed_in
def sign_out() -> Response:
    form = SignOutForm()
    if form.validate_on_submit():
        # End the session itself, so that copies of its cookies (a replayed session cookie, a
        # remember-me cookie) open nothing afterwards.
        auth.end_session(current_user)
        db.session.commit()
        # Clear first: logout_user leaves a note in the session that deletes the remember-me
        # cookie, and clearing after it would keep a remembered device signed in.
        session.clear()
        logout_user()
        flash("You have signed out.", "success")
    return redirect(url_for("public.index"))


@bp.get("/")
@signed_in
def home() -> str:
    """The signed-in person's own pledges: those made while signed in or with their email."""
    pledges = db.session.scalars(
        select(Pledge)
        .options(selectinload(Pledge.campaign), selectinload(Pledge.organisation))
        .where(or_(Pledge.user_id == current_user.id, Pledge.email == current_user.email))
        .order_by(Pledge.created_at.desc())
        .limit(200)
    )
    return render_template(
        "accounts/home.html",
        pledges=list(pledges),
        sign_out_form=SignOutForm(),
        everywhere_form=SignOutEverywhereForm(),
    )


@bp.post("/sign-out-everywhere")
@signed_in
def sign_out_everywhere() -> Response:
    """End every session of this account: this browser, other devices and any stolen cookie."""
    form = SignOutEverywhereForm()
    if form.validate_on_submit():
        auth.sign_out_everywhere(current_user)
        db.session.commit()
        current_app.logger.info("signed out everywhere: user %s", current_user.id)
        session.clear()
        logout_user()
        flash("You have signed out on every device.", "success")
    return redirect(url_for("public.index"))


@bp.route("/password", methods=["GET", "POST"])
@signed_in
def change_password() -> Response | tuple[str, int]:
    """A new password; every other session ends, and this browser stays signed in."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        problem = auth.password_change_problem(
            current_user, form.current_password.data or "", form.new_password.data or "", form.confirm.data or ""
        )
        if problem is None:
            auth.change_password(current_user, form.new_password.data or "")
            session.clear()
            auth.start_session(current_user, remember=False)
            login_user(current_user._get_current_object())  # type: ignore[attr-defined]
            db.session.commit()
            current_app.logger.info("password changed: user %s", current_user.id)
            flash("Your password has been changed, and you have been signed out on every other device.", "success")
            return redirect(url_for("account.home"))
        getattr(form, problem.field).errors = [problem.message]
    return render_template("accounts/password.html", form=form), (400 if request.method == "POST" else 200)
