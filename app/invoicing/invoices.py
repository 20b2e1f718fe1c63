"""Council pledges by purchase order, and their invoices.

A council pledges through a purchase order and pays by bank transfer. While its pledge is
conditional it gets a **pro-forma** (never numbered, payable only if the campaign succeeds); when
an instalment falls due it gets a **numbered invoice** (INV-000001, payable within 30 days), and
the pro-forma for that instalment is voided. The treasurer records bank transfers against the
invoice, part payments included; overdue invoices get a reminder at most once a week.

Invoice numbers come from the `invoice_counter` row, taken with UPDATE … RETURNING inside the
invoice's own transaction: on PostgreSQL the row stays locked until that transaction ends, so
concurrent issuers queue and each gets the next number; a rolled-back invoice gives its number
back. So numbers never repeat and never skip. On SQLite the caller's transaction must be a
writing one (`app.database.write_transaction`, or a POST request), as everywhere else.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parseaddr
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError

import config as config_module
from app import audit, links
from app.database import retry_if_busy, write_transaction
from app.extensions import db
from app.models import (
    Campaign,
    CampaignStatus,
    Frequency,
    FundingModel,
    Instalment,
    InstalmentStatus,
    Invoice,
    InvoiceCounter,
    InvoiceKind,
    InvoiceStatus,
    Organisation,
    OrganisationKind,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Pledge,
    PledgerKind,
    PledgeStatus,
    Role,
    User,
    Visibility,
    utcnow,
)
from app.money import Money
from app.notifications import email
from app.payments import settle
from app.pledging import pledges, schedule

log = logging.getLogger(__name__)

LONDON = ZoneInfo("Europe/London")
SERIES = "INV"
PAYMENT_TERMS_DAYS = 30
REMINDER_INTERVAL_DAYS = 7
INVOICE_LINK_DAYS = links.INVOICE_PDF.max_age_days
MAX_YEARS = 5
PO_NUMBER = re.compile(r"^[A-Za-z0-9/ -]{1,64}$")
INVOICEABLE_PLEDGES = (PledgeStatus.COMMITTED, PledgeStatus.ACTIVE)
# A conditional pledge is payable once its campaign has succeeded. A campaign that failed has
# released its conditional pledges, so any still live in a closed campaign belong to a success.
SUCCEEDED_STATUSES = (CampaignStatus.SUCCEEDED, CampaignStatus.CLOSED)


class InvoiceError(ValueError):
    """An invoice that cannot be issued or paid like this; the message is fit to show a person."""


# --- Council pledges ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CouncilPledgeRequest:
    """What a council contact tells us when pledging by purchase order, already checked by a form."""

    organisation: Organisation
    user: User
    amount: Money  # per year
    years: int
    conditional: bool
    po_number: str
    billing_contact: str
    billing_email: str
    billing_address: str
    visibility: Visibility = Visibility.PUBLIC
    show_on_wall: bool = True
    submission_token: str | None = None
    wants_updates: bool = False  # the contact agreed to be emailed the campaign's news


def first_due_date(campaign: Campaign, conditional: bool, today: date | None = None) -> date:
    """A conditional pledge falls due when the campaign succeeds (its closing day); otherwise now."""
    if conditional:
        return campaign.closes_at.astimezone(LONDON).date()
    return today or datetime.now(LONDON).date()


def pledgeable_councils(user: Any) -> list[Organisation]:
    """The councils this person may pledge for: only their own, and only as one of its officers."""
    organisation = getattr(user, "organisation", None) if getattr(user, "is_active", False) else None
    if organisation is None or organisation.kind != OrganisationKind.COUNCIL:
        return []
    return [organisation]


def names_another_council(chosen: object, allowed: list[Organisation]) -> bool:
    """Whether a posted council id names a real council this person may not pledge for."""
    if not isinstance(chosen, str) or not chosen.isdigit() or len(chosen) > 18:
        return False
    if int(chosen) in {council.id for council in allowed}:
        return False
    council = db.session.get(Organisation, int(chosen))
    return council is not None and council.kind == OrganisationKind.COUNCIL


class NotYourCouncil(pledges.PledgeError):
    """Someone tried to pledge for a council they are not an officer of."""


def create_council_pledge(campaign: Campaign, request: CouncilPledgeRequest) -> Pledge:
    """Record a council's pledge by purchase order and send its first document, in the caller's transaction.

    The pledge is made by the signed-in `request.user` on behalf of `request.organisation` and is
    committed at once: a purchase order is a commitment. A conditional pledge gets a pro-forma for
    its first instalment; an unconditional one gets the numbered invoice. Yearly instalments
    follow financial years (see `schedule.financial_year_due_dates`). A repeated submission token
    returns the pledge it already made.
    """
    organisation = request.organisation
    if organisation.kind != OrganisationKind.COUNCIL:
        raise pledges.PledgeError("Choose a council from the list.")
    if organisation not in pledgeable_councils(request.user):
        raise NotYourCouncil("You can only pledge for the council you work for.")
    if not 1 <= request.years <= MAX_YEARS:
        raise pledges.PledgeError(f"Choose between 1 and {MAX_YEARS} years.")
    if request.conditional and campaign.funding_model != FundingModel.ALL_OR_NOTHING:
        raise pledges.PledgeError("This campaign keeps what it raises, so pledges to it cannot be conditional.")
    po_number = request.po_number.strip()
    if not PO_NUMBER.fullmatch(po_number):
        raise pledges.PledgeError("Enter the purchase order number using letters, numbers, spaces, - and / only.")

    frequency = Frequency.ONE_OFF if request.years == 1 else Frequency.ANNUALLY
    pledge = pledges.create_pledge(
        campaign,
        pledges.PledgeRequest(
            kind=PledgerKind.COUNCIL,
            name=request.user.name,
            email=request.user.email,
            amount=request.amount,
            frequency=frequency,
            instalment_count=request.years if request.years > 1 else None,
            method=PaymentMethod.INVOICE,
            conditional=request.conditional,
            visibility=request.visibility,
            po_number=po_number,
            organisation=organisation,
            user=request.user,
            show_on_wall=request.show_on_wall,
            submission_token=request.submission_token,
            wants_updates=request.wants_updates,
        ),
        first_due=first_due_date(campaign, request.conditional),
        actor=request.user,
    )
    if pledge.status != PledgeStatus.PENDING:
        return pledge  # the same form sent twice: the first submission made it
    pledge.billing_contact = request.billing_contact.strip()
    pledge.billing_email = request.billing_email.strip().lower()
    pledge.billing_address = request.billing_address.strip()
    first = pledge.instalments[0].due_on
    for instalment, due_on in zip(
        pledge.instalments, schedule.financial_year_due_dates(first, len(pledge.instalments)), strict=True
    ):
        instalment.due_on = due_on
    pledges.change_status(
        pledge,
        PledgeStatus.COMMITTED,
        reason="Purchase order received",
        actor=request.user,
        detail={"po_number": po_number, "organisation_id": organisation.id},
    )
    if request.conditional:
        issue_proforma(pledge, pledge.instalments[0])
    else:
        issue_for_instalment(pledge.instalments[0])
    return pledge


def can_see(user: Any, pledge: Pledge | None) -> bool:
    """The person who made a pledge, treasurers and admins may see it and its invoices; nobody else."""
    if pledge is None or not getattr(user, "is_authenticated", False):
        return False
    return pledge.user_id == user.id or user.has_role(Role.TREASURER, Role.ADMIN)


# --- Issuing -----------------------------------------------------------------------------------


def live_invoice(instalment_id: int, kind: InvoiceKind) -> Invoice | None:
    """The instalment's pro-forma or invoice that is not void (the database allows one of each)."""
    return db.session.scalar(
        select(Invoice).where(
            Invoice.instalment_id == instalment_id, Invoice.kind == kind, Invoice.status != InvoiceStatus.VOID
        )
    )


def _bill_to(pledge: Pledge) -> dict[str, str]:
    return {
        "bill_to_name": pledge.organisation.name if pledge.organisation else pledge.name,
        "bill_to_contact": pledge.billing_contact or pledge.name,
        "bill_to_email": pledge.billing_email or pledge.email,
        "bill_to_address": pledge.billing_address or "",
    }


def _insert(invoice: Invoice, *, numbered: bool) -> bool:
    """Add the invoice in a savepoint; False if a concurrent issuer already made this one.

    The number is taken inside the same savepoint, so an invoice that is not written gives its
    number back with it.
    """
    try:
        with db.session.begin_nested():
            if numbered:
                invoice.number = _next_number()
            db.session.add(invoice)
            db.session.flush()
    except IntegrityError:
        return False
    return True


def _next_number() -> str:
    """The next number in the series: an UPDATE … RETURNING on the counter row (see the module doc)."""
    take = (
        update(InvoiceCounter)
        .where(InvoiceCounter.series == SERIES)
        .values(last_number=InvoiceCounter.last_number + 1)
        .returning(InvoiceCounter.last_number)
        .execution_options(synchronize_session=False)
    )
    number = db.session.execute(take).scalar_one_or_none()
    if number is None:
        _restore_counter()
        number = db.session.execute(take).scalar_one()
    return f"{SERIES}-{number:06d}"


def _restore_counter() -> None:
    """Recreate a missing counter row (the migration seeds it) from the highest number issued."""
    highest = db.session.scalar(
        select(Invoice.number)
        .where(Invoice.number.like(f"{SERIES}-%"))
        .order_by(func.length(Invoice.number).desc(), Invoice.number.desc())
        .limit(1)
    )
    last = int(highest.split("-", 1)[1]) if highest else 0
    log.warning("invoice counter %s was missing; restarting it after %s", SERIES, last)
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql as dialect
    else:
        from sqlalchemy.dialects import sqlite as dialect  # type: ignore[no-redef]
    db.session.execute(
        dialect.insert(InvoiceCounter)
        .values(series=SERIES, last_number=last)
        .on_conflict_do_nothing(index_elements=["series"])
    )


def issue_proforma(pledge: Pledge, instalment: Instalment, *, today: date | None = None) -> Invoice:
    """The instalment's pro-forma, made (and emailed to the billing contact) if it has none yet.

    In the caller's transaction. A pro-forma has no number and no due date: it is payable only
    if the campaign succeeds, when the numbered invoice replaces it.
    """
    if instalment.pledge_id != pledge.id:
        raise InvoiceError("That instalment belongs to another pledge.")
    _lock(instalment)
    existing = live_invoice(instalment.id, InvoiceKind.PROFORMA)
    if existing is not None:
        return existing
    if pledge.method != PaymentMethod.INVOICE:
        raise InvoiceError("Only pledges paid by invoice get a pro-forma.")
    invoice = Invoice(
        kind=InvoiceKind.PROFORMA,
        status=InvoiceStatus.PROFORMA,
        pledge_id=pledge.id,
        instalment_id=instalment.id,
        amount_pence=instalment.amount_pence,
        currency=instalment.currency,
        po_number=pledge.po_number,
        issued_on=today or datetime.now(LONDON).date(),
        due_on=None,
        **_bill_to(pledge),
    )
    if not _insert(invoice, numbered=False):
        return _must_exist(instalment.id, InvoiceKind.PROFORMA)
    email.queue(
        "invoice_proforma",
        invoice.bill_to_email,
        f"Pro-forma invoice for your pledge {pledge.reference} to {pledge.campaign.title}",
        pledge=pledge,
        invoice=invoice,
        pdf_url=pdf_url(invoice),
    )
    return invoice


def _must_exist(instalment_id: int, kind: InvoiceKind) -> Invoice:
    existing = live_invoice(instalment_id, kind)
    if existing is None:
        raise RuntimeError(f"could not write the {kind.value} for instalment {instalment_id}")
    return existing


def _check_invoiceable(pledge: Pledge, instalment: Instalment) -> None:
    if pledge.method != PaymentMethod.INVOICE:
        raise InvoiceError(f"{pledge.reference} is paid by {pledge.method.value.replace('_', ' ')}, not by invoice.")
    if pledge.status not in INVOICEABLE_PLEDGES:
        raise InvoiceError(f"{pledge.reference} is {pledge.status.value}, so it cannot be invoiced.")
    if instalment.status != InstalmentStatus.SCHEDULED:
        raise InvoiceError(f"Instalment {instalment.sequence} of {pledge.reference} is {instalment.status.value}.")
    if pledge.is_conditional and pledge.campaign.status not in SUCCEEDED_STATUSES:
        raise InvoiceError(f"{pledge.reference} is payable only if the campaign succeeds.")


def issue_for_instalment(instalment: Instalment, today: date | None = None) -> Invoice:
    """The instalment's numbered invoice, issued (and emailed) if it has none yet, in the caller's transaction.

    Due 30 days after issue. Voids the instalment's pro-forma. A conditional pledge is invoiced
    only once its campaign has succeeded (set the campaign's status first).
    """
    return _issue_for_instalment(instalment, today)[0]


def _lock(instalment: Instalment) -> None:
    """Two issuers of one instalment take turns (a row lock on PostgreSQL; SQLite has one writer)."""
    db.session.execute(select(Instalment.id).where(Instalment.id == instalment.id).with_for_update())


def _issue_for_instalment(instalment: Instalment, today: date | None) -> tuple[Invoice, bool]:
    """The live invoice, and whether this call issued it."""
    _lock(instalment)
    existing = live_invoice(instalment.id, InvoiceKind.INVOICE)
    if existing is not None:
        return existing, False
    pledge = instalment.pledge
    _check_invoiceable(pledge, instalment)
    today = today or datetime.now(LONDON).date()
    invoice = Invoice(
        kind=InvoiceKind.INVOICE,
        status=InvoiceStatus.ISSUED,
        pledge_id=pledge.id,
        instalment_id=instalment.id,
        amount_pence=instalment.amount_pence,
        currency=instalment.currency,
        po_number=pledge.po_number,
        issued_on=today,
        due_on=today + timedelta(days=PAYMENT_TERMS_DAYS),
        **_bill_to(pledge),
    )
    if not _insert(invoice, numbered=True):
        return _must_exist(instalment.id, InvoiceKind.INVOICE), False
    proforma = live_invoice(instalment.id, InvoiceKind.PROFORMA)
    if proforma is not None:
        proforma.status = InvoiceStatus.VOID
    audit.record(
        "invoice.issued",
        target=invoice,
        summary=f"Invoice {invoice.number} for {invoice.amount} issued to {invoice.bill_to_name} ({pledge.reference})",
        detail={"pledge_id": pledge.id, "instalment": instalment.sequence, "amount_pence": invoice.amount_pence},
    )
    email.queue(
        "invoice_issued",
        invoice.bill_to_email,
        f"Invoice {invoice.number} for your pledge to {pledge.campaign.title}",
        pledge=pledge,
        invoice=invoice,
        pdf_url=pdf_url(invoice),
        pay_url=pay_url(invoice),
    )
    return invoice, True


def void_proformas(pledge: Pledge) -> int:
    """Void a pledge's live pro-formas (its campaign failed, or it was cancelled). In the caller's transaction."""
    result = db.session.execute(
        update(Invoice)
        .where(
            Invoice.pledge_id == pledge.id,
            Invoice.kind == InvoiceKind.PROFORMA,
            Invoice.status == InvoiceStatus.PROFORMA,
        )
        .values(status=InvoiceStatus.VOID)
        .execution_options(synchronize_session="fetch")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def due_instalments(today: date) -> list[int]:
    """Invoice-method instalments that should have a numbered invoice by `today` and have none.

    Due by date, for unconditional pledges and (once the campaign has succeeded) conditional
    ones; and the first instalment of a conditional pledge as soon as its campaign succeeds,
    even if it succeeded before its closing day.
    """
    has_invoice = exists().where(
        Invoice.instalment_id == Instalment.id,
        Invoice.kind == InvoiceKind.INVOICE,
        Invoice.status != InvoiceStatus.VOID,
    )
    succeeded = Campaign.status.in_(SUCCEEDED_STATUSES)
    rows = db.session.scalars(
        select(Instalment.id)
        .join(Pledge, Instalment.pledge_id == Pledge.id)
        .join(Campaign, Pledge.campaign_id == Campaign.id)
        .where(
            Instalment.status == InstalmentStatus.SCHEDULED,
            Pledge.method == PaymentMethod.INVOICE,
            Pledge.status.in_(INVOICEABLE_PLEDGES),
            ~has_invoice,
            or_(
                and_(Pledge.is_conditional.is_(False), Instalment.due_on <= today),
                and_(
                    Pledge.is_conditional.is_(True),
                    succeeded,
                    or_(Instalment.due_on <= today, Instalment.sequence == 1),
                ),
            ),
        )
        .order_by(Instalment.due_on, Instalment.id)
    )
    return list(rows)


def issue_due_invoices(today: date | None = None) -> int:
    """Issue every numbered invoice that has fallen due; returns how many were issued.

    Each in its own writing transaction, committed (its email queued with it; deliver with
    `email.deliver_queued()`). Safe to run twice at once: the second finds each one issued.
    """
    today = today or datetime.now(LONDON).date()
    due = due_instalments(today)
    db.session.commit()

    def issue(instalment_id: int) -> bool:
        with write_transaction():
            instalment = db.session.get(Instalment, instalment_id, populate_existing=True)
            if instalment is None:
                db.session.rollback()
                return False
            db.session.refresh(instalment.pledge)
            _, issued = _issue_for_instalment(instalment, today)
            db.session.commit()
            return issued

    issued = 0
    for instalment_id in due:
        try:
            if retry_if_busy(lambda: issue(instalment_id)):  # noqa: B023 - called at once
                issued += 1
        except InvoiceError as error:
            db.session.rollback()
            log.info("instalment %s not invoiced: %s", instalment_id, error)
    return issued


# --- Money owed and paid -----------------------------------------------------------------------


def paid(invoice: Invoice) -> Money:
    """What has been received against the invoice's instalment, less refunds."""
    if invoice.instalment_id is None:
        return Money.zero(invoice.currency)
    received = db.session.scalar(
        select(func.coalesce(func.sum(Payment.amount_pence - Payment.refunded_pence), 0)).where(
            Payment.instalment_id == invoice.instalment_id, Payment.status == PaymentStatus.SUCCEEDED
        )
    )
    return Money(int(received or 0), invoice.currency)


def balance(invoice: Invoice) -> Money:
    """What is left to pay: the invoice's amount less succeeded payments against its instalment."""
    return invoice.amount - paid(invoice)


def is_overdue(invoice: Invoice, today: date | None = None) -> bool:
    """An issued invoice past its due date with money still owing."""
    today = today or datetime.now(LONDON).date()
    return (
        invoice.kind == InvoiceKind.INVOICE
        and invoice.status == InvoiceStatus.ISSUED
        and invoice.due_on is not None
        and invoice.due_on < today
        and balance(invoice).pence > 0
    )


def record_bank_transfer(
    invoice: Invoice, amount: Money, received_on: date, reference: str, actor: User | None
) -> Payment:
    """A treasurer records money received by bank transfer against an invoice, in the caller's transaction.

    Part payments are fine; more than is owed is refused. When nothing is left to pay the
    invoice is marked paid. The same transfer recorded twice (same reference, amount and date,
    say from a double-clicked form) is recorded once: the second call returns the first payment.
    On SQLite call it in a writing transaction; on PostgreSQL the invoice's row is locked here so
    two recordings of one invoice take turns.
    """
    reference = " ".join((reference or "").split())
    if not reference:
        raise InvoiceError("Enter the bank reference the payment arrived with.")
    if len(reference) > 140:
        raise InvoiceError("The bank reference must be 140 characters or fewer.")
    if received_on > datetime.now(LONDON).date():
        raise InvoiceError("The date received cannot be in the future.")
    # Locks in the order every other change takes them: the pledge, then its invoice (a treasurer
    # cancelling the pledge at the same moment holds the pledge and then voids its invoices;
    # taking the invoice first here could deadlock with that on PostgreSQL).
    if invoice.pledge_id is not None:
        db.session.execute(select(Pledge.id).where(Pledge.id == invoice.pledge_id).with_for_update())
    db.session.execute(select(Invoice.id).where(Invoice.id == invoice.id).with_for_update())
    db.session.refresh(invoice)
    if invoice.kind != InvoiceKind.INVOICE:
        raise InvoiceError("This is a pro-forma, which is not paid: record the payment against the numbered invoice.")
    if invoice.status == InvoiceStatus.VOID:
        raise InvoiceError(f"Invoice {invoice.number} is void.")
    if invoice.pledge is None or invoice.instalment is None:
        raise InvoiceError(f"Invoice {invoice.number} is not for a pledge.")
    if amount.currency != invoice.currency:
        raise InvoiceError(f"Invoice {invoice.number} is in {invoice.currency}.")
    if amount.pence <= 0:
        raise InvoiceError("Enter an amount greater than zero.")
    repeat = db.session.scalar(
        select(Payment).where(
            Payment.instalment_id == invoice.instalment_id,
            Payment.method == PaymentMethod.BANK_TRANSFER,
            Payment.status == PaymentStatus.SUCCEEDED,
            Payment.bank_reference == reference,
            Payment.amount_pence == amount.pence,
            Payment.received_on == received_on,
        )
    )
    if repeat is not None:
        return repeat
    left = balance(invoice)
    if left.pence <= 0:
        raise InvoiceError(f"Invoice {invoice.number} is already paid in full.")
    if amount > left:
        raise InvoiceError(
            f"This invoice has {left} left to pay, so {amount} is more than it is owed. "
            f"Record {left} or less against invoice {invoice.number}, and return or reallocate the rest."
        )
    try:
        payment = settle.record_bank_transfer(
            invoice.pledge, invoice.instalment, amount, received_on=received_on, reference=reference, actor=actor
        )
    except settle.PaymentError as error:
        raise InvoiceError(str(error)) from error
    remaining = balance(invoice)  # paid in full, the invoice is now marked paid (settle.mark_succeeded)
    audit.record(
        "invoice.bank_transfer_recorded",
        actor=actor,
        target=invoice,
        summary=f"{amount} received by bank transfer for {invoice.number} (reference {reference}); "
        f"{remaining} left to pay",
        detail={
            "payment_id": payment.id,
            "amount_pence": amount.pence,
            "received_on": received_on.isoformat(),
            "reference": reference,
            "balance_pence": remaining.pence,
        },
    )
    return payment


# --- Reminders ---------------------------------------------------------------------------------


def remind_overdue(today: date | None = None) -> int:
    """Email a reminder for each overdue invoice not reminded in the last 7 days; returns how many.

    Each reminder is claimed with a conditional UPDATE of `last_reminded_at` in the transaction
    that queues its email, so two runs at once send each reminder once. With `today` given, the
    run acts (and records its reminders) as if it were midday on that date.
    """
    now = utcnow() if today is None else datetime.combine(today, time(12), tzinfo=UTC)
    today = today or datetime.now(LONDON).date()
    # Calendar days: reminded on the 1st, eligible again on the 8th.
    cutoff = datetime.combine(today - timedelta(days=REMINDER_INTERVAL_DAYS - 1), time(0), tzinfo=UTC)
    may_remind = or_(Invoice.last_reminded_at.is_(None), Invoice.last_reminded_at < cutoff)
    candidates = list(
        db.session.scalars(
            select(Invoice.id)
            .where(
                Invoice.kind == InvoiceKind.INVOICE,
                Invoice.status == InvoiceStatus.ISSUED,
                Invoice.due_on < today,
                may_remind,
            )
            .order_by(Invoice.due_on, Invoice.id)
        )
    )
    db.session.commit()

    def remind(invoice_id: int) -> bool:
        with write_transaction():
            invoice = db.session.get(Invoice, invoice_id, populate_existing=True)
            if invoice is None or not is_overdue(invoice, today):
                db.session.rollback()
                return False
            claimed = db.session.execute(
                update(Invoice)
                .where(Invoice.id == invoice_id, Invoice.status == InvoiceStatus.ISSUED, may_remind)
                .values(last_reminded_at=now)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                db.session.rollback()
                return False  # another run reminded it just now
            assert invoice.pledge is not None  # noqa: S101 - reminders are for pledges' invoices
            assert invoice.due_on is not None  # noqa: S101 - overdue invoices have a due date
            email.queue(
                "invoice_reminder",
                invoice.bill_to_email,
                f"Reminder: invoice {invoice.number} is overdue",
                pledge=invoice.pledge,
                invoice=invoice,
                balance=balance(invoice),
                days_overdue=(today - invoice.due_on).days,
                pdf_url=pdf_url(invoice),
                pay_url=pay_url(invoice),
            )
            db.session.commit()
            return True

    return sum(1 for invoice_id in candidates if retry_if_busy(lambda: remind(invoice_id)))  # noqa: B023


# --- Links and PDFs ----------------------------------------------------------------------------


def pdf_token(invoice_id: int) -> str:
    """A token for one invoice's PDF, for the emails that send it (expires after 90 days)."""
    return links.make(links.INVOICE_PDF, invoice_id)


def invoice_id_from(token: str) -> int | None:
    return links.read_id(links.INVOICE_PDF, token)


def pay_token(invoice_id: int) -> str:
    """A token for one invoice's card payment page, printed on it and emailed (expires after 90 days).

    Its own kind: a PDF link cannot be turned into a payment link, nor the other way round.
    """
    return links.make(links.INVOICE_PAY, invoice_id)


def invoice_id_from_pay_token(token: str) -> int | None:
    return links.read_id(links.INVOICE_PAY, token)


def pay_url(invoice: Invoice) -> str | None:
    """The signed, expiring link to pay a numbered invoice by card, absolute; None for a pro-forma."""
    if invoice.kind != InvoiceKind.INVOICE:
        return None
    return links.external_url("councils.pay_invoice", token=pay_token(invoice.id))


def pdf_url(invoice: Invoice) -> str:
    """The signed, expiring link to the invoice's PDF, absolute, for an email."""
    return links.external_url("councils.invoice_pdf_link", token=pdf_token(invoice.id))


def pdf_filename(invoice: Invoice) -> str:
    return f"{invoice.display_number}.pdf"


def render_pdf(invoice: Invoice) -> bytes:
    """The invoice or pro-forma as a PDF, with everything it says worked out from the ledger."""
    from app.reporting import pdf

    pledge = invoice.pledge
    if pledge is None or invoice.instalment is None:
        raise InvoiceError("Only invoices for pledges can be printed here.")
    config = current_app.config
    replaced_by = None
    if invoice.kind == InvoiceKind.PROFORMA and invoice.status == InvoiceStatus.VOID:
        replaced_by = live_invoice(invoice.instalment.id, InvoiceKind.INVOICE)
    contact = parseaddr(config.get("MAIL_DEFAULT_SENDER") or "")[1]
    context = {
        "invoice": invoice,
        "pledge": pledge,
        "campaign": pledge.campaign,
        "instalment": invoice.instalment,
        "instalments": pledge.instalments,
        "financial_year": schedule.financial_year_label(invoice.instalment.due_on),
        "financial_year_of": schedule.financial_year_label,
        "paid": paid(invoice),
        "balance": balance(invoice),
        "replaced_by": replaced_by,
        "issuer_lines": [line for line in str(config["INVOICE_ISSUER_ADDRESS"]).splitlines() if line.strip()],
        "bank": {
            "account_name": config["BANK_ACCOUNT_NAME"],
            "sort_code": config["BANK_SORT_CODE"],
            "account_number": config["BANK_ACCOUNT_NUMBER"],
        },
        "demo_bank_details": config["BANK_ACCOUNT_NAME"] == config_module.DEMO_BANK_ACCOUNT_NAME,
        "contact_email": contact,
        "payment_terms_days": PAYMENT_TERMS_DAYS,
        "pay_url": pay_url(invoice),
    }
    template = "pdf/proforma.html" if invoice.kind == InvoiceKind.PROFORMA else "pdf/invoice.html"
    return pdf.render_pdf(template, **context)
