"""Signed links that let a pledger reach their own pledges without an account."""

from __future__ import annotations

from flask import current_app, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

PLEDGE_LINK_DAYS = 60
MY_PLEDGES_LINK_DAYS = 30


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def pledge_token(pledge_id: int) -> str:
    """A token for one pledge's own pages (card, confirmation, authentication)."""
    return _serializer("pledgeline.pledge").dumps(pledge_id)


def pledge_id_from(token: str) -> int | None:
    try:
        value = _serializer("pledgeline.pledge").loads(token, max_age=PLEDGE_LINK_DAYS * 86400)
    except BadSignature:
        return None
    return value if isinstance(value, int) else None


def my_pledges_token(email: str) -> str:
    return _serializer("pledgeline.my-pledges").dumps(email.strip().lower())


def email_from(token: str) -> str | None:
    try:
        value = _serializer("pledgeline.my-pledges").loads(token, max_age=MY_PLEDGES_LINK_DAYS * 86400)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def my_pledges_url(email: str) -> str:
    return url_for("pledges.my_pledges", token=my_pledges_token(email), _external=True)


def pledge_url(endpoint: str, pledge_id: int, **values: object) -> str:
    return url_for(endpoint, token=pledge_token(pledge_id), _external=True, **values)
