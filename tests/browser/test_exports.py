"""Every CSV export link, clicked in a real Chromium against a real HTTP server, downloads a CSV.

The test client hides what broke here: it runs the streamed body inside the request's session,
while a real server produces it after the view has returned, when the request's session and
everything loaded in it are gone.
"""

from __future__ import annotations

import csv
import io

import pytest

from app import demo
from app.extensions import db
from app.models import Campaign
from app.treasury import exports
from tests.browser.browsing import Browse
from tests.factories import make_pledge

pytestmark = pytest.mark.browser

FORMULA_NAME = '=HYPERLINK("http://evil.example","click")'
# (page that shows an export link, the link's text) for the treasurer, who sees every export.
PAGES = [
    ("/treasurer/campaigns/{slug}", "Export CSV"),
    ("/treasurer/campaigns/{slug}/pledges", "Export every pledge as CSV"),
]
KINDS = {"pledges": "Pledges", "payments": "Payments", "invoices": "Invoices"}


@pytest.fixture
def demo_campaign() -> dict[str, object]:
    demo.seed()
    campaign = db.session.scalars(db.select(Campaign)).one()
    make_pledge(campaign, name=FORMULA_NAME, email="formula@example.org")
    db.session.commit()
    counts = {
        name: sum(1 for _ in exports.rows(export, campaign.id)) - 1  # less the header row
        for name, export in exports.EXPORTS.items()
    }
    db.session.commit()
    return {"slug": campaign.slug, "counts": counts}


@pytest.mark.parametrize(("path", "link"), PAGES)
@pytest.mark.parametrize("kind", list(KINDS))
def test_each_export_link_downloads_a_formula_safe_csv(
    browse: Browse, demo_campaign: dict[str, object], path: str, link: str, kind: str
) -> None:
    browse.sign_in("treasurer@pledgeline.demo", "demo-treasurer-pass")
    page = browse.goto(path.format(slug=demo_campaign["slug"]))
    with page.expect_navigation():
        page.get_by_role("link", name=link).first.click()
    page.get_by_label(KINDS[kind], exact=True).check()
    with page.expect_download() as waiting:
        page.get_by_role("button", name="Download CSV").click()
    download = waiting.value
    assert download.failure() is None, f"{kind} download failed: {download.failure()}"
    assert download.suggested_filename == f"{demo_campaign['slug']}-{kind}.csv"
    content = download.path().read_bytes().decode("utf-8")
    table = list(csv.reader(io.StringIO(content)))
    assert table[0] == list(exports.EXPORTS[kind].header)
    counts = demo_campaign["counts"]
    assert isinstance(counts, dict)
    assert len(table) - 1 == counts[kind]
    if kind in ("pledges", "payments"):
        assert len(table) > 10  # the demo's pledges and payments, not only a header
    if kind == "pledges":
        names = [row[table[0].index("name")] for row in table[1:]]
        assert "'" + FORMULA_NAME in names and FORMULA_NAME not in names
