"""The app refuses to start in production with an unsafe configuration (plan L)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import config
from app import create_app
from app.extensions import db

GOOD_KEY = "k3y-" + "0123456789abcdefghijklmnopqrstuvwxyz"  # 40 characters


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A clean environment: no .env file, no secrets, a throwaway SQLite database."""
    monkeypatch.setattr(config, "DOTENV_PATH", tmp_path / "no.env")
    for name in ("PLEDGELINE_ENV", "SECRET_KEY", "FLASK_DEBUG", "SESSION_COOKIE_SECURE", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'config.sqlite3'}")
    return monkeypatch


def _create() -> object:
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
    dotenv.write_text("PLEDGELINE_ENV=production\nSECRET_KEY=short\nMAIL_SERVER=smtp.example.org\n")
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
