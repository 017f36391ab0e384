"""The recording-URL policy as a table: what a webhook may name, and how the allow-list reads."""

from __future__ import annotations

import pytest

from ivr.recording_url import AllowedHost, RecordingUrlError, check, is_local, parse_hosts, public_address

TWILIO = "https://api.twilio.com/2010-04-01/Accounts/AC0123/Recordings/RE4567"
HOSTS = parse_hosts("media.example.com, http://127.0.0.1:8765, https://rec.example.org:8443")

ACCEPTED = [
    (TWILIO, TWILIO),
    (TWILIO + ".wav", TWILIO + ".wav"),
    (TWILIO + ".mp3?RequestedChannels=2", TWILIO + ".mp3?RequestedChannels=2"),
    ("HTTPS://API.Twilio.com/2010-04-01/Accounts/AC0123/Recordings/RE4567", TWILIO),  # rebuilt, lower case
    ("https://api.twilio.com:443/2010-04-01/Accounts/AC0123/Recordings/RE4567", TWILIO.replace(".com", ".com:443")),
    ("https://media.example.com/x/y.wav#frag", "https://media.example.com/x/y.wav"),
    ("http://127.0.0.1:8765/a.wav", "http://127.0.0.1:8765/a.wav"),
    ("https://rec.example.org:8443/a.wav", "https://rec.example.org:8443/a.wav"),
]

REFUSED = [
    ("", "missing"),
    ("file:///etc/passwd", "local file"),
    ("/proc/self/environ", "local file"),
    ("../../etc/passwd", "local file"),
    ("//evil.example/x.wav", "local file"),  # no scheme: never a network URL from a webhook
    ("gopher://api.twilio.com/x", "scheme"),
    ("http://api.twilio.com/2010-04-01/Accounts/AC0123/Recordings/RE4567", "https on port 443"),
    ("https://api.twilio.com/2010-04-01/Accounts/AC0123/Recordings/RE4567/Transcriptions", "not a recording"),
    ("https://api.twilio.com/2010-04-01/Accounts/AC0123/Recordings/RE4567.json", "not a recording"),
    ("https://x@api.twilio.com/2010-04-01/Accounts/AC0123/Recordings/RE4567", "user name"),
    ("https://api.twilio.com /2010-04-01/Accounts/AC0123/Recordings/RE4567", "spaces"),
    ("https://api.twilio.com\\@evil.example/", "backslashes"),
    ("https://api.twilio.com\n.evil.example/", "control"),
    ("https://ａpi.twilio.com/2010-04-01/Accounts/AC0123/Recordings/RE4567", "non-ASCII"),
    ("http://127.0.0.1:8766/a.wav", "IP address"),  # a listed host, another port
    ("https://127.0.0.1:8765/a.wav", "IP address"),  # a listed host, another scheme
    ("http://media.example.com/a.wav", "host media.example.com"),  # listed for https only
    ("https://media.example.com:8443/a.wav", "host media.example.com"),
    ("https://sub.media.example.com/a.wav", "host sub.media.example.com"),  # no suffix matching
    ("http://2130706433/", "host 2130706433"),  # 127.0.0.1 as a decimal
    ("http://[::1]/", "IP address"),
    ("https://api.twilio.com:99999/", "bad port"),
    ("https://" + "a" * 3000, "longer than"),
]


@pytest.mark.parametrize(("url", "fetched"), ACCEPTED)
def test_accepted(url: str, fetched: str) -> None:
    assert check(url, HOSTS) == fetched


@pytest.mark.parametrize(("url", "why"), REFUSED)
def test_refused(url: str, why: str) -> None:
    with pytest.raises(RecordingUrlError, match=why):
        check(url, HOSTS)


def test_allow_list_entries() -> None:
    expected = (
        AllowedHost("media.example.com"),
        AllowedHost("127.0.0.1", 8765, "http"),
        AllowedHost("rec.example.org", 8443, "https"),
    )
    assert parse_hosts("media.example.com, http://127.0.0.1:8765, https://rec.example.org:8443") == expected
    assert parse_hosts("") == () and parse_hosts(" , ") == ()
    for bad in ("http://x.example/path", "x.example?q=1", "ftp://x.example", "u:p@x.example", "x.example:0x50"):
        with pytest.raises(ValueError, match="HOTLINE_RECORDING_HOSTS"):
            parse_hosts(bad)


def test_local_and_public() -> None:
    assert is_local("file:///a.wav") and is_local("/a.wav") and is_local("a.wav") and not is_local(TWILIO)
    for private in ("127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.0.9", "169.254.169.254", "100.64.0.1", "::1",
                    "fe80::1", "fc00::1", "::ffff:127.0.0.1", "0.0.0.0", "224.0.0.1", "240.0.0.1"):  # fmt: skip
        assert not public_address(private), private
    for public in ("54.172.60.0", "8.8.8.8", "2600:1f18::1"):
        assert public_address(public), public
