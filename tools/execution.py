"""The parts of an action's run that dispatch and the pending-action path share: who asks (Actor), for
whom (Subject), argument parsing, the facts policy needs, execution with quota, and recorded denials."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from db import accounts, consent
from db.coaching import saved_contact
from db.group_commit import Transaction, Write, commit_writes
from db.models import FeatureFlag, User
from policy.addresses import InvalidAddress, normalize_email
from policy.content import fields_redactor
from policy.decision import ActionFacts
from policy.effective import EffectiveSettings, effective_settings
from policy.flags import flag_enabled, rule_of
from policy.quotas import QuotaBackendUnavailable, QuotaExceeded, Reservation
from policy.risk import DELIVERY_TOOLS, TOOL_POLICIES, ToolPolicy, outgoing_texts
from tools.audit import ActionRecord, HistoryRows
from tools.catalogue import TOOL_ARGS, CreateActionSequence, CreateCalendarEvent, ScheduleReminder, ToolArgs
from tools.channels.outbox import DELIVERED
from tools.executors import EXECUTORS, PREPARERS, Execution, Prepared
from tools.payloads import ARGUMENTS_MAX_BYTES, recordable, stored_bytes, unstorable
from tools.reads import Reads
from tools.results import AgentToolResult, ErrorCode, ToolFailure
from tools.scheduler.sequences import fire_triggers
from tools.services import ToolServices
from tools.timespec import TimeSpecError, zone_named

log = logging.getLogger("coach.actions")
SCHEDULER = "scheduler"  # the source of what the scheduler delivers

# `on_finish(transaction, result)` runs in the transaction that writes an action's outcome to history,
# before it commits, so a caller's own record of the outcome (a pending action's row, a scheduled job's
# status) is written with it or not at all. That transaction may be shared with other actions' outcomes (a
# group commit, `db.group_commit`) and, if it fails, run again alone: `on_finish` changes nothing but the
# transaction.
OnFinish = Callable[[Transaction, AgentToolResult], Awaitable[None]]


@dataclass(frozen=True)
class Actor:
    """Who is asking, and from where.

    `answered_since_proposal(action_id)` is a model-driven session's proof that the human spoke (voice) or
    wrote (chat) after that action was proposed; without it a model cannot confirm anything.
    """

    user_id: str
    source: str  # api | chat | voice | browser | scheduler
    team_roles: dict[str, str] = field(default_factory=dict)
    call_session_id: str | None = None
    answered_since_proposal: Callable[[str], bool] | None = None
    conversation_id: str | None = None  # the call or chat the request comes from (model usage, traces)

    @property
    def team_ids(self) -> tuple[str, ...]:
        return tuple(self.team_roles)

    @property
    def primary_team_id(self) -> str | None:
        return next(iter(self.team_roles), None)

    def is_admin_of(self, team_id: str | None) -> bool:
        return team_id is not None and self.team_roles.get(team_id) in accounts.ADMIN_ROLES


@dataclass(frozen=True)
class Subject:
    """The user an action is for, with their effective settings, loaded in one session."""

    user: User
    settings: EffectiveSettings


async def load_subject(reads: Reads, user_id: str) -> Subject:
    found = await reads.user_and_teams(user_id)
    if found is None:
        raise ToolFailure(ErrorCode.NOT_FOUND, "user not found")
    return await subject_of(reads, found)


async def subject_of(reads: Reads, found: accounts.UserAndTeams) -> Subject:
    """The subject for a user already loaded; a user without a settings row gets the defaults."""
    settings = found.settings or await accounts.user_settings(reads.session(), found.user.id)
    return Subject(found.user, effective_settings(settings, found.teams, found.team_ids))


def parse_args(tool: str, raw: dict[str, Any]) -> tuple[ToolArgs, float | None]:
    """Validate `raw` against the tool's model; `confidence` travels beside the arguments."""
    if problem := unstorable(raw or {}):
        raise ToolFailure(ErrorCode.INVALID_ARGUMENT, f"invalid arguments for {tool}: {problem}")
    if (size := stored_bytes(raw or {})) > ARGUMENTS_MAX_BYTES:
        raise ToolFailure(
            ErrorCode.INVALID_ARGUMENT,
            f"invalid arguments for {tool}: {size} bytes of arguments; at most {ARGUMENTS_MAX_BYTES}",
            {"size_bytes": size, "limit_bytes": ARGUMENTS_MAX_BYTES},
        )
    args = dict(raw or {})
    confidence = checked_confidence(args.pop("confidence", None))
    try:
        return TOOL_ARGS[tool].model_validate(args), confidence
    except ValidationError as exc:
        raise ToolFailure(ErrorCode.INVALID_ARGUMENT, f"invalid arguments for {tool}: {_problems(exc)}") from None


def checked_confidence(value: Any) -> float | None:
    """`value` when it is absent or a finite number in 0..1; otherwise the call is refused."""
    if value is None:
        return None
    if not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ToolFailure(ErrorCode.INVALID_ARGUMENT, "confidence must be a number between 0 and 1")
    return value


def _problems(exc: ValidationError, shown: int = 5, name_chars: int = 60) -> str:
    """The first few problems, each named by its (shortened) field path: the message is returned to the
    caller and recorded, so a call with thousands of unknown or enormous keys must not make it large."""
    errors = exc.errors(include_url=False, include_input=False)
    problems = [
        f"{'.'.join(str(p) for p in e['loc'])[:name_chars] or 'arguments'}: {e['msg']}" for e in errors[:shown]
    ]
    more = f"; and {len(errors) - shown} more" if len(errors) > shown else ""
    return "; ".join(problems) + more


def prepare(tool: str, args: ToolArgs, subject: Subject, now: datetime, source: str) -> Prepared:
    """`args` pinned down by the tool's preparer, if it has one (ToolFailure when they cannot work)."""
    preparer = PREPARERS.get(tool)
    return preparer(args, ZoneInfo(subject.settings.timezone), now, source) if preparer else Prepared(args)


def tool_flag_enabled(flag: FeatureFlag | None, user_id: str, team_ids: tuple[str, ...]) -> bool:
    """A tool is behind a flag when its flag (`tool:<name>`) exists; without one it is available."""
    if flag is None:
        return True
    return flag_enabled(rule_of(flag), user_id, team_ids)


@dataclass(frozen=True)
class _Recipient:
    """Whoever the action reaches: the address and consent channel for the opt-out check, or why it
    cannot reach them."""

    address: str | None = None
    channel: str | None = None
    problem: str | None = None


async def _recipient(reads: Reads, tool: str, user: User, args: ToolArgs) -> _Recipient:
    if tool in ("send_sms", "make_voice_call"):
        channel = "sms" if tool == "send_sms" else "call"
        return _Recipient(user.phone, channel, None if user.phone else "the user has no phone number on file")
    if tool == "send_email":
        return _Recipient(user.email, "email", None if user.email else "the user has no email address on file")
    if tool == "send_email_to_contact":
        try:
            address = normalize_email(args.to_email)  # type: ignore[attr-defined]
        except InvalidAddress as exc:
            return _Recipient(None, "email", str(exc))
        if await saved_contact(reads.session(), user.id, address) is None:
            return _Recipient(address, "email", f"{address} is not one of the user's saved contacts")
        return _Recipient(address, "email")
    return _Recipient()


async def _opt_out_reason(reads: Reads, recipient: _Recipient) -> str | None:
    if recipient.address is None or recipient.channel is None:
        return None
    return consent.opt_out_reason(await reads.latest_consent(recipient.address, recipient.channel), recipient.channel)


def _event_window(
    args: ToolArgs, settings: EffectiveSettings, now: datetime
) -> tuple[tuple[datetime, datetime] | None, str | None]:
    """A calendar event's [start, end) for the working-hours check, or why its start time is unusable."""
    if not isinstance(args, CreateCalendarEvent):
        return None, None
    try:
        return args.window(zone_named(settings.timezone), now), None
    except TimeSpecError as exc:
        return None, str(exc)


def delivered_policies(tool: str, args: ToolArgs) -> tuple[ToolPolicy, ...]:
    """The tools `tool` will run later with these arguments: a reminder's delivery on its channel, each
    step of a sequence (and what that step delivers in turn)."""
    if isinstance(args, ScheduleReminder):
        return (TOOL_POLICIES[DELIVERY_TOOLS[args.channel]],)
    if isinstance(args, CreateActionSequence):
        return tuple(
            policy
            for step in args.actions
            for policy in (
                TOOL_POLICIES[step.tool], *delivered_policies(step.tool, TOOL_ARGS[step.tool].model_validate(step.args))
            )
        )
    return ()


async def gather_facts(
    reads: Reads, subject: Subject, tool: str, args: ToolArgs, confidence: float | None, now: datetime,
    *, interpreted: bool = True,
) -> ActionFacts:
    policy = TOOL_POLICIES[tool]
    recipient = await _recipient(reads, tool, subject.user, args)
    event_window, argument_problem = _event_window(args, subject.settings, now)
    return ActionFacts(
        tool=tool,
        policy=policy,
        args=args.model_dump(mode="json"),
        confidence=confidence,
        now=now,
        recipient_phone=recipient.address if policy.outbound_phone else None,
        recipient_problem=recipient.problem,
        opt_out_reason=await _opt_out_reason(reads, recipient),
        flag_enabled=tool_flag_enabled(await reads.tool_flag(tool), subject.user.id, subject.settings.team_ids),
        event_window=event_window,
        argument_problem=argument_problem,
        delivers=delivered_policies(tool, args),
        interpreted=interpreted,
    )


async def record_denial(
    services: ToolServices,
    record: ActionRecord,
    payload: dict[str, Any],
    code: str | ErrorCode | None,
    message: str,
    details: dict[str, Any] | None = None,
    on_finish: OnFinish | None = None,
) -> AgentToolResult:
    code = ErrorCode(code or ErrorCode.PERMISSION_DENIED)
    if code is ErrorCode.CONTENT_BLOCKED:
        payload = record.redact(payload, fields_redactor(outgoing_texts(TOOL_POLICIES[record.tool], payload)))
    payload = recordable(payload)
    record.trace("tool_result", success=False, code=code.value)
    result = AgentToolResult.fail(code, message, details)
    rows = record.rows("denied", payload, error_code=code.value, error_message=message)
    await _record_outcome(services, rows, result, on_finish)
    log.info("action denied", extra={"tool": record.tool, "code": code.value})
    return result


async def execute(
    services: ToolServices,
    record: ActionRecord,
    subject: Subject,
    args: ToolArgs,
    payload: dict[str, Any],
    on_finish: OnFinish | None = None,
    approved_by: str | None = None,
) -> AgentToolResult:
    """Reserve quota, run the executor, record the outcome (with `on_finish`). `approved_by`: the action
    whose recorded human yes covers this one (what the executor sets up keeps it; see `dispatch`)."""
    policy = TOOL_POLICIES[record.tool]
    reservation = await _reserve(services, record, subject, policy, payload, on_finish)
    if isinstance(reservation, AgentToolResult):
        return reservation
    async with services.sessions() as session:
        run = Execution(
            session, services, subject.user, subject.settings, record.action_id, record.source, services.clock(),
            record.attempted_since, approved_by,
        )
        try:
            data = await EXECUTORS[record.tool](run, args)
            await fire_triggers(session, record.user_id, record.tool, data, run.now)  # sequences waiting on this
        except ToolFailure as failure:
            return await _failed(services, session, record, payload, reservation, failure, on_finish)
        except Exception:
            log.exception("executor crashed", extra={"tool": record.tool})
            await session.rollback()
            failure = ToolFailure(ErrorCode.SERVICE_UNAVAILABLE, "the action failed unexpectedly; nothing was sent")
            return await _failed(services, session, record, payload, reservation, failure, on_finish)
        record.trace("tool_result", success=True)
        result = AgentToolResult.ok(data, message=_done(record.tool, data))
        await _record_outcome(services, record.rows("executed", payload, result=data), result, on_finish, session)
    if reservation is not None:
        await _commit_quota(services, reservation)
    return result


def _done(tool: str, data: dict[str, Any]) -> str:
    """What the caller hears of an executed action: one that went to the development outbox says so, since
    nothing reached anyone."""
    return f"{tool} {DELIVERED}" if data.get("delivery") == "outbox" else f"{tool} done"


async def _record_outcome(
    services: ToolServices,
    rows: HistoryRows,
    result: AgentToolResult,
    on_finish: OnFinish | None,
    executed_in: AsyncSession | None = None,
) -> None:
    """Commit an action's history rows with the caller's `on_finish`: in `executed_in` when the executor
    used that session (what it wrote commits with the record, or nothing does), else in a transaction
    shared with the other actions finishing at the same time (`services.writes`, a group commit); then
    tell the person's pages (`action_recorded`: an outcome, executed, failed or denied, is in the history)."""
    write = outcome_write(rows, result, on_finish)
    if executed_in is not None and executed_in.in_transaction():
        await commit_writes(executed_in, [write])
    else:
        await services.writes.run(write)
    row = rows.history
    await services.events.publish(
        row["user_id"], {"type": "action_recorded", "action_id": row["action_id"], "tool": row["tool"], "status": row["status"]}
    )


def outcome_write(rows: HistoryRows, result: AgentToolResult, on_finish: OnFinish | None) -> Write[None]:
    """The write that records an action's outcome: its history rows, then the caller's `on_finish`."""

    async def write(transaction: Transaction) -> None:
        rows.add_to(transaction)
        if on_finish is not None:
            await on_finish(transaction, result)

    return write


async def _reserve(
    services: ToolServices, record: ActionRecord, subject: Subject, policy: ToolPolicy, payload: dict[str, Any],
    on_finish: OnFinish | None,
) -> Reservation | AgentToolResult | None:
    """Hold one unit of today's quota, or the denial to return. Redis down -> SERVICE_UNAVAILABLE (fail closed)."""
    if policy.quota_channel is None:
        return None
    limit = subject.settings.daily_limits[policy.quota_channel]
    try:
        held = await services.quotas.reserve(
            record.user_id, policy.quota_channel, limit, subject.settings.timezone, services.clock(),
            burst_limit=services.burst_per_minute,
        )
    except QuotaBackendUnavailable:
        return await record_denial(
            services, record, payload, ErrorCode.SERVICE_UNAVAILABLE, "rate limiting is unavailable, so nothing is sent",
            on_finish=on_finish,
        )
    if isinstance(held, QuotaExceeded):
        what = "daily" if held.reason == "daily_limit" else "per-minute"
        return await record_denial(
            services, record, payload, ErrorCode.RATE_LIMITED,
            f"the {what} limit of {held.limit} {policy.quota_channel} is reached",
            {"retry_at": held.retry_at.isoformat(), "limit": held.limit, "reason": held.reason}, on_finish,
        )
    return held


async def _commit_quota(services: ToolServices, reservation: Reservation) -> None:
    """The send already happened: a quota store that fails now is logged, not reported as a failed action.
    The reservation then lapses after its TTL, so at worst this one send is not counted."""
    try:
        await services.quotas.commit(reservation)
    except QuotaBackendUnavailable:
        log.error("quota commit failed after a successful send", extra={"channel": reservation.channel})


async def _failed(
    services: ToolServices,
    session: AsyncSession,
    record: ActionRecord,
    payload: dict[str, Any],
    reservation: Reservation | None,
    failure: ToolFailure,
    on_finish: OnFinish | None,
) -> AgentToolResult:
    """A failed action keeps what the executor recorded (e.g. a carrier opt-out) and gives its quota back."""
    record.trace("tool_result", success=False, code=failure.code.value)
    result = AgentToolResult.fail(failure.code, failure.message, failure.details)
    rows = record.rows("failed", payload, error_code=failure.code.value, error_message=failure.message)
    await _record_outcome(services, rows, result, on_finish, session)
    if reservation is not None:
        try:
            await services.quotas.release(reservation)
        except QuotaBackendUnavailable:
            log.error("quota release failed; the reservation lapses after its TTL", extra={"channel": reservation.channel})
    log.info("action failed", extra={"tool": record.tool, "code": failure.code.value})
    return result

