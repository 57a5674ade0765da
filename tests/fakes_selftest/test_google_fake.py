"""FakeGoogle over a real socket, driven with plain httpx: the refusals our client relies on."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from fakes.google import FakeGoogle
from fakes.server import running_server

CLIENT_ID, CLIENT_SECRET = "client-id", "client-secret"
REDIRECT = "https://coach.example.test/oauth/google/callback"
VERIFIER = "v" * 64
Fake = tuple[FakeGoogle, str]


@pytest.fixture
def google() -> Iterator[Fake]:
    fake = FakeGoogle(CLIENT_ID, CLIENT_SECRET)
    with running_server(fake.app) as url:
        yield fake, url


def _code(url: str) -> str:
    challenge = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
    query = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT, "response_type": "code", "state": "s",
             "code_challenge": challenge, "code_challenge_method": "S256"}
    with httpx.Client(trust_env=False) as client:
        answer = client.get(f"{url}/o/oauth2/v2/auth?{urlencode(query)}")
    return parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]


def _token(url: str, **form: str) -> httpx.Response:
    with httpx.Client(trust_env=False) as client:
        return client.post(f"{url}/token", data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **form})


def _exchange(url: str, code: str, verifier: str = VERIFIER) -> httpx.Response:
    return _token(url, grant_type="authorization_code", code=code, code_verifier=verifier, redirect_uri=REDIRECT)


def test_a_code_is_exchanged_once_and_only_with_its_verifier(google: Fake) -> None:
    _, url = google
    assert _exchange(url, _code(url), verifier="w" * 64).json()["error"] == "invalid_grant"
    code = _code(url)
    assert "refresh_token" in _exchange(url, code).json()
    assert _exchange(url, code).json()["error"] == "invalid_grant"


def test_a_wrong_client_secret_is_invalid_client(google: Fake) -> None:
    _, url = google
    response = _token(url, grant_type="authorization_code", code=_code(url), client_secret="nope")
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")


def test_revoking_the_refresh_token_ends_refresh_and_its_access_tokens(google: Fake) -> None:
    _, url = google
    grant = _exchange(url, _code(url)).json()
    with httpx.Client(trust_env=False) as client:
        assert client.post(f"{url}/revoke", data={"token": grant["refresh_token"]}).status_code == 200
        busy = client.post(f"{url}/calendar/v3/freeBusy", headers={"Authorization": f"Bearer {grant['access_token']}"},
                           json={"timeMin": "2026-11-25T00:00:00Z", "timeMax": "2026-11-26T00:00:00Z", "items": [{"id": "primary"}]})
    assert busy.status_code == 401
    assert _token(url, grant_type="refresh_token", refresh_token=grant["refresh_token"]).json()["error"] == "invalid_grant"


@pytest.mark.parametrize(("event_id", "status"), [("abc", 400), ("xyz12", 400), ("0123456789abcdefuv", 200)])
def test_event_ids_must_be_base32hex(google: Fake, event_id: str, status: int) -> None:
    _, url = google
    token = _exchange(url, _code(url)).json()["access_token"]
    body = {"id": event_id, "summary": "x", "start": {"dateTime": "2026-11-25T10:00:00Z"},
            "end": {"dateTime": "2026-11-25T11:00:00Z"}}
    with httpx.Client(trust_env=False) as client:
        answer = client.post(f"{url}/calendar/v3/calendars/primary/events", json=body,
                             headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == status
