"""`flask export 360giving`: write the 360Giving package to a file."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.campaigns import listing
from app.extensions import db
from app.models import Campaign
from app.opendata import giving

export_group = AppGroup("export", help="Open data files.")


@export_group.command("360giving")
@click.option("--campaign", "slug", help="One campaign's slug (default: every public campaign).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Where to write the JSON.")
def export_360giving(slug: str | None, out: Path) -> None:
    """Write councils' and sponsors' contributions as a 360Giving data package (JSON)."""
    if slug:
        campaign = db.session.scalar(select(Campaign).where(Campaign.slug == slug))
        if campaign is None:
            raise click.ClickException(f"No campaign with slug {slug!r}.")
        campaigns = [campaign]
    else:
        campaigns = listing.public_campaigns()
    try:
        data = giving.package(campaigns)
    except giving.NothingToPublish as error:
        raise click.ClickException("No council or sponsor has paid yet: there is nothing to publish.") from error
    try:
        giving.write(data, out)
    except OSError as error:
        raise click.ClickException(f"Could not write {out}: {error.strerror}") from error
    click.echo(f"Wrote {out} ({len(data['grants'])} grants).")
