"""Configuration, read only from environment variables (a `.env` file is honoured)."""

from __future__ import annotations

import os
from pathlib import Path

from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"

load_dotenv(BASE_DIR / ".env")

DEV_SECRET_KEY = "dev-only-secret-key-not-for-production"  # noqa: S105 - refused in production


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        return f"sqlite:///{INSTANCE_DIR / 'pledgeline.sqlite3'}"
    # Heroku-style URLs name the driver "postgres"; SQLAlchemy wants psycopg 3 spelled out.
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgres://")
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "development"
    DEBUG = _bool("FLASK_DEBUG")
    TESTING = False
    SECRET_KEY = os.environ.get("SECRET_KEY") or DEV_SECRET_KEY

    SQLALCHEMY_DATABASE_URI = _database_url()
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, object] = {"pool_pre_ping": True}

    # Sessions: HttpOnly and SameSite=Lax always; Secure wherever we are served over HTTPS.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    SESSION_COOKIE_NAME = "pledgeline_session"
    PERMANENT_SESSION_LIFETIME = 60 * 60 * 8
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    REMEMBER_COOKIE_DURATION = 60 * 60 * 24 * 30

    WTF_CSRF_TIME_LIMIT = 60 * 60 * 4
    MAX_CONTENT_LENGTH = 1024 * 1024

    REDIS_URL = os.environ.get("REDIS_URL", "").strip()
    RATELIMIT_STORAGE_URI = REDIS_URL or "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_ATTEMPT_LIMIT = os.environ.get("LOGIN_ATTEMPT_LIMIT", "10 per 5 minutes")

    STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
    STRIPE_PUBLISHABLE_KEY = os.environ.get("STRIPE_PUBLISHABLE_KEY", "")
    STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
    STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "")

    MAIL_SERVER = os.environ.get("MAIL_SERVER", "")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME", "")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD", "")
    MAIL_USE_TLS = _bool("MAIL_USE_TLS")
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "Pledgeline <pledges@localgov.digital>")

    # Whether a demo banner is shown: true whenever we are not talking to real Stripe.
    DEMO_MODE = not os.environ.get("STRIPE_SECRET_KEY")
    HSTS = False


class TestConfig(Config):
    """Settings for the test suite: an in-memory-like database is supplied by the fixtures."""

    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"  # noqa: S105 - tests only
    WTF_CSRF_ENABLED = True
    RATELIMIT_STORAGE_URI = "memory://"
    # Any outside call the tests forgot to point somewhere real fails loudly.
    STRIPE_API_BASE = "http://you-forgot-to-start-localstripe.invalid"
    MAIL_SERVER = ""


class ProductionConfig(Config):
    """Settings for a real deployment: refuses to start without a proper secret."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    HSTS = True


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete; the app must not start."""


def check_production(config: dict[str, object]) -> None:
    """Refuse to run in production with DEBUG on or a missing, short or default SECRET_KEY."""
    if config.get("DEBUG"):
        raise ConfigError("DEBUG must be off in production (unset FLASK_DEBUG).")
    key = str(config.get("SECRET_KEY") or "")
    if not key or key == DEV_SECRET_KEY:
        raise ConfigError("Set SECRET_KEY to a long random value (at least 32 characters).")
    if len(key) < 32:
        raise ConfigError("SECRET_KEY is too short: use at least 32 random characters.")


CONFIGS: dict[str, type[Config]] = {
    "development": Config,
    "test": TestConfig,
    "production": ProductionConfig,
}


def config_class() -> type[Config]:
    name = os.environ.get("PLEDGELINE_ENV", "development").strip().lower()
    try:
        return CONFIGS[name]
    except KeyError:
        raise ConfigError(f"PLEDGELINE_ENV must be one of {', '.join(CONFIGS)}, not {name!r}.") from None
