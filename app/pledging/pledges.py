"""Creating pledges and moving them through their life, with an event for every change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import audit, links
from app.extensions import db
from app.ledger import rollups, totals
from app.models import (
    TRANSITIONS,
    Campaign,
    CampaignStatus,
    Frequency,
    Instalment,
    InstalmentStatus,
    Organisation,
    PaymentMethod,
    Pledge,
    PledgeEvent,
    PledgerKind,
    PledgeStatus,
    User,
    Visibility,
    utcnow,
)
from app.money import Money
from app.notifications import email
from app.outgoing import events
from app.pledging import schedule

MIN_PLEDGE = Money(100)  # £1: smaller amounts cost more in card fees than they give
MAX_PLEDGE = Money(100_000_00)  # £100,000 per instalment; larger gifts are arranged directly
MAX_INSTALMENTS = 120


class PledgeError(ValueError):
    """A pledge that cannot be made or changed; the message is fit to show a person."""


class InvalidTransition(PledgeError):
    pass


@dataclass(frozen=True)
class PledgeRequest:
    """Everything a person tells us when they pledge, already checked by a form."""

    kind: PledgerKind
    name: str
    email: str
    amount: Money
    frequency: Frequency
    instalment_count: int | None
    method: PaymentMethod
    conditional: bool
    visibility: Visibility
    message: str | None = None
    po_number: str | None = None
    organisation: Organisation | None = None
    user: User | None = None
    show_on_wall: bool = True
    submission_token: str | None = None
    wants_updates: bool = False  # agreed to be emailed the campaign's news (receipts go regardless)


def check_amount(amount: Money, currency: str) -> None:
    if amount.currency != currency:
        raise PledgeError(f"This campaign takes pledges in {currency}.")
    if amount < Money(MIN_PLEDGE.pence, currency):
        raise PledgeError(f"The smallest pledge is {Money(MIN_PLEDGE.pence, currency)}.")
    if amount > Money(MAX_PLEDGE.pence, currency):
        raise PledgeError(
            f"The largest pledge we take online is {Money(MAX_PLEDGE.pence, currency)}. "
            "Contact us to arrange a larger gift."
        )


def accepting_pledges(campaign: Campaign, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return campaign.status == CampaignStatus.LIVE and campaign.opens_at <= now < campaign.closes_at


def create_pledge(
    campaign: Campaign, request: PledgeRequest, *, first_due: date | None = None, actor: User | None = None
) -> Pledge:
    """Record a new pending pledge and its instalment schedule, in the caller's transaction.

    A repeated `submission_token` returns the pledge it already made instead of a second one.
    """
    if request.submission_token:
        existing = db.session.scalar(select(Pledge).where(Pledge.submission_token == request.submission_token))
        if existing is not None:
            return existing
    if not accepting_pledges(campaign):
        raise PledgeError("This campaign is not taking pledges at the moment.")
    check_amount(request.amount, campaign.currency)
    if request.kind == PledgerKind.COUNCIL and request.organisation is None:
        raise PledgeError("Choose the council this pledge is made for.")
    if request.instalment_count is not None and not 1 <= request.instalment_count <= MAX_INSTALMENTS:
        raise PledgeError(f"Choose between 1 and {MAX_INSTALMENTS} instalments.")

    count = schedule.instalment_count_for(campaign, request.frequency, request.instalment_count)
    pledge = Pledge(
        campaign=campaign,
        campaign_id=campaign.id,
        pledger_kind=request.kind,
        user_id=request.user.id if request.user else None,
        organisation=request.organisation,
        name=request.name,
        email=request.email.strip().lower(),
        amount_pence=request.amount.pence,
        currency=request.amount.currency,
        frequency=request.frequency,
        instalment_count=1 if request.frequency == Frequency.ONE_OFF else request.instalment_count,
        method=request.method,
        is_conditional=request.conditional,
        visibility=request.visibility,
        show_on_wall=request.show_on_wall,
        wants_updates=request.wants_updates,
        message=request.message or None,
        po_number=request.po_number or None,
        status=PledgeStatus.PENDING,
        # What counts toward the campaign is what falls in its funding period: a pledge of more
        # instalments than the period holds (a council's three years toward one year's cost)
        # counts the period's share; the rest is still collected as each instalment falls due.
        commitment_pence=request.amount.pence * min(count, schedule.periods_in(campaign, request.frequency)),
        submission_token=request.submission_token,
    )
    start = first_due or (campaign.closes_at.date() if request.conditional else utcnow().date())
    for sequence, due_on in enumerate(schedule.due_dates(start, request.frequency, count), start=1):
        pledge.instalments.append(
            Instalment(sequence=sequence, due_on=due_on, amount_pence=pledge.amount_pence, currency=pledge.currency)
        )
    # The campaign's lock first: the new pledge is counted in its roll-ups, which every change to
    # the campaign's pledges updates under that lock (taking it later could deadlock).
    totals.lock_campaign(campaign.id)
    try:
        with db.session.begin_nested():
            db.session.add(pledge)
            db.session.flush()
    except IntegrityError:
        # Another request with the same submission token won the race: hand back its pledge.
        if request.submission_token:
            existing = db.session.scalar(select(Pledge).where(Pledge.submission_token == request.submission_token))
            if existing is not None:
                return existing
        raise
    rollups.add_new(pledge)
    _append_event(pledge, None, PledgeStatus.PENDING, "Pledge started", actor)
    return pledge


def change_status(
    pledge: Pledge,
    to: PledgeStatus,
    *,
    reason: str,
    actor: User | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Move a pledge to a new status, updating the campaign totals and appending an event."""
    totals.lock_pledge(pledge)  # decide on the status as committed, not as read earlier
    if to == pledge.status:
        return
    if to not in TRANSITIONS[pledge.status]:
        raise InvalidTransition(f"A {pledge.status.value} pledge cannot become {to.value}.")
    previous = pledge.status
    with totals.tracking(pledge):
        pledge.status = to
        if to in (PledgeStatus.CANCELLED, PledgeStatus.RELEASED, PledgeStatus.FAILED):
            final = InstalmentStatus.RELEASED if to == PledgeStatus.RELEASED else InstalmentStatus.CANCELLED
            for instalment in pledge.instalments:
                if instalment.status in (InstalmentStatus.SCHEDULED, InstalmentStatus.REQUIRES_ACTION):
                    instalment.status = final
    _append_event(pledge, previous, to, reason, actor, detail)
    if to in (PledgeStatus.COMMITTED, PledgeStatus.CANCELLED):
        events.emit(f"pledge.{to.value}", events.pledge_data(pledge))


def _append_event(
    pledge: Pledge,
    from_status: PledgeStatus | None,
    to_status: PledgeStatus,
    reason: str,
    actor: User | None,
    detail: dict[str, Any] | None = None,
) -> None:
    db.session.add(
        PledgeEvent(
            pledge=pledge,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            actor_id=actor.id if actor else None,
            detail=detail or {},
        )
    )


def set_wants_updates(campaign: Campaign, email: str, wants: bool, *, actor: User | None = None) -> list[str]:
    """Start or stop one address getting a campaign's update emails, for all its pledges there.

    Update emails go once to each address (see `impact.update_recipients`), so the choice is the
    address's, not one pledge's. Returns the references of the pledges that changed (none if the
    choice was already so); each change is audited, as the record of what the pledger asked for.
    """
    address = email.strip().lower()
    changed = list(
        db.session.scalars(
            select(Pledge)
            .where(Pledge.campaign_id == campaign.id, Pledge.email == address, Pledge.wants_updates != wants)
            .order_by(Pledge.id)
        )
    )
    if not changed:
        return []
    for pledge in changed:
        pledge.wants_updates = wants
    references = [pledge.reference for pledge in changed]
    audit.record(
        "pledge.updates_started" if wants else "pledge.updates_stopped",
        actor=actor,
        target=campaign,
        summary=f"{', '.join(references)}: the pledger "
        + ("asked for" if wants else "stopped")
        + f" update emails about {campaign.slug}",
        detail={"pledges": references, "wants_updates": wants},
    )
    return references


def email_my_pledges_link(address: str) -> bool:
    """Email `address` a link to every pledge made with it, if any were; commits.

    The link names the address's latest pledge rather than the address, so it carries no
    personal data. Returns whether an email was queued; the caller must not tell the person,
    so that nobody learns from the answer who has pledged.
    """
    latest = db.session.scalar(
        select(Pledge).where(Pledge.email == address.strip().lower()).order_by(Pledge.id.desc()).limit(1)
    )
    if latest is None:
        return False
    email.queue(
        "my_pledges_link", latest.email, "Your pledges on Pledgeline", my_pledges_url=links.my_pledges_url(latest)
    )
    email.commit_and_deliver()
    return True
