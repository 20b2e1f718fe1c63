"""Impact report PDFs say what the database says, show a sponsor only its own match figures,
draw their charts, embed our font, fetch nothing but our static files, and reach only those
allowed to have them. Each PDF render takes ~0.3–1 s, so the tests render few."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from flask import Flask, render_template
from flask.testing import FlaskClient
from PIL import Image, ImageStat
from sqlalchemy import func, select

from app.extensions import db
from app.matching import match_funding
from app.models import (
    LIVE_STATUSES,
    AuditEntry,
    ImpactMetric,
    ImpactStory,
    MatchOffer,
    Payment,
    PaymentStatus,
    Pledge,
    PledgerKind,
    Role,
)
from app.money import format_pence
from app.reporting import pdf, reports
from tests.factories import PASSWORD, CampaignFactory, ImpactEntryFactory, UserFactory, make_offer
from tests.helpers import PageClient, csrf_token, sign_in
from tests.reports.conftest import Seeded, pdf_pages, pdf_text

PURPLE = (0x4C, 0x2C, 0x92)  # the "collected" series: drawn only in charts


def _ledger(seeded: Seeded) -> dict[str, int]:
    """The headline figures computed here from the ledger rows, independently of the app."""
    campaign = seeded.campaign
    live = (Pledge.campaign_id == campaign.id, Pledge.status.in_(LIVE_STATUSES))
    collected = db.session.scalar(
        select(func.sum(Payment.amount_pence - Payment.refunded_pence))
        .join(Pledge, Payment.pledge_id == Pledge.id)
        .where(Pledge.campaign_id == campaign.id, Payment.status == PaymentStatus.SUCCEEDED)
    )
    return {
        "pledged": int(db.session.scalar(select(func.sum(Pledge.commitment_pence)).where(*live)) or 0),
        "collected": int(collected or 0),
        "councils": int(
            db.session.scalar(
                select(func.count(func.distinct(Pledge.organisation_id))).where(
                    *live, Pledge.pledger_kind == PledgerKind.COUNCIL
                )
            )
            or 0
        ),
        "individuals": int(
            db.session.scalar(select(func.count()).where(*live, Pledge.pledger_kind == PledgerKind.INDIVIDUAL)) or 0
        ),
    }


def _money(pence: int) -> str:
    return format_pence(pence, "GBP")


def _pngs(document: bytes, tmp_path: Path, page: int) -> Image.Image:
    path = tmp_path / "report.pdf"
    path.write_bytes(document)
    subprocess.run(
        ["pdftoppm", "-r", "60", "-png", "-f", str(page), "-l", str(page), str(path), str(tmp_path / "page")],
        check=True,
    )
    (png,) = tmp_path.glob("page*.png")
    return Image.open(png).convert("RGB")


def _near(pixel: tuple[int, int, int], colour: tuple[int, int, int], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


@pytest.mark.skipif(shutil.which("pdftoppm") is None or shutil.which("pdffonts") is None, reason="needs poppler-utils")
def test_a_sponsors_report_shows_the_databases_figures_its_own_match_and_nobody_elses(
    seeded: Seeded, tmp_path: Path
) -> None:
    campaign = seeded.campaign
    period = reports.default_period(campaign)
    document = reports.render_report(campaign, period, seeded.mine)
    pages = pdf_pages(document)
    text = " ".join(pages)
    db.session.expire_all()
    ledger = _ledger(seeded)

    # Headline figures: the database's, stored and recomputed (they agree).
    assert campaign.pledged_pence == ledger["pledged"] and campaign.collected_pence == ledger["collected"]
    assert f"Target {_money(campaign.target_pence)}" in text
    assert f"Pledged {_money(ledger['pledged'])}" in text
    assert f"Collected {_money(ledger['collected'])}" in text
    assert f"Matched {_money(campaign.matched_pence)}" in text and campaign.matched_pence > 0
    assert f"Councils {ledger['councils']} " in text and ledger["councils"] == 3
    assert f"Individuals {ledger['individuals']} " in text and ledger["individuals"] == 2
    tenths = ledger["collected"] * 120 // campaign.annual_cost_pence  # whole-number arithmetic
    assert f"Runway {tenths // 10}.{tenths % 10} months" in text

    # The sponsor's own contribution: its offer and what it matched, and no other sponsor's.
    mine = db.session.scalars(select(MatchOffer).where(MatchOffer.sponsor_id == seeded.mine.id)).one()
    theirs = db.session.scalars(select(MatchOffer).where(MatchOffer.sponsor_id == seeded.theirs.id)).one()
    mine_matched, theirs_matched = match_funding.matched_pence(mine), match_funding.matched_pence(theirs)
    assert mine_matched == min(3_210_98, campaign.pledged_council_pence) and theirs_matched > 0
    assert "Prepared for Northgate Civic Fund" in text
    assert f"Northgate Civic Fund's match funding has added {_money(mine_matched)}" in text
    assert _money(3_210_98) in text  # its cap
    assert "Rival Holdings" not in text
    assert _money(1_987_65) not in text and _money(theirs_matched) not in text

    # Councils that agreed to be named, the rest counted; no individual named.
    for name in seeded.named:
        assert name in text
    assert seeded.hidden not in text and "And 1 more council that chose not to be named" in text
    assert "Ada Secret" not in text

    # Impact in the period (members the latest count), stories, spending, methodology.
    assert "Councils engaged 17" in text and "Events run 4" in text and "Members 321" in text
    assert "Six councils share one planning form" in text
    assert f"{_money(3_750_00)} spent in {period.label}" in text
    assert "How the figures are worked out" in text

    # Page X of Y and the running header on every page after the cover.
    assert all(f"Page {n} of {len(pages)}" in page for n, page in enumerate(pages, 1))
    assert all(campaign.title in page and f"Impact report {period.label}" in page for page in pages[1:])

    # Our font, embedded; nothing fell back to DejaVu.
    (tmp_path / "fonts.pdf").write_bytes(document)
    fonts = subprocess.run(["pdffonts", str(tmp_path / "fonts.pdf")], capture_output=True, text=True, check=True).stdout
    assert "Pledgeline-Sans" in fonts and "DejaVu" not in fonts
    info = subprocess.run(["pdfinfo", str(tmp_path / "fonts.pdf")], capture_output=True, text=True, check=True).stdout
    assert "Tagged:          yes" in info  # headings, paragraphs and tables marked up for screen readers

    # The charts are drawn: the page with the bar chart has solid purple bars and real variety
    # where the chart sits; an empty stretch of margin has none.
    chart_page = next(n for n, page in enumerate(pages, 1) if "Pledged and collected by who pledged" in page)
    image = _pngs(document, tmp_path, chart_page)
    purple = [(x, y) for x in range(image.width) for y in range(image.height) if _near(image.getpixel((x, y)), PURPLE)]
    assert len(purple) > 200, f"no collected bars drawn on page {chart_page}"
    top = min(y for _, y in purple) - 40
    bottom = max(y for _, y in purple) + 40
    region = image.crop((0, max(0, top), image.width, min(image.height, bottom)))
    assert max(ImageStat.Stat(region).stddev) > 20
    margin = image.crop((0, 0, 20, image.height))  # the left margin
    assert max(ImageStat.Stat(margin).stddev) < 1


def test_a_general_copy_has_no_sponsor_section(seeded: Seeded) -> None:
    context = reports.report_context(seeded.campaign, reports.default_period(seeded.campaign))
    html = render_template("pdf/impact.html", **context)
    assert "Your contribution" not in html and "Prepared for" not in html
    assert "Rival Holdings" not in html and "Northgate Civic Fund" not in html


def test_user_text_is_escaped_and_the_fetcher_refuses_what_it_names(seeded: Seeded, app: Flask) -> None:
    hostile = [
        "file:///etc/passwd",
        "http://169.254.169.254/latest/meta-data/",
        "https://evil.example/x.png",
    ]
    campaign = seeded.campaign
    db.session.add(
        ImpactStory(
            campaign_id=campaign.id,
            title='<img src="file:///etc/passwd"> & <b>bold</b>',
            text=" ".join(f'<img src="{url}"><link rel="stylesheet" href="{url}">' for url in hostile)
            + "\n\n<style>@import url(https://evil.example/a.css);</style>",
            link="file:///etc/passwd",  # the form refuses this; stored anyway, it is only ever text
            published_on=campaign.funding_starts_on,
        )
    )
    db.session.commit()
    fetcher = pdf.StaticOnlyFetcher(app.static_folder or "app/static")
    html = render_template("pdf/impact.html", **reports.report_context(campaign, reports.default_period(campaign)))
    assert '<img src="file' not in html and "&lt;img src=&#34;file:///etc/passwd&#34;&gt; &amp; &lt;b&gt;" in html
    document = reports.html_to_tagged_pdf(html, fetcher=fetcher)
    text = pdf_text(document)
    assert '<img src="file:///etc/passwd"> & <b>bold</b>' in text  # shown as the characters typed
    assert "Read more: file:///etc/passwd" in text
    assert b"root:" not in document
    assert fetcher.refused == []  # escaped text names nothing to fetch
    assert all(url.startswith(pdf.STATIC_BASE_URL + "fonts/") for url in fetcher.served)

    # Had any of it reached the markup, the fetcher would have refused every one.
    fetcher = pdf.StaticOnlyFetcher(app.static_folder or "app/static")
    reports.html_to_tagged_pdf(
        "".join(f'<img src="{url}"><link rel="stylesheet" href="{url}">' for url in hostile), fetcher=fetcher
    )
    assert set(hostile) <= set(fetcher.refused)
    assert fetcher.served == []


def test_a_second_download_comes_from_the_cache_and_a_change_makes_a_fresh_one(
    seeded: Seeded, report_cache: Path
) -> None:
    campaign, period = seeded.campaign, reports.default_period(seeded.campaign)
    first, cached = reports.report_pdf(campaign, period)
    assert not cached and len(list(report_cache.rglob("*.pdf"))) == 1
    again, cached = reports.report_pdf(campaign, period)
    assert cached and again == first
    ImpactEntryFactory(campaign=campaign, metric=ImpactMetric.EVENTS_RUN, value=5, recorded_on=period.start)
    fresh, cached = reports.report_pdf(campaign, period)
    assert not cached and "Events run 9" in pdf_text(fresh)
    assert len(list(report_cache.rglob("*.pdf"))) == 1  # the stale copy is gone
    # A sponsor's copy is a different file from the general one, for the same data.
    assert reports.cache_key(campaign, period, seeded.mine) != reports.cache_key(campaign, period, None)


def test_periods_are_financial_years() -> None:
    assert reports.parse_period("2027-28") == reports.Period(
        reports.date(2027, 4, 1), reports.date(2028, 3, 31), "2027/28"
    )
    assert reports.parse_period("2027/28").label == "2027/28"
    for bad in ("2027-29", "2027", "27-28", "x", "2027-28; DROP TABLE", ""):
        with pytest.raises(reports.ReportError):
            reports.parse_period(bad)


# --- Who may download ----------------------------------------------------------------------------


def _signed_in(client: FlaskClient, role: Role, organisation=None) -> PageClient:  # type: ignore[no-untyped-def]
    user = UserFactory(role=role, organisation=organisation)
    assert sign_in(client, user.email, PASSWORD).status_code == 302
    return PageClient(client)


def test_a_sponsor_downloads_only_its_own_copy_with_only_its_own_offers(seeded: Seeded, app: Flask) -> None:
    other_campaign = CampaignFactory(slug="elsewhere")
    make_offer(other_campaign, seeded.theirs, ratio="1", cap="100")
    page = _signed_in(app.test_client(), Role.SPONSOR, seeded.mine)

    html = page.get("/sponsor/").get_data(as_text=True)
    assert "/sponsor/reports/pipeline.pdf" in html and "/sponsor/reports/elsewhere.pdf" in html
    response = page.get("/sponsor/reports/pipeline.pdf")
    assert response.mimetype == "application/pdf" and "attachment" in response.headers["Content-Disposition"]
    text = pdf_text(response.get_data())
    assert "Prepared for Northgate Civic Fund" in text and "Rival Holdings" not in text

    # A campaign only the other sponsor backs: the published figures, none of that sponsor's own.
    text = pdf_text(page.get("/sponsor/reports/elsewhere.pdf").get_data())
    assert "Northgate Civic Fund has no match offer on this campaign" in text and "Rival Holdings" not in text
    page.get("/campaigns/elsewhere/transparency")
    page.get("/sponsor/reports/no-such-campaign.pdf", status=404)
    page.get("/sponsor/reports/pipeline.pdf?period=2027-29", status=404)

    pledger = _signed_in(app.test_client(), Role.PLEDGER)
    pledger.get("/sponsor/reports/pipeline.pdf", status=403)
    anonymous = app.test_client().get("/sponsor/reports/pipeline.pdf")
    assert anonymous.status_code == 302 and "/account/sign-in" in anonymous.location


def test_a_treasurers_signed_link_works_for_anyone_until_it_expires_or_is_altered(
    seeded: Seeded, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    treasurer = _signed_in(app.test_client(), Role.TREASURER)
    token = csrf_token(treasurer.client, "/admin/campaigns/pipeline/report-link")
    html = treasurer.post(
        "/admin/campaigns/pipeline/report-link", {"csrf_token": token, "period": "2027-28", "days": "7"}, status=200
    ).get_data(as_text=True)
    url = html.split('data-link="report">', 1)[1].split("<", 1)[0]
    path = url[url.index("/reports/") :]
    assert db.session.scalar(select(func.count()).where(AuditEntry.action == "report.link_created")) == 1

    anonymous = app.test_client()
    response = anonymous.get(path)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.get_data())
    assert "Impact report" in text and "Prepared for" not in text and "Rival Holdings" not in text

    token = path.rsplit("/", 1)[1]
    # (Not the last character: in base64 its lowest bits are padding, and changing only them
    # leaves the signature the same.)
    swapped = token[:-5] + ("Q" if token[-5] != "Q" else "g") + token[-4:]
    for altered in (swapped, token[:10] + token[11:], token + "x", "x" + token):
        assert anonymous.get(f"/reports/{altered}").status_code == 404

    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 6 * 86400)
    assert anonymous.get(path).status_code == 200  # still inside its 7 days (from the cache)
    monkeypatch.setattr(time, "time", lambda: real_time() + 7 * 86400 + 60)
    assert anonymous.get(path).status_code == 404

    treasurer.post("/admin/campaigns/pipeline/report-link", {"csrf_token": token, "days": "91"}, status=400)


def test_the_cli_writes_the_report_and_fails_plainly(seeded: Seeded, runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "report.pdf"
    result = runner.invoke(
        args=["reports", "impact", "--campaign", "pipeline", "--period", "2027-28", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF") and "Wrote" in result.output
    again = runner.invoke(
        args=["reports", "impact", "--campaign", "pipeline", "--period", "2027-28", "--out", str(out)]
    )
    assert again.exit_code == 0 and "from the cache" in again.output
    for args in (
        ["--campaign", "no-such-campaign"],
        ["--campaign", "pipeline", "--period", "2027-29"],
        ["--campaign", "pipeline", "--sponsor", "no-such-sponsor"],
    ):
        failed = runner.invoke(args=["reports", "impact", *args, "--out", str(tmp_path / "x.pdf")])
        assert failed.exit_code != 0 and "Error" in failed.output
    unwritable = runner.invoke(
        args=["reports", "impact", "--campaign", "pipeline", "--out", str(tmp_path / "missing" / "dir" / "x.pdf")]
    )
    assert unwritable.exit_code != 0


def test_the_transparency_page_shows_the_same_figures(seeded: Seeded, client: FlaskClient) -> None:
    db.session.expire_all()
    ledger = _ledger(seeded)
    campaign = seeded.campaign
    html = PageClient(client).get("/campaigns/pipeline/transparency").get_data(as_text=True)
    tenths = ledger["collected"] * 120 // campaign.annual_cost_pence
    for figure, value in (
        ("target", _money(campaign.target_pence)),
        ("pledged", _money(ledger["pledged"])),
        ("collected", _money(ledger["collected"])),
        ("matched", _money(campaign.matched_pence)),
        ("councils", str(ledger["councils"])),
        ("individuals", str(ledger["individuals"])),
        ("runway", f"{tenths // 10}.{tenths % 10} months"),
        ("spent", f"{_money(3_750_00)} spent so far."),
    ):
        assert f'data-figure="{figure}">{value}<' in html, figure
    assert html.count('class="app-chart"') >= 4  # the dashboard's three charts and the spending one
    assert "Ada Secret" not in html
    PageClient(client).get("/campaigns/no-such-campaign/transparency", status=404)
