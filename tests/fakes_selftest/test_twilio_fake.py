"""The real twilio-python client, built by the production factory, against FakeTwilioAPI."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client
from twilio.twiml.voice_response import Connect, VoiceResponse

from fakes.twilio_api import FakeTwilioAPI
from tools.channels.twilio_client import RebasedTwilioHttpClient, build_twilio_client

Fake = tuple[FakeTwilioAPI, str]
CALLER = "+15005550006"
USER = "+15551234567"


MakeClient = Callable[..., Client]


@pytest.fixture
def make_client(twilio_fake: Fake) -> Iterator[MakeClient]:
    """`make_client(auth_token=None)`: the production client aimed at the fake; closed afterwards."""
    fake, url = twilio_fake
    made: list[Client] = []

    def make(auth_token: str | None = None) -> Client:
        made.append(build_twilio_client(fake.account_sid, auth_token or fake.auth_token, url))
        return made[-1]

    yield make
    for client in made:
        client.http_client.session.close()


def _twiml() -> str:
    response = VoiceResponse()
    connect = Connect()
    connect.stream(url="wss://coach.example.com/twilio/media").parameter(name="lang", value="en")
    response.append(connect)
    return str(response)


def test_message_create_returns_queued_sms_resource(twilio_fake: Fake, make_client: MakeClient) -> None:
    fake, _ = twilio_fake
    client = make_client()

    message = client.messages.create(
        to=USER, from_=CALLER, body="Time for your check-in", status_callback="https://coach.example.com/status"
    )

    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert message.status == "queued"
    assert message.date_created is not None
    [sent] = fake.messages
    assert sent.param("Body") == "Time for your check-in"
    assert sent.param("StatusCallback") == "https://coach.example.com/status"
    assert sent.response["sid"] == message.sid


def test_call_create_sends_twiml_and_repeated_status_callback_events(
    twilio_fake: Fake, make_client: MakeClient
) -> None:
    fake, _ = twilio_fake
    client = make_client()
    events = ["initiated", "ringing", "answered", "completed"]

    call = client.calls.create(
        to=USER,
        from_=CALLER,
        twiml=_twiml(),
        status_callback="https://coach.example.com/twilio/status",
        status_callback_event=events,
        machine_detection="Enable",
    )

    assert call.sid.startswith("CA") and call.status == "queued"
    [created] = fake.calls
    assert created.form["StatusCallbackEvent"] == events
    assert created.param("Twiml") == _twiml()
    assert created.param("MachineDetection") == "Enable"


def test_call_update_with_status_completed_ends_the_call(twilio_fake: Fake, make_client: MakeClient) -> None:
    fake, _ = twilio_fake
    client = make_client()
    call = client.calls.create(to=USER, from_=CALLER, twiml=_twiml())

    updated = client.calls(call.sid).update(status="completed")

    assert updated.status == "completed"
    [update] = fake.call_updates
    assert update.path.endswith(f"/Calls/{call.sid}.json") and update.param("Status") == "completed"


def test_unsubscribed_recipient_surfaces_as_rest_exception_21610(twilio_fake: Fake, make_client: MakeClient) -> None:
    fake, _ = twilio_fake
    fake.fail_next(1, 400, code=21610, message="Attempt to send to unsubscribed recipient")
    client = make_client()

    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=USER, from_=CALLER, body="hi")

    assert raised.value.code == 21610 and raised.value.status == 400
    assert fake.messages == []


def test_injected_failures_hit_only_the_next_n_creates(twilio_fake: Fake, make_client: MakeClient) -> None:
    fake, _ = twilio_fake
    fake.fail_next(2, 500)
    client = make_client()

    codes = []
    for _ in range(2):
        with pytest.raises(TwilioRestException) as raised:
            client.messages.create(to=USER, from_=CALLER, body="hi")
        codes.append((raised.value.status, raised.value.code))
    client.messages.create(to=USER, from_=CALLER, body="hi")

    assert codes == [(500, 20500), (500, 20500)]
    assert len(fake.messages) == 1 and len(fake.requests) == 3


def test_injected_list_failures_hit_only_lists_as_a_page_error_with_the_status(
    twilio_fake: Fake, make_client: MakeClient
) -> None:
    fake, _ = twilio_fake
    fake.fail_next(1, 503, kind="list")
    client = make_client()
    client.messages.create(to=USER, from_=CALLER, body="hi")

    with pytest.raises(TwilioException) as raised:
        client.messages.list(to=USER, limit=5)
    [listed] = client.messages.list(to=USER, limit=5)

    # twilio-python raises a list's error as a bare TwilioException carrying the response, not a TwilioRestException
    assert not isinstance(raised.value, TwilioRestException)
    assert raised.value.args[1].status_code == 503
    assert listed.body == "hi"


def test_wrong_auth_token_is_rejected_with_20003(twilio_fake: Fake, make_client: MakeClient) -> None:
    fake, _ = twilio_fake
    client = make_client("wrong-token")

    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=USER, from_=CALLER, body="hi")

    assert (raised.value.status, raised.value.code) == (401, 20003)
    assert fake.requests[0].status == 401


def test_call_create_without_twiml_or_url_is_rejected(make_client: MakeClient) -> None:
    client = make_client()

    with pytest.raises(TwilioRestException) as raised:
        client.calls.create(to=USER, from_=CALLER)

    assert raised.value.status == 400


def test_rebased_client_ignores_proxy_environment(
    twilio_fake: Fake, make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, _ = twilio_fake
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    client = make_client()

    client.messages.create(to=USER, from_=CALLER, body="hi")

    assert len(fake.messages) == 1


def test_rebase_keeps_base_path_prefix_and_query() -> None:
    http_client = RebasedTwilioHttpClient("http://127.0.0.1:8080/twilio/")

    rebased = http_client.rebase("https://api.twilio.com/2010-04-01/Accounts/AC1/Calls.json?PageSize=5")

    assert rebased == "http://127.0.0.1:8080/twilio/2010-04-01/Accounts/AC1/Calls.json?PageSize=5"


def test_delay_slows_every_request(twilio_fake: Fake, make_client: MakeClient) -> None:
    fake, _ = twilio_fake
    fake.delay_s = 0.3
    client = make_client()

    started = time.monotonic()
    client.messages.create(to=USER, from_=CALLER, body="hi")

    assert time.monotonic() - started >= 0.3
