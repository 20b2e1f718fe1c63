from __future__ import annotations

import hashlib
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


def session_token_hash(token: str) -> str:
    """What we keep of a session's token: its SHA-256, so a copy of the database opens no session."""
    return hashlib.sha256(token.encode()).hexdigest()


class User(db.Model):  # type: ignore[name-defined,misc]
    """A person who signs in. The password is stored only as an Argon2id hash."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role, "user_role"), default=Role.PLEDGER)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organisation: Mapped[Organisation | None] = relationship()

    @property
    def login_token(self) -> str | None:
        """The token of the session this request was signed in with (set by the session loader
        and at sign-in; never stored on this row). Flask-Login keeps it in the session and the
        remember-me cookie, so ending that one UserSession ends every copy of those cookies."""
        return self.__dict__.get("_login_token")

    @login_token.setter
    def login_token(self, token: str | None) -> None:
        self.__dict__["_login_token"] = token

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        if not self.login_token:
            raise RuntimeError("Start a session (accounts.start_session) before signing a user in.")
        return self.login_token

    def has_role(self, *roles: Role | str) -> bool:
        return self.is_active and self.role in {Role(r) for r in roles}

    @property
    def is_council_contact(self) -> bool:
        return self.organisation is not None and self.organisation.kind == "council"

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class UserSession(db.Model):  # type: ignore[name-defined,misc]
    """One signed-in session: a browser that signed in, until it signs out or the session ends.

    Signing out deletes its row, so the session cookie and the remember-me cookie it was given
    open nothing afterwards, wherever copies of them went; signing out everywhere or changing the
    password deletes every row of the user.
    """

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
