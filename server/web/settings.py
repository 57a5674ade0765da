"""`/settings`: every setting of `GET /api/me/settings` as one form of cards (DESIGN.md section 9: one input per
setting, named as the API names it, in the API's units).

Saving parses the form into `UserSettingsUpdate` and stores it with `save_my_settings`, exactly as
`PUT /api/me/settings` does: the schema's checks, then the teams' rules (policy.team_rules), then one write, so
a refused field leaves everything unsaved. The form comes back with what was typed and each error next to its
field. What a team holds fixed is a disabled control with the team's reason; a disabled control sends nothing,
so it is never changed from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db import accounts
from policy.team_rules import TeamRule, team_rules
from server.auth import CSRF_FIELD, Principal
from server.errors import ApiError
from server.routes.settings import save_my_settings
from server.schemas import parse_object
from server.schemas.settings import UserSettingsUpdate
from server.web.pages import page, see_other
from server.web.rendering import render

Kind = Literal["switch", "number", "threshold", "time", "choice", "weekday", "days", "topics", "text"]
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
CHOICE_LABELS = {
    "sms": "Text message", "email": "Email", "call": "Phone call",
    "daily": "Daily", "weekly": "Weekly", "biweekly": "Every two weeks", "monthly": "Monthly",
}
TIME_ERROR = "Enter a time as HH:MM, 24-hour (for example 07:30)."
SCHEMA = {
    name: next(option for option in spec["anyOf"] if option.get("type") != "null")
    for name, spec in UserSettingsUpdate.model_json_schema()["properties"].items()
}


@dataclass(frozen=True)
class Setting:
    name: str
    label: str
    kind: Kind
    hint: str = ""


CARDS: tuple[tuple[str, tuple[Setting, ...]], ...] = (
    ("Master switch", (
        Setting("agent_actions_enabled", "Let the coach act for me", "switch",
                "Off: the coach only talks with you; it sends, schedules and calls nothing."),
    )),
    ("Channels", (
        Setting("allow_send_email", "Send email to me", "switch"),
        Setting("allow_send_sms", "Send text messages", "switch"),
        Setting("allow_voice_calls", "Make phone calls", "switch"),
        Setting("allow_create_tasks", "Create tasks", "switch"),
        Setting("allow_schedule_reminders", "Schedule reminders", "switch"),
        Setting("allow_calendar_events", "Add calendar events", "switch"),
        Setting("allow_external_email", "Email my contacts", "switch"),
    )),
    ("Confirmations", (
        Setting("require_confirmation_email", "Ask me before an email", "switch"),
        Setting("require_confirmation_sms", "Ask me before a text message", "switch"),
        Setting("require_confirmation_voice", "Ask me before a phone call", "switch"),
        Setting("require_confirmation_calendar", "Ask me before a calendar event", "switch"),
    )),
    ("Confidence & trust", (
        Setting("require_high_confidence", "Ask me when the coach is unsure", "switch"),
        Setting("confidence_threshold", "Unsure means less sure than", "threshold"),
        Setting("auto_approve_low_risk", "Approve low-risk actions without asking", "switch"),
        Setting("auto_approve_medium_risk", "Approve medium-risk actions without asking", "switch"),
        Setting("auto_approve_high_risk", "Approve high-risk actions without asking", "switch"),
    )),
    ("Quiet hours", (
        Setting("quiet_hours_start", "Quiet from", "time", "No messages or calls between these times."),
        Setting("quiet_hours_end", "Quiet until", "time"),
    )),
    ("Daily limits", (
        Setting("max_emails_per_day", "Emails a day", "number"),
        Setting("max_sms_per_day", "Text messages a day", "number"),
        Setting("max_calls_per_day", "Phone calls a day", "number"),
        Setting("max_external_emails_per_day", "Emails to contacts a day", "number"),
    )),
    ("Habit reminders", (
        Setting("habit_reminders_enabled", "Remind me of my habits", "switch"),
        Setting("habit_reminder_channel", "Remind me by", "choice"),
        Setting("habit_reminder_minutes_before", "Minutes before", "number"),
    )),
    ("Goal check-ins", (
        Setting("goal_checkin_enabled", "Check in on my goals", "switch"),
        Setting("goal_checkin_frequency", "Check-in frequency", "choice"),
        Setting("goal_checkin_day_of_week", "Check-in day", "weekday"),
        Setting("goal_checkin_time", "Check-in time", "time"),
        Setting("goal_checkin_channel", "Check in by", "choice"),
    )),
    ("Proactive outreach", (
        Setting("allow_proactive_outreach", "Let the coach reach out first", "switch"),
        Setting("proactive_outreach_frequency", "Outreach frequency", "choice"),
        Setting("proactive_outreach_topics", "Outreach topics", "topics", "Separate topics with commas."),
        Setting("proactive_outreach_day_of_week", "Outreach day", "weekday"),
        Setting("proactive_outreach_time", "Outreach time", "time"),
        Setting("proactive_outreach_channel", "Reach out by", "choice"),
    )),
    ("Working hours and days", (
        Setting("calendar_working_hours_only", "Put calendar events in working hours only", "switch"),
        Setting("working_hours_start", "Working hours start", "time"),
        Setting("working_hours_end", "Working hours end", "time"),
        Setting("working_days", "Working days", "days"),
    )),
    ("Time zone", (
        Setting("timezone", "Time zone", "text", "A name such as Europe/Berlin or America/New_York."),
    )),
)
SETTINGS = {setting.name: setting for _, settings in CARDS for setting in settings}
# A box left unchecked sends nothing: for these kinds, an enabled control missing from the form means "none".
UNSENT_WHEN_EMPTY = {"switch": False, "days": []}


@dataclass(frozen=True)
class SettingView:
    """One control as the template draws it: what it shows, its bounds, the team's note, the error."""

    setting: Setting
    value: Any  # bool (switch), list[str] (days), str (every other input)
    rule: TeamRule | None = None
    error: str | None = None
    choices: list[tuple[str, str]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"setting-{self.setting.name}"

    @property
    def locked(self) -> bool:
        return self.rule is not None and self.rule.fixed is not None

    @property
    def minimum(self) -> Any:
        bound = SCHEMA[self.setting.name].get("minimum")
        return max(bound, self.rule.minimum) if self.rule and self.rule.minimum is not None else bound

    @property
    def maximum(self) -> Any:
        bound = SCHEMA[self.setting.name].get("maximum")
        return min(bound, self.rule.maximum) if self.rule and self.rule.maximum is not None else bound

    @property
    def percent(self) -> str:
        """The threshold as people read it (0.7 -> "70%"); the input itself keeps the API's 0.7."""
        try:
            return f"{float(self.value):.0%}"
        except ValueError:
            return ""

    @property
    def described_by(self) -> str:
        enforced = self.rule is not None and self.error != self.rule.note  # a refusal repeats the note: say it once
        parts = [f"{self.id}-hint" if self.setting.hint else "", f"{self.id}-enforced" if enforced else "",
                 f"{self.id}-error" if self.error else ""]
        return " ".join(part for part in parts if part)


def _choices(setting: Setting) -> list[tuple[str, str]]:
    if setting.kind == "weekday" or setting.kind == "days":
        return [(str(number), day) for number, day in enumerate(WEEKDAYS)]
    if setting.kind == "choice":
        return [(value, CHOICE_LABELS.get(value, value)) for value in SCHEMA[setting.name]["enum"]]
    return []


def _shown(setting: Setting, stored: Any) -> Any:
    """A stored value as its control holds it."""
    if setting.kind == "switch":
        return bool(stored)
    if setting.kind == "days":
        return [str(day) for day in stored]
    if setting.kind == "topics":
        return ", ".join(stored)
    return str(stored)


def _typed(setting: Setting, form: FormData) -> Any:
    """What the person sent for `setting`, to show it again."""
    if setting.kind == "switch":
        return setting.name in form
    if setting.kind == "days":
        return [str(value) for value in form.getlist(setting.name)]
    return str(form.get(setting.name, ""))


def views(
    stored: Any, rules: dict[str, TeamRule], form: FormData | None = None, errors: dict[str, str] | None = None,
) -> list[tuple[str, list[SettingView]]]:
    """The cards of controls: stored values (as a team's rule lets them apply), or what was typed in `form`."""
    errors = errors or {}
    cards = []
    for title, settings in CARDS:
        shown = []
        for setting in settings:
            rule = rules.get(setting.name)
            value = getattr(stored, setting.name)
            value = _shown(setting, rule.clamp(value) if rule else value)
            if form is not None and not (rule and rule.fixed is not None):
                value = _typed(setting, form)
            shown.append(SettingView(setting, value, rule, errors.get(setting.name), _choices(setting)))
        cards.append((title, shown))
    return cards


def submitted(form: FormData, rules: dict[str, TeamRule]) -> dict[str, Any]:
    """The form as the fields of `PUT /api/me/settings`. Every sent field goes to the schema (an unknown one is
    refused there, as by the API); an enabled checkbox that sent nothing is off."""
    data: dict[str, Any] = {}
    for name in form.keys():
        if name == CSRF_FIELD:
            continue
        values = [str(value) for value in form.getlist(name)]
        kind = SETTINGS[name].kind if name in SETTINGS else None
        if kind == "days":
            data[name] = values
        elif kind == "topics":
            data[name] = [topic.strip() for topic in values[0].split(",") if topic.strip()]
        else:
            data[name] = values[0]
    for name, setting in SETTINGS.items():
        locked = name in rules and rules[name].fixed is not None
        if setting.kind in UNSENT_WHEN_EMPTY and name not in data and not locked:
            data[name] = UNSENT_WHEN_EMPTY[setting.kind]
    return data


def field_errors(refused: ApiError) -> dict[str, str]:
    """The 422's field errors by setting name (`working_days.0` is the `working_days` control's); an error of
    no control (an unknown field, a refused body) under ''."""
    fields = (refused.details or {}).get("fields") or [{"field": "", "message": refused.message}]
    errors: dict[str, str] = {}
    for problem in fields:
        name = problem["field"].split(".")[0]
        if name not in SETTINGS:
            name, message = "", f"{problem['field']}: {problem['message']}" if problem["field"] else problem["message"]
        else:
            message = TIME_ERROR if SETTINGS[name].kind == "time" else problem["message"]
        errors[name] = f"{errors[name]} {message}" if name in errors and message not in errors[name] else message
    return errors


async def _rules(session: AsyncSession, user_id: str) -> dict[str, TeamRule]:
    return team_rules(await accounts.named_team_settings(session, user_id))


def _page(
    request: Request, viewer: Principal, cards: list[tuple[str, list[SettingView]]], *,
    errors: dict[str, str] | None = None, saved: bool = False, status_code: int = 200,
) -> Response:
    problems = [(view, view.error) for _, shown in cards for view in shown if view.error]
    context = {"cards": cards, "problems": problems, "other_error": (errors or {}).get(""), "saved": saved}
    return render(request, "settings.html", context, viewer=viewer, status_code=status_code)


@page
async def settings_page(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    stored = await accounts.user_settings(session, viewer.user_id)
    cards = views(stored, await _rules(session, viewer.user_id))
    return _page(request, viewer, cards, saved=request.query_params.get("saved") == "1")


@page
async def save_settings(request: Request, session: AsyncSession, viewer: Principal) -> Response:
    form = await request.form()
    rules = await _rules(session, viewer.user_id)
    try:
        await save_my_settings(session, viewer.user_id, parse_object(submitted(form, rules), UserSettingsUpdate))
    except ApiError as refused:
        if refused.status != 422:
            raise
        errors = field_errors(refused)
        stored = await accounts.user_settings(session, viewer.user_id)
        return _page(request, viewer, views(stored, rules, form, errors), errors=errors, status_code=422)
    return see_other("/settings?saved=1")


routes = [
    Route("/settings", settings_page, methods=["GET"]),
    Route("/settings", save_settings, methods=["POST"]),
]
