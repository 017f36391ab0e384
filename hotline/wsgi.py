"""The app's request class: Flask's, with the form of a URL-encoded POST read without detours.

Every Twilio webhook is a small URL-encoded form, and Werkzeug builds a form-parser object and a
dispatch for each one before running ``parse_qsl``; that was a sixth of a webhook's CPU. Here the
same ``parse_qsl`` call (same limits: the stream is the one Werkzeug limits to MAX_CONTENT_LENGTH)
runs directly. Multipart forms (the workspace's uploads) go through Werkzeug unchanged.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from flask import Request as FlaskRequest

URLENCODED = "application/x-www-form-urlencoded"


class Request(FlaskRequest):
    def _load_form_data(self) -> None:
        if "form" in self.__dict__:
            return
        if self.mimetype != URLENCODED:
            super()._load_form_data()
            return
        stream = self._get_stream_for_parsing()
        items = parse_qsl(stream.read().decode(), keep_blank_values=True, errors="werkzeug.url_quote")
        d = self.__dict__
        d["stream"], d["form"], d["files"] = stream, self.parameter_storage_class(items), self.parameter_storage_class()
