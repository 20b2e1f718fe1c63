"""A person's data: all of it to download, and erasure that keeps the money's records.

A person is known by their email address: the pledges made with it (signed in or not), the
account that uses it, and the emails sent to it.

Erasure replaces who they are with a pseudonym everywhere it is written (pledges, account,
emails) and keeps what the money needs: every amount, date and
status, so each campaign's totals and ledger are unchanged. A numbered invoice is a financial
record the law requires to be kept for six years after the end of the financial year it belongs
to, so an invoice's billing contact is kept until then; everything else goes at once. The
audit log is append-only and names pledges by reference, never a person by name or address, so
it needs no change.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import String, cast, delete, literal, or_, select, update

from app import audit
from app.extensions import db
from app.models import (
    AuditEntry,
    Campaign,
    EmailMessage,
    Invoice,
    Payment,
    Pledge,
    User,
    Visibility,
    utcnow,
)
from app.models.user import UserSession

RETENTION_YEARS = 6
ERASED_NAME = "Erased"
ERASED_DOMAIN = "erased.invalid"  # .invalid is reserved: an address there can never receive mail


def _when(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _pledges_of(email: str, user_id: int | None = None) -> list[Pledge]:
    who = Pledge.email == email if user_id is None else or_(Pledge.email == email, Pledge.user_id == user_id)
    return list(db.session.scalars(select(Pledge).where(who).order_by(Pledge.id)))


def export(user: User) -> dict[str, Any]:
    """Everything held about the signed-in person, in plain terms and plain values."""
    pledges = _pledges_of(user.email, user.id)
    ids = [p.id for p in pledges]
    payments = list(db.session.scalars(select(Payment).where(Payment.pledge_id.in_(ids)).order_by(Payment.id)))
    invoices = list(db.session.scalars(select(Invoice).where(Invoice.pledge_id.in_(ids)).order_by(Invoice.id)))
    emails = list(
        db.session.scalars(
            select(EmailMessage)
            .where(or_(EmailMessage.to_address == user.email, EmailMessage.pledge_id.in_(ids)))
            .order_by(EmailMessage.id)
        )
    )
    actions = list(db.session.scalars(select(AuditEntry).where(AuditEntry.actor_id == user.id).order_by(AuditEntry.id)))
    return {
        "exported_at": _when(utcnow().replace(microsecond=0)),
        "account": {
            "name": user.name,
            "email": user.email,
            "role": user.role.value,
            "organisation": user.organisation.name if user.organisation else None,
            "created_at": _when(user.created_at),
            "last_signed_in_at": _when(user.last_login_at),
        },
        "pledges": [
            {
                "reference": f"PL-{p.id:06d}",
                "campaign": p.campaign.title,
                "name": p.name,
                "email": p.email,
                "organisation": p.organisation.name if p.organisation else None,
                "amount_pence": p.amount_pence,
                "currency": p.currency,
                "frequency": p.frequency.value,
                "method": p.method.value,
                "only_if_the_campaign_succeeds": p.is_conditional,
                "shown_as": p.visibility.value,
                "message": p.message,
                "wants_updates": p.wants_updates,
                "purchase_order": p.po_number,
                "billing_contact": p.billing_contact,
                "billing_email": p.billing_email,
                "billing_address": p.billing_address,
                "status": p.status.value,
                "made_at": _when(p.created_at),
            }
            for p in pledges
        ],
        "payments": [
            {
                "pledge": f"PL-{p.pledge_id:06d}",
                "amount_pence": p.amount_pence,
                "refunded_pence": p.refunded_pence,
                "currency": p.currency,
                "method": p.method.value,
                "status": p.status.value,
                "paid_at": _when(p.succeeded_at),
                "bank_reference": p.bank_reference,
            }
            for p in payments
        ],
        "invoices": [
            {
                "number": i.number,
                "kind": i.kind.value,
                "status": i.status.value,
                "amount_pence": i.amount_pence,
                "bill_to": i.bill_to_name,
                "billing_contact": i.bill_to_contact,
                "billing_email": i.bill_to_email,
                "issued_on": _when(i.issued_on),
            }
            for i in invoices
        ],
        "emails_sent_to_you": [
            {
                "to": m.to_address,
                "subject": m.subject,
                "body": m.body,
                "status": m.status.value,
                "queued_at": _when(m.created_at),
                "sent_at": _when(m.sent_at),
            }
            for m in emails
        ],
        "things_you_did": [{"action": a.action, "at": _when(a.created_at), "summary": a.summary} for a in actions],
    }


@dataclass(frozen=True)
class Erasure:
    pledges: int
    accounts: int
    emails: int
    invoices_kept: int  # invoices whose billing contact is kept until their retention ends


def _pseudonym(kind: str, number: int) -> str:
    return f"{kind}-{number}@{ERASED_DOMAIN}"


def erase(email: str, *, actor: User | None = None) -> Erasure:
    """Replace this person's name and address with pseudonyms everywhere, in the caller's
    transaction, and record that it was done (without saying who it was)."""
    email = email.strip()
    user = db.session.scalar(select(User).where(User.email == email))
    pledges = _pledges_of(email, user.id if user else None)
    names = {p.name for p in pledges} | ({user.name} if user else set())
    invoices_kept = 0
    for pledge in pledges:
        # A council's or sponsor's pledge is shown by its organisation's name, which stays.
        pledge.name = ERASED_NAME
        if pledge.billing_contact in names:
            pledge.billing_contact = ERASED_NAME
        pledge.email = _pseudonym("pledge", pledge.id)
        pledge.message = None
        pledge.visibility = Visibility.ANONYMOUS
        pledge.wants_updates = False
        invoices_kept += len(
            db.session.scalars(
                select(Invoice.id).where(Invoice.pledge_id == pledge.id, Invoice.number.is_not(None))
            ).all()
        )
        if pledge.billing_email == email:
            pledge.billing_email = _pseudonym("billing", pledge.id)
    ids = [p.id for p in pledges]
    emails = db.session.execute(  # type: ignore[attr-defined]
        update(EmailMessage)
        .where(or_(EmailMessage.to_address == email, EmailMessage.pledge_id.in_(ids)))
        .values(to_address=f"erased@{ERASED_DOMAIN}", body="(Erased at the person's request.)")
        .execution_options(synchronize_session=False)
    ).rowcount
    accounts = 0
    if user is not None:
        user.name = ERASED_NAME
        user.email = _pseudonym("user", user.id)
        user.password_hash = "!erased-" + secrets.token_hex(16)  # matches no password
        user.is_active = False
        db.session.execute(delete(UserSession).where(UserSession.user_id == user.id))
        accounts = 1
    report = Erasure(len(pledges), accounts, int(emails or 0), invoices_kept)
    audit.record(
        "personal_data.erased",
        actor=actor,
        summary=f"Personal data erased: {report.pledges} pledges, {report.accounts} account, {report.emails} emails",
        detail={"pledges": ids, "invoices_kept": invoices_kept},
    )
    return report


def retention_ends(funding_ends_on: date) -> date:
    """The day a campaign's personal data may go: six years after the end of the financial year
    (to 31 March) in which its funding period ended, when the last of its records is due."""
    year_end = date(funding_ends_on.year + (1 if funding_ends_on.month > 3 else 0), 3, 31)
    return date(year_end.year + RETENTION_YEARS, 3, 31)


def apply_retention(today: date) -> int:
    """Pseudonymise every pledge, invoice contact and email of campaigns past their retention;
    how many pledges. Safe to run again, or twice at once: what is erased is left alone."""
    past = [
        campaign_id
        for campaign_id, ends_on in db.session.execute(select(Campaign.id, Campaign.funding_ends_on))
        if retention_ends(ends_on) < today
    ]
    if not past:
        return 0
    erased_address = f"%@{ERASED_DOMAIN}"
    pledge_ids = select(Pledge.id).where(Pledge.campaign_id.in_(past)).scalar_subquery()
    done = db.session.execute(  # type: ignore[attr-defined]
        update(Pledge)
        .where(Pledge.campaign_id.in_(past), Pledge.email.not_like(erased_address))
        .values(
            name=ERASED_NAME,
            email=literal("pledge-") + cast(Pledge.id, String) + literal(f"@{ERASED_DOMAIN}"),
            message=None,
            visibility=Visibility.ANONYMOUS,
            wants_updates=False,
            billing_contact=None,
            billing_email=None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.execute(
        update(Invoice)
        .where(Invoice.pledge_id.in_(pledge_ids), Invoice.bill_to_email.not_like(erased_address))
        .values(
            bill_to_contact=ERASED_NAME,
            bill_to_email=literal("billing-") + cast(Invoice.id, String) + literal(f"@{ERASED_DOMAIN}"),
        )
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(EmailMessage)
        .where(EmailMessage.pledge_id.in_(pledge_ids), EmailMessage.to_address.not_like(erased_address))
        .values(to_address=f"erased@{ERASED_DOMAIN}", body="(Erased: past its retention period.)")
        .execution_options(synchronize_session=False)
    )
    if done:
        audit.record(
            "personal_data.retention",
            summary=f"Personal data past its retention period pseudonymised on {int(done)} pledges",
            detail={"campaigns": past, "pledges": int(done)},
        )
    return int(done or 0)
