from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.campaign import Campaign
from app.models.organisation import Organisation
from app.models.types import StrEnum, UTCDateTime, enum_column, utcnow


class MatchEligibility(StrEnum):
    COUNCILS = "councils"
    INDIVIDUALS = "individuals"
    BOTH = "both"


class MatchStatus(StrEnum):
    ACTIVE = "active"
    RELEASED = "released"  # conditional, and the campaign failed: the sponsor owes nothing
    WITHDRAWN = "withdrawn"  # taken back before anything was matched


class MatchOffer(db.Model):  # type: ignore[name-defined,misc]
    """A sponsor's promise to add money for every pound pledged by eligible pledgers, up to a cap.

    What it has matched is worked out from the campaign's pledged totals by kind (kept in step
    with the ledger), so it never needs a scan of the pledges.
    """

    __tablename__ = "match_offer"
    __table_args__ = (
        CheckConstraint("ratio_bp > 0 AND ratio_bp <= 100000", name="ratio_sensible"),
        CheckConstraint("cap_pence > 0", name="cap_positive"),
        Index("ix_match_offer_campaign_status", "campaign_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    sponsor_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    # Pence matched per pound pledged, in basis points: 10000 is £1 for every £1.
    ratio_bp: Mapped[int] = mapped_column(Integer)
    cap_pence: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    eligibility: Mapped[MatchEligibility] = mapped_column(enum_column(MatchEligibility, "match_eligibility"))
    # True: counted and paid only if the campaign's conditions are met (released otherwise).
    conditional: Mapped[bool] = mapped_column(default=True)
    status: Mapped[MatchStatus] = mapped_column(enum_column(MatchStatus, "match_status"), default=MatchStatus.ACTIVE)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    campaign: Mapped[Campaign] = relationship()
    sponsor: Mapped[Organisation] = relationship()
