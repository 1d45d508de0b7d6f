"""A registry of digital self-management resources for people with severe mental illness."""

import os

from flask import Flask


def create_app(test_config: dict | None = None) -> Flask:
    """Build the web application: settings, database, pages."""
    instance_path = os.environ.get("REGISTRY_INSTANCE_PATH") or None
    if instance_path:
        instance_path = os.path.abspath(instance_path)
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)

    from registry import (  # noqa: F401  (audit guards history on import)
        admin_views,
        audit,
        auth,
        background,
        config,
        db,
        guidance,
        handout,
        review_views,
        staff_views,
        views,
    )

    config.configure(app, test_config)
    db.init_app(app)
    auth.init_app(app)
    views.init_app(app)
    app.register_blueprint(staff_views.bp)
    app.register_blueprint(review_views.bp)
    app.register_blueprint(admin_views.bp)
    app.register_blueprint(handout.bp)
    app.register_blueprint(guidance.bp)
    background.init_app(app)
    return app
