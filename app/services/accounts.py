"""Accounts: Argon2id password hashing, sign-in checks and creating users."""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select

from app.extensions import db
from app.models import Organisation, Role, User, utcnow
from app.models.user import new_session_token

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


def sign_out_everywhere(user: User) -> None:
    """Invalidate every session and remember cookie of this user."""
    user.session_token = new_session_token()


def change_password(user: User, new_password: str) -> None:
    check_password_strength(new_password)
    user.password_hash = hash_password(new_password)
    sign_out_everywhere(user)
