"""Operators create and publish campaigns from the command line; bad input and repeats are safe."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEntry, Campaign, CampaignStatus

ROOT = Path(__file__).resolve().parents[2]


def _flask(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key-for-the-cli"}
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


CREATE = ["campaigns", "create", "--slug", "pipeline-2027", "--title", "Pipeline 2027/28", "--target", "45000"]


def test_create_prints_the_slug_and_makes_a_draft_then_publish_makes_it_live(runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(
        args=[*CREATE, "--closes", "2030-03-31", "--min-councils", "10", "--funding-period", "2030-31"]
    )

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "pipeline-2027"
    campaign = db.session.scalars(select(Campaign)).one()
    assert (campaign.status, campaign.target_pence, campaign.min_councils) == (CampaignStatus.DRAFT, 45_000_00, 10)
    assert str(campaign.funding_starts_on) == "2030-04-01"

    published = runner.invoke(args=["campaigns", "publish", "pipeline-2027"])
    assert published.exit_code == 0 and "pipeline-2027 is live." in published.output
    again = runner.invoke(args=["campaigns", "publish", "pipeline-2027"])
    assert again.exit_code == 0 and "already live" in again.output
    db.session.expire_all()
    assert db.session.scalars(select(Campaign.status)).one() == CampaignStatus.LIVE
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["campaign.created", "campaign.published"]


def test_bad_input_exits_non_zero_and_says_why(runner) -> None:  # type: ignore[no-untyped-def]
    past = runner.invoke(args=[*CREATE[:-1], "0", "--closes", "2020-03-31", "--funding-period", "2019-20"])
    assert past.exit_code == 1
    assert "The target must be more than £0" in past.output
    assert "The deadline must be in the future" in past.output
    assert "The funding period must not be over before the deadline" in past.output
    unknown = runner.invoke(args=["campaigns", "publish", "nope"])
    assert unknown.exit_code == 1 and "There is no campaign with the slug 'nope'" in unknown.output
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_the_same_create_run_twice_at_once_makes_one_campaign(app: Flask, database_url: str) -> None:
    args = [*CREATE, "--closes", "2030-03-31"]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: _flask(database_url, *args), range(2)))

    assert sorted(r.returncode for r in results) == [0, 1], [r.stderr for r in results]
    failed = next(r for r in results if r.returncode)
    assert "There is already a campaign at /campaigns/pipeline-2027" in failed.stderr
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Campaign)) == 1
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 1

    db.session.rollback()
    with ThreadPoolExecutor(2) as pool:
        published = list(pool.map(lambda _: _flask(database_url, "campaigns", "publish", "pipeline-2027"), range(2)))
    assert [r.returncode for r in published] == [0, 0], [r.stderr for r in published]
    assert sorted(r.stdout.strip() for r in published) == ["pipeline-2027 is live.", "pipeline-2027 was already live."]
    db.session.rollback()
    assert (
        db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "campaign.published"))
        == 1
    )
