"""Signed links that let a pledger reach their own pledges, or stop a campaign's emails, without an account."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

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


def stop_updates_token(campaign_id: int, email: str) -> str:
    """A token that lets whoever holds it stop one address getting one campaign's update emails.

    It never expires, unlike the links above: it sits in every update email, and a link to stop
    emails must still work when someone finds an old one. All it can do is turn emails off (or
    back on) for the address it was sent to.
    """
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="pledgeline.stop-updates").dumps(
        [campaign_id, email.strip().lower()]
    )


def stop_updates_from(token: str) -> tuple[int, str] | None:
    """(campaign id, email address) for a genuine token; None for anything altered or made up."""
    try:
        value = URLSafeSerializer(current_app.config["SECRET_KEY"], salt="pledgeline.stop-updates").loads(token)
    except BadSignature:
        return None
    if not isinstance(value, list) or len(value) != 2:
        return None
    campaign_id, email = value
    if not isinstance(campaign_id, int) or isinstance(campaign_id, bool) or not isinstance(email, str):
        return None
    return campaign_id, email


def external_url(endpoint: str, **values: object) -> str:
    """An absolute link for an email, built on PUBLIC_URL (works in a request, the CLI or cron)."""
    public = urlsplit(str(current_app.config["PUBLIC_URL"]))  # its default is in config.py
    adapter = current_app.url_map.bind(public.netloc, script_name=public.path or "/", url_scheme=public.scheme)
    return adapter.build(endpoint, values, force_external=True)


def my_pledges_url(email: str) -> str:
    return external_url("pledges.my_pledges", token=my_pledges_token(email))


def pledge_url(endpoint: str, pledge_id: int, **values: object) -> str:
    return external_url(endpoint, token=pledge_token(pledge_id), **values)


def stop_updates_url(campaign_id: int, email: str) -> str:
    return external_url("pledges.stop_updates", token=stop_updates_token(campaign_id, email))
