"""Database engine settings that differ by backend, and rules every session obeys."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from flask import Flask, has_request_context, request
from sqlalchemy import Select, event
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
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin, so that
    # SAVEPOINTs and rollbacks behave as they do on PostgreSQL.
    dbapi_connection.isolation_level = None


# SQLite allows one writer at a time. A transaction that reads and later writes must say so when it
# begins (BEGIN IMMEDIATE): otherwise, if another connection writes in between, its write fails at
# once with "database is locked" (waiting cannot help: its snapshot is stale). So every request
# that may change something, and every block in `write_transaction()`, begins IMMEDIATE; plain
# page views begin deferred and never block anyone. PostgreSQL needs none of this.
_IMMEDIATE: ContextVar[bool] = ContextVar("sqlite_begin_immediate", default=False)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _sqlite_begin(conn: Any) -> None:
    writing = _IMMEDIATE.get() or (has_request_context() and request.method not in SAFE_METHODS)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


@contextmanager
def write_transaction() -> Iterator[None]:
    """Finish the current transaction, and begin the next one as a writer (on SQLite).

    Use it around the part of a unit of work that follows a slow outside call (Stripe, SMTP), so
    that the reads it makes and the writes that follow are one consistent step.
    """
    from app.extensions import db

    db.session.commit()
    token = _IMMEDIATE.set(True)
    try:
        yield
    finally:
        _IMMEDIATE.reset(token)


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


class _Compiled:
    """A SELECT compiled once for one engine: its SQL, the order of its parameters (for drivers
    that take them by position) and how to turn each raw column value into what the ORM would
    give (aware datetimes, enums)."""

    def __init__(self, statement: Select[Any], engine: Engine) -> None:
        # Held, so that neither id() in the cache's key can be reused while the entry lives.
        self.statement, self.engine = statement, engine
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.names = list(compiled.positiontup or []) if compiled.positional else None
        self.processors = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in statement.selected_columns
        ]

    def params(self, values: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        return tuple(values[name] for name in self.names) if self.names is not None else values

    def row(self, raw: Any) -> tuple[Any, ...]:
        return tuple(
            value if process is None else process(value) for value, process in zip(raw, self.processors, strict=True)
        )


# By (statement, engine): statements passed in are module-level constants, engines one per app.
_COMPILED: dict[tuple[int, int], _Compiled] = {}


def read_row(statement: Select[Any], **params: Any) -> tuple[Any, ...] | None:
    """The first row of a small read-only SELECT, outside the ORM session: a pooled connection,
    the statement's SQL compiled once, one round trip.

    For the hottest reads only (the campaign page's version check): the session's set-up,
    BEGIN and ROLLBACK cost several times the query itself. Every parameter of the statement
    must be a named `bindparam` given here, of a type the driver takes as it is (strings and
    numbers; write other constants into the SQL). It sees what is committed at the moment it
    runs, never the session's uncommitted changes.
    """
    from app.extensions import db

    engine: Engine = db.engine
    key = (id(statement), id(engine))
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = _COMPILED[key] = _Compiled(statement, engine)
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            cursor.execute(compiled.sql, compiled.params(params))
            raw = cursor.fetchone()
        finally:
            cursor.close()
    finally:
        # Back to the pool, which rolls back whatever the driver began.
        connection.close()
    return None if raw is None else compiled.row(raw)
