"""Two changes to one pledge at once (plan E): the second must see what the first committed.

On PostgreSQL (READ COMMITTED) a request may hold a pledge it read before another request changed
it. These tests make that happen deterministically on either database: one request reads the
pledge, another changes it and commits, then the first carries on with what it read.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.ledger import totals
from app.models import Frequency, Payment, Pledge, PledgeEvent, PledgeStatus
from app.payments import card_payments, settle
from tests.factories import CampaignFactory, make_pledge


def _stale_copy(app: Flask, pledge_id: int) -> tuple[object, Pledge]:
    """A second request's context holding the pledge as it is now (its read then ends)."""
    context = app.app_context()
    context.push()
    db.session().expire_on_commit = False
    pledge = db.session.get_one(Pledge, pledge_id)
    _ = pledge.instalments
    db.session.commit()
    return context, pledge


def test_a_double_cancel_cancels_once(app: Flask) -> None:
    campaign = CampaignFactory()
    pledge = make_pledge(
        campaign,
        pounds="50",
        frequency=Frequency.MONTHLY,
        instalments=12,
        status=PledgeStatus.ACTIVE,
        paid_instalments=1,
    )
    pledge_id = pledge.id
    context, stale = _stale_copy(app, pledge_id)
    try:
        with app.app_context():  # the first click wins
            card_payments.cancel_pledge(db.session.get_one(Pledge, pledge_id))
        try:  # the second click, holding what it read before
            card_payments.cancel_pledge(stale)
        except card_payments.CardFlowError:
            db.session.rollback()
        db.session.commit()
    finally:
        context.pop()

    db.session.rollback()
    assert totals.verify() == []
    events = db.session.scalars(
        select(PledgeEvent).where(PledgeEvent.pledge_id == pledge_id, PledgeEvent.to_status == PledgeStatus.CANCELLED)
    ).all()
    assert len(events) == 1


def test_a_payment_landing_on_a_just_cancelled_pledge_does_not_revive_it(app: Flask) -> None:
    campaign = CampaignFactory()
    pledge = make_pledge(campaign, pounds="100")
    pledge_id = pledge.id
    payment_id = settle.open_card_payment(pledge.instalments[0]).id
    db.session.commit()
    context, stale = _stale_copy(app, pledge_id)
    try:
        with app.app_context():  # the pledger cancels
            card_payments.cancel_pledge(db.session.get_one(Pledge, pledge_id))
        # the charge that was already under way succeeds afterwards, in the request that read
        # the pledge (still "committed" in its session) before the cancel
        assert stale.status == PledgeStatus.COMMITTED
        settle.mark_succeeded(db.session.get_one(Payment, payment_id))
        db.session.commit()
    finally:
        context.pop()

    db.session.rollback()
    stored = db.session.get_one(Pledge, pledge_id)
    assert stored.status == PledgeStatus.CANCELLED  # not revived as fulfilled
    assert totals.verify() == []
