"""The schedule_reminder declaration the model sees: DESIGN's argument names plus a zone, structured time."""

from __future__ import annotations

from tools.catalogue import function_declarations


def reminder_parameters() -> dict:
    [declaration] = function_declarations(["schedule_reminder"])
    return declaration.parameters_json_schema["properties"]


def test_reminder_declaration_keeps_the_design_names_and_adds_a_zone() -> None:
    assert set(reminder_parameters()) == {"message", "remind_at", "recurrence", "channel", "timezone", "confidence"}


def test_reminder_declaration_asks_for_a_local_time_without_offset() -> None:
    assert "local ISO 8601 datetime WITHOUT offset" in reminder_parameters()["remind_at"]["description"]


def test_reminder_declaration_shows_the_weekday_rule() -> None:
    assert "'every weekday at 6:30' -> FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR" in reminder_parameters()["recurrence"]["description"]
