"""Configuration, read only from environment variables (a `.env` file is honoured).

Each class holds its environment's defaults. The environment variables are read when the app is
created (`config_class()`), never at import: a process, a test or the CLI always gets the
environment as it is at that moment, and importing this module changes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from dotenv import dotenv_values

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"
DOTENV_PATH = BASE_DIR / ".env"

DEV_SECRET_KEY = "dev-only-secret-key-not-for-production"  # noqa: S105 - refused in production
TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"  # noqa: S105 - refused in production
DEMO_BANK_ACCOUNT_NAME = "DEMO ACCOUNT - DO NOT PAY"
MIN_SECRET_KEY_LENGTH = 32


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or not value.strip():
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def port_number(value: str, name: str = "PORT") -> int:
    """A port from the environment variable `name`, or a ConfigError that says what is wrong with it."""
    value = value.strip()
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ConfigError(f"{name} must be a port number, like 5000, not {value!r}.")
    return int(value)


def database_url(url: str | None) -> str:
    """The SQLAlchemy URL for DATABASE_URL (a SQLite file under instance/ when it is unset)."""
    url = (url or "").strip()
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
    DEBUG = False
    TESTING = False
    SECRET_KEY = DEV_SECRET_KEY

    SQLALCHEMY_DATABASE_URI = database_url(None)
    SQLALCHEMY_ENGINE_OPTIONS: ClassVar[dict[str, object]] = {"pool_pre_ping": True}

    # Sessions: HttpOnly and SameSite=Lax always; Secure wherever we are served over HTTPS.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    SESSION_COOKIE_NAME = "pledgeline_session"
    PERMANENT_SESSION_LIFETIME = 60 * 60 * 8
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = False
    REMEMBER_COOKIE_DURATION = 60 * 60 * 24 * 30

    WTF_CSRF_TIME_LIMIT = 60 * 60 * 4
    MAX_CONTENT_LENGTH = 1024 * 1024

    REDIS_URL = ""
    # The job queue's name: installs (or test runs) sharing one Redis keep their jobs apart by it.
    JOBS_QUEUE = "pledgeline"
    # Tests run a job's body at once, in the calling process; everywhere else a worker runs it.
    JOBS_IMMEDIATE = False
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_ATTEMPT_LIMIT = "10 per 5 minutes"
    # How many proxies (load balancer, nginx) stand in front of the app. Their X-Forwarded-For
    # then gives the client's address for rate limits; with 0 the header is ignored, so nobody
    # can dodge a limit by sending one.
    TRUSTED_PROXY_COUNT = 0

    STRIPE_SECRET_KEY = ""
    STRIPE_PUBLISHABLE_KEY = ""
    STRIPE_WEBHOOK_SECRET = ""
    STRIPE_API_BASE = ""

    MAIL_SERVER = ""
    MAIL_PORT = 25
    MAIL_USERNAME = ""
    MAIL_PASSWORD = ""
    MAIL_USE_TLS = False
    MAIL_DEFAULT_SENDER = "Pledgeline <pledges@localgov.digital>"
    # The address people reach the service at: every absolute link (emails, PDFs) is built from
    # it, never from the Host header of whatever request happened to cause the email. Unset, it
    # is the address `make run` serves: http://127.0.0.1:5000, or the port PORT names.
    PUBLIC_URL = "http://127.0.0.1:5000"

    # Printed on invoices. The defaults are obviously fake: a real deployment sets all four.
    BANK_ACCOUNT_NAME = DEMO_BANK_ACCOUNT_NAME
    BANK_SORT_CODE = "00-00-00"
    BANK_ACCOUNT_NUMBER = "00000000"
    INVOICE_ISSUER_ADDRESS = "LocalGov Digital (demo)\n1 Example Street\nExampletown\nEX1 1AA"

    # Open data (app.opendata): the publisher's 360Giving prefix, and who the money is for.
    GRANT_ID_PREFIX = "360G-pledgeline"
    RECIPIENT_ORG_ID = "360G-pledgeline-org-localgov-digital"
    RECIPIENT_ORG_NAME = "LocalGov Digital"

    # Who runs the service and answers for its data (the privacy notice, contact and terms
    # pages). The defaults are for the demo: a real deployment sets them.
    OPERATOR_NAME = "LocalGov Digital"
    OPERATOR_ADDRESS = "LocalGov Digital (demo)\n1 Example Street\nExampletown\nEX1 1AA"
    OPERATOR_EMAIL = "hello@pledgeline.example"
    PRIVACY_EMAIL = "privacy@pledgeline.example"
    ICO_REGISTRATION = ""  # the operator's number on the ICO's register of fee payers, if any

    # Outgoing webhooks: how long an endpoint gets to answer, and whether addresses on this
    # machine or a private network may be used (development and tests only; refused in production).
    WEBHOOK_TIMEOUT_SECONDS = 5
    WEBHOOK_ALLOW_PRIVATE = False

    # Whether a demo banner is shown: true whenever we are not talking to real Stripe.
    DEMO_MODE = True
    HSTS = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> dict[str, Any]:
        """The settings the environment variables give; a variable left unset keeps the default."""

        def get(name: str) -> str | None:
            value = environ.get(name)
            return value.strip() if value is not None and value.strip() else None

        settings: dict[str, Any] = {}
        if get("FLASK_DEBUG") is not None:
            settings["DEBUG"] = _bool(get("FLASK_DEBUG"))
        if get("SECRET_KEY") is not None:
            settings["SECRET_KEY"] = get("SECRET_KEY")
        if get("DATABASE_URL") is not None:
            settings["SQLALCHEMY_DATABASE_URI"] = database_url(get("DATABASE_URL"))
        if get("SESSION_COOKIE_SECURE") is not None:
            secure = _bool(get("SESSION_COOKIE_SECURE"))
            settings["SESSION_COOKIE_SECURE"] = settings["REMEMBER_COOKIE_SECURE"] = secure
        if get("REDIS_URL") is not None:
            settings["REDIS_URL"] = settings["RATELIMIT_STORAGE_URI"] = get("REDIS_URL")
        if get("JOBS_QUEUE"):
            settings["JOBS_QUEUE"] = get("JOBS_QUEUE")
        if get("LOGIN_ATTEMPT_LIMIT") is not None:
            settings["LOGIN_ATTEMPT_LIMIT"] = get("LOGIN_ATTEMPT_LIMIT")
        if get("TRUSTED_PROXY_COUNT") is not None:
            settings["TRUSTED_PROXY_COUNT"] = int(get("TRUSTED_PROXY_COUNT") or "0")
        for name in ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE"):
            if get(name) is not None:
                settings[name] = get(name)
        for name in ("MAIL_SERVER", "MAIL_USERNAME", "MAIL_PASSWORD", "MAIL_DEFAULT_SENDER", "PUBLIC_URL"):
            if get(name) is not None:
                settings[name] = get(name)
        if get("PUBLIC_URL") is None and get("PORT") is not None:
            # `PORT=5055 make run` serves on 127.0.0.1:5055, so that is where the links must go.
            settings["PUBLIC_URL"] = f"http://127.0.0.1:{port_number(get('PORT') or '')}"
        for name in ("BANK_ACCOUNT_NAME", "BANK_SORT_CODE", "BANK_ACCOUNT_NUMBER", "INVOICE_ISSUER_ADDRESS"):
            if get(name) is not None:
                # A one-line environment variable can carry the address's line breaks as "\n".
                settings[name] = (get(name) or "").replace("\\n", "\n")
        for name in ("OPERATOR_NAME", "OPERATOR_EMAIL", "PRIVACY_EMAIL", "ICO_REGISTRATION"):
            if get(name) is not None:
                settings[name] = get(name)
        if get("OPERATOR_ADDRESS") is not None:
            settings["OPERATOR_ADDRESS"] = (get("OPERATOR_ADDRESS") or "").replace("\\n", "\n")
        for name in ("GRANT_ID_PREFIX", "RECIPIENT_ORG_ID", "RECIPIENT_ORG_NAME"):
            if get(name) is not None:
                settings[name] = get(name)
        if get("WEBHOOK_TIMEOUT_SECONDS") is not None:
            settings["WEBHOOK_TIMEOUT_SECONDS"] = float(get("WEBHOOK_TIMEOUT_SECONDS") or "5")
        if get("WEBHOOK_ALLOW_PRIVATE") is not None:
            settings["WEBHOOK_ALLOW_PRIVATE"] = _bool(get("WEBHOOK_ALLOW_PRIVATE"))
        if get("MAIL_PORT") is not None:
            settings["MAIL_PORT"] = int(get("MAIL_PORT") or "25")
        if get("MAIL_USE_TLS") is not None:
            settings["MAIL_USE_TLS"] = _bool(get("MAIL_USE_TLS"))
        settings["DEMO_MODE"] = get("STRIPE_SECRET_KEY") is None
        return settings


class TestConfig(Config):
    """Settings for the test suite: the fixtures supply the database through `create_app(test_config)`."""

    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = TEST_SECRET_KEY
    WTF_CSRF_ENABLED = True
    RATELIMIT_STORAGE_URI = "memory://"
    # Any outside call the tests forgot to point somewhere real fails loudly.
    STRIPE_API_BASE = "http://you-forgot-to-start-localstripe.invalid"
    MAIL_SERVER = ""
    JOBS_IMMEDIATE = True

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> dict[str, Any]:
        # Only the database: a developer's real secrets or mail server never reach a test run.
        url = environ.get("DATABASE_URL", "").strip()
        return {"SQLALCHEMY_DATABASE_URI": database_url(url)} if url else {}


class ProductionConfig(Config):
    """Settings for a real deployment: refuses to start without a proper secret (`check_production`)."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    HSTS = True
    # No default: behind a proxy, the port the app listens on says nothing about its public address.
    PUBLIC_URL = ""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> dict[str, Any]:
        settings = super().from_environment(environ)
        # Production is served over HTTPS only: no variable may send the cookies in clear.
        settings.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True)
        if not (environ.get("PUBLIC_URL") or "").strip():
            settings.pop("PUBLIC_URL", None)  # never the development default built from PORT
        return settings


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete; the app must not start."""


def check_production(config: Mapping[str, object]) -> None:
    """Refuse to run in production with DEBUG on, a missing, short or default SECRET_KEY, or no https PUBLIC_URL."""
    if config.get("DEBUG"):
        raise ConfigError("DEBUG must be off in production (unset FLASK_DEBUG).")
    key = str(config.get("SECRET_KEY") or "").strip()
    if not key or key in (DEV_SECRET_KEY, TEST_SECRET_KEY):
        raise ConfigError(f"Set SECRET_KEY to a long random value (at least {MIN_SECRET_KEY_LENGTH} characters).")
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise ConfigError(
            f"SECRET_KEY is too short: use at least {MIN_SECRET_KEY_LENGTH} random characters "
            '(python -c "import secrets; print(secrets.token_urlsafe(48))").'
        )
    public_url = str(config.get("PUBLIC_URL") or "").strip()
    if not public_url:
        raise ConfigError(
            "Set PUBLIC_URL to the https:// address people reach Pledgeline at, like https://pledge.example.org: "
            "the links in emails and PDFs are built from it."
        )
    parts = urlsplit(public_url)
    if parts.scheme != "https" or not parts.hostname:
        raise ConfigError(f"PUBLIC_URL must be an https:// address in production, not {public_url!r}.")
    if config.get("WEBHOOK_ALLOW_PRIVATE"):
        raise ConfigError("WEBHOOK_ALLOW_PRIVATE is for development only: unset it in production.")


CONFIGS: dict[str, type[Config]] = {
    "development": Config,
    "test": TestConfig,
    "production": ProductionConfig,
}


def read_environment() -> dict[str, str]:
    """The process environment over the `.env` file's values (a real variable always wins)."""
    from_file = {k: v for k, v in dotenv_values(DOTENV_PATH).items() if v is not None} if DOTENV_PATH.is_file() else {}
    return {**from_file, **os.environ}


def config_class(environ: Mapping[str, str] | None = None) -> type[Config]:
    """The settings for PLEDGELINE_ENV (development, test or production), read from the environment now."""
    environ = read_environment() if environ is None else environ
    name = environ.get("PLEDGELINE_ENV", "development").strip().lower() or "development"
    try:
        base = CONFIGS[name]
    except KeyError:
        raise ConfigError(f"PLEDGELINE_ENV must be one of {', '.join(CONFIGS)}, not {name!r}.") from None
    # A subclass carrying this moment's environment, so `app.config.from_object` reads it as usual.
    return type(base.__name__, (base,), {"__doc__": base.__doc__, **base.from_environment(environ)})
