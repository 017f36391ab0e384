"""The QA workspace: a Flask web app under /qa where QA staff review scored calls, and
supervisors sample, export and watch trends.

One blueprint module per area, under the parent blueprint of ``workspace.site`` (shared hooks,
error pages, templates, static files):

    auth         login, logout, accounts and the login throttle; CSRF and role checks
    calls        the call list (filters, search) and the call page with its recording
    review       a reviewer's scores and comments on a call
    disputes     disputes of a review, raised and resolved
    calibration  blind scoring of one call by several reviewers
    sampling     the weekly sample: policy, run, the picks, their downloads, my tasks
    exports      the call list as CSV and as a zip of recordings, transcripts and scorecards
    trends       weekly score trends
    audit        the audit log

Pure helpers: ``rules`` (review rules), ``inputs`` (form checks), ``present`` (display),
``writers`` (the CSV and zip writers); ``sampling_run`` runs a team's weekly sample (also from
the CLI). Data comes from the store's modules (``store.search``, ``store.reviews``...).
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from workspace.web import WorkspaceContext, WorkspaceSettings, install


def register(app: Flask, settings: WorkspaceSettings, sessions: sessionmaker[Session]) -> None:
    """Mount the workspace on ``app`` (by the composition root, ``hotline.app``)."""
    from workspace.auth import configure_cookies, init_login
    from workspace.site import bp

    install(app, WorkspaceContext(settings, sessions))
    configure_cookies(app, settings.public_url)
    app.config["MAX_CONTENT_LENGTH"] = max(int(app.config.get("MAX_CONTENT_LENGTH") or 0), 1024 * 1024)
    init_login(app)
    app.register_blueprint(bp)
