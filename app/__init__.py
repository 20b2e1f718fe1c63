"""Pledgeline: pledges and crowdfunding for the public sector."""

from __future__ import annotations

import importlib
import logging
import os
from typing import Any

from flask import Flask

import config as config_module

# The modules that hold views, by feature package (see ARCHITECTURE.md).
VIEW_MODULES = (
    "app.accounts.views",
    "app.campaigns.views",
    "app.campaigns.api",
    "app.campaigns.embed",
    "app.campaigns.admin_views",
    "app.campaigns.treasurer_views",
    "app.invoicing.views",
    "app.matching.sponsor_views",
    "app.opendata.views",
    "app.opendata.council_views",
    "app.matching.treasurer_views",
    "app.outgoing.views",
    "app.payments.views",
    "app.pledging.views",
    "app.pledging.council_views",
    "app.privacy.views",
    "app.reporting.impact_views",
    "app.reporting.report_views",
    "app.reporting.transparency",
    "app.treasury.views",
    "app.treasury.action_views",
    "app.treasury.audit_views",
    "app.treasury.dashboard_views",
    "app.treasury.export_views",
    "app.treasury.ledger_views",
    "app.treasury.reconcile_views",
)


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
    from app.accounts.login import init_login
    from app.campaigns import page_cache
    from app.extensions import csrf, db, init_migrations, limiter, login_manager

    db.init_app(app)
    database.init_app(app)
    if os.environ.get("FLASK_RUN_FROM_CLI") == "true" or app.testing:  # the flask command, or the tests
        init_migrations(app)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    init_login(login_manager)
    security.init_app(app)
    templating.init_app(app)
    errors.init_app(app)
    page_cache.init_app(app)
    from app import jobs

    jobs.init_app(app)

    from app import blueprints

    for views in VIEW_MODULES:
        importlib.import_module(views)  # each adds its routes to a blueprint in app.blueprints
    for blueprint in blueprints.ALL:
        app.register_blueprint(blueprint)
    security.token_filter.learn(app.url_map)

    from app.cli import register as register_cli

    register_cli(app)
    return app
