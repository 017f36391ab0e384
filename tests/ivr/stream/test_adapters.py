"""Mode 1's live-call redirect: Twilio's REST ``calls(sid).update(url=..., method=...)``.

Two fakes: a Twilio client object standing in for ``twilio.rest.Client`` (the call shape our
code uses), and the real ``twilio.rest.Client`` over a fake HTTP layer (the request Twilio's
library actually sends: POST .../Accounts/<AC>/Calls/<CA>.json with ``Url`` and ``Method``).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from twilio.base.exceptions import TwilioRestException

from ivr.stream.adapters import TwilioRedirector
from tests.ivr.stream.conftest import TOKEN, FakeTwilioHttp

ACCOUNT = "AC" + "a" * 32
CALL = "CA" + "b" * 32
TARGET = "/ivr/stream/speech?s=1&n=main&said=%EB%B0%B0%EC%86%A1&c=0.93"


class FakeTwilioClient:
    """Records ``client.calls(sid).update(**kwargs)``, the way twilio.rest.Client is called."""

    def __init__(self) -> None:
        self.updates: list[tuple[str, dict[str, Any]]] = []

    def calls(self, sid: str) -> Any:
        client = self

        class CallContext:
            def update(self, **kwargs: Any) -> object:
                client.updates.append((sid, kwargs))
                return object()

        return CallContext()


def test_redirect_calls_update_with_an_absolute_url() -> None:
    fake = FakeTwilioClient()
    TwilioRedirector(ACCOUNT, TOKEN, "https://ivr.example.com/", client=fake).redirect(CALL, TARGET)
    assert fake.updates == [(CALL, {"url": "https://ivr.example.com" + TARGET, "method": "POST"})]


def test_the_real_twilio_client_sends_the_update_request() -> None:
    http = FakeTwilioHttp()
    redirector = TwilioRedirector(ACCOUNT, TOKEN, "https://ivr.example.com", client=http.client(ACCOUNT, TOKEN))
    redirector.redirect(CALL, TARGET)
    assert len(http.requests) == 1
    req = http.requests[0]
    assert req["method"] == "POST"
    assert req["uri"] == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Calls/{CALL}.json"
    assert req["data"] == {"Url": "https://ivr.example.com" + TARGET, "Method": "POST"}
    assert req["auth"] == (ACCOUNT, TOKEN)


def test_a_call_that_already_ended_raises_for_the_worker_to_log() -> None:
    http = FakeTwilioHttp(status=404)
    redirector = TwilioRedirector(ACCOUNT, TOKEN, "https://ivr.example.com", client=http.client(ACCOUNT, TOKEN))
    with pytest.raises(TwilioRestException):
        redirector.redirect(CALL, TARGET)  # StreamWorker._effect logs it and counts failed:Redirect


def test_without_account_or_public_url_nothing_is_sent(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeTwilioClient()
    with caplog.at_level(logging.ERROR, logger="ivr.stream"):
        TwilioRedirector("", TOKEN, "https://ivr.example.com", client=fake).redirect(CALL, TARGET)
        TwilioRedirector(ACCOUNT, TOKEN, "", client=fake).redirect(CALL, TARGET)
    assert fake.updates == []
    assert "HOTLINE_PUBLIC_URL" in caplog.text and TOKEN not in caplog.text


def test_the_token_stays_out_of_the_repr() -> None:
    assert TOKEN not in repr(TwilioRedirector(ACCOUNT, TOKEN, "https://ivr.example.com"))
