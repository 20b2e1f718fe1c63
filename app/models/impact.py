"""What the funded role achieved (metrics and stories), where the money went (outgoings), and
which campaign updates have been emailed to pledgers."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.campaign import Campaign, CampaignUpdate
from app.models.types import StrEnum, UTCDateTime, enum_column, utcnow
from app.money import Money


class ImpactMetric(StrEnum):
    COUNCILS_ENGAGED = "councils_engaged"
    COLLABORATIONS_STARTED = "collaborations_started"
    PROJECTS_SHARED = "projects_shared"
    EVENTS_RUN = "events_run"
    MEMBERS = "members"

    @property
    def label(self) -> str:
        return {
            "councils_engaged": "Councils engaged",
            "collaborations_started": "Collaborations started",
            "projects_shared": "Projects shared on Pipeline",
            "events_run": "Events run",
            "members": "Members",
        }[self.value]

    @property
    def is_running_total(self) -> bool:
        """Members is a head count on a date (the latest counts); the others are added up."""
        return self is ImpactMetric.MEMBERS


class OutgoingCategory(StrEnum):
    SALARY = "salary"
    EMPLOYER_COSTS = "employer_costs"
    EVENTS = "events"
    TRAVEL = "travel"
    TOOLS = "tools"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "salary": "Salary",
            "employer_costs": "Employer's costs (pension, National Insurance)",
            "events": "Events",
            "travel": "Travel",
            "tools": "Tools and services",
            "other": "Other",
        }[self.value]


class ImpactEntry(db.Model):  # type: ignore[name-defined,misc]
    """One figure the funded role achieved by a date: "3 events run" recorded on 30 June."""

    __tablename__ = "impact_entry"
    __table_args__ = (
        CheckConstraint("value >= 0", name="value_not_negative"),
        Index("ix_impact_entry_campaign_day", "campaign_id", "recorded_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    recorded_on: Mapped[date] = mapped_column(Date)
    metric: Mapped[ImpactMetric] = mapped_column(enum_column(ImpactMetric, "impact_metric"))
    value: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(300), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    campaign: Mapped[Campaign] = relationship()


class ImpactStory(db.Model):  # type: ignore[name-defined,misc]
    """A short account of something the role made happen, with an optional link to read more."""

    __tablename__ = "impact_story"
    __table_args__ = (Index("ix_impact_story_campaign_day", "campaign_id", "published_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    published_on: Mapped[date] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    campaign: Mapped[Campaign] = relationship()


class Outgoing(db.Model):  # type: ignore[name-defined,misc]
    """Money spent from a campaign's funds, for the public "where the money went"."""

    __tablename__ = "outgoing"
    __table_args__ = (
        CheckConstraint("amount_pence > 0", name="amount_positive"),
        Index("ix_outgoing_campaign_day", "campaign_id", "spent_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    spent_on: Mapped[date] = mapped_column(Date)
    category: Mapped[OutgoingCategory] = mapped_column(enum_column(OutgoingCategory, "outgoing_category"))
    amount_pence: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    description: Mapped[str] = mapped_column(String(300))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    campaign: Mapped[Campaign] = relationship()

    @property
    def amount(self) -> Money:
        return Money(self.amount_pence, self.currency)


class UpdateEmailing(db.Model):  # type: ignore[name-defined,misc]
    """That an update was emailed to the campaign's pledgers: one row per update, ever.

    The unique update id is what makes "email it" happen once, however many times it is pressed.
    """

    __tablename__ = "update_emailing"

    id: Mapped[int] = mapped_column(primary_key=True)
    update_id: Mapped[int] = mapped_column(ForeignKey("campaign_update.id"), unique=True)
    recipient_count: Mapped[int] = mapped_column(Integer)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    update: Mapped[CampaignUpdate] = relationship()
