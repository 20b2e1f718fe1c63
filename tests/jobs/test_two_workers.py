"""Two real job workers (`flask worker` processes) on one Redis queue: a job run twice has its effect once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import huey.exceptions
import pytest
import redis
from flask import Flask
from sqlalchemy import func, select

from app import jobs
from app.extensions import db
from app.models import EmailMessage, EmailStatus
from app.notifications import email
from tests.integration.test_email_smtp import Inbox, smtp  # noqa: F401 - the fixture

REDIS_URL = "redis://127.0.0.1:6379/11"
# A queue of this run's own: other runs sharing the Redis server never take its jobs.
QUEUE = f"pledgeline-test-{uuid.uuid4().hex[:12]}"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def redis_queue(app: Flask) -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    jobs.huey.immediate = False
    jobs.use_storage(REDIS_URL, name=QUEUE)
    jobs.huey.storage.flush_all()
    app.config["JOBS_IMMEDIATE"] = False
    yield REDIS_URL
    app.config["JOBS_IMMEDIATE"] = True
    jobs.huey.storage.flush_all()
    jobs.huey.immediate = True


def _start_worker(app: Flask) -> subprocess.Popen[bytes]:
    environ = {
        **os.environ,
        "PLEDGELINE_ENV": "development",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": REDIS_URL,
        "JOBS_QUEUE": QUEUE,
        "MAIL_SERVER": app.config["MAIL_SERVER"],
        "MAIL_PORT": str(app.config["MAIL_PORT"]),
    }
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--threads", "2", "--quiet"]
    return subprocess.Popen(command, cwd=ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_two_workers_deliver_each_message_once(app: Flask, smtp: Inbox, redis_queue: str) -> None:  # noqa: F811
    for n in range(30):
        email.queue("my_pledges_link", f"person{n}@example.org", f"Your pledges {n}", my_pledges_url="http://x/")
    db.session.commit()

    workers = [_start_worker(app), _start_worker(app)]
    try:
        # Every delivery job twice over: each sweeps the whole outbox, so they race for the same rows.
        results = [jobs.deliver_email_job() for _ in range(20)]
        try:
            outcomes = [r.get(blocking=True, timeout=60) for r in results]  # type: ignore[union-attr]
        except huey.exceptions.ResultTimeout:
            outcomes = None
    finally:
        for worker in workers:
            worker.terminate()
        errors = [worker.communicate(timeout=20)[1].decode() for worker in workers]
    assert outcomes is not None, f"the workers did not finish the jobs in time: {errors}"

    assert sum(o["sent"] for o in outcomes) == 30, errors
    assert len({o["pid"] for o in outcomes}) == 2, "both workers ran jobs"
    assert sorted(int(m[2]["Subject"].split()[-1]) for m in smtp.messages) == list(range(30))  # each once
    db.session.expire_all()
    sent = db.session.scalar(select(func.count(EmailMessage.id)).where(EmailMessage.status == EmailStatus.SENT))
    assert sent == 30


def test_an_enqueued_job_waits_with_its_age_on_healthz(client, redis_queue: str) -> None:
    jobs.deliver_email_job()
    time.sleep(1.1)
    health = client.get("/healthz").get_json()
    assert health["database"] == "ok" and health["jobs"] == "ok"
    assert health["oldest_job_age_seconds"] >= 1
