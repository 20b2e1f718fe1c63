"""Time an impact report at 1,000 and 100,000 pledges (issue 6): is its cost flat?

    .venv/bin/python -m bench.report_impact [--sizes 1000 100000] [--repeat 3]

Each size runs in its own process on a scratch SQLite database (pledges bulk-inserted, spread
over 60 days, councils and individuals), after one warm-up render so WeasyPrint's import and
font loading are not counted. It reports the median of:
  figures   the report's aggregate queries (overview, charts' daily sums, impact, outgoings)
  html      rendering the template
  pdf       WeasyPrint laying out that HTML (the floor for any report)
  report    the whole uncached report (figures + html + pdf)
  cached    a second download (read from instance/reports)
and the process's peak RSS. The design target: report ≤ 1.3 × pdf, and flat across sizes.

Measured 28 November 2026 on the 2-core development machine (SQLite, repeat 3):

      pledges  figures    html     pdf  report  cached report/pdf  peak RSS
        1,000   0.020s  0.001s  0.217s  0.240s   2.6ms       1.11     156MB
      100,000   0.228s  0.001s  0.216s  0.553s   2.6ms       2.56     157MB

The PDF itself (layout, size, memory) and a cached download are flat. The uncached report is
not yet: its aggregate SQL (the dashboard's overview and the charts' daily sums scan the
campaign's pledges) grows from 20 ms to 230 ms. Keeping a per-day roll-up in step with the
totals would make it flat.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path


def _measure(size: int, repeat: int) -> dict[str, float]:
    from flask import render_template
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.models import PledgerKind, utcnow
    from app.services import pdf, reports
    from tests.factories import CampaignFactory, OrganisationFactory, SponsorFactory, insert_pledges, make_offer

    folder = Path(tempfile.mkdtemp(prefix="pledgeline-bench-"))
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.sqlite3'}",
            "REPORT_CACHE_DIR": str(folder / "reports"),
            "MAIL_OUTBOX_DIR": str(folder / "outbox"),
        }
    )
    with app.app_context():
        upgrade(directory=str(Path(__file__).resolve().parents[1] / "migrations"))
        campaign = CampaignFactory(slug="bench", title="Pipeline community manager")
        councils = [OrganisationFactory() for _ in range(40)]
        start = utcnow() - timedelta(days=60)
        insert_pledges(
            campaign,
            (
                {
                    "pledger_kind": (PledgerKind.COUNCIL if i % 50 == 0 else PledgerKind.INDIVIDUAL).value,
                    "organisation_id": councils[i % 40].id if i % 50 == 0 else None,
                    "amount_pence": 25_00 + i % 1000,
                    "commitment_pence": 25_00 + i % 1000,
                    "created_at": start + timedelta(seconds=i * 5_184_000 // size),
                }
                for i in range(size)
            ),
        )
        sponsor = SponsorFactory()
        make_offer(campaign, sponsor, ratio="1", cap="1000")
        period = reports.default_period(campaign)

        reports.render_report(campaign, period, sponsor)  # warm-up: imports, fonts
        timings: dict[str, list[float]] = {k: [] for k in ("figures", "html", "pdf", "report", "cached")}
        for _ in range(repeat):
            t0 = time.perf_counter()
            context = reports.report_context(campaign, period, sponsor)
            t1 = time.perf_counter()
            html = render_template("pdf/impact.html", **context)
            t2 = time.perf_counter()
            pdf.html_to_pdf(html)
            t3 = time.perf_counter()
            timings["figures"].append(t1 - t0)
            timings["html"].append(t2 - t1)
            timings["pdf"].append(t3 - t2)
            for path in (folder / "reports").rglob("*.pdf"):
                path.unlink()
            t4 = time.perf_counter()
            reports.report_pdf(campaign, period, sponsor)
            t5 = time.perf_counter()
            reports.report_pdf(campaign, period, sponsor)
            t6 = time.perf_counter()
            timings["report"].append(t5 - t4)
            timings["cached"].append(t6 - t5)
        result = {k: statistics.median(v) for k, v in timings.items()}
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        db.session.remove()
        db.engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # run one size in this process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_measure(args.one, args.repeat)))
        return
    headings = ("pledges", 9), ("figures", 8), ("html", 7), ("pdf", 7), ("report", 7), ("cached", 7), ("report/pdf", 10)
    print(" ".join(f"{name:>{width}}" for name, width in headings), f"{'peak RSS':>9}")
    for size in args.sizes:
        out = subprocess.run(
            [sys.executable, "-m", "bench.report_impact", "--one", str(size), "--repeat", str(args.repeat)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(
            f"{size:>9,} {r['figures']:>7.3f}s {r['html']:>6.3f}s {r['pdf']:>6.3f}s {r['report']:>6.3f}s "
            f"{r['cached'] * 1000:>5.1f}ms {r['report'] / r['pdf']:>10.2f} {r['peak_rss_mb']:>7.0f}MB"
        )


if __name__ == "__main__":
    main()
