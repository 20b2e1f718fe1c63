"""Flask CLI commands (`flask --app wsgi …`). Each exits non-zero on failure."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from app import demo, jobs
from app.accounts import auth
from app.campaigns import admin as campaign_admin
from app.councils import register as council_register
from app.extensions import db
from app.ledger import rollups, totals
from app.models import Campaign, FundingModel, Organisation, Role
from app.money import financial_year_label

users = AppGroup("users", help="Manage user accounts.")
totals_group = AppGroup("totals", help="Check campaign totals against the ledger.")
payments_group = AppGroup("payments", help="Collect card payments.")
mail_group = AppGroup("mail", help="Deliver queued email.")
invoices_group = AppGroup("invoices", help="Council invoices: issue those due, remind overdue ones.")
campaigns_group = AppGroup("campaigns", help="Campaign lifecycle.")
stripe_group = AppGroup("stripe", help="Compare Stripe with our records.")
councils_group = AppGroup("councils", help="The UK council register.")


@users.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.PLEDGER.value, show_default=True)
@click.option("--organisation", "organisation_slug", help="Slug of the user's organisation.")
@click.password_option(help="Prompted for if not given (at least 12 characters).")
def create_user(email: str, name: str, role: str, organisation_slug: str | None, password: str) -> None:
    """Create a user who can sign in."""
    organisation = None
    if organisation_slug:
        organisation = db.session.scalar(db.select(Organisation).where(Organisation.slug == organisation_slug))
        if organisation is None:
            raise click.ClickException(f"No organisation with slug {organisation_slug!r}.")
    try:
        user = auth.create_user(email, name, password, Role(role), organisation)
    except auth.AccountError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"Created {user.role.value} {user.email}.")


@totals_group.command("verify")
def verify_totals() -> None:
    """Recompute every campaign's totals from the ledger and report any difference."""
    differences = totals.verify()
    if not differences:
        click.echo("All campaign totals agree with the ledger.")
        return
    for d in differences:
        click.echo(f"{d.campaign_slug}: {d.field} is {d.stored} but the ledger says {d.ledger}", err=True)
    click.echo(f"{len(differences)} difference(s) found.", err=True)
    sys.exit(1)


@totals_group.command("rebuild")
def rebuild_totals() -> None:
    """Recompute every campaign's roll-ups (sums by day and by kind of pledge) from the ledger.

    Needed once after upgrading a database that already held pledges, or after loading pledges
    without the services. Each campaign is rebuilt under its lock, in one transaction.
    """
    ids = list(db.session.scalars(select(Campaign.id).order_by(Campaign.id)))
    for campaign_id in ids:
        totals.lock_campaign(campaign_id)
        rollups.rebuild([campaign_id])
        db.session.commit()
    click.echo(f"Rebuilt the roll-ups of {len(ids)} campaign(s).")


@payments_group.command("collect-due")
@click.option("--date", "on", type=click.DateTime(formats=["%Y-%m-%d"]), help="Collect as if today were this date.")
def collect_due(on: datetime | None) -> None:
    """Charge every card instalment that is due (safe to run twice at once)."""
    report = jobs.collect_due_instalments(on.date() if on else None)
    click.echo(str(report))
    if report.unavailable:
        sys.exit(2)


@campaigns_group.command("create")
@click.option("--slug", required=True, help="The web address: /campaigns/SLUG.")
@click.option("--title", required=True)
@click.option("--target", required=True, help="In pounds, like 45000.")
@click.option("--closes", required=True, type=click.DateTime(["%Y-%m-%d"]), help="The deadline, YYYY-MM-DD.")
@click.option("--min-councils", default="0", show_default=True)
@click.option("--funding-period", help="A financial year like 2027-28 (default: the one after the deadline).")
@click.option("--model", type=click.Choice([m.value for m in FundingModel]), default=FundingModel.ALL_OR_NOTHING.value)
@click.option("--summary", help="One or two sentences (default: the title).")
def create_campaign(
    slug: str,
    title: str,
    target: str,
    closes: datetime,
    min_councils: str,
    funding_period: str | None,
    model: str,
    summary: str | None,
) -> None:
    """Create a draft campaign and print its slug (publish it with `campaigns publish SLUG`)."""
    closes_on = closes.date()
    raw = {
        "slug": slug,
        "title": title,
        "summary": summary or title,
        "body": "",
        "target": target,
        "min_councils": min_councils,
        "funding_model": model,
        "closes_on": closes_on,
        "funding_period": funding_period or financial_year_label(closes_on + timedelta(days=1)),
    }
    try:
        campaign = campaign_admin.create(campaign_admin.parse(raw), actor=None)
    except campaign_admin.CampaignInvalid as invalid:
        raise click.ClickException("; ".join(invalid.errors.values())) from invalid
    click.echo(campaign.slug)


@campaigns_group.command("publish")
@click.argument("slug")
def publish_campaign(slug: str) -> None:
    """Publish a draft campaign: it goes live and takes pledges (publishing twice is harmless)."""
    campaign = campaign_admin.find(slug)
    if campaign is None:
        raise click.ClickException(f"There is no campaign with the slug {slug!r}.")
    try:
        published = campaign_admin.publish(campaign, actor=None)
    except campaign_admin.CampaignInvalid as invalid:
        raise click.ClickException(f"{slug} was not published: " + "; ".join(invalid.errors.values())) from invalid
    click.echo(f"{slug} is live." if published else f"{slug} was already live.")


@councils_group.command("import")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def import_councils(file: Path | None) -> None:
    """Load every current UK local authority (the shipped mySociety list, or FILE); safe to repeat."""
    try:
        report = council_register.import_register(file)
    except council_register.RegisterError as error:
        raise click.ClickException(f"{error}. Nothing was imported.") from error
    click.echo(str(report))
    for name in report.ended:
        click.echo(f"  no longer current: {name}")


@campaigns_group.command("close-due")
def close_due() -> None:
    """Close every campaign past its deadline: collect or release its pledges (safe to repeat)."""
    report = jobs.close_due_campaigns()
    click.echo(str(report))
    if report.unavailable:
        sys.exit(2)


@invoices_group.command("remind")
@click.option("--date", "on", type=click.DateTime(formats=["%Y-%m-%d"]), help="Remind as if today were this date.")
def remind_invoices(on: datetime | None) -> None:
    """Email a reminder for each overdue invoice, at most once a week each (safe to run twice at once)."""
    from app.models import EmailMessage, EmailStatus

    last_before = db.session.scalar(db.select(db.func.max(EmailMessage.id))) or 0
    reminded = jobs.remind_overdue_invoices(on.date() if on else None)
    failed = db.session.scalar(
        db.select(db.func.count(EmailMessage.id)).where(
            EmailMessage.id > last_before,
            EmailMessage.kind == "invoice_reminder",
            EmailMessage.status == EmailStatus.FAILED,
        )
    )
    click.echo(f"{reminded} overdue invoice(s) reminded.")
    if failed:
        click.echo(f"{failed} reminder email(s) could not be sent: they stay in the outbox marked failed.", err=True)
        sys.exit(2)


@invoices_group.command("issue-due")
@click.option("--date", "on", type=click.DateTime(formats=["%Y-%m-%d"]), help="Issue as if today were this date.")
def issue_due_invoices(on: datetime | None) -> None:
    """Issue the numbered invoice for every council instalment that has fallen due (safe to run twice at once)."""
    issued = jobs.issue_due_invoices(on.date() if on else None)
    click.echo(f"{issued} invoice(s) issued.")


@mail_group.command("send-queued")
def send_queued() -> None:
    """Deliver email left in the queue (for example after a mail server outage)."""
    click.echo(f"{jobs.deliver_email(limit=1000)} message(s) sent.")


@stripe_group.command("reconcile")
@click.option("--days", type=click.IntRange(1, 365), default=30, show_default=True, help="How far back to look.")
def stripe_reconcile(days: int) -> None:
    """Compare recent Stripe PaymentIntents, charges and refunds with our payments; report every difference.

    Changes no money record. Exits 1 if there is a difference nobody has explained yet, 2 if
    Stripe could not be read. A treasurer resolves each difference on /treasurer/reconcile.
    """
    record = jobs.reconcile_with_stripe(days=days)
    if record.status.value == "failed":
        click.echo(f"Reconciliation failed: {record.error}", err=True)
        sys.exit(2)
    click.echo(
        f"Checked {record.payment_intents_checked} PaymentIntent(s), {record.charges_checked} charge(s), "
        f"{record.refunds_checked} refund(s) and {record.payments_checked} of our payment(s) since "
        f"{record.window_start:%Y-%m-%d %H:%M} UTC."
    )
    open_count = 0
    for difference in record.differences:
        explained = difference.resolution is not None
        open_count += not explained
        note = f" [explained earlier: {difference.resolution_note}]" if explained else ""
        click.echo(f"- {difference.kind.label}: {difference.summary}{note}", err=not explained)
    if not record.differences:
        click.echo("Stripe and our records agree.")
        return
    click.echo(
        f"{len(record.differences)} difference(s), {open_count} not yet explained (run {record.id}).",
        err=bool(open_count),
    )
    if open_count:
        sys.exit(1)


@click.command("seed-demo")
def seed_demo() -> None:
    """Load the demo campaign, councils, pledges and accounts (safe to run again)."""
    try:
        result = demo.seed()
    except demo.DemoRefused as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    if result.created:
        click.echo(f"Demo data loaded: {result.pledges} pledges from {result.councils} councils and individuals.")
    else:
        click.echo("Demo data is already loaded; nothing changed.")
    click.echo("Demo accounts (for this demo only):")
    for role, address, password in demo.DEMO_ACCOUNTS:
        click.echo(f"  {role:<10} {address:<36} password: {password}")


def register(app: Flask) -> None:
    app.cli.add_command(users)
    app.cli.add_command(totals_group)
    app.cli.add_command(payments_group)
    app.cli.add_command(mail_group)
    app.cli.add_command(invoices_group)
    app.cli.add_command(campaigns_group)
    app.cli.add_command(stripe_group)
    app.cli.add_command(councils_group)
    app.cli.add_command(seed_demo)
    app.cli.add_command(reports_group)
    app.cli.add_command(worker)

    from app.opendata.cli import export_group
    from app.privacy.cli import personal_data_group

    app.cli.add_command(export_group)
    app.cli.add_command(personal_data_group)


@click.command("worker")
@click.option("--threads", type=click.IntRange(1, 32), default=2, show_default=True, help="Jobs run at once.")
@click.option("--quiet", is_flag=True, help="Log warnings and errors only (what `make run` uses).")
def worker(threads: int, quiet: bool) -> None:
    """Run background jobs and the schedule (email, closing, collecting, reminders, reconcile) until stopped."""
    import logging

    if quiet:
        for name in ("huey", "app"):
            logging.getLogger(name).setLevel(logging.WARNING)
    jobs.huey.create_consumer(workers=threads, worker_type="thread", periodic=True).run()


reports_group = AppGroup("reports", help="Impact reports.")


@reports_group.command("impact")
@click.option("--campaign", "slug", required=True, help="The campaign's slug.")
@click.option("--period", help="A financial year like 2027-28 (default: the campaign's funding period).")
@click.option("--sponsor", "sponsor_slug", help="Make this sponsor's own copy (its offers and what they matched).")
@click.option(
    "--out", "out", required=True, type=click.Path(dir_okay=False, writable=True), help="Where to write the PDF."
)
def impact_report(slug: str, period: str | None, sponsor_slug: str | None, out: str) -> None:
    """Write a campaign's impact report as a PDF (from the cache if the data has not changed)."""
    from pathlib import Path

    from app.models import Campaign
    from app.reporting import reports

    campaign = db.session.scalar(db.select(Campaign).where(Campaign.slug == slug))
    if campaign is None:
        raise click.ClickException(f"No campaign with slug {slug!r}.")
    sponsor = None
    if sponsor_slug:
        sponsor = db.session.scalar(db.select(Organisation).where(Organisation.slug == sponsor_slug))
        if sponsor is None or sponsor.kind != "sponsor":
            raise click.ClickException(f"No sponsor with slug {sponsor_slug!r}.")
    try:
        chosen = reports.period_for(campaign, period)
    except reports.ReportError as error:
        raise click.ClickException(str(error)) from error
    steps = 4
    with click.progressbar(length=steps, label=f"Impact report {chosen.label}", file=sys.stderr) as bar:
        document, cached = reports.report_pdf(campaign, chosen, sponsor, progress=lambda step: bar.update(1))
        bar.update(steps)
    try:
        Path(out).write_bytes(document)
    except OSError as error:
        raise click.ClickException(f"Could not write {out}: {error.strerror}") from error
    click.echo(f"Wrote {out} ({len(document):,} bytes{', from the cache' if cached else ''}).")
