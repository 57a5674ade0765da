"""policy.consent: SMS opt-out / opt-in keywords and plain-language opt-outs."""

from __future__ import annotations

import pytest

from policy.consent import START_KEYWORDS, STOP_KEYWORDS, classify_inbound_sms, is_spoken_opt_out


@pytest.mark.parametrize("keyword", sorted(STOP_KEYWORDS))
def test_every_stop_keyword_opts_out(keyword: str) -> None:
    assert classify_inbound_sms(keyword) == "opt_out"


@pytest.mark.parametrize("keyword", sorted(START_KEYWORDS))
def test_every_start_keyword_opts_in(keyword: str) -> None:
    assert classify_inbound_sms(keyword) == "opt_in"


def test_the_keyword_sets_match_twilios() -> None:
    assert STOP_KEYWORDS == {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
    assert START_KEYWORDS == {"START", "UNSTOP"}


@pytest.mark.parametrize(
    "body", ["stop", "Stop.", "  STOP!!  ", "\nStop\n", "opt-out", "Opt out", "stop all", "Unsubscribe."]
)
def test_keywords_match_in_any_case_with_punctuation_and_spacing(body: str) -> None:
    assert classify_inbound_sms(body) == "opt_out"


@pytest.mark.parametrize("body", ["Start", "start!", " UNSTOP "])
def test_start_keywords_match_in_any_case(body: str) -> None:
    assert classify_inbound_sms(body) == "opt_in"


@pytest.mark.parametrize("body", ["YES", "yes", "Y", "ok"])
def test_yes_is_not_an_opt_in(body: str) -> None:
    assert classify_inbound_sms(body) is None


@pytest.mark.parametrize(
    "body",
    [
        "Let's start the plan tomorrow",
        "Can we end the call early tomorrow?",
        "I want to quit sugar",
        "stopwatch",
    ],
)
def test_keywords_inside_a_sentence_change_nothing(body: str) -> None:
    assert classify_inbound_sms(body) is None


def test_a_sentence_asking_to_stop_texting_is_an_sms_opt_out() -> None:
    assert classify_inbound_sms("Please stop texting me") == "opt_out"


@pytest.mark.parametrize(
    "text",
    [
        "stop calling me",
        "Please stop calling.",
        "I want you to stop calling me",
        "don't call me anymore",
        "Don\u2019t call me again",  # typographic apostrophe
        "do not call me again",
        "Don't call me.",
        "never call this number again",
        "take me off your list",
        "remove me from your calling list",
        "remove my number",
        "I don't want these calls",
        "I do not want any more texts",
        "I don't want to be called",
        "I don't want you calling me",
        "unsubscribe me please",
        "I want to opt out",
        "opt me out",
        "I revoke my consent",
    ],
)
def test_spoken_opt_outs_are_recognised(text: str) -> None:
    assert is_spoken_opt_out(text)


@pytest.mark.parametrize(
    "text",
    [
        "stop",  # barge-in: interrupting the coach
        "stop, let me think",
        "don't stop calling me",
        "please don't stop calling me, I like it",
        "I don't want you to stop calling me",
        "I do not want to unsubscribe",
        "don't call me tomorrow, call me Friday",
        "don't call me before nine",
        "remove me from the 9am session",
        "I stopped smoking last week",
        "can you call me tomorrow",
        "",
    ],
)
def test_other_utterances_are_not_opt_outs(text: str) -> None:
    assert not is_spoken_opt_out(text)
