"""Database engine settings that differ by backend, and rules every session obeys."""

from __future__ import annotations

import contextlib
import os
import random
import threading
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
        self.statement = statement  # held, so that its id() (the key it is filed under) is not reused
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


class _Reader:
    """The connections `read_row` uses for one engine: one per thread, kept open outside the pool.

    A pooled connection costs a checkout, a ping (pool_pre_ping) and a rollback on return; on
    PostgreSQL each is a round trip, as many as the query itself. Kept outside the pool, a
    connection is simply used; one that has gone away (the server restarted) fails its query,
    and the read is tried once more on a new connection, so nothing is lost by not pinging.
    On PostgreSQL it runs in autocommit: a single SELECT sees one snapshot by itself, so no
    BEGIN is needed. SQLite's connections are in autocommit already (see _sqlite_pragmas).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.compiled: dict[int, _Compiled] = {}
        self._local = threading.local()
        self._open: list[Any] = []  # every connection made, so that dispose() closes them all
        self._lock = threading.Lock()
        event.listen(engine, "engine_disposed", self.close_all)

    def _connection(self) -> Any:
        held = getattr(self._local, "held", None)
        if held is not None and held[0] == os.getpid():
            return held[1]
        # None yet in this thread, or one inherited across a fork (the parent's to close).
        pooled = self.engine.raw_connection()
        pooled.detach()  # ours from now on: the pool forgets it
        connection = pooled.dbapi_connection
        if self.engine.dialect.name == "postgresql":
            connection.autocommit = True  # type: ignore[union-attr]
        with self._lock:
            self._open.append(connection)
        self._local.held = (os.getpid(), connection)
        return connection

    def _discard(self) -> None:
        held = getattr(self._local, "held", None)
        self._local.held = None
        if held is not None and held[0] == os.getpid():
            with self._lock:
                if held[1] in self._open:
                    self._open.remove(held[1])
            with contextlib.suppress(Exception):
                held[1].close()

    def read(self, compiled: _Compiled, params: dict[str, Any]) -> Any:
        if self.engine.url.get_backend_name() == "sqlite" and self.engine.url.database in (None, "", ":memory:"):
            return self._read_pooled(compiled, params)  # each connection would be a database of its own
        for attempt in (1, 2):
            try:
                cursor = self._connection().cursor()
                try:
                    cursor.execute(compiled.sql, compiled.params(params))
                    return cursor.fetchone()
                finally:
                    cursor.close()
            except self.engine.dialect.loaded_dbapi.Error:
                self._discard()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _read_pooled(self, compiled: _Compiled, params: dict[str, Any]) -> Any:
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(compiled.sql, compiled.params(params))
                return cursor.fetchone()
            finally:
                cursor.close()
        finally:
            connection.close()

    def close_all(self, *_args: Any) -> None:
        with self._lock:
            connections, self._open = self._open, []
        for connection in connections:
            with contextlib.suppress(Exception):
                connection.close()
        self._local = threading.local()


# One per engine (engines are one per app), held so that id(engine) cannot be reused.
_READERS: dict[int, _Reader] = {}
_READERS_LOCK = threading.Lock()


def read_row(statement: Select[Any], **params: Any) -> tuple[Any, ...] | None:
    """The first row of a small read-only SELECT, outside the ORM session: the statement's SQL
    compiled once, one round trip on a connection kept for these reads (see `_Reader`).

    For the hottest reads only (the campaign page's version check): the session's set-up,
    BEGIN and ROLLBACK cost several times the query itself. `statement` must be a module-level
    constant; every parameter of it a named `bindparam` given here, of a type the driver takes
    as it is (strings and numbers; write other constants into the SQL). It sees what is
    committed at the moment it runs, never the session's uncommitted changes.
    """
    from app.extensions import db

    engine: Engine = db.engine
    reader = _READERS.get(id(engine))
    if reader is None:
        with _READERS_LOCK:
            reader = _READERS.get(id(engine)) or _READERS.setdefault(id(engine), _Reader(engine))
    compiled = reader.compiled.get(id(statement))
    if compiled is None:
        compiled = reader.compiled[id(statement)] = _Compiled(statement, engine)
    raw = reader.read(compiled, params)
    return None if raw is None else compiled.row(raw)
