"""Organisations' contributions to a campaign as a 360Giving data package (schema 1.4).

One grant per organisation per campaign: a council or sponsor (`fundingOrganization`) giving to
LocalGov Digital (`recipientOrganization`), for the money it has paid and not had back. Pledges
not yet paid are promises, not grants, so they are left out; so are individuals, who are never
named in open data and whose gifts are not grants from an organisation. Councils carry the
identifiers 360Giving uses for UK local authorities (GB-LAE-ADU for Adur: the register's own
three-letter code) and their area by GSS code in `beneficiaryLocation`.

Grant ids are stable: `{GRANT_ID_PREFIX}-{campaign}-{organisation}`, so a republished file
updates the same grants rather than adding new ones.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select

from app.extensions import db
from app.models import Campaign, Organisation, OrganisationKind, Payment, PaymentStatus, Pledge, PledgerKind
from app.money import Money

LONDON = ZoneInfo("Europe/London")
LICENCE = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
SCHEMA_VERSION = "1.4"
# 360Giving's identifier lists for UK local authorities, by the register's nation.
AUTHORITY_LISTS = {"England": "GB-LAE", "Scotland": "GB-LAS", "Wales": "GB-PLA", "Northern Ireland": "GB-LANI"}
# The geoCodeType codelist's code for a GSS code's entity (its first three characters).
GEO_CODE_TYPES = {
    "E06": "UA",
    "E07": "NMD",
    "E08": "MD",
    "E09": "LONB",
    "E10": "CTY",
    "S12": "CA",
    "W06": "UA",
}


class NothingToPublish(LookupError):
    """The campaign has no organisation's payment yet; a 360Giving package needs one grant."""


@dataclass(frozen=True)
class Contribution:
    organisation: Organisation
    received_pence: int
    first_paid: datetime
    last_paid: datetime


def contributions(campaign_ids: Iterable[int]) -> dict[int, list[Contribution]]:
    """Each organisation's net payments to each campaign, by one aggregate query."""
    ids = list(campaign_ids)
    if not ids:
        return {}
    paid_at = func.coalesce(Payment.succeeded_at, Payment.created_at)
    rows = db.session.execute(
        select(
            Pledge.campaign_id,
            Pledge.organisation_id,
            func.sum(Payment.amount_pence - Payment.refunded_pence),
            func.min(paid_at),
            func.max(paid_at),
        )
        .join(Pledge, Payment.pledge_id == Pledge.id)
        .where(
            Pledge.campaign_id.in_(ids),
            Pledge.pledger_kind != PledgerKind.INDIVIDUAL,
            Pledge.organisation_id.is_not(None),
            Payment.status == PaymentStatus.SUCCEEDED,
        )
        .group_by(Pledge.campaign_id, Pledge.organisation_id)
        .order_by(Pledge.campaign_id, Pledge.organisation_id)
    ).all()
    organisations = {
        o.id: o for o in db.session.scalars(select(Organisation).where(Organisation.id.in_({row[1] for row in rows})))
    }
    found: dict[int, list[Contribution]] = {}
    for campaign_id, organisation_id, received, first, last in rows:
        if organisation_id is None or int(received or 0) <= 0:
            continue  # everything given back: nothing was granted
        found.setdefault(campaign_id, []).append(
            Contribution(organisations[organisation_id], int(received), _aware(first), _aware(last))
        )
    return found


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def organisation_id(organisation: Organisation) -> str:
    """The organisation's identifier: 360Giving's for a council on the register, else our own."""
    scheme = AUTHORITY_LISTS.get(organisation.nation or "")
    if organisation.kind == OrganisationKind.COUNCIL and organisation.register_code and scheme:
        return f"{scheme}-{organisation.register_code}"
    return f"{current_app.config['GRANT_ID_PREFIX']}-org-{organisation.slug}"


def _location(organisation: Organisation) -> list[dict[str, str]]:
    if organisation.kind != OrganisationKind.COUNCIL or not organisation.gss_code:
        return []
    place: dict[str, str] = {
        "name": organisation.short_name or organisation.name,
        "countryCode": "GB",
        "geoCode": organisation.gss_code,
    }
    code_type = GEO_CODE_TYPES.get(organisation.gss_code[:3])
    if code_type:
        place["geoCodeType"] = code_type
    return [place]


def _uk_day(moment: datetime) -> str:
    return moment.astimezone(LONDON).date().isoformat()


def grant(campaign: Campaign, contribution: Contribution) -> dict[str, Any]:
    config = current_app.config
    organisation = contribution.organisation
    amount = Money(contribution.received_pence, campaign.currency)
    return {
        "id": f"{config['GRANT_ID_PREFIX']}-{campaign.slug}-{organisation.slug}",
        "title": f"{organisation.name}: contribution to {campaign.title}",
        "description": (
            f"{organisation.name}'s contribution to {campaign.title}, collected by Pledgeline for "
            f"{config['RECIPIENT_ORG_NAME']}: {amount} received (after any refunds) by "
            f"{_uk_day(contribution.last_paid)}, toward a target of {Money(campaign.target_pence, campaign.currency)}."
        ),
        "currency": campaign.currency,
        "amountAwarded": _pounds(contribution.received_pence),
        "amountDisbursed": _pounds(contribution.received_pence),
        "awardDate": _uk_day(contribution.first_paid),
        "dateModified": contribution.last_paid.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "plannedDates": [
            {"startDate": campaign.funding_starts_on.isoformat(), "endDate": campaign.funding_ends_on.isoformat()}
        ],
        "fundingOrganization": [{"id": organisation_id(organisation), "name": organisation.name}],
        "recipientOrganization": [{"id": config["RECIPIENT_ORG_ID"], "name": config["RECIPIENT_ORG_NAME"]}],
        "beneficiaryLocation": _location(organisation),
        "grantProgramme": [{"code": campaign.slug, "title": campaign.title}],
    }


def _pounds(pence: int) -> int | float:
    """Pounds as the number 360Giving asks for: whole pounds as an integer, else two decimals."""
    whole, part = divmod(pence, 100)
    return whole if part == 0 else round(pence / 100, 2)


def package(campaigns: list[Campaign], *, today: date | None = None) -> dict[str, Any]:
    """The data package for these campaigns; `NothingToPublish` if none has an organisation's payment."""
    found = contributions(c.id for c in campaigns)
    grants = [grant(c, contribution) for c in campaigns for contribution in found.get(c.id, [])]
    if not grants:
        raise NothingToPublish
    config = current_app.config
    issued = (today or datetime.now(LONDON).date()).isoformat()
    subject = campaigns[0].title if len(campaigns) == 1 else "Pledgeline campaigns"
    return {
        "version": SCHEMA_VERSION,
        "title": f"Contributions to {subject}",
        "description": (
            "Money councils and sponsors have paid through Pledgeline, one grant per organisation "
            "per campaign, net of refunds. Individuals' gifts are not included."
        ),
        "issued": issued,
        "identifier": f"{config['GRANT_ID_PREFIX']}-{'-'.join(c.slug for c in campaigns)}",
        "publisher": {"name": config["RECIPIENT_ORG_NAME"], "identifier": config["RECIPIENT_ORG_ID"]},
        "license": LICENCE,
        "grants": grants,
    }


def write(data: dict[str, Any], path: Path) -> None:
    """Write the package whole or not at all: to a temporary file beside `path`, then renamed
    over it, so a reader (or a second export at once) never sees half a file."""
    path = path.resolve()
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False, indent=2)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
