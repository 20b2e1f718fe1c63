"""`flask personal-data erase`: act on a person's request to erase their data."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.extensions import db
from app.privacy import personal_data

personal_data_group = AppGroup("personal-data", help="People's rights over their personal data.")


@personal_data_group.command("erase")
@click.option("--email", required=True, help="The address the person used.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase(email: str, yes: bool) -> None:
    """Replace a person's name and email with pseudonyms everywhere; amounts and dates are kept."""
    if not yes:
        click.confirm(f"Erase the personal data of {email}? This cannot be undone", abort=True)
    report = personal_data.erase(email)
    db.session.commit()
    click.echo(f"Erased: {report.pledges} pledges, {report.accounts} account, {report.emails} emails.")
    if report.invoices_kept:
        click.echo(
            f"{report.invoices_kept} numbered invoices keep their billing contact for "
            f"{personal_data.RETENTION_YEARS} years after their financial year, as the law requires."
        )


@personal_data_group.command("retention")
def retention() -> None:
    """Pseudonymise the personal data of campaigns past their six-year retention (safe to repeat)."""
    from app import jobs

    click.echo(f"Pseudonymised {jobs.apply_retention()} pledges past their retention period.")
