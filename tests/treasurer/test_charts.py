"""Charts: plain data to coordinates, drawn as SVG a PDF can use too, each with its numbers as text."""

from __future__ import annotations

import re
from datetime import date, timedelta
from xml.etree import ElementTree

from flask import render_template_string

from app.ledger import rollups
from app.reporting import charts
from app.treasury import dashboard
from tests.helpers import PageClient
from tests.treasurer.conftest import Ledger

SVG = "{http://www.w3.org/2000/svg}"


def _render(chart: object) -> str:
    return render_template_string('{% from "macros/charts.html" import chart_svg %}{{ chart_svg(chart) }}', chart=chart)


def _sample_line() -> charts.LineChart:
    pledged = charts.cumulative(
        [(date(2026, 11, 3), 500_00), (date(2026, 11, 1), 1_000_00), (date(2026, 11, 3), 250_00)]
    )
    collected = charts.cumulative([(date(2026, 12, 10), 300_00)])
    return charts.line_chart(
        "chart-test",
        title="Pledged and collected over time",
        description="Pledged £1,750.00 of £5,000.00.",
        series=[("Pledged", "pledged", pledged), ("Collected", "collected", collected)],
        start=date(2026, 10, 20),
        end=date(2027, 1, 31),
        target_pence=5_000_00,
    )


def test_running_totals_add_each_days_changes_in_day_order() -> None:
    points = charts.cumulative([(date(2026, 11, 3), 5), (date(2026, 11, 1), 10), (date(2026, 11, 3), 2)])
    assert points == [(date(2026, 11, 1), 10), (date(2026, 11, 3), 17)]


def test_money_axes_step_in_round_amounts_and_reach_the_largest_value() -> None:
    assert charts.nice_scale(48_000_00) == (10_000_00, 50_000_00)
    assert charts.nice_scale(1_23) == (1_00, 2_00)
    assert charts.nice_scale(0) == (1_00, 1_00)
    step, top = charts.nice_scale(123_456_78)
    assert top >= 123_456_78 and top // step <= 5


def test_a_chart_is_an_accessible_picture_a_pdf_can_draw_the_same_way_every_time() -> None:
    first, second = _render(_sample_line()), _render(_sample_line())
    assert first == second  # deterministic: same data, same bytes

    svg = ElementTree.fromstring(first)  # noqa: S314 - our own output: it must be well-formed XML
    assert svg.get("role") == "img"
    title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
    assert title is not None and title.text == "Pledged and collected over time"
    assert desc is not None and desc.text == "Pledged £1,750.00 of £5,000.00."
    assert svg.get("aria-labelledby") == title.get("id")
    tags = {element.tag.removeprefix(SVG) for element in svg.iter()}
    assert tags <= {"svg", "title", "desc", "rect", "line", "polyline", "text", "g"}  # no script, gradient, image
    assert "style=" not in first and "url(" not in first  # nothing the page's CSP or a PDF would refuse
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "Target £5,000" in texts and "Pledged £1,750" in texts and "Collected £300" in texts
    assert {"£0", "£5,000"} <= set(texts)  # the money axis
    assert "Nov 2026" in texts and "Jan 2027" in texts


def test_the_line_steps_up_on_the_day_money_arrives() -> None:
    chart = _sample_line()
    pledged = chart.lines[0]
    points = [tuple(map(float, p.split(","))) for p in pledged.points.split()]
    ys = [y for _, y in points]
    assert ys == sorted(ys, reverse=True)  # running totals never fall (SVG y grows downward)
    assert points[0][0] == chart.plot.left and points[-1][0] == chart.plot.right


def test_each_chart_gives_its_numbers_as_a_table() -> None:
    chart = _sample_line()
    assert chart.table.headers == ("At the end of", "Pledged", "Collected")
    assert chart.table.rows[0] == ("31 October 2026", "£0.00", "£0.00")
    assert chart.table.rows[1] == ("30 November 2026", "£1,750.00", "£0.00")
    assert chart.table.rows[-1] == ("31 January 2027", "£1,750.00", "£300.00")


def test_bars_are_labelled_with_their_values() -> None:
    chart = charts.bar_chart(
        "chart-kinds",
        title="By who pledged",
        description="Councils lead.",
        categories=["Councils", "Individuals"],
        series=[
            charts.Series("Pledged", "pledged", [9_000_00, 760_00]),
            charts.Series("Collected", "collected", [3_500_00, 0]),
        ],
    )
    svg = ElementTree.fromstring(_render(chart))  # noqa: S314 - our own output
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "Pledged £9,000.00" in texts and "Collected £0.00" in texts and "Councils" in texts
    widths = [float(r.get("width") or 0) for r in svg.iter(f"{SVG}rect")][1:]  # the first is the background
    assert max(widths) > 0 and widths.count(0) == 1  # £0 draws no bar, but is still labelled


def test_the_overviews_charts_agree_with_its_figures(ledger: Ledger) -> None:
    today = dashboard.london_today()
    view = dashboard.overview(ledger.campaign, today)
    built = dashboard.build_charts(ledger.campaign, view, today=today)

    last = built.progress.table.rows[-1]
    assert last[1:] == (
        str(ledger.campaign.money(view.pledged_pence)),
        str(ledger.campaign.money(view.collected_pence)),
    )
    kinds = {row[0]: row[1:] for row in built.by_kind.table.rows}
    assert kinds["Councils"][0] == str(ledger.campaign.money(view.by_kind[0].pledged_pence))
    month_total = sum(int(re.sub(r"[£,.]", "", row[1])) for row in built.by_month.table.rows)
    assert month_total == view.collected_pence  # everything in the dataset was collected this year
    assert [row[0] for row in built.by_month.table.rows][:2] == [f"April {built.year}", f"May {built.year}"]


def test_collections_fall_in_the_uk_month_and_financial_year_they_arrived(treasurer: PageClient) -> None:
    """A card payment at 00:30 on 1 April UK time (23:30 UTC on 31 March) is April's, in the new year."""
    from datetime import UTC, datetime

    from app.extensions import db
    from app.models import Payment
    from tests.factories import CampaignFactory, make_pledge

    campaign = CampaignFactory()
    pledge = make_pledge(campaign, pounds="40", paid_instalments=1)
    payment = db.session.scalars(db.select(Payment).where(Payment.pledge_id == pledge.id)).one()
    payment.succeeded_at = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
    # History edited by hand, not through the services: bring the roll-ups in step with it.
    rollups.rebuild([campaign.id])
    db.session.commit()

    data = dashboard.chart_data(campaign)
    assert data.collected == [(date(2026, 4, 1), 40_00)]
    html = treasurer.get(f"/treasurer/campaigns/{campaign.slug}?year=2026-27").get_data(as_text=True)
    assert "£40.00 collected in the financial year 2026/27" in html
    html = treasurer.get(f"/treasurer/campaigns/{campaign.slug}?year=2025-26").get_data(as_text=True)
    assert "£0.00 collected in the financial year 2025/26" in html


def test_a_short_range_gets_evenly_spaced_days() -> None:
    start = date(2026, 11, 8)
    chart = charts.line_chart(
        "c",
        title="t",
        description="d",
        series=[("Pledged", "pledged", [])],
        start=start,
        end=start + timedelta(days=20),
    )
    assert [tick.label for tick in chart.x_ticks] == ["8 Nov", "12 Nov", "16 Nov", "20 Nov", "24 Nov", "28 Nov"]
