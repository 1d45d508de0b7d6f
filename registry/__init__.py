"""A registry of digital self-management resources for people with severe mental illness."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: dict | None = None) -> Flask:
    """Build the web application: settings, database, pages."""
    # Flask is imported here, not at the top: `registry check-url` imports this package and
    # needs none of it (its worker processes get the memory).
    from flask import Flask
    from werkzeug.routing import IntegerConverter

    class RowId(IntegerConverter):
        """A row id in a URL: a positive 32-bit integer, so a huge one is a 404, not a crash."""

        def __init__(self, url_map):
            super().__init__(url_map, min=1, max=2**31 - 1)

    instance_path = os.environ.get("REGISTRY_INSTANCE_PATH") or None
    if instance_path:
        instance_path = os.path.abspath(instance_path)
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    app.url_map.converters["id"] = RowId

    # Here, not at the top: importing registry (for its models, say) does not load every page.
    from registry import audit, config, db, faults, security  # noqa: F401  (audit guards history)
    from registry.accounts import auth, token_views
    from registry.accounts import views as admin_views
    from registry.api import views as api
    from registry.catalogue import caching, handout, keeping, kept_pages, staff_views, views
    from registry.exchange import views as exchange_views
    from registry.guidance import views as guidance
    from registry.jobs import background
    from registry.review import views as review_views

    config.configure(app, test_config)
    db.init_app(app)
    auth.init_app(app)
    security.init_app(app)
    views.init_app(app)
    caching.init_app(app)
    keeping.init_app(app)
    kept_pages.init_app(app)
    app.register_blueprint(staff_views.bp)
    app.register_blueprint(review_views.bp)
    app.register_blueprint(admin_views.bp)
    app.register_blueprint(handout.bp)
    app.register_blueprint(guidance.bp)
    app.register_blueprint(exchange_views.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(token_views.bp)
    background.init_app(app)
    faults.init_app(app)
    return app
