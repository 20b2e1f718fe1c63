from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import StrEnum, UTCDateTime, enum_column, utcnow


class EmailStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class EmailMessage(db.Model):  # type: ignore[name-defined,misc]
    """An email we send, queued in the same transaction as the change it tells someone about.

    It is delivered after that transaction commits, so a rolled-back change never sends mail and
    a message is claimed for sending exactly once.
    """

    __tablename__ = "email_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    pledge_id: Mapped[int | None] = mapped_column(ForeignKey("pledge.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[EmailStatus] = mapped_column(
        enum_column(EmailStatus, "email_status"), default=EmailStatus.QUEUED, index=True
    )
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
