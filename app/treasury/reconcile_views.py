"""Reconciliation with Stripe: the last result, running it again, and resolving each difference."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.blueprints import treasurer as bp
from app.extensions import db
from app.models import ReconciliationDifference, Role, utcnow
from app.payments import gateway, reconcile
from app.security import roles_required
from app.treasury.action_forms import ApplyForm, ExplainForm, RunReconciliationForm

TREASURERS = (Role.TREASURER, Role.ADMIN)
# A second press of "Run reconciliation now" this soon after the first shows the first's result.
RERUN_AFTER = timedelta(seconds=30)


@bp.get("/reconcile")
@roles_required(*TREASURERS)
def reconciliation() -> ResponseReturnValue:
    latest = reconcile.latest_run()
    return render_template(
        "treasury/reconcile.html",
        run=latest,
        running=reconcile.running_now(),
        open_differences=reconcile.open_differences(latest) if latest else [],
        form=RunReconciliationForm(),
    )


@bp.post("/reconcile/run")
@roles_required(*TREASURERS)
def run_reconciliation() -> ResponseReturnValue:
    form = RunReconciliationForm()
    if not form.validate_on_submit():
        abort(400)
    latest = reconcile.latest_run()
    busy = reconcile.running_now()
    if busy is not None or (latest is not None and latest.started_at > utcnow() - RERUN_AFTER):
        if not session.get("_flashes"):  # a double click: the first press's message says it all
            flash("Reconciliation ran moments ago: this is its result.", "info")
        return redirect(url_for("treasurer.reconciliation"))
    record = reconcile.run(actor=current_user)
    if record.status.value == "failed":
        flash(f"Reconciliation could not finish: {record.error}", "info")
    elif record.differences:
        flash(f"Reconciliation found {len(record.differences)} difference(s). Resolve each one below.", "info")
    else:
        flash("Reconciliation found no differences: Stripe and our records agree.", "success")
    return redirect(url_for("treasurer.reconciliation"))


def _difference(difference_id: int) -> ReconciliationDifference:
    difference = db.session.get(ReconciliationDifference, difference_id)
    if difference is None:
        abort(404)
    return difference


def _problem(difference: ReconciliationDifference) -> str | None:
    try:
        reconcile.check_resolvable(difference)
    except reconcile.ReconcileError as error:
        return str(error)
    return None


@bp.route("/reconcile/differences/<int:difference_id>/apply", methods=["GET", "POST"])
@roles_required(*TREASURERS)
def apply_difference(difference_id: int) -> ResponseReturnValue:
    difference = _difference(difference_id)
    form = ApplyForm()
    problem = _problem(difference)
    if problem is None and not difference.can_apply:
        problem = "Stripe's state cannot be applied to this difference. Explain it instead."
    status = 400 if request.method == "POST" else 200
    if problem is None and form.validate_on_submit():
        try:
            changed = reconcile.apply_stripe_state(difference.id, actor=current_user, note=form.note.data or "")
        except reconcile.ReconcileError as error:
            form.note.errors = [str(error)]
        except gateway.GatewayUnavailable as error:
            form.note.errors = [error.message]
            status = 503
        else:
            flash(changed, "success")
            return redirect(url_for("treasurer.reconciliation"))
    return render_template("treasury/reconcile_apply.html", difference=difference, form=form, problem=problem), status


@bp.route("/reconcile/differences/<int:difference_id>/explain", methods=["GET", "POST"])
@roles_required(*TREASURERS)
def explain_difference(difference_id: int) -> ResponseReturnValue:
    difference = _difference(difference_id)
    form = ExplainForm()
    problem = _problem(difference)
    if problem is None and form.validate_on_submit():
        try:
            reconcile.explain(difference.id, actor=current_user, note=form.note.data or "")
        except reconcile.ReconcileError as error:
            form.note.errors = [str(error)]
        else:
            flash("The difference is marked as explained.", "success")
            return redirect(url_for("treasurer.reconciliation"))
    return render_template("treasury/reconcile_explain.html", difference=difference, form=form, problem=problem), (
        400 if request.method == "POST" else 200
    )
