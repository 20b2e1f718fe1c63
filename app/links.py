"""Signed links: what each one grants, for how long, and the absolute URLs built from them.

Every link that opens a page without signing in is made here, from one `LinkKind`: its purpose
(the signing salt, so a token for one purpose is worthless for any other), how long it lasts,
and the id of the one thing it grants. Tokens never carry personal data: a link to "all the
pledges of this address" names a pledge made with that address, not the address itself.

| kind          | grants                                                   | lasts    |
|---------------|----------------------------------------------------------|----------|
| pledge        | one pledge's own pages: card, confirmation, 3-D Secure,  | 60 days  |
|               | cancelling it, its campaign's update emails              |          |
| my-pledges    | every pledge made with the address of the pledge named;  | 30 days  |
|               | sent only by email, never shown on a page                |          |
| stop-updates  | turning one campaign's update emails off (or on) for the | never    |
|               | address of the pledge named (an old email must still work)|          |
| invoice-pdf   | one invoice's PDF                                        | 90 days  |
| invoice-pay   | paying one invoice by card                               | 90 days  |
| impact-report | one campaign's general impact report for one period      | 1–90 days|

State changes through these links are each possible once by their nature (a pledge is cancelled
once; a card payment is taken once per instalment), so no link needs a use counter.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

DAY = 86400


@dataclass(frozen=True)
class LinkKind:
    salt: str
    max_age_days: int | None  # None: the link never expires


PLEDGE = LinkKind("pledgeline.pledge", 60)
# ".v2": links of the first kind carried the email address itself and were shown on the
# confirmation page to whoever typed the address; none of them opens anything any more.
MY_PLEDGES = LinkKind("pledgeline.my-pledges.v2", 30)
STOP_UPDATES = LinkKind("pledgeline.stop-updates.v2", None)
INVOICE_PDF = LinkKind("pledgeline.invoice-pdf", 90)
INVOICE_PAY = LinkKind("pledgeline.invoice-pay", 90)
# At most 90 days; each token also carries the shorter lifetime its maker chose.
IMPACT_REPORT = LinkKind("pledgeline.impact-report", 90)
# The first stop-updates links named the campaign and the address; they still work (see below).
_LEGACY_STOP_UPDATES = LinkKind("pledgeline.stop-updates", None)

PLEDGE_LINK_DAYS = PLEDGE.max_age_days
MY_PLEDGES_LINK_DAYS = MY_PLEDGES.max_age_days


def make(kind: LinkKind, payload: Any) -> str:
    """A token for `payload` (an id, or a small list or dict of ids) signed for `kind`."""
    key = current_app.config["SECRET_KEY"]
    if kind.max_age_days is None:
        return URLSafeSerializer(key, salt=kind.salt).dumps(payload)
    return URLSafeTimedSerializer(key, salt=kind.salt).dumps(payload)


def read(kind: LinkKind, token: str) -> Any:
    """The payload of a genuine, unexpired token of this kind; None for anything else."""
    found = read_with_age(kind, token)
    return found[0] if found is not None else None


def read_with_age(kind: LinkKind, token: str, now: float | None = None) -> tuple[Any, float] | None:
    """(payload, age in seconds) of a genuine, unexpired token of this kind; None for anything else.

    A link that never expires has age 0.
    """
    key = current_app.config["SECRET_KEY"]
    try:
        if kind.max_age_days is None:
            return URLSafeSerializer(key, salt=kind.salt).loads(token), 0.0
        payload, signed_at = URLSafeTimedSerializer(key, salt=kind.salt).loads(token, return_timestamp=True)
    except (BadSignature, ValueError):
        return None
    age = (now if now is not None else time.time()) - signed_at.timestamp()
    # A minute of grace for a token made on another server whose clock runs a little ahead.
    if age < -60 or age > kind.max_age_days * DAY:
        return None
    return payload, age


def read_id(kind: LinkKind, token: str) -> int | None:
    """The id a token of this kind grants, or None."""
    return as_id(read(kind, token))


def as_id(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


# --- Pledgers' links ---------------------------------------------------------------------------


def pledge_token(pledge_id: int) -> str:
    """A token for one pledge's own pages (card, confirmation, authentication, cancelling it)."""
    return make(PLEDGE, pledge_id)


def pledge_id_from(token: str) -> int | None:
    return read_id(PLEDGE, token)


def my_pledges_token(pledge_id: int) -> str:
    """A token for every pledge made with the email address of pledge `pledge_id` (emails only)."""
    return make(MY_PLEDGES, pledge_id)


def my_pledges_pledge_id(token: str) -> int | None:
    """The pledge whose address a my-pledges token opens, or None."""
    return read_id(MY_PLEDGES, token)


def stop_updates_token(pledge_id: int) -> str:
    """A token that lets whoever holds it stop (or restart) one campaign's update emails for the
    address of one pledge on it.

    It never expires, unlike the links above: it sits in every update email, and a link to stop
    emails must still work when someone finds an old one. All it can do is turn those emails off
    (or back on) for the address they were sent to.
    """
    return make(STOP_UPDATES, pledge_id)


@dataclass(frozen=True)
class StopUpdates:
    """What a stop-updates link names: a pledge (today's links) or, in older links, an address."""

    campaign_id: int | None = None
    pledge_id: int | None = None
    email: str | None = None


def stop_updates_from(token: str) -> StopUpdates | None:
    """What a genuine stop-updates token names; None for anything altered or made up."""
    pledge_id = read_id(STOP_UPDATES, token)
    if pledge_id is not None:
        return StopUpdates(pledge_id=pledge_id)
    value = read(_LEGACY_STOP_UPDATES, token)
    if not isinstance(value, list) or len(value) != 2:
        return None
    campaign_id, email = value
    if as_id(campaign_id) is None or not isinstance(email, str):
        return None
    return StopUpdates(campaign_id=campaign_id, email=email)


# --- Absolute links ----------------------------------------------------------------------------


def external_url(endpoint: str, **values: object) -> str:
    """An absolute link for an email, built on PUBLIC_URL (works in a request, the CLI or cron)."""
    public = urlsplit(str(current_app.config["PUBLIC_URL"]))  # its default is in config.py
    adapter = current_app.url_map.bind(public.netloc, script_name=public.path or "/", url_scheme=public.scheme)
    return adapter.build(endpoint, values, force_external=True)


def my_pledges_url(pledge: Any) -> str:
    """The emailed link to every pledge made with this pledge's address."""
    return external_url("pledges.my_pledges", token=my_pledges_token(pledge.id))


def pledge_url(endpoint: str, pledge_id: int, **values: object) -> str:
    return external_url(endpoint, token=pledge_token(pledge_id), **values)


def stop_updates_url(pledge_id: int) -> str:
    return external_url("pledges.stop_updates", token=stop_updates_token(pledge_id))
