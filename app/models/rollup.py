"""Running sums of a campaign's ledger, kept in step with its totals (see `ledger.totals`).

The treasurer's overview, the charts and the impact report read these few rows instead of
scanning every pledge and payment, so their cost does not grow with the number of pledges.
`flask totals verify` recomputes both tables from the ledger and reports any difference.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.pledge import Frequency, PaymentMethod, PledgerKind, PledgeStatus
from app.models.types import enum_column


class CampaignDay(db.Model):  # type: ignore[name-defined,misc]
    """What one UK day added to a campaign's charts.

    `pledged_pence`: the pledged total's contribution of pledges made that day (live pledges their
    commitment, cancelled ones what they paid). `collected_pence`: money received that day, less
    any of it refunded since (a bank transfer on the day it arrived, a card payment on the day it
    succeeded).
    """

    __tablename__ = "campaign_day"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    pledged_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    collected_pence: Mapped[int] = mapped_column(BigInteger, default=0)


class CampaignGroup(db.Model):  # type: ignore[name-defined,misc]
    """A campaign's pledges and their succeeded payments, summed by kind of pledge and status."""

    __tablename__ = "campaign_group"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), primary_key=True)
    pledger_kind: Mapped[PledgerKind] = mapped_column(enum_column(PledgerKind, "group_pledger_kind"), primary_key=True)
    frequency: Mapped[Frequency] = mapped_column(enum_column(Frequency, "group_frequency"), primary_key=True)
    method: Mapped[PaymentMethod] = mapped_column(enum_column(PaymentMethod, "group_method"), primary_key=True)
    status: Mapped[PledgeStatus] = mapped_column(enum_column(PledgeStatus, "group_status"), primary_key=True)
    is_conditional: Mapped[bool] = mapped_column(primary_key=True)
    pledge_count: Mapped[int] = mapped_column(Integer, default=0)
    commitment_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    payment_count: Mapped[int] = mapped_column(Integer, default=0)
    net_pence: Mapped[int] = mapped_column(BigInteger, default=0)  # received less refunded
    refunded_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    fee_pence: Mapped[int] = mapped_column(BigInteger, default=0)
