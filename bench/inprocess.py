"""Measurements made inside one Python process, against a dataset's database:

  dashboard   the treasurer overview's figures and charts' data (`dashboard.overview` +
              `dashboard.chart_data`), against the very SQL statements they ran, captured with a
              `before_cursor_execute` listener and replayed through a bare DBAPI cursor
  table       pages of the pledge table (`dashboard.pledge_table`): the first page, filtered
              pages and searches
  report      an uncached impact report (`reports.render_report`: figures, template, PDF),
              against WeasyPrint laying out the same HTML alone (`reports.html_to_tagged_pdf`)

    .venv/bin/python -m bench.inprocess --url URL [--repeat 20] [--report-repeat 3]

Prints one line of JSON: each measurement's samples in seconds (A and B alternate, after a
warm-up), and the process's peak RSS. With BENCH_SECRET_KEY set, it also prints a session
cookie for the dataset's treasurer, signed with that key, for the HTTP pages.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.dataset import CAMPAIGN_SLUG, TREASURER_SESSION_TOKEN

USER_AGENT = "pledgeline-bench"


def _timed(function: Callable[[], Any]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def dashboard_samples(campaign_id: int, repeat: int) -> dict[str, Any]:
    """overview + chart_data through the app, A/B against the same statements run raw."""
    from sqlalchemy import event

    from app.extensions import db
    from app.models import Campaign
    from app.treasury import dashboard

    campaign = db.session.get(Campaign, campaign_id)

    def through_app() -> None:
        dashboard.overview(campaign)
        dashboard.chart_data(campaign)
        db.session.rollback()

    through_app()  # warm-up; the campaign is expired after it, as at the start of every run
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        through_app()
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)

    raw = db.engine.raw_connection()

    def replay() -> None:
        cursor = raw.cursor()
        for statement, parameters in statements:
            cursor.execute(statement, parameters)
            if cursor.description is not None:
                cursor.fetchall()
        cursor.close()
        raw.rollback()

    replay()
    app_samples, raw_samples = [], []
    for number in range(repeat):
        # A then B, then B then A: neither always runs first.
        for which in ("app", "raw") if number % 2 == 0 else ("raw", "app"):
            if which == "app":
                app_samples.append(_timed(through_app))
            else:
                raw_samples.append(_timed(replay))
    raw.close()
    return {
        "dashboard_app": app_samples,
        "dashboard_raw": raw_samples,
        "dashboard_statements": [statement for statement, _ in statements],
    }


def table_samples(campaign_id: int, repeat: int) -> dict[str, list[float]]:
    """The pledge table's first page, pages filtered by status and by kind, and two searches."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Campaign, Pledge, PledgerKind, PledgeStatus
    from app.treasury import dashboard

    campaign = db.session.get(Campaign, campaign_id)
    middle = db.session.scalar(select(func.max(Pledge.id) / 2).where(Pledge.campaign_id == campaign_id))
    email = db.session.scalar(select(Pledge.email).where(Pledge.id >= middle).order_by(Pledge.id).limit(1))
    cases = {
        "table_first": dashboard.PledgeFilters(),
        "table_committed": dashboard.PledgeFilters(status=PledgeStatus.COMMITTED),
        "table_councils": dashboard.PledgeFilters(kind=PledgerKind.COUNCIL),
        "table_search_email": dashboard.PledgeFilters(search=email or "nobody@example.org"),
        "table_search_rare_word": dashboard.PledgeFilters(search="zebra"),
    }
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for round_number in range(repeat + 1):
        for name, filters in cases.items():
            took = _timed(lambda filters=filters: dashboard.pledge_table(campaign, filters))
            db.session.rollback()
            if round_number:  # the first round warms up
                samples[name].append(took)
    return samples


def report_samples(campaign_id: int, repeat: int) -> dict[str, list[float]]:
    """The sponsor's uncached report, A/B against WeasyPrint on the same HTML."""
    from flask import render_template
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Campaign, MatchOffer, Organisation
    from app.reporting import reports

    campaign = db.session.get(Campaign, campaign_id)
    sponsor = db.session.scalar(
        select(Organisation).join(MatchOffer, MatchOffer.sponsor_id == Organisation.id).limit(1)
    )
    period = reports.default_period(campaign)
    reports.render_report(campaign, period, sponsor)  # warm-up: WeasyPrint's imports and fonts
    samples: dict[str, list[float]] = {"report": [], "report_pdf": [], "report_figures": []}
    for number in range(repeat):
        start = time.perf_counter()
        html = render_template("pdf/impact.html", **reports.report_context(campaign, period, sponsor))
        samples["report_figures"].append(time.perf_counter() - start)
        # A then B, then B then A: neither always runs first.
        for which in ("pdf", "report") if number % 2 == 0 else ("report", "pdf"):
            if which == "pdf":
                samples["report_pdf"].append(_timed(lambda html=html: reports.html_to_tagged_pdf(html)))
            else:
                samples["report"].append(_timed(lambda: reports.render_report(campaign, period, sponsor)))
        db.session.rollback()
    return samples


def treasurer_cookie(app: Any, secret_key: str) -> str:
    """A "name=value" session cookie signing in the dataset's treasurer, for a server using `secret_key`.

    It carries Flask-Login's session identifier for requests from 127.0.0.1 with our User-Agent,
    so the server treats it as the browser it was issued to.
    """
    from flask_login.utils import _create_identifier

    signer = app.test_request_context(environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers={"User-Agent": USER_AGENT})
    with signer:
        app.secret_key = secret_key
        session = {"_user_id": TREASURER_SESSION_TOKEN, "_fresh": True, "_id": _create_identifier()}
        serializer = app.session_interface.get_signing_serializer(app)
        return f"{app.config['SESSION_COOKIE_NAME']}={serializer.dumps(session)}"


def measure(url: str, *, repeat: int, report_repeat: int, secret_key: str | None = None) -> dict[str, Any]:
    from app import create_app

    with tempfile.TemporaryDirectory(prefix="pledgeline-bench-") as folder:
        scratch = Path(folder)
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "REPORT_CACHE_DIR": str(scratch / "reports"),
                "MAIL_OUTBOX_DIR": str(scratch / "outbox"),
            }
        )
        return _measure(app, url, repeat=repeat, report_repeat=report_repeat, secret_key=secret_key)


def _measure(app: Any, url: str, *, repeat: int, report_repeat: int, secret_key: str | None) -> dict[str, Any]:
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Campaign

    with app.app_context():
        campaign_id = db.session.scalar(select(Campaign.id).where(Campaign.slug == CAMPAIGN_SLUG))
        if campaign_id is None:
            raise SystemExit(f"No campaign {CAMPAIGN_SLUG!r} in {url}: build the dataset first")
        result: dict[str, Any] = {}
        result.update(dashboard_samples(campaign_id, repeat))
        result.update(table_samples(campaign_id, max(3, repeat // 3)))
        result.update(report_samples(campaign_id, report_repeat))
        if secret_key:
            result["treasurer_cookie"] = treasurer_cookie(app, secret_key)
        db.session.remove()
        db.engine.dispose()
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--report-repeat", type=int, default=3)
    args = parser.parse_args()
    result = measure(
        args.url,
        repeat=args.repeat,
        report_repeat=args.report_repeat,
        secret_key=os.environ.get("BENCH_SECRET_KEY") or None,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
