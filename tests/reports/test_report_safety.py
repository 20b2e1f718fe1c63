"""What users type never makes a report fetch anything: story links of every kind are printed as
text, and the PDF fetcher itself serves only files inside our static folder. User text is escaped
on the public transparency page too (the PDF's escaping is in test_reports.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask, render_template
from flask.testing import FlaskClient

from app.extensions import db
from app.models import ImpactStory
from app.reporting import impact, pdf, reports
from tests.factories import OutgoingFactory
from tests.helpers import PageClient
from tests.reports.conftest import Seeded, pdf_text

HOSTILE = ["file:///etc/passwd", "http://169.254.169.254/latest/meta-data/", "https://evil.example/x.png"]


def test_a_storys_link_of_any_kind_is_printed_never_fetched(seeded: Seeded, app: Flask) -> None:
    campaign = seeded.campaign
    for number, url in enumerate(HOSTILE):
        title = f"Story {number}"
        if url.startswith("http"):
            impact.add_story(campaign, title, "Text.", url, campaign.funding_starts_on, None)  # the form allows these
        else:  # the form refuses file: links; stored anyway, it must still be only text
            day = campaign.funding_starts_on
            db.session.add(ImpactStory(campaign_id=campaign.id, title=title, text="Text.", link=url, published_on=day))
    db.session.commit()
    fetcher = pdf.StaticOnlyFetcher(app.static_folder or "app/static")
    html = render_template("pdf/impact.html", **reports.report_context(campaign, reports.default_period(campaign)))
    document = reports.html_to_tagged_pdf(html, fetcher=fetcher)

    text = pdf_text(document)
    for url in HOSTILE:
        assert f"Read more: {url}" in text
        assert f'href="{url}"' not in html and f'src="{url}"' not in html
    assert b"root:" not in document
    assert fetcher.refused == []
    assert fetcher.served and all(url.startswith(pdf.STATIC_BASE_URL + "fonts/") for url in fetcher.served)


@pytest.mark.parametrize(
    "url",
    [
        *HOSTILE,
        "file:///proc/self/environ",
        "ftp://evil.example/x",
        pdf.STATIC_BASE_URL + "../../config.py",  # a real file just outside the static folder
        pdf.STATIC_BASE_URL + "%2e%2e/%2e%2e/config.py",
        pdf.STATIC_BASE_URL + "fonts/../../../config.py",
        pdf.STATIC_BASE_URL + "../" * 20 + "etc/passwd",
        "https://static.pledgeline.invalid.evil.example/fonts/x.woff2",
    ],
)
def test_the_fetcher_refuses_anything_outside_our_static_files(app: Flask, url: str) -> None:
    static = Path(app.static_folder or "app/static")
    assert (static.parent.parent / "config.py").is_file()  # so the escapes above have a target
    fetcher = pdf.StaticOnlyFetcher(static)
    with pytest.raises(pdf.FetchRefused):
        fetcher.fetch(url)
    assert fetcher.refused == [url] and fetcher.served == []


def test_the_fetcher_serves_our_own_static_files(app: Flask) -> None:
    static = Path(app.static_folder or "app/static")
    font = sorted((static / "fonts").glob("*.ttf"))[0]
    fetcher = pdf.StaticOnlyFetcher(static)
    response = fetcher.fetch(pdf.STATIC_BASE_URL + f"fonts/{font.name}")
    assert fetcher.served == [pdf.STATIC_BASE_URL + f"fonts/{font.name}"] and fetcher.refused == []
    assert response is not None


def test_user_text_on_the_transparency_page_is_escaped(seeded: Seeded, client: FlaskClient) -> None:
    OutgoingFactory(campaign=seeded.campaign, description='<script>alert(1)</script> & <img src="file:///etc/passwd">')
    html = PageClient(client).get(f"/campaigns/{seeded.campaign.slug}/transparency").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;img src=&#34;file:///etc/passwd&#34;&gt;" in html
    assert "<script>alert(1)" not in html and '<img src="file:' not in html
