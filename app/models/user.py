from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.organisation import Organisation
from app.models.types import StrEnum, UTCDateTime, enum_column, utcnow


class Role(StrEnum):
    PLEDGER = "pledger"
    TREASURER = "treasurer"
    SPONSOR = "sponsor"
    ADMIN = "admin"


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class User(db.Model):  # type: ignore[name-defined,misc]
    """A person who signs in. The password is stored only as an Argon2id hash."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role, "user_role"), default=Role.PLEDGER)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    # Flask-Login identifies the session by this token, not the id: changing it (password change,
    # "sign out everywhere") makes every captured session and remember cookie useless at once.
    session_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_session_token)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organisation: Mapped[Organisation | None] = relationship()

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return self.session_token

    def has_role(self, *roles: Role | str) -> bool:
        return self.is_active and self.role in {Role(r) for r in roles}

    @property
    def is_council_contact(self) -> bool:
        return self.organisation is not None and self.organisation.kind == "council"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"
