"""policy.risk.outgoing_texts and the content check of decide: every field that leaves the system is read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from settings_rows import user_row

from policy.decision import ActionFacts, Outcome, decide
from policy.effective import effective_settings
from policy.risk import TOOL_POLICIES, outgoing_texts

CARD = "4111 1111 1111 1111"
EMAIL_TO_CONTACT = {"to_email": "mentor@example.org", "subject": "Progress", "body": "Ran 5k", "from_name": "Ann"}


def sequence(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"name": "Morning", "trigger": "manual", "actions": list(steps)}


def step(tool: str, **args: Any) -> dict[str, Any]:
    return {"delay_minutes": 0, "tool": tool, "args": args}


def decide_content(tool: str, args: dict[str, Any]) -> tuple[Outcome, str | None]:
    facts = ActionFacts(tool=tool, policy=TOOL_POLICIES[tool], args=args, confidence=None,
                        now=datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    decision = decide(facts, effective_settings(user_row(allow_external_email=True), []))
    return decision.outcome, decision.code


@pytest.mark.parametrize(
    ("tool", "args", "texts"),
    [
        ("send_email_to_contact", EMAIL_TO_CONTACT, ["Ann", "Progress", "Ran 5k"]),
        ("create_calendar_event", {"title": "Run", "description": "Park", "location": "Gate 4"}, ["Run", "Park", "Gate 4"]),
        ("send_sms", {"message": "Go"}, ["Go"]),
        ("create_task", {"title": "Stays in the user's own list"}, []),
    ],
)
def test_the_outgoing_texts_of_a_tool_are_its_text_fields_in_order(tool: str, args: dict[str, Any],
                                                                  texts: list[str]) -> None:
    assert outgoing_texts(TOOL_POLICIES[tool], args) == texts


def test_the_outgoing_texts_of_a_sequence_are_the_texts_its_steps_send() -> None:
    args = sequence(step("send_sms", message="Wake up"), step("create_task", title="Stretch"),
                    step("send_email", subject="Plan", body="Run at 7"))
    assert outgoing_texts(TOOL_POLICIES["create_action_sequence"], args) == ["Wake up", "Plan", "Run at 7"]


def test_a_card_number_in_the_from_name_of_an_email_to_a_contact_is_content_blocked() -> None:
    args = {**EMAIL_TO_CONTACT, "from_name": f"Ann {CARD}"}
    assert decide_content("send_email_to_contact", args) == (Outcome.DENY, "CONTENT_BLOCKED")


def test_a_card_number_split_across_subject_and_body_is_content_blocked() -> None:
    args = {"subject": "My card 4111 1111", "body": "1111 1111 thanks"}
    assert decide_content("send_email", args) == (Outcome.DENY, "CONTENT_BLOCKED")


def test_a_card_number_in_the_location_of_a_calendar_event_is_content_blocked() -> None:
    args = {"title": "Pay", "start_time": "2026-12-01T10:00", "location": CARD}
    assert decide_content("create_calendar_event", args) == (Outcome.DENY, "CONTENT_BLOCKED")


def test_a_sequence_whose_step_would_send_a_card_number_is_content_blocked_when_created() -> None:
    args = sequence(step("send_sms", message="Hello"), step("send_email", subject="Card", body=CARD))
    assert decide_content("create_action_sequence", args) == (Outcome.DENY, "CONTENT_BLOCKED")


def test_a_sequence_of_ordinary_messages_is_not_content_blocked() -> None:
    args = sequence(step("send_sms", message="Run at 07:30"), step("send_email", subject="Plan", body="10,000 steps"))
    assert decide_content("create_action_sequence", args)[1] != "CONTENT_BLOCKED"
