"""Database engine settings that differ by backend, and rules every session obeys."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session


class AppendOnlyError(RuntimeError):
    """Audit entries and pledge events are history: they are never changed or deleted."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers carry on while one writer writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin, so that
    # SAVEPOINTs and rollbacks behave as they do on PostgreSQL.
    dbapi_connection.isolation_level = None


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def _refuse_history_changes(session: Session, _context: Any, _instances: Any) -> None:
    from app.models import AuditEntry, PledgeEvent

    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, AuditEntry | PledgeEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise AppendOnlyError(f"{type(obj).__name__} rows are append-only.")


def init_app(app: Flask) -> None:
    from app.extensions import db

    with app.app_context():
        engine: Engine = db.engine
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if database and database != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(database)), exist_ok=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    if not event.contains(Session, "before_flush", _refuse_history_changes):
        event.listen(Session, "before_flush", _refuse_history_changes)


T = TypeVar("T")


def retry_if_busy(work: Callable[[], T], *, attempts: int = 8) -> T:
    """Run a unit of work, starting it again if SQLite reports the database busy.

    SQLite lets one writer in at a time; a transaction that read before another process wrote
    cannot upgrade to a write and gets "database is locked" at once (waiting cannot help). The
    cure is to roll back and run the whole unit again, which our jobs are written to allow.
    PostgreSQL waits on row locks instead, so this never fires there.
    """
    from app.extensions import db

    for attempt in range(1, attempts + 1):
        try:
            return work()
        except OperationalError as error:
            db.session.rollback()
            message = str(error.orig).lower()
            if attempt == attempts or ("locked" not in message and "busy" not in message):
                raise
            time.sleep(0.05 * attempt + random.random() * 0.05)  # noqa: S311 - jitter, not security
    raise AssertionError("unreachable")
