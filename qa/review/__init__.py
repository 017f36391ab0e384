"""The QA workspace: QA staff review scored calls, supervisors sample, export and watch trends.

``register(app)`` is listed in ``hotline.app.BLUEPRINTS``; data comes through ``store.review``.
"""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from qa.review.auth import configure_cookies, init_login
    from qa.review.views import bp

    settings = app.extensions["hotline"]["settings"]
    configure_cookies(app, str(getattr(settings, "public_url", "") or ""))
    app.config["MAX_CONTENT_LENGTH"] = max(int(app.config.get("MAX_CONTENT_LENGTH") or 0), 1024 * 1024)
    init_login(app)
    app.register_blueprint(bp)
