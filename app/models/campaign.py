from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import StrEnum, UTCDateTime, enum_column, utcnow
from app.money import Money


class FundingModel(StrEnum):
    ALL_OR_NOTHING = "all_or_nothing"
    KEEP_WHAT_YOU_RAISE = "keep_what_you_raise"


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    LIVE = "live"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CLOSED = "closed"


PUBLIC_STATUSES = (CampaignStatus.LIVE, CampaignStatus.SUCCEEDED, CampaignStatus.FAILED, CampaignStatus.CLOSED)


class Campaign(db.Model):  # type: ignore[name-defined,misc]
    """Something people pledge toward, with running totals kept in step with the ledger.

    The `*_pence` totals and counts are updated in the same transaction as the pledge or payment
    that moves them (see `app.ledger.totals`); `totals_version` goes up with every change, so
    anything cached from the totals can be keyed by it.
    """

    __tablename__ = "campaign"
    __table_args__ = (
        CheckConstraint("target_pence > 0", name="target_positive"),
        CheckConstraint("annual_cost_pence IS NULL OR annual_cost_pence > 0", name="annual_cost_positive"),
        CheckConstraint("min_councils >= 0", name="min_councils_not_negative"),
        CheckConstraint("max_sponsor_share_bp > 0 AND max_sponsor_share_bp <= 10000", name="sponsor_share_sensible"),
        CheckConstraint("closes_at > opens_at", name="closes_after_opening"),
        CheckConstraint("funding_ends_on > funding_starts_on", name="funding_period_order"),
        CheckConstraint(
            "pledged_pence >= 0 AND collected_pence >= 0 AND matched_pence >= 0"
            " AND pledge_count >= 0 AND council_count >= 0",
            name="totals_not_negative",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text, default="")
    target_pence: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    funding_model: Mapped[FundingModel] = mapped_column(
        enum_column(FundingModel, "funding_model"), default=FundingModel.ALL_OR_NOTHING
    )
    min_councils: Mapped[int] = mapped_column(Integer, default=0)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    funding_starts_on: Mapped[date] = mapped_column(Date)
    funding_ends_on: Mapped[date] = mapped_column(Date)
    annual_cost_pence: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[CampaignStatus] = mapped_column(
        enum_column(CampaignStatus, "campaign_status"), default=CampaignStatus.DRAFT, index=True
    )

    # Impartiality: no one sponsor may provide more than this share of the target (basis points).
    max_sponsor_share_bp: Mapped[int] = mapped_column(Integer, default=2500)
    # The published fair-share formula for councils (see campaigns.fair_share); None uses the default.
    fair_share: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    pledged_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    # The pledged total split by who pledged, so match offers can be worked out without a scan.
    pledged_council_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    pledged_individual_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    collected_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    matched_pence: Mapped[int] = mapped_column(BigInteger, default=0)
    pledge_count: Mapped[int] = mapped_column(Integer, default=0)
    council_count: Mapped[int] = mapped_column(Integer, default=0)
    totals_version: Mapped[int] = mapped_column(Integer, default=0)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    updates: Mapped[list[CampaignUpdate]] = relationship(
        back_populates="campaign", order_by="CampaignUpdate.published_at.desc()"
    )
    notices: Mapped[list[CampaignNotice]] = relationship(back_populates="campaign", order_by="CampaignNotice.id.desc()")

    def money(self, pence: int) -> Money:
        return Money(pence, self.currency)

    @property
    def is_public(self) -> bool:
        return self.status in PUBLIC_STATUSES

    @property
    def raised_pence(self) -> int:
        """Pledged plus matched: what counts toward the target."""
        return self.pledged_pence + self.matched_pence

    @property
    def percent_of_target(self) -> int:
        return min(100, self.raised_pence * 100 // self.target_pence) if self.target_pence else 0

    def __repr__(self) -> str:
        return f"<Campaign {self.slug}>"


class CampaignUpdate(db.Model):  # type: ignore[name-defined,misc]
    """News about a campaign, shown on its page."""

    __tablename__ = "campaign_update"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    campaign: Mapped[Campaign] = relationship(back_populates="updates")


class NoticeKind(StrEnum):
    TARGET = "target"
    DEADLINE = "deadline"


class CampaignNotice(db.Model):  # type: ignore[name-defined,misc]
    """A dated notice on a live campaign's page: its target or deadline changed (rows only added)."""

    __tablename__ = "campaign_notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    kind: Mapped[NoticeKind] = mapped_column(enum_column(NoticeKind, "notice_kind"))
    text: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    campaign: Mapped[Campaign] = relationship(back_populates="notices")
