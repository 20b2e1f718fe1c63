"""Pledgeline: pledges and crowdfunding for the public sector."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

import config as config_module


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Wire the application together: configuration, extensions, blueprints, errors and CLI."""
    app = Flask(__name__, instance_path=str(config_module.INSTANCE_DIR))
    settings = config_module.TestConfig if test_config is not None else config_module.config_class()
    app.config.from_object(settings)
    if test_config:
        app.config.update(test_config)
    from app.payments import gateway

    # The page's Content-Security-Policy must allow Stripe.js from wherever it is served.
    app.config["STRIPE_JS_ORIGIN"], app.config["STRIPE_API_ORIGIN"] = gateway.origins_for(app.config)
    if app.config["ENV_NAME"] == "production":
        config_module.check_production(app.config)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The Stripe library logs every request and response at INFO.
    for noisy in ("alembic.runtime.plugins", "weasyprint.progress", "fontTools", "stripe"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from app import database, errors, security, templating
    from app.extensions import csrf, db, limiter, login_manager, migrate
    from app.public import cache as campaign_cache

    db.init_app(app)
    database.init_app(app)
    migrate.init_app(app, db, directory=str(config_module.BASE_DIR / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    security.init_app(app)
    templating.init_app(app)
    errors.init_app(app)
    campaign_cache.init_app(app)

    from app.account import bp as account_bp
    from app.account import init_login
    from app.admin import bp as admin_bp
    from app.api import bp as api_bp
    from app.councils import bp as councils_bp
    from app.pledges import bp as pledges_bp
    from app.public import bp as public_bp
    from app.sponsor import bp as sponsor_bp
    from app.treasurer import bp as treasurer_bp
    from app.webhooks import bp as webhooks_bp

    init_login(login_manager)
    for blueprint in (public_bp, pledges_bp, webhooks_bp, api_bp, account_bp, treasurer_bp, sponsor_bp, admin_bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(councils_bp)

    from app.cli import register as register_cli

    register_cli(app)
    return app
