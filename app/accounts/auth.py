"""Accounts: Argon2id password hashing, sign-in checks and creating users."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app
from sqlalchemy import delete, func, select

from app.extensions import db
from app.models import Organisation, Role, User, UserSession, utcnow
from app.models.user import new_session_token, session_token_hash

# OWASP's minimum for Argon2id: 19 MiB of memory, 2 iterations, 1 degree of parallelism.
hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)

MIN_PASSWORD_LENGTH = 12

# Verifying against this when the email is unknown takes as long as a real check,
# so the response time does not reveal which addresses have accounts.
_DUMMY_HASH = hasher.hash("not-a-real-password-but-the-same-cost")


class AccountError(ValueError):
    """The message is fit to show a person."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return hasher.hash(password)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Use a password of at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > 256:
        raise AccountError("Use a password of 256 characters or fewer.")


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, or None. Same work either way."""
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    try:
        hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if user is None or not user.is_active:
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


def create_user(email: str, name: str, password: str, role: Role, organisation: Organisation | None = None) -> User:
    check_password_strength(password)
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise AccountError("Enter an email address in the correct format, like name@example.org.")
    if db.session.scalar(select(func.count()).select_from(User).where(User.email == email)):
        raise AccountError(f"An account for {email} already exists.")
    user = User(email=email, name=name.strip(), password_hash=hash_password(password), role=role)
    user.organisation = organisation
    db.session.add(user)
    db.session.flush()
    return user


def start_session(user: User, *, remember: bool) -> str:
    """Open a new session for `user` and return its token (for Flask-Login to keep in the cookies).

    It lasts as long as the remember-me cookie when asked to remember the device, otherwise as
    long as a browser session may (PERMANENT_SESSION_LIFETIME). The user's expired sessions are
    cleared on the way.
    """
    now = utcnow()
    seconds = current_app.config["REMEMBER_COOKIE_DURATION" if remember else "PERMANENT_SESSION_LIFETIME"]
    lifetime = seconds if isinstance(seconds, timedelta) else timedelta(seconds=int(seconds))
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id, UserSession.expires_at <= now))
    token = new_session_token()
    db.session.add(UserSession(user_id=user.id, token_hash=session_token_hash(token), expires_at=now + lifetime))
    user.login_token = token
    return token


def user_for_session(token: str) -> User | None:
    """The active user of an open, unexpired session, or None (signed out, expired, deactivated)."""
    if not token or len(token) > 128:
        return None
    row = db.session.execute(
        select(User, UserSession.expires_at)
        .join(UserSession, UserSession.user_id == User.id)
        .where(UserSession.token_hash == session_token_hash(token), User.is_active.is_(True))
    ).first()
    if row is None or row.expires_at <= utcnow():
        return None
    user: User = row[0]
    user.login_token = token
    return user


def end_session(user: User) -> None:
    """Sign out the session this request was signed in with; the user's other sessions stay."""
    if user.login_token:
        db.session.execute(delete(UserSession).where(UserSession.token_hash == session_token_hash(user.login_token)))
    user.login_token = None


def sign_out_everywhere(user: User) -> None:
    """End every session of this user: every session and remember cookie, on every device."""
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    user.login_token = None


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str


def password_change_problem(user: User, current: str, new: str, confirm: str) -> FieldProblem | None:
    """What is wrong with a request to change a password, as a field and a message; None if nothing."""
    try:
        hasher.verify(user.password_hash, current)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return FieldProblem("current_password", "Your current password is not correct")
    try:
        check_password_strength(new)
    except AccountError as error:
        return FieldProblem("new_password", str(error).rstrip("."))
    if new != confirm:
        return FieldProblem("confirm", "The two new passwords are different: type the same one twice")
    if new == current:
        return FieldProblem("new_password", "Choose a password different from your current one")
    return None


def change_password(user: User, new_password: str) -> None:
    """Set a new password and end every session, so a captured cookie is useless afterwards."""
    check_password_strength(new_password)
    user.password_hash = hash_password(new_password)
    sign_out_everywhere(user)
