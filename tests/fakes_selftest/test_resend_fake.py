"""FakeResend over a real socket, driven with httpx (no environment proxies)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fakes.resend import FakeResend
from fakes.server import running_server

Fake = tuple[FakeResend, str]
EMAIL: dict[str, Any] = {
    "from": "Coach <coach@example.com>",
    "to": ["ada@example.com"],
    "subject": "Your plan for tomorrow",
    "html": "<p>Three things.</p>",
    "headers": {"List-Unsubscribe": "<https://coach.example.com/u/1>"},
}


def _post(url: str, key: str | None, body: dict[str, Any], idempotency_key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    with httpx.Client(trust_env=False) as client:
        return client.post(f"{url}/emails", json=body, headers=headers)


def test_send_returns_id_and_records_the_email(resend_fake: Fake) -> None:
    fake, url = resend_fake

    response = _post(url, fake.api_key, EMAIL)

    assert response.status_code == 200
    [email] = fake.emails
    assert response.json() == {"id": email.id}
    assert email.payload == EMAIL


def test_missing_bearer_is_401_missing_api_key(resend_fake: Fake) -> None:
    _, url = resend_fake

    response = _post(url, None, EMAIL)

    assert response.status_code == 401
    assert response.json() == {
        "statusCode": 401,
        "name": "missing_api_key",
        "message": "Missing API key in the authorization header.",
    }


def test_wrong_key_is_403_invalid_api_key(resend_fake: Fake) -> None:
    _, url = resend_fake

    response = _post(url, "re_wrong", EMAIL)

    assert (response.status_code, response.json()["name"]) == (403, "invalid_api_key")


def test_missing_subject_is_422_missing_required_field(resend_fake: Fake) -> None:
    fake, url = resend_fake
    body = {name: value for name, value in EMAIL.items() if name != "subject"}

    response = _post(url, fake.api_key, body)

    assert (response.status_code, response.json()["name"]) == (422, "missing_required_field")
    assert fake.emails == []


def test_malformed_recipient_is_422_validation_error(resend_fake: Fake) -> None:
    fake, url = resend_fake

    response = _post(url, fake.api_key, {**EMAIL, "to": "not-an-address"})

    assert (response.status_code, response.json()["name"]) == (422, "validation_error")


def test_same_idempotency_key_and_body_replays_without_sending_again(resend_fake: Fake) -> None:
    fake, url = resend_fake

    first = _post(url, fake.api_key, EMAIL, idempotency_key="pending-action/42")
    second = _post(url, fake.api_key, EMAIL, idempotency_key="pending-action/42")

    assert second.status_code == 200 and second.json() == first.json()
    assert len(fake.emails) == 1 and len(fake.requests) == 2


def test_same_idempotency_key_with_other_body_is_409(resend_fake: Fake) -> None:
    fake, url = resend_fake
    _post(url, fake.api_key, EMAIL, idempotency_key="pending-action/42")

    response = _post(url, fake.api_key, {**EMAIL, "subject": "Changed"}, idempotency_key="pending-action/42")

    assert (response.status_code, response.json()["name"]) == (409, "invalid_idempotent_request")
    assert len(fake.emails) == 1


@pytest.fixture
def resend_with_clock() -> Iterator[tuple[FakeResend, str, list[float]]]:
    now = [0.0]
    fake = FakeResend("re_test_key", clock=lambda: now[0])
    with running_server(fake.app) as url:
        yield fake, url, now


def test_idempotency_key_expires_after_24_hours(resend_with_clock: tuple[FakeResend, str, list[float]]) -> None:
    fake, url, now = resend_with_clock
    first = _post(url, fake.api_key, EMAIL, idempotency_key="k")
    now[0] += 24 * 3600 + 1

    second = _post(url, fake.api_key, EMAIL, idempotency_key="k")

    assert second.json() != first.json()
    assert len(fake.emails) == 2


def test_injected_429_is_rate_limit_exceeded_with_retry_after(resend_fake: Fake) -> None:
    fake, url = resend_fake
    fake.fail_next(1, 429)

    limited = _post(url, fake.api_key, EMAIL)
    retried = _post(url, fake.api_key, EMAIL)

    assert (limited.status_code, limited.json()["name"]) == (429, "rate_limit_exceeded")
    assert limited.headers["retry-after"] == "1"
    assert retried.status_code == 200 and len(fake.emails) == 1


def test_injected_500_does_not_consume_the_idempotency_key(resend_fake: Fake) -> None:
    fake, url = resend_fake
    fake.fail_next(1, 500)

    failed = _post(url, fake.api_key, EMAIL, idempotency_key="k")
    retried = _post(url, fake.api_key, EMAIL, idempotency_key="k")

    assert (failed.status_code, failed.json()["name"]) == (500, "application_error")
    assert retried.status_code == 200 and len(fake.emails) == 1
