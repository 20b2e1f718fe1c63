"""Test helpers: a page-checking client and sign-in."""

from __future__ import annotations

import re
import secrets
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g, has_app_context, url_for
from flask.testing import FlaskClient
from sqlalchemy import event
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

import config
from app import create_app
from app.extensions import db

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _StructureChecker(HTMLParser):
    """Finds unclosed or mis-nested tags, and collects the title and headings."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, int]] = []
        self.problems: list[str] = []
        self.title = ""
        self.h1: list[str] = []
        self._in: str | None = None
        self.ids: dict[str, int] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" and value:
                self.ids[value] = self.ids.get(value, 0) + 1
        if tag in VOID:
            return
        in_svg = any(name == "svg" for name, _ in self.stack)
        self.stack.append((tag, self.getpos()[0]))
        # An inline SVG's <title> names the picture, not the page.
        if tag in ("title", "h1") and not (tag == "title" and in_svg):
            self._in = tag
            if tag == "h1":
                self.h1.append("")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1][0] != tag:
            open_tag = self.stack[-1] if self.stack else None
            self.problems.append(f"</{tag}> at line {self.getpos()[0]} closes {open_tag}")
            # Recover: pop to the matching tag if it is open.
            names = [t for t, _ in self.stack]
            if tag in names:
                while self.stack and self.stack[-1][0] != tag:
                    self.stack.pop()
                self.stack.pop()
            return
        self.stack.pop()
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "title":
            self.title += data
        elif self._in == "h1":
            self.h1[-1] += data


def check_html(html: str) -> _StructureChecker:
    checker = _StructureChecker()
    checker.feed(html)
    checker.close()
    problems = list(checker.problems)
    if checker.stack:
        problems.append(f"unclosed tags: {checker.stack}")
    duplicates = [i for i, n in checker.ids.items() if n > 1]
    if duplicates:
        problems.append(f"duplicate ids: {duplicates}")
    assert not problems, "\n".join(problems)
    assert '<html lang="en"' in html
    return checker


class PageClient:
    """Fetch pages and check each one as a person would meet it (after Notify's client_request)."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def get(self, url: str, *, status: int = 200, **kwargs: Any) -> TestResponse:
        response = self.client.get(url, **kwargs)
        assert response.status_code == status, f"GET {url}: {response.status_code}, wanted {status}"
        if response.mimetype == "text/html":
            self.check(response)
        return response

    def post(self, url: str, data: dict[str, Any] | None = None, *, status: int = 302, **kwargs: Any) -> TestResponse:
        response = self.client.post(url, data=data or {}, **kwargs)
        assert response.status_code == status, f"POST {url}: {response.status_code}, wanted {status}"
        if response.mimetype == "text/html" and status != 302:
            self.check(response)
        return response

    @staticmethod
    def check(response: TestResponse) -> _StructureChecker:
        html = response.get_data(as_text=True)
        checker = check_html(html)
        title = " ".join(checker.title.split())
        assert title.endswith("– Pledgeline"), f"title {title!r}"
        assert len(checker.h1) == 1, f"expected one h1, found {checker.h1}"
        for form in re.findall(r"<form[^>]*>", html):
            if 'method="post"' in form.lower():
                assert "csrf_token" in html, "a POST form without a CSRF token"
        return checker


def csrf_token(client: FlaskClient, url: str) -> str:
    html = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', html
    )
    assert match, f"no CSRF token on {url}"
    return match[1]


def sign_in(
    client: FlaskClient, email: str, password: str, *, next_url: str = "", remember: bool = False
) -> TestResponse:
    token = csrf_token(client, "/account/sign-in")
    data = {"email": email, "password": password, "csrf_token": token, "next": next_url}
    if remember:
        data["remember"] = "y"
    return client.post("/account/sign-in", data=data)


@contextmanager
def production_app(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[Flask]:
    """The app exactly as `create_app()` builds it with PLEDGELINE_ENV=production, on the test database.

    It closes its database connections on the way out so the per-test clean-up is not kept
    waiting. Push `app.app_context()` before invoking its CLI: the test app's context is already
    active, and Flask's CLI would otherwise run in that one.
    """
    monkeypatch.setattr(config, "DOTENV_PATH", Path("/nonexistent/pledgeline/.env"))
    for name in ("FLASK_DEBUG", "SESSION_COOKIE_SECURE", "REDIS_URL", "STRIPE_SECRET_KEY", "MAIL_SERVER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PLEDGELINE_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", secrets.token_urlsafe(48))
    monkeypatch.setenv("PUBLIC_URL", "https://pledgeline.example")
    monkeypatch.setenv("DATABASE_URL", database_url)
    app = create_app()
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


class FreshGlobalsClient(FlaskClient):
    """A test client whose every request starts with an empty `flask.g`, as in production.

    The fixtures keep one app context open for a whole test (so it can use `db.session`), and
    Flask runs a request inside an app context that is already open, `g` and all. Without this,
    what one request keeps in `g` leaks into the next: Flask-Login's signed-in user (another
    client's cookies would be ignored), Flask-WTF's CSRF token and the CSP nonce.
    """

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        if has_app_context():
            for name in list(g):
                g.pop(name)
        return super().open(*args, **kwargs)


ACCESS_TABLE_PATH = Path(__file__).parent / "data" / "access.toml"
ACCESS_OUTCOMES = ("ok", "signin", "403", "404")
# Methods Flask adds to every rule by itself.
IMPLICIT_METHODS = frozenset({"HEAD", "OPTIONS"})


def load_access_table() -> dict[str, Any]:
    with ACCESS_TABLE_PATH.open("rb") as file:
        return tomllib.load(file)


def route_keys(app: Flask) -> list[tuple[str, Rule, str]]:
    """("GET public.index", rule, "GET") for every rule and method the app serves, static files aside."""
    keys = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(set(rule.methods or ()) - IMPLICIT_METHODS):
            keys.append((f"{method} {rule.endpoint}", rule, method))
    return sorted(keys, key=lambda k: k[0])


def route_url(app: Flask, rule: Rule, row: dict[str, Any], table: dict[str, Any], samples: dict[str, str]) -> str:
    """The URL of `rule` with each variable filled from the row's `args` or the table's `[arguments]`."""
    templates = {**table.get("arguments", {}), **row.get("args", {})}
    missing = sorted(set(rule.arguments) - set(templates))
    assert not missing, (
        f"{rule.rule} ({rule.endpoint}) has URL variables {missing} that tests/data/access.toml cannot fill: "
        f'add them under [arguments] or as args = {{ name = "{{sample}}" }} on its row '
        f"(samples: {', '.join(sorted(samples))})"
    )
    try:
        values = {name: templates[name].format(**samples) for name in rule.arguments}
    except KeyError as error:
        raise AssertionError(
            f"tests/data/access.toml refers to sample {error} for {rule.endpoint}; "
            f"known samples: {', '.join(sorted(samples))} (see tests/factories.py make_route_world)"
        ) from None
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


def empty_database() -> None:
    """Delete every row (as the per-test clean-up does), for tests that need a clean slate more often."""
    from sqlalchemy import text

    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for name in tables:
            db.session.execute(text(f"DELETE FROM {name}"))  # noqa: S608 - table names from our metadata
    db.session.commit()


def database_work(read: Callable[[], object]) -> int:
    """How much work the database does for the statements `read` runs, in a unit that does not
    depend on the clock. Each statement is captured as it runs, then run again by itself:

    SQLite: virtual-machine instructions executed (counted by a progress handler on a connection
    of the test's own, so nothing else that runs meanwhile is counted).
    PostgreSQL: rows its plans read from the pledge and payment tables (EXPLAIN ANALYZE).
    """
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        read()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    db.session.commit()  # what `read` saw is committed: the replay sees the same rows
    queries = [(sql, parameters) for sql, parameters in seen if sql.lstrip().upper().startswith("SELECT")]
    assert queries, "nothing was read"

    if db.engine.dialect.name == "sqlite":
        raw = db.engine.raw_connection()
        try:
            connection = raw.dbapi_connection
            assert connection is not None
            steps = [0]

            def count() -> int:
                steps[0] += 1
                return 0

            connection.set_progress_handler(count, 1)
            try:
                for sql, parameters in queries:
                    connection.execute(sql, parameters).fetchall()
            finally:
                connection.set_progress_handler(None, 0)
        finally:
            raw.close()
        return steps[0]

    def rows_read(node: dict[str, Any]) -> int:
        own = 0
        if node.get("Relation Name") in ("pledge", "payment"):
            own = int(node.get("Actual Rows", 0)) * int(node.get("Actual Loops", 1))
        return own + sum(rows_read(child) for child in node.get("Plans", []))

    connection = db.session.connection()
    total = 0
    for sql, parameters in queries:
        plan = connection.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, parameters).scalar_one()
        total += rows_read(plan[0]["Plan"])
    db.session.rollback()
    return total
