"""COACH_SECRET_KEY rotation: "new,old" signs and seals with the new secret and still accepts the old one."""

from __future__ import annotations

import pytest

from tools.channels.sealing import SealError, TokenSealer
from tools.channels.secret_keys import secret_keys
from tools.channels.stream_token import InvalidStreamToken, issue_stream_token, verify_stream_token

OLD, NEW = "old-secret-for-tests", "new-secret-for-tests"
ROTATING = f"{NEW},{OLD}"
GRANT = {"user_id": "user-a", "call_session_id": "call-1", "purpose": "conversation"}


def test_a_value_sealed_before_a_rotation_opens_during_it():
    sealed = TokenSealer(OLD).seal("user-a", "google.refresh_token", "1//refresh")
    assert TokenSealer(ROTATING).open("user-a", "google.refresh_token", sealed) == "1//refresh"


def test_during_a_rotation_values_are_sealed_with_the_new_secret():
    sealed = TokenSealer(ROTATING).seal("user-a", "google.refresh_token", "1//refresh")
    assert TokenSealer(NEW).open("user-a", "google.refresh_token", sealed) == "1//refresh"
    with pytest.raises(SealError):
        TokenSealer(OLD).open("user-a", "google.refresh_token", sealed)


def test_a_stream_token_signed_before_a_rotation_still_admits_its_call():
    token = issue_stream_token(OLD, **GRANT)
    assert verify_stream_token(ROTATING, token).call_session_id == "call-1"


def test_during_a_rotation_stream_tokens_are_signed_with_the_new_secret():
    token = issue_stream_token(ROTATING, **GRANT)
    assert verify_stream_token(NEW, token).user_id == "user-a"
    with pytest.raises(InvalidStreamToken):
        verify_stream_token(OLD, token)


def test_a_secret_dropped_from_the_list_no_longer_verifies():
    with pytest.raises(InvalidStreamToken):
        verify_stream_token(NEW, issue_stream_token(OLD, **GRANT))


@pytest.mark.parametrize("configured", ["", ",", " , "])
def test_a_secret_list_without_a_secret_is_refused(configured):
    with pytest.raises(ValueError, match="no secret"):
        secret_keys(configured)


def test_spaces_around_the_listed_secrets_are_ignored():
    assert secret_keys(f" {NEW} , {OLD} ") == (NEW, OLD)
