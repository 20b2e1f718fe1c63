"""Shared fixtures: one migrated database per run, emptied after every test.

The database is SQLite in a temporary file by default; set TEST_DATABASE_URL (for example
postgresql://postgres@127.0.0.1:5432/test) to run the whole suite against PostgreSQL. Tests make
real commits, so threads, subprocesses and a live server all see the same data.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, make_url, text

from app import create_app, jobs
from app.extensions import db, limiter
from tests.helpers import FreshGlobalsClient, PageClient
from tests.stripe_server import LocalStripe, pointed_at

ROOT = Path(__file__).resolve().parent.parent


def _database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if url:
        return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@contextmanager
def _private_postgres_database(url: str) -> Iterator[str]:
    """A fresh database of our own on the server TEST_DATABASE_URL names, dropped afterwards.

    Runs that share a server (two developers, or CI beside a developer) never see each other's data.
    """
    server = make_url(url)
    name = f"pledgeline_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = _database_url(tmp_path_factory)
    if url.startswith("postgresql"):
        with _private_postgres_database(url) as private:
            yield private
    else:
        yield url


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The application, its schema built by the real migrations (not create_all)."""
    outbox = tmp_path_factory.mktemp("outbox")
    application = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "MAIL_OUTBOX_DIR": str(outbox)})
    application.test_client_class = FreshGlobalsClient
    from flask_migrate import upgrade

    with application.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    yield application
    with application.app_context():
        db.engine.dispose()


def _empty_tables() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for name in tables:
            db.session.execute(text(f"DELETE FROM {name}"))  # noqa: S608 - table names from our metadata
    db.session.commit()


@pytest.fixture(autouse=True)
def _app_context(app: Flask) -> Iterator[None]:
    """Every test runs inside an app context and leaves the database empty behind it."""
    # The job queue is one per process: a test that built another app (another config) pointed
    # it elsewhere, so point it back at this app, whose jobs run at once.
    jobs.init_app(app)
    with app.app_context():
        yield
        db.session.rollback()
        _empty_tables()
        db.session.remove()
    limiter.reset()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def page(app: Flask) -> PageClient:
    """A client that checks every page it fetches: status, title, one h1, well-formed HTML."""
    return PageClient(app.test_client())


@pytest.fixture
def runner(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


@pytest.fixture
def is_postgres(app: Flask) -> bool:
    return db.engine.dialect.name == "postgresql"


@pytest.fixture(scope="session")
def localstripe_server() -> Iterator[LocalStripe]:
    """One real localstripe process for the run (started only by tests that ask for it)."""
    server = LocalStripe()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def localstripe(app: Flask, localstripe_server: LocalStripe) -> Iterator[LocalStripe]:
    """localstripe, emptied, with the app pointed at it for this test."""
    localstripe_server.flush()
    with pointed_at(app, localstripe_server):
        yield localstripe_server
