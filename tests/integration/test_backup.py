"""A backup, restored into an empty database, gives the same campaign figures (plan K).

SQLite is copied with its online backup API (what `sqlite3 pledgeline.sqlite3 ".backup x"` does);
PostgreSQL with pg_dump and pg_restore, as the README tells an operator to.
"""

from __future__ import annotations

import secrets
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from sqlalchemy import create_engine, make_url, select, text

from app import create_app
from app.extensions import db
from app.ledger import totals
from app.models import Frequency, Payment, PledgerKind
from app.money import Money
from app.payments import settle
from tests.factories import CampaignFactory, make_pledge


def _figures(app: Flask, slug: str) -> dict[str, object]:
    response = app.test_client().get(f"/api/v1/campaigns/{slug}")
    assert response.status_code == 200
    figures = response.get_json()
    return {
        k: figures[k] for k in ("pledged_pence", "collected_pence", "matched_pence", "pledge_count", "council_count")
    }


@contextmanager
def _restored_copy(database_url: str, tmp_path: Path) -> Iterator[str]:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        copy = tmp_path / "restored.sqlite3"
        source, target = sqlite3.connect(str(url.database)), sqlite3.connect(copy)
        with target:
            source.backup(target)
        source.close()
        target.close()
        yield f"sqlite:///{copy}"
        return
    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    dump = tmp_path / "backup.dump"
    subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", libpq], check=True)
    name = f"pledgeline_restore_{secrets.token_hex(4)}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    restored = url.set(database=name)
    try:
        subprocess.run(
            [
                "pg_restore",
                "--no-owner",
                f"--dbname={restored.set(drivername='postgresql').render_as_string(hide_password=False)}",
                str(dump),
            ],
            check=True,
        )
        yield restored.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_a_backup_restored_into_an_empty_database_gives_the_same_totals(
    app: Flask, database_url: str, tmp_path: Path
) -> None:
    campaign = CampaignFactory(slug="backed-up")
    make_pledge(campaign, pounds="25", paid_instalments=1)
    make_pledge(campaign, pounds="10", frequency=Frequency.MONTHLY, instalments=6, paid_instalments=2)
    make_pledge(campaign, pounds="2500", kind=PledgerKind.COUNCIL)
    refunded = make_pledge(campaign, pounds="40", paid_instalments=1)
    paid = db.session.scalars(select(Payment).where(Payment.pledge_id == refunded.id)).one()
    settle.record_refund(paid, Money(15_00))
    db.session.commit()
    before = _figures(app, campaign.slug)
    assert before["collected_pence"] and before["pledged_pence"]
    db.session.remove()

    with _restored_copy(database_url, tmp_path) as restored_url:
        restored = create_app({"SQLALCHEMY_DATABASE_URI": restored_url})
        with restored.app_context():
            assert totals.verify() == []
            after = _figures(restored, campaign.slug)
            db.session.remove()
            db.engine.dispose()

    assert after == before
