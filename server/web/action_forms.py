"""The edit form of a pending action: one field per argument of the tool, derived from the tool's argument model
in the catalogue (`tools.catalogue.TOOL_ARGS`), and the form's values turned back into arguments.

The model's own validation is what tells which field is wrong; `tools.pending.confirm` validates the same
arguments again (with the same model) and checks policy, exactly as for `POST /api/actions/pending/{id}/confirm`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError

from tools.catalogue import TOOL_ARGS

LONG_TEXT = 300  # a string allowed to be longer than this is edited in a text area


@dataclass(frozen=True)
class FormField:
    """One input of the edit form, as the template draws it."""

    name: str
    label: str
    kind: str  # text | textarea | number | select | date | json
    value: str
    required: bool
    options: tuple[str, ...] = ()
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class EditForm:
    fields: tuple[FormField, ...]
    error: str | None = None  # a problem of the whole form, or of the action as edited
    args: dict[str, Any] = field(default_factory=dict)  # the arguments the values make, when valid

    @property
    def valid(self) -> bool:
        return self.error is None and all(f.error is None for f in self.fields)


def _plain(schema: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
    """A property's schema without its `null` alternative, and whether null was allowed."""
    alternatives = schema.get("anyOf")
    if not alternatives:
        return schema, False
    kept = [option for option in alternatives if option.get("type") != "null"]
    return (kept[0] if len(kept) == 1 else {"type": "object"}), len(kept) < len(alternatives)


def _kind(schema: Mapping[str, Any]) -> str:
    if "enum" in schema:
        return "select"
    if schema.get("type") == "integer":
        return "number"
    if schema.get("type") == "string":
        if schema.get("format") == "date":
            return "date"
        return "textarea" if schema.get("maxLength", LONG_TEXT + 1) > LONG_TEXT else "text"
    return "json"


def _shown(kind: str, value: Any) -> str:
    if value is None:
        return ""
    return json.dumps(value, indent=2) if kind == "json" else str(value)


def blank_form(tool: str, args: Mapping[str, Any]) -> EditForm:
    """The form for `tool`, filled in with `args` (the proposal's arguments)."""
    schema = TOOL_ARGS[tool].model_json_schema()
    required = set(schema.get("required", ()))
    fields = []
    for name, prop in schema.get("properties", {}).items():
        plain, _ = _plain(prop)
        kind = _kind(plain)
        fields.append(
            FormField(
                name=name, label=name.replace("_", " ").capitalize(), kind=kind, value=_shown(kind, args.get(name)),
                required=name in required, options=tuple(plain.get("enum", ())), max_length=plain.get("maxLength"),
                minimum=plain.get("minimum"), maximum=plain.get("maximum"),
            )
        )
    return EditForm(tuple(fields))


def _parsed(form_field: FormField) -> tuple[Any, str | None]:
    """The argument value a field's text stands for, or the reason it stands for none."""
    if form_field.kind == "number":
        try:
            return int(form_field.value), None
        except ValueError:
            return None, "Enter a whole number."
    if form_field.kind == "json":
        try:
            return json.loads(form_field.value), None
        except ValueError:
            return None, "Enter valid JSON."
    return form_field.value, None


def filled_form(tool: str, submitted: Mapping[str, str]) -> EditForm:
    """The form with the values the person submitted, each field's problem next to it, and the arguments
    they make when the tool's model accepts them. An empty optional field is left out (its default holds)."""
    fields, args = [], {}
    for blank in blank_form(tool, {}).fields:
        entered = replace(blank, value=str(submitted.get(blank.name, "")).strip())  # as the model strips it
        if entered.value == "" and not entered.required:
            fields.append(entered)
            continue
        value, problem = _parsed(entered)
        fields.append(replace(entered, error=problem))
        if problem is None:
            args[entered.name] = value
    form = EditForm(tuple(fields), args=args)
    if not form.valid:
        return form
    try:
        TOOL_ARGS[tool].model_validate(args)
    except ValidationError as invalid:
        return _with_errors(form, invalid)
    return form


def _with_errors(form: EditForm, invalid: ValidationError) -> EditForm:
    """The model's problems placed next to their fields; one about the whole action goes above the form."""
    by_field: dict[str, str] = {}
    general: list[str] = []
    for problem in invalid.errors(include_url=False, include_input=False):
        location = problem.get("loc") or ()
        message = str(problem.get("msg", "not valid")).removeprefix("Value error, ")
        message = message[:1].upper() + message[1:]
        if location and isinstance(location[0], str) and any(f.name == location[0] for f in form.fields):
            by_field.setdefault(location[0], message)
        else:
            general.append(message)
    fields = tuple(replace(f, error=by_field.get(f.name, f.error)) for f in form.fields)
    return EditForm(fields, error="; ".join(general) or None, args=form.args)


def with_refusal(form: EditForm, message: str) -> EditForm:
    """The form again, with why the action as edited was refused (policy, content, a time already past)."""
    return replace(form, error=message[:1].upper() + message[1:])
