"""Background and scheduled work on Huey: each job is a thin call into the package that owns the rule.

The queue lives in Redis when REDIS_URL is set (several machines share it) and otherwise in a
SQLite file in the instance folder (one machine, the demo). Start a worker with `flask worker`.
Every job is safe to run twice, or on two workers at once: the services it calls claim their rows
in the database (conditional UPDATEs, unique constraints), so a duplicate finds nothing left to do.
The CLI commands call the same functions directly.
"""

from __future__ import annotations

import functools
import logging
import os
import time
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, has_app_context
from huey import Huey, crontab
from huey.api import Task
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

log = logging.getLogger(__name__)
T = TypeVar("T")


class PledgelineHuey(Huey):
    """Huey whose task ids start with the time they were enqueued, so `/healthz` can tell a job's age."""

    def enqueue(self, task: Task) -> Any:
        if ":" not in str(task.id):
            task.id = f"{time.time():.3f}:{uuid.uuid4()}"
        return super().enqueue(task)


huey = PledgelineHuey("pledgeline", storage_class=MemoryStorage)
_app: Flask | None = None


def init_app(app: Flask) -> None:
    """Point the queue at Redis (REDIS_URL), a SQLite file in the instance folder, or run jobs at once (tests)."""
    global _app
    _app = app
    if app.config.get("JOBS_IMMEDIATE"):
        huey.immediate = True
        return
    huey.immediate = False
    use_storage(
        app.config.get("REDIS_URL") or None,
        Path(app.instance_path) / "jobs.sqlite3",
        name=app.config.get("JOBS_QUEUE") or "pledgeline",
    )


def use_storage(redis_url: str | None, sqlite_file: Path | None = None, *, name: str = "pledgeline") -> None:
    """Keep the queue called `name` in Redis at `redis_url`, or else in the SQLite file."""
    huey.name = name
    if redis_url:
        huey.storage = RedisStorage(name, url=redis_url)
    else:
        assert sqlite_file is not None  # noqa: S101 - a caller's mistake
        sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        huey.storage = SqliteStorage(name, filename=str(sqlite_file))


def _in_app(function: Callable[..., T]) -> Callable[..., T]:
    """Run the job inside an app context (a worker thread has none of its own)."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        if has_app_context():
            return function(*args, **kwargs)
        if _app is None:
            raise RuntimeError("jobs.init_app(app) was not called")
        with _app.app_context():
            return function(*args, **kwargs)

    return wrapper


# The work itself: what the CLI commands and the jobs both call.


def close_due_campaigns() -> Any:
    from app.campaigns import lifecycle

    return lifecycle.close_due()


def collect_due_instalments(on: date | None = None) -> Any:
    from app.notifications import email
    from app.payments import card_payments

    report = card_payments.collect_due(on)
    email.deliver_queued()
    return report


def issue_due_invoices(on: date | None = None) -> int:
    from app.invoicing import invoices
    from app.notifications import email

    issued = invoices.issue_due_invoices(on)
    email.deliver_queued(limit=1000)
    return issued


def remind_overdue_invoices(on: date | None = None) -> int:
    from app.invoicing import invoices
    from app.notifications import email

    reminded = invoices.remind_overdue(on)
    email.deliver_queued(limit=1000)
    return reminded


def reconcile_with_stripe(days: int = 30) -> Any:
    from app.payments import reconcile

    return reconcile.run(days=days)


def deliver_email(limit: int = 1000) -> int:
    from app.notifications import email

    return email.deliver_queued(limit=limit)


def deliver_webhooks(limit: int = 500) -> int:
    from app.outgoing import delivery

    return delivery.deliver_due(limit=limit)


def apply_retention(on: date | None = None) -> int:
    from app.privacy import personal_data
    from app.treasury.dashboard import london_today

    erased = personal_data.apply_retention(on or london_today())
    from app.extensions import db

    db.session.commit()
    return erased


# The jobs. Periodic ones run on every worker's schedule; running twice is harmless (see above).


@huey.periodic_task(crontab(minute="*/5"))
@_in_app
def close_due_campaigns_job() -> None:
    log.info("close due campaigns: %s", close_due_campaigns())


@huey.periodic_task(crontab(minute="7"))
@_in_app
def collect_due_instalments_job() -> None:
    log.info("collect due instalments: %s", collect_due_instalments())


@huey.periodic_task(crontab(hour="7", minute="30"))
@_in_app
def invoices_job() -> None:
    log.info("invoices issued: %s; reminded: %s", issue_due_invoices(), remind_overdue_invoices())


@huey.periodic_task(crontab(hour="3", minute="15"))
@huey.lock_task("reconcile")  # one report at a time; it changes no money record either way
@_in_app
def reconcile_job() -> None:
    record = reconcile_with_stripe()
    log.info("reconcile: %s, %s difference(s)", record.status.value, len(record.differences))


@huey.periodic_task(crontab())  # every minute: messages whose retry time has come
@_in_app
def deliver_email_sweep() -> None:
    deliver_email()


@huey.task()
@_in_app
def deliver_email_job() -> dict[str, int]:
    """Deliver what is queued (enqueued after a web request commits mail); the pid shows which worker ran it."""
    return {"sent": deliver_email(), "pid": os.getpid()}


@huey.periodic_task(crontab(hour="4", minute="40"))
@_in_app
def retention_job() -> None:
    log.info("personal data past its retention pseudonymised on %s pledges", apply_retention())


@huey.periodic_task(crontab())  # every minute: events whose next attempt has come
@_in_app
def deliver_webhooks_sweep() -> None:
    deliver_webhooks()


@huey.task()
@_in_app
def deliver_webhooks_job() -> int:
    return deliver_webhooks()


def deliver_webhooks_soon() -> None:
    """Have a worker send newly queued events. Under immediate jobs (the tests) nothing is sent
    from inside the change that queued them: the tests, like the sweep, deliver on their own."""
    if huey.immediate:
        return
    try:
        deliver_webhooks_job()
    except Exception:  # the events are safe in the database; the sweep will send them
        log.warning("could not enqueue webhook delivery; the worker's sweep will send it", exc_info=True)


def deliver_email_soon() -> None:
    """Have a worker deliver the queued mail; if the queue is unreachable the every-minute sweep still will."""
    try:
        deliver_email_job()
    except Exception:  # the mail is safe in the database; never fail the request for it
        log.warning("could not enqueue email delivery; the worker's sweep will deliver it", exc_info=True)


def oldest_waiting_age(limit: int = 1000) -> float | None:
    """Seconds since the oldest job still waiting in the queue was enqueued (None when none waits)."""
    stamps = []
    for task in huey.pending(limit=limit):
        head = str(task.id).split(":", 1)[0]
        try:
            stamps.append(float(head))
        except ValueError:
            continue
    return round(time.time() - min(stamps), 1) if stamps else None
