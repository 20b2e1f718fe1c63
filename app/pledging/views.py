"""Card pledges: the form, card capture, confirmation, 3-D Secure, and the pledger's own pages.

Pages about one pledge are reached through a signed token (emailed to the pledger), never by a
guessable id.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app import links
from app.blueprints import pledges as bp
from app.campaigns import listing
from app.extensions import db, limiter
from app.models import LIVE_STATUSES, Campaign, Payment, PaymentMethod, PaymentStatus, Pledge, PledgerKind, Visibility
from app.payments import card_payments, gateway
from app.pledging import pledges
from app.pledging.forms import ActionForm, ConfirmCardForm, MyPledgesLinkForm, PledgeForm, UpdatesChoiceForm
from app.security import public


def _pledge_or_404(token: str) -> Pledge:
    pledge_id = links.pledge_id_from(token)
    pledge = db.session.get(Pledge, pledge_id) if pledge_id is not None else None
    if pledge is None:
        abort(404)
    return pledge


def _unavailable(message: str, retry_url: str, *, retry_data: dict[str, str] | None = None) -> tuple[str, int]:
    return render_template(
        "pledging/try_again.html",
        message=message,
        retry_url=retry_url,
        retry_data=retry_data or {},
        form=ActionForm(),
    ), 503


@bp.route("/campaigns/<slug>/pledge", methods=["GET", "POST"])
@public
def new(slug: str) -> ResponseReturnValue:
    campaign = listing.get_public(slug)
    if campaign is None:
        abort(404)
    if not pledges.accepting_pledges(campaign):
        return render_template("pledging/closed.html", campaign=campaign), 410
    form = PledgeForm(campaign)
    if request.method == "GET" and current_user.is_authenticated:
        form.name.data, form.email.data = current_user.name, current_user.email
    if form.validate_on_submit():
        assert form.money is not None  # noqa: S101 - set by validate_amount
        request_data = pledges.PledgeRequest(
            kind=PledgerKind.INDIVIDUAL,
            name=form.name.data.strip(),
            email=form.email.data.strip(),
            amount=form.money,
            frequency=form.frequency.data,
            instalment_count=form.instalment_count,
            method=PaymentMethod.CARD,
            conditional=form.is_conditional,
            visibility=Visibility(form.visibility.data),
            message=(form.message.data or "").strip() or None,
            user=current_user if current_user.is_authenticated else None,
            submission_token=form.submission_token.data,
            wants_updates=bool(form.wants_updates.data),
        )
        try:
            pledge = pledges.create_pledge(campaign, request_data)
        except pledges.PledgeError as error:
            db.session.rollback()
            form.amount.errors = [str(error)]
        else:
            db.session.commit()
            current_app.logger.info("pledge %s started on %s", pledge.reference, campaign.slug)
            return redirect(url_for("pledges.card", token=links.pledge_token(pledge.id)))
    status = 400 if request.method == "POST" else 200
    return render_template("pledging/new.html", campaign=campaign, form=form), status


@bp.route("/pledges/<token>/card", methods=["GET", "POST"])
@public
def card(token: str) -> ResponseReturnValue:
    pledge = _pledge_or_404(token)
    if pledge.method != PaymentMethod.CARD or (not pledge.is_live and pledge.status.value != "pending"):
        return redirect(url_for("pledges.confirmation", token=token))
    form = ConfirmCardForm()
    error = None
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        try:
            payment = card_payments.record_saved_card(pledge, form.setup_intent.data)
        except gateway.GatewayUnavailable as problem:
            db.session.rollback()
            return _unavailable(
                problem.message,
                url_for("pledges.card", token=token),
                retry_data={"setup_intent": form.setup_intent.data},
            )
        except (card_payments.CardFlowError, gateway.GatewayError) as problem:
            db.session.rollback()
            error = getattr(problem, "message", None) or str(problem)
        else:
            if payment is not None and payment.status == PaymentStatus.REQUIRES_ACTION:
                return redirect(url_for("pledges.authenticate", token=token, payment_id=payment.id))
            if payment is not None and payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELLED):
                error = payment.failure_message or "Your card payment did not go through."
            else:
                return redirect(url_for("pledges.confirmation", token=token))
    try:
        setup = card_payments.start_card_setup(pledge)
    except gateway.GatewayUnavailable as problem:
        db.session.rollback()
        return _unavailable(problem.message, url_for("pledges.card", token=token))
    return render_template(
        "pledging/card.html",
        pledge=pledge,
        form=form,
        error=error,
        client_secret=setup.client_secret,
        stripe_js=gateway.js_url(),
        publishable_key=gateway.publishable_key(),
        schedule=card_payments.describe_schedule(pledge),
    ), (402 if error else 200)


@bp.get("/pledges/<token>")
@public
def confirmation(token: str) -> ResponseReturnValue:
    """The page after pledging: about this pledge only.

    Whoever made the pledge sees it, and anyone can type any email address into the form, so
    this page never opens the other pledges made with that address: those are reached only
    through the link we email to it.
    """
    pledge = _pledge_or_404(token)
    latest = db.session.scalars(
        select(Payment).where(Payment.pledge_id == pledge.id).order_by(Payment.id.desc()).limit(1)
    ).first()
    return render_template(
        "pledging/confirmation.html",
        pledge=pledge,
        token=token,
        latest=latest,
        schedule=card_payments.describe_schedule(pledge),
        cancellable=card_payments.self_cancellable(pledge),
    )


@bp.route("/pledges/<token>/cancel", methods=["GET", "POST"])
@public
def cancel_one(token: str) -> ResponseReturnValue:
    """Cancel the one pledge this link is for."""
    pledge = _pledge_or_404(token)
    here = url_for("pledges.confirmation", token=token)
    return _cancel(pledge, action=url_for("pledges.cancel_one", token=token), back=here, done=here)


@bp.route("/pledges/<token>/payments/<int:payment_id>/confirm", methods=["GET", "POST"])
@public
def authenticate(token: str, payment_id: int) -> ResponseReturnValue:
    pledge = _pledge_or_404(token)
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.pledge_id != pledge.id:
        abort(404)
    form = ActionForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        try:
            card_payments.refresh_payment(payment)
        except gateway.GatewayUnavailable as problem:
            db.session.rollback()
            return _unavailable(problem.message, url_for("pledges.authenticate", token=token, payment_id=payment_id))
        if payment.status == PaymentStatus.SUCCEEDED:
            flash("Thank you: your bank confirmed the payment.", "success")
        return redirect(url_for("pledges.confirmation", token=token))
    if payment.status != PaymentStatus.REQUIRES_ACTION:
        return redirect(url_for("pledges.confirmation", token=token))
    try:
        client_secret = card_payments.client_secret_for(payment)
    except gateway.GatewayUnavailable as problem:
        return _unavailable(problem.message, request.path)
    return render_template(
        "pledging/authenticate.html",
        pledge=pledge,
        payment=payment,
        form=form,
        client_secret=client_secret,
        stripe_js=gateway.js_url(),
        publishable_key=gateway.publishable_key(),
    )


@bp.route("/my-pledges", methods=["GET", "POST"])
@public
@limiter.limit("5 per hour", methods=["POST"])
def request_link() -> ResponseReturnValue:
    form = MyPledgesLinkForm()
    if form.validate_on_submit():
        address = form.email.data.strip().lower()
        pledges.email_my_pledges_link(address)
        # The same answer either way, so this page does not reveal who has pledged.
        return render_template("pledging/link_sent.html", address=address)
    return render_template("pledging/request_link.html", form=form), (400 if request.method == "POST" else 200)


def _my_pledges_email(token: str) -> str:
    """The address a my-pledges link (emailed to it) opens; 404 for anything else."""
    pledge_id = links.my_pledges_pledge_id(token)
    pledge = db.session.get(Pledge, pledge_id) if pledge_id is not None else None
    if pledge is None:
        abort(404)
    return pledge.email


@bp.get("/my-pledges/<token>")
@public
def my_pledges(token: str) -> ResponseReturnValue:
    address = _my_pledges_email(token)
    rows = db.session.scalars(
        select(Pledge)
        .options(selectinload(Pledge.instalments), selectinload(Pledge.campaign))
        .where(Pledge.email == address)
        .order_by(Pledge.created_at.desc())
        .limit(200)
    ).all()
    payments_by_pledge: dict[int, list[Payment]] = {p.id: [] for p in rows}
    if rows:
        for payment in db.session.scalars(
            select(Payment).where(Payment.pledge_id.in_(payments_by_pledge)).order_by(Payment.created_at)
        ):
            payments_by_pledge[payment.pledge_id].append(payment)
    return render_template(
        "pledging/my_pledges.html",
        address=address,
        pledges=rows,
        payments=payments_by_pledge,
        token=token,
        pledge_token=links.pledge_token,
        cancellable=card_payments.self_cancellable,
        form=ActionForm(),
        updates_form=UpdatesChoiceForm(),
        hears_updates=_hears_updates(address, {p.campaign_id for p in rows if p.is_live}),
    )


@bp.route("/my-pledges/<token>/<int:pledge_id>/cancel", methods=["GET", "POST"])
@public
def cancel(token: str, pledge_id: int) -> ResponseReturnValue:
    address = _my_pledges_email(token)
    pledge = db.session.get(Pledge, pledge_id)
    if pledge is None or pledge.email != address:
        abort(404)
    back = url_for("pledges.my_pledges", token=token)
    return _cancel(pledge, action=url_for("pledges.cancel", token=token, pledge_id=pledge.id), back=back, done=back)


def _cancel(pledge: Pledge, *, action: str, back: str, done: str) -> ResponseReturnValue:
    """The "are you sure?" page for cancelling a pledge, and the cancelling itself."""
    form = ActionForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        try:
            card_payments.cancel_pledge(pledge)
        except card_payments.CardFlowError as error:
            db.session.rollback()
            flash(str(error), "info")
        else:
            flash(f"Your pledge {pledge.reference} is cancelled. No further payments will be taken.", "success")
        return redirect(done)
    return render_template(
        "pledging/cancel.html",
        pledge=pledge,
        form=form,
        action=action,
        back=back,
        cancellable=card_payments.self_cancellable(pledge),
        schedule=card_payments.describe_schedule(pledge),
    )


# --- Update emails: only for those who agreed, and stopped with one link ---------------------------


def _hears_updates(address: str, campaign_ids: set[int]) -> dict[int, bool]:
    """For each campaign, whether this address gets its update emails (any of its pledges said yes)."""
    if not campaign_ids:
        return {}
    yes = set(
        db.session.scalars(
            select(Pledge.campaign_id)
            .where(Pledge.email == address, Pledge.campaign_id.in_(campaign_ids), Pledge.wants_updates.is_(True))
            .distinct()
        )
    )
    return {campaign_id: campaign_id in yes for campaign_id in campaign_ids}


def _choose_updates(campaign: Campaign, address: str, wants: bool) -> None:
    pledges.set_wants_updates(campaign, address, wants)
    db.session.commit()
    if wants:
        flash(f"We will email you {campaign.title}’s news and updates at {address}.", "success")
    else:
        flash(f"You will not get any more update emails about {campaign.title} at {address}.", "success")


@bp.route("/stop-updates/<token>", methods=["GET", "POST"])
@public
def stop_updates(token: str) -> ResponseReturnValue:
    """The link in every update email: a page to stop them (and to undo that), no account needed."""
    found = links.stop_updates_from(token)
    campaign, address = None, None
    if found is not None and found.pledge_id is not None:
        named = db.session.get(Pledge, found.pledge_id)
        if named is not None:
            campaign, address = named.campaign, named.email
    elif found is not None and found.campaign_id is not None:
        campaign, address = db.session.get(Campaign, found.campaign_id), found.email
    if campaign is None or address is None:
        abort(404)
    form = UpdatesChoiceForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        _choose_updates(campaign, address, form.wants)
        return redirect(url_for("pledges.stop_updates", token=token))
    return render_template(
        "pledging/stop_updates.html",
        campaign=campaign,
        address=address,
        form=form,
        token=token,
        hears=_hears_updates(address, {campaign.id})[campaign.id],
        has_live_pledge=db.session.scalar(
            select(Pledge.id)
            .where(Pledge.campaign_id == campaign.id, Pledge.email == address, Pledge.status.in_(LIVE_STATUSES))
            .limit(1)
        )
        is not None,
    )


@bp.post("/my-pledges/<token>/campaigns/<slug>/updates")
@public
def choose_updates(token: str, slug: str) -> ResponseReturnValue:
    """Start or stop a campaign's update emails from the pledger's own page."""
    address = _my_pledges_email(token)
    campaign = db.session.scalar(select(Campaign).where(Campaign.slug == slug))
    if campaign is None or not db.session.scalar(
        select(Pledge.id).where(Pledge.campaign_id == campaign.id, Pledge.email == address).limit(1)
    ):
        abort(404)
    form = UpdatesChoiceForm()
    if not form.validate_on_submit():
        abort(400)
    _choose_updates(campaign, address, form.wants)
    return redirect(url_for("pledges.my_pledges", token=token) + "#campaign-news")
