"""The app refuses to start in production with an unsafe configuration (plan L); links follow the address served."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from flask import Flask

import config
from app import create_app, links
from app.extensions import db

GOOD_KEY = "k3y-" + "0123456789abcdefghijklmnopqrstuvwxyz"  # 40 characters
PUBLIC = "https://pledge.example.org"


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A clean environment: no .env file, no secrets, a throwaway SQLite database."""
    monkeypatch.setattr(config, "DOTENV_PATH", tmp_path / "no.env")
    for name in (
        "PLEDGELINE_ENV",
        "SECRET_KEY",
        "FLASK_DEBUG",
        "SESSION_COOKIE_SECURE",
        "REDIS_URL",
        "PUBLIC_URL",
        "PORT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'config.sqlite3'}")
    return monkeypatch


def _create() -> Flask:
    app = create_app()
    with app.app_context():
        db.engine.dispose()
    return app


@pytest.mark.parametrize(
    ("secret_key", "problem"),
    [
        (None, "Set SECRET_KEY"),
        ("", "Set SECRET_KEY"),
        (" " * 40, "Set SECRET_KEY"),
        (config.DEV_SECRET_KEY, "Set SECRET_KEY"),
        (config.TEST_SECRET_KEY, "Set SECRET_KEY"),
        ("a" * 31, "too short"),
        ("correct-horse-battery", "too short"),
    ],
    ids=["missing", "empty", "blank", "development-default", "test-default", "31-chars", "a-phrase"],
)
def test_production_refuses_a_missing_short_or_default_secret_key(
    environment: pytest.MonkeyPatch, secret_key: str | None, problem: str
) -> None:
    environment.setenv("PLEDGELINE_ENV", "production")
    if secret_key is not None:
        environment.setenv("SECRET_KEY", secret_key)

    with pytest.raises(config.ConfigError, match=problem):
        create_app()


@pytest.mark.parametrize("debug", ["1", "true", "on"])
def test_production_refuses_debug(environment: pytest.MonkeyPatch, debug: str) -> None:
    environment.setenv("PLEDGELINE_ENV", "production")
    environment.setenv("SECRET_KEY", GOOD_KEY)
    environment.setenv("FLASK_DEBUG", debug)

    with pytest.raises(config.ConfigError, match="DEBUG must be off"):
        create_app()


def test_production_starts_with_a_long_secret_and_forces_https_only_cookies(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("PLEDGELINE_ENV", "production")
    environment.setenv("SECRET_KEY", GOOD_KEY)
    environment.setenv("PUBLIC_URL", PUBLIC)
    environment.setenv("FLASK_DEBUG", "0")
    environment.setenv("SESSION_COOKIE_SECURE", "false")  # a stray variable must not weaken production

    app = _create()

    assert app.config["ENV_NAME"] == "production"
    assert app.config["SECRET_KEY"] == GOOD_KEY
    assert app.config["DEBUG"] is False
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    assert app.config["HSTS"] is True


def test_the_environment_is_read_when_the_app_is_created_not_at_import(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("SECRET_KEY", "set-after-config-was-imported-" + "x" * 20)
    environment.setenv("LOGIN_ATTEMPT_LIMIT", "3 per minute")

    app = _create()

    assert app.config["ENV_NAME"] == "development"
    assert app.config["SECRET_KEY"] == "set-after-config-was-imported-" + "x" * 20
    assert app.config["LOGIN_ATTEMPT_LIMIT"] == "3 per minute"
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("config.sqlite3")


def test_a_dotenv_file_is_read_but_a_real_variable_wins(environment: pytest.MonkeyPatch, tmp_path: Path) -> None:
    environment.delenv("MAIL_SERVER", raising=False)
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        f"PLEDGELINE_ENV=production\nSECRET_KEY=short\nMAIL_SERVER=smtp.example.org\nPUBLIC_URL={PUBLIC}\n"
    )
    environment.setattr(config, "DOTENV_PATH", dotenv)

    with pytest.raises(config.ConfigError, match="too short"):
        create_app()

    environment.setenv("SECRET_KEY", GOOD_KEY)
    app = _create()
    assert app.config["ENV_NAME"] == "production"
    assert app.config["MAIL_SERVER"] == "smtp.example.org"
    assert "MAIL_SERVER" not in os.environ  # read, not copied into the process environment


def test_an_unknown_environment_name_is_refused(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("PLEDGELINE_ENV", "staging")

    with pytest.raises(config.ConfigError, match="PLEDGELINE_ENV must be one of"):
        create_app()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:p@db/pledgeline", "postgresql+psycopg://u:p@db/pledgeline"),
        ("postgresql://u@db/pledgeline", "postgresql+psycopg://u@db/pledgeline"),
        ("postgresql+psycopg://u@db/x", "postgresql+psycopg://u@db/x"),
        ("", f"sqlite:///{config.INSTANCE_DIR / 'pledgeline.sqlite3'}"),
    ],
)
def test_database_urls_are_spelled_for_psycopg_3(url: str, expected: str) -> None:
    assert config.database_url(url) == expected


def test_links_follow_the_port_served_when_public_url_is_unset(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("PORT", "5055")

    app = _create()

    assert app.config["PUBLIC_URL"] == "http://127.0.0.1:5055"
    with app.app_context():
        assert links.external_url("public.campaign", slug="pipeline") == "http://127.0.0.1:5055/campaigns/pipeline"


def test_links_go_to_port_5000_as_make_run_serves_by_default(environment: pytest.MonkeyPatch) -> None:
    app = _create()

    with app.app_context():
        assert links.external_url("public.campaign", slug="pipeline") == "http://127.0.0.1:5000/campaigns/pipeline"


def test_a_public_url_that_is_set_wins_over_the_port(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("PORT", "5055")
    environment.setenv("PUBLIC_URL", "https://pledges.example.org/pledgeline")

    app = _create()

    with app.app_context():
        assert links.external_url("public.campaign", slug="x") == "https://pledges.example.org/pledgeline/campaigns/x"


def test_a_port_that_is_not_a_number_is_refused(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("PORT", "50 55")

    with pytest.raises(config.ConfigError, match="PORT must be a port number"):
        create_app()


@pytest.mark.parametrize("port", [None, "8000"], ids=["no-port", "port-set"])
def test_production_refuses_to_start_without_public_url(environment: pytest.MonkeyPatch, port: str | None) -> None:
    environment.setenv("PLEDGELINE_ENV", "production")
    environment.setenv("SECRET_KEY", GOOD_KEY)
    if port is not None:
        environment.setenv("PORT", port)  # a platform's PORT says nothing about the public address

    with pytest.raises(config.ConfigError, match="Set PUBLIC_URL to the https:// address"):
        create_app()


@pytest.mark.parametrize("url", ["http://pledge.example.org", "pledge.example.org", "https://"])
def test_production_refuses_a_public_url_that_is_not_https(environment: pytest.MonkeyPatch, url: str) -> None:
    environment.setenv("PLEDGELINE_ENV", "production")
    environment.setenv("SECRET_KEY", GOOD_KEY)
    environment.setenv("PUBLIC_URL", url)

    with pytest.raises(config.ConfigError, match="PUBLIC_URL must be an https:// address"):
        create_app()


def test_production_builds_links_on_its_public_url(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("PLEDGELINE_ENV", "production")
    environment.setenv("SECRET_KEY", GOOD_KEY)
    environment.setenv("PUBLIC_URL", PUBLIC)
    environment.setenv("PORT", "8000")

    app = _create()

    with app.app_context():
        assert links.external_url("public.campaign", slug="pipeline") == f"{PUBLIC}/campaigns/pipeline"


def test_the_stripe_library_logs_only_warnings(environment: pytest.MonkeyPatch) -> None:
    """It logs every request and response at INFO, which would flood the console and the logs."""
    root, stripe_logger = logging.getLogger(), logging.getLogger("stripe")
    levels = root.level, stripe_logger.level
    root.setLevel(logging.INFO)  # as create_app configures a process that has no logging yet
    stripe_logger.setLevel(logging.NOTSET)
    try:
        _create()

        assert not stripe_logger.isEnabledFor(logging.INFO)
        assert stripe_logger.isEnabledFor(logging.WARNING)
        assert logging.getLogger("app").isEnabledFor(logging.INFO)  # our own lines still reach the logs
    finally:
        root.setLevel(levels[0])
        stripe_logger.setLevel(levels[1])
