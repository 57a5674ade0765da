"""The Twilio channel never sends twice: a create whose answer was lost is found, not repeated."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from fakes.server import running_server
from fakes.twilio_api import FakeTwilioAPI
from tools.channels.retry import RetryPolicy
from tools.channels.twilio import TwilioChannel
from tools.channels.twilio_client import build_twilio_client
from tools.results import ErrorCode, ToolFailure

ACCOUNT_SID = "AC" + "7" * 32
AUTH_TOKEN = "channel-token"
OUR_NUMBER = "+14155550100"
RECIPIENT = "+14155550123"
FAST_RETRIES = RetryPolicy(attempts=3, first_delay_s=0.01)
ANSWER_URL = "https://coach.example.com/twilio/outbound"


@pytest.fixture
def fake() -> Iterator[tuple[FakeTwilioAPI, str]]:
    twilio = FakeTwilioAPI(ACCOUNT_SID, AUTH_TOKEN)
    with running_server(twilio.app) as url:
        yield twilio, url


def channel_to(url: str, timeout_s: float = 5.0) -> TwilioChannel:
    return TwilioChannel(build_twilio_client(ACCOUNT_SID, AUTH_TOKEN, url, timeout_s), OUR_NUMBER, FAST_RETRIES)


async def test_an_sms_whose_answer_was_lost_is_found_not_sent_again(fake):
    twilio, url = fake
    twilio.lose_next_answers(1, status=502)
    sid = await channel_to(url).send_sms(RECIPIENT, "Time for your walk")
    assert [(r.method, r.status) for r in twilio.requests] == [("POST", 502), ("GET", 200)]
    [listed] = twilio.requests[1].response["messages"]
    assert (listed["sid"], listed["body"]) == (sid, "Time for your walk")
    assert len(twilio.messages) == 1


async def test_an_sms_whose_request_timed_out_is_found_not_sent_again(fake):
    twilio, url = fake
    twilio.lose_next_answers(1, hang_s=1.0)
    sid = await channel_to(url, timeout_s=0.3).send_sms(RECIPIENT, "Drink some water")
    assert [r.method for r in twilio.requests] == ["POST", "GET"]
    assert [message["sid"] for message in twilio.requests[1].response["messages"]] == [sid]


async def test_a_retry_after_a_plain_server_error_sends_the_sms_once(fake):
    twilio, url = fake
    twilio.fail_next(1, 500)
    await channel_to(url).send_sms(RECIPIENT, "Stretch")
    assert [(r.method, r.status) for r in twilio.requests] == [("POST", 500), ("GET", 200), ("POST", 201)]
    assert [sms.param("Body") for sms in twilio.messages] == ["Stretch"]


async def test_an_earlier_sms_with_another_body_is_not_taken_for_the_lost_one(fake):
    twilio, url = fake
    channel = channel_to(url)
    await channel.send_sms(RECIPIENT, "Good morning")
    twilio.fail_next(1, 503)
    await channel.send_sms(RECIPIENT, "Good night")
    assert [sms.param("Body") for sms in twilio.messages] == ["Good morning", "Good night"]


async def test_a_call_whose_answer_was_lost_is_found_not_dialled_again(fake):
    twilio, url = fake
    twilio.lose_next_answers(1)
    placed = await channel_to(url).place_call(RECIPIENT, ANSWER_URL, "https://coach.example.com/twilio/status")
    [call] = twilio.calls
    assert call.param("To") == RECIPIENT
    assert placed.sid == twilio.requests[1].response["calls"][0]["sid"]


async def test_a_call_whose_answer_was_lost_is_found_after_a_lookup_that_failed_once(fake):
    twilio, url = fake
    twilio.lose_next_answers(1, status=503)
    twilio.fail_next(1, 429, kind="list")
    placed = await channel_to(url).place_call(RECIPIENT, TWIML, "https://coach.example.com/twilio/status")
    assert [(r.method, r.status) for r in twilio.requests] == [("POST", 503), ("GET", 429), ("GET", 200)]
    assert [call.param("To") for call in twilio.calls] == [RECIPIENT]
    assert placed.sid == twilio.requests[2].response["calls"][0]["sid"]


async def test_an_earlier_attempt_that_got_through_is_adopted_before_any_create(fake):
    twilio, url = fake
    channel = channel_to(url)
    attempted = datetime.now(UTC)
    first = await channel.send_sms(RECIPIENT, "Take your vitamins")  # an earlier attempt, outcome not recorded
    again = await channel.send_sms(RECIPIENT, "Take your vitamins", attempted_since=attempted)
    assert again == first
    assert [r.method for r in twilio.requests] == ["POST", "GET"]


async def test_an_earlier_attempt_that_sent_nothing_is_looked_for_then_sent(fake):
    twilio, url = fake
    await channel_to(url).send_sms(RECIPIENT, "Meditate", attempted_since=datetime.now(UTC))
    assert [r.method for r in twilio.requests] == ["GET", "POST"]
    assert [sms.param("Body") for sms in twilio.messages] == ["Meditate"]


async def test_an_unreachable_twilio_fails_as_service_unavailable(fake):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(ToolFailure) as failure:
        await channel_to(f"http://127.0.0.1:{port}").send_sms(RECIPIENT, "Hello")
    assert failure.value.code == ErrorCode.SERVICE_UNAVAILABLE
    assert "Twilio did not answer" in failure.value.message
