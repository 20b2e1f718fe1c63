"""Closing campaigns: decide success or failure at the deadline, then collect or release.

`close_due()` is what cron runs (`flask campaigns close-due`). It is safe to run often and twice
at once:
- deciding is a conditional UPDATE (`… WHERE status = 'live'`), so each campaign is closed by
  exactly one run;
- the follow-up work (charging saved cards, issuing invoices, releasing pledges, emailing people)
  is driven by what is still left to do, one pledge per transaction, so a run that dies half-way
  is finished by the next, and two runs doing it together do each thing once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import ColumnElement, exists, func, select, update

from app import audit, links
from app.campaigns import notices
from app.database import write_transaction
from app.extensions import db
from app.ledger import totals
from app.models import (
    LIVE_STATUSES,
    Campaign,
    CampaignStatus,
    EmailMessage,
    Instalment,
    InstalmentStatus,
    PaymentMethod,
    Pledge,
    PledgeStatus,
    User,
    utcnow,
)
from app.money import Money
from app.notifications import email
from app.outgoing import events
from app.payments import card_payments
from app.pledging import pledges

log = logging.getLogger(__name__)

BATCH = 500


class LifecycleError(ValueError):
    """The message is fit to show a treasurer."""


def raised_toward_target(campaign: Campaign) -> int:
    """Pledged plus the match funding that counts toward the target under the campaign's rules."""
    try:
        from app.matching import match_funding
    except ImportError:  # match funding not installed: nothing matched
        return campaign.pledged_pence
    return campaign.pledged_pence + match_funding.counts_toward_success(campaign)


def conditions_met(campaign: Campaign) -> bool:
    return raised_toward_target(campaign) >= campaign.target_pence and campaign.council_count >= campaign.min_councils


@dataclass
class CloseReport:
    closed: list[tuple[str, str]] = field(default_factory=list)  # (slug, outcome)
    released: int = 0
    charged: int = 0
    invoiced: int = 0
    emailed: int = 0
    unavailable: int = 0

    def __str__(self) -> str:
        lines = [f"{slug}: {outcome}" for slug, outcome in self.closed] or ["No campaign was due to close."]
        lines.append(
            f"{self.released} pledge(s) released, {self.charged} card payment(s) taken, "
            f"{self.invoiced} invoice(s) issued, {self.emailed} pledger(s) told"
            + (f"; {self.unavailable} card charge(s) left for later (Stripe unreachable)" if self.unavailable else "")
            + "."
        )
        return "\n".join(lines)


def close_due(now: datetime | None = None) -> CloseReport:
    """Close every live campaign past its deadline, then finish the work closing leaves."""
    now = now or utcnow()
    report = CloseReport()
    due = list(
        db.session.scalars(select(Campaign.id).where(Campaign.status == CampaignStatus.LIVE, Campaign.closes_at <= now))
    )
    for campaign_id in due:
        outcome = _decide(campaign_id, now)
        if outcome is not None:
            slug = db.session.get_one(Campaign, campaign_id).slug
            report.closed.append((slug, outcome.value))
    follow_up(report, now)
    return report


def _decide(
    campaign_id: int, now: datetime, actor: User | None = None, reason: str = "Deadline reached"
) -> CampaignStatus | None:
    """Close one campaign if it is still live; None if another run (or a treasurer) got there first."""
    with write_transaction():
        totals.lock_campaign(campaign_id)
        campaign = db.session.get_one(Campaign, campaign_id, populate_existing=True)
        if campaign.status != CampaignStatus.LIVE:
            db.session.rollback()
            return None
        outcome = CampaignStatus.SUCCEEDED if conditions_met(campaign) else CampaignStatus.FAILED
        claimed = db.session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.LIVE)
            .values(status=outcome)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            db.session.rollback()
            return None
        audit.record(
            "campaign.closed",
            actor=actor,
            target=campaign,
            summary=f"{campaign.title} {outcome.value}: {Money(raised_toward_target(campaign), campaign.currency)} "
            f"of {Money(campaign.target_pence, campaign.currency)}, {campaign.council_count} of "
            f"{campaign.min_councils} councils. {reason}",
            detail={
                "outcome": outcome.value,
                "pledged_pence": campaign.pledged_pence,
                "matched_pence": campaign.matched_pence,
                "council_count": campaign.council_count,
                "reason": reason,
                "at": now.isoformat(),
            },
        )
        events.emit(f"campaign.{outcome.value}", {**events.campaign_data(campaign), "status": outcome.value})
        db.session.commit()
    log.info("campaign %s closed: %s", campaign_id, outcome.value)
    return outcome


def follow_up(report: CloseReport, now: datetime) -> None:
    """Finish what closing leaves to do, for every closed campaign that still has some."""
    for campaign_id, status in db.session.execute(
        select(Campaign.id, Campaign.status).where(
            Campaign.status.in_([CampaignStatus.SUCCEEDED, CampaignStatus.FAILED])
        )
    ).all():
        if status == CampaignStatus.FAILED:
            _release_conditional(campaign_id, report)
        else:
            _collect(campaign_id, report, now)
        _tell_everyone(campaign_id, report)
    email.deliver_queued(limit=10_000)


def _pledge_ids(campaign_id: int, *conditions: ColumnElement[bool]) -> list[int]:
    return list(
        db.session.scalars(select(Pledge.id).where(Pledge.campaign_id == campaign_id, *conditions).order_by(Pledge.id))
    )


def _release_conditional(campaign_id: int, report: CloseReport) -> None:
    """A failed campaign: release every conditional pledge (nothing is ever charged for them)."""
    ids = _pledge_ids(campaign_id, Pledge.is_conditional.is_(True), Pledge.status.in_(LIVE_STATUSES))
    for pledge_id in ids:
        with write_transaction():
            # The pledge's row first, then (in change_status) the campaign's: the order every path takes.
            pledge = db.session.get_one(Pledge, pledge_id, populate_existing=True, with_for_update=True)
            if pledge.status not in LIVE_STATUSES:  # another run released it first
                db.session.rollback()
                continue
            pledges.change_status(pledge, PledgeStatus.RELEASED, reason="The campaign did not reach its goal")
            _void_proformas(pledge)
            db.session.commit()
            report.released += 1
    try:
        from app.matching import match_funding
    except ImportError:
        return
    with write_transaction():
        campaign = db.session.get_one(Campaign, campaign_id, populate_existing=True)
        match_funding.release_offers(campaign, actor=None)
        db.session.commit()


def _void_proformas(pledge: Pledge) -> None:
    try:
        from app.invoicing import invoices
    except ImportError:
        return
    void = getattr(invoices, "void_proformas", None)
    if void is not None:
        void(pledge)


def _bring_forward(campaign_id: int, today: date) -> None:
    """Conditional card pledges fall due when the campaign succeeds: if it closed before the planned
    deadline, move each such pledge's remaining schedule forward so its first payment is today."""
    first_due = (
        select(Instalment.pledge_id, func.min(Instalment.due_on).label("first"))
        .where(Instalment.status == InstalmentStatus.SCHEDULED)
        .group_by(Instalment.pledge_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Pledge.id, first_due.c.first)
        .join(first_due, first_due.c.pledge_id == Pledge.id)
        .where(
            Pledge.campaign_id == campaign_id,
            Pledge.is_conditional.is_(True),
            Pledge.status.in_(LIVE_STATUSES),
            # Councils' later instalments stay on 1 April of their financial years; their first
            # invoice is issued at success whatever its date (invoicing.invoices.issue_due_invoices).
            Pledge.method == PaymentMethod.CARD,
            first_due.c.first > today,
        )
    ).all()
    for pledge_id, _ in rows:
        with write_transaction():
            scheduled = list(
                db.session.scalars(
                    select(Instalment).where(
                        Instalment.pledge_id == pledge_id, Instalment.status == InstalmentStatus.SCHEDULED
                    )
                )
            )
            first = min((i.due_on for i in scheduled), default=today)
            if first > today:  # not already moved by another run
                for instalment in scheduled:
                    instalment.due_on = instalment.due_on - (first - today)
            db.session.commit()


def _collect(campaign_id: int, report: CloseReport, now: datetime) -> None:
    """A campaign that succeeded: charge saved cards and invoice councils for what is now due."""
    _bring_forward(campaign_id, now.date())
    charged = card_payments.collect_due(now.date(), campaign_id=campaign_id)
    report.charged += charged.succeeded
    report.unavailable += charged.unavailable
    try:
        from app.invoicing import invoices
    except ImportError:
        return
    report.invoiced += invoices.issue_due_invoices(now.date())


def _tell_everyone(campaign_id: int, report: CloseReport) -> None:
    """Email every pledger of a closed campaign once about the outcome (in batches)."""
    campaign = db.session.get_one(Campaign, campaign_id)
    kind = f"campaign_{campaign.status.value}"
    told = exists().where(EmailMessage.pledge_id == Pledge.id, EmailMessage.kind == kind)
    statuses = [*LIVE_STATUSES, PledgeStatus.RELEASED]
    while True:
        ids = list(
            db.session.scalars(
                select(Pledge.id)
                .where(Pledge.campaign_id == campaign_id, Pledge.status.in_(statuses), ~told)
                .order_by(Pledge.id)
                .limit(BATCH)
            )
        )
        if not ids:
            return
        with write_transaction():
            # Under the campaign's lock, so a second run waits and then finds them told.
            totals.lock_campaign(campaign_id)
            for pledge in db.session.scalars(select(Pledge).where(Pledge.id.in_(ids), ~told)):
                email.queue(
                    kind,
                    pledge.email,
                    f"{campaign.title} "
                    + ("reached its goal" if campaign.status == CampaignStatus.SUCCEEDED else "did not reach its goal"),
                    pledge=pledge,
                    campaign=campaign,
                    my_pledges_url=links.my_pledges_url(pledge),
                )
                report.emailed += 1
            db.session.commit()


def close_early(campaign: Campaign, *, actor: User, reason: str) -> CloseReport:
    """A treasurer closes a live campaign now, with a reason (audited)."""
    reason = reason.strip()
    if not reason:
        raise LifecycleError("Enter the reason for closing the campaign early")
    if campaign.status != CampaignStatus.LIVE:
        raise LifecycleError("Only a live campaign can be closed.")
    now = utcnow()
    report = CloseReport()
    with write_transaction():
        totals.lock_campaign(campaign.id)
        db.session.execute(
            update(Campaign)
            .where(Campaign.id == campaign.id, Campaign.closes_at > now)
            .values(closes_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    outcome = _decide(campaign.id, now, actor=actor, reason=f"Closed early by a treasurer: {reason}")
    if outcome is None:
        raise LifecycleError("The campaign had already been closed.")
    report.closed.append((campaign.slug, outcome.value))
    follow_up(report, now)
    return report


def extend(campaign: Campaign, new_close: datetime, *, actor: User, reason: str) -> None:
    """A treasurer moves a live campaign's deadline later, with a reason (audited)."""
    reason = reason.strip()
    if not reason:
        raise LifecycleError("Enter the reason for extending the deadline")
    if campaign.status != CampaignStatus.LIVE:
        raise LifecycleError("Only a live campaign's deadline can be extended.")
    if new_close <= campaign.closes_at:
        raise LifecycleError("The new deadline must be later than the current one.")
    if new_close <= utcnow():
        raise LifecycleError("The new deadline must be in the future.")
    old = campaign.closes_at
    campaign.closes_at = new_close
    audit.record(
        "campaign.extended",
        actor=actor,
        target=campaign,
        summary=f"Deadline moved from {old.isoformat()} to {new_close.isoformat()}: {reason}",
        detail={"from": old.isoformat(), "to": new_close.isoformat(), "reason": reason},
    )
    notices.deadline_changed(campaign, old, actor=actor)
    follow_deadline(campaign, old)
    db.session.commit()


def follow_deadline(campaign: Campaign, old: datetime) -> None:
    """Conditional card instalments were due at the old deadline; they follow the new one."""
    for pledge in db.session.scalars(
        select(Pledge).where(
            Pledge.campaign_id == campaign.id,
            Pledge.is_conditional.is_(True),
            Pledge.status.in_(LIVE_STATUSES),
            Pledge.method == PaymentMethod.CARD,
        )
    ):
        first = pledge.instalments[0] if pledge.instalments else None
        if first is not None and first.due_on == old.date():
            shift = campaign.closes_at.date() - old.date()
            for instalment in pledge.instalments:
                instalment.due_on = instalment.due_on + shift
