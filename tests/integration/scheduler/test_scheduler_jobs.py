"""Scheduled jobs through the real worker, dispatch and policy, against the Twilio and Resend fakes.

The worker reads time only from `ToolServices.clock`, which each test moves by hand (`Clock`), and runs
what is due with `Worker.run_due()`. Every test runs on SQLite and on PostgreSQL + Redis.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from factories import history_rows, new_user, update_user_settings
from scheduling import job, jobs, schedule_reminder, seed_email_reminders, wait_for_status

from sqlalchemy import event

from db import consent
from db.models import PendingAgentAction
from server.worker import Worker
from tools.dispatch import Actor, dispatch
from tools.scheduler.outcomes import Backoff, Outcome
from tools.scheduler.queue import DEFAULT_LEASE, finish, job_action_id

LA = ZoneInfo("America/Los_Angeles")
NEW_YORK = ZoneInfo("America/New_York")


def local(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone).astimezone(timezone.utc)


async def test_a_due_reminder_is_sent_once_as_the_scheduler_with_the_job_action_id(ctx, clock, worker, providers):
    user = await new_user(ctx, timezone="America/Los_Angeles")
    reminder = await schedule_reminder(ctx, user.id, "2026-11-24T12:00", "email", "Drink water")
    assert await worker.run_due() == 0  # 11:00 in Los Angeles: not due yet
    clock.set(local(LA, 2026, 11, 24, 12, 0))
    assert await worker.run_due() == 1
    [email] = providers.resend.emails
    assert (email.payload["to"], email.payload["text"]) == ([user.email], "Drink water")
    assert email.idempotency_key == job_action_id(reminder.id)
    [row] = await history_rows(ctx, action_id=job_action_id(reminder.id))
    assert (row.tool, row.status, row.source) == ("send_email", "executed", "scheduler")
    assert (await job(ctx, reminder.id)).status == "done"


async def test_a_job_inside_quiet_hours_runs_when_they_end(ctx, clock, worker, providers):
    user = await new_user(ctx, timezone="America/Los_Angeles")
    reminder = await schedule_reminder(ctx, user.id, "2026-11-24T22:00", "sms")
    clock.set(local(LA, 2026, 11, 24, 22, 0))
    await worker.run_due()
    deferred = await job(ctx, reminder.id)
    assert (deferred.status, deferred.next_attempt_at) == ("pending", local(LA, 2026, 11, 25, 8, 0))
    assert providers.twilio.messages == []
    clock.set(local(LA, 2026, 11, 25, 8, 0))
    assert await worker.run_due() == 1
    assert len(providers.twilio.messages) == 1
    assert (await job(ctx, reminder.id)).status == "done"


async def test_a_rate_limited_job_is_retried_at_retry_at(ctx, clock, worker, providers):
    user = await new_user(ctx, timezone="America/Los_Angeles")
    await update_user_settings(ctx, user, max_sms_per_day=1)
    first = await schedule_reminder(ctx, user.id, "2026-11-24T12:00", "sms", "one")
    second = await schedule_reminder(ctx, user.id, "2026-11-24T12:00", "sms", "two")
    clock.set(local(LA, 2026, 11, 24, 12, 0))
    await worker.run_due()
    states = sorted([(await job(ctx, row.id)).status for row in (first, second)])
    assert states == ["done", "pending"] and len(providers.twilio.messages) == 1
    [waiting] = [await job(ctx, row.id) for row in (first, second) if (await job(ctx, row.id)).status == "pending"]
    assert waiting.next_attempt_at == local(LA, 2026, 11, 25, 0, 0)  # the user's next day
    clock.set(local(LA, 2026, 11, 25, 9, 0))
    assert await worker.run_due() == 1
    assert len(providers.twilio.messages) == 2


async def test_a_job_whose_permission_was_turned_off_is_cancelled_with_a_denial_row(ctx, clock, worker, providers):
    user = await new_user(ctx, timezone="America/Los_Angeles")
    reminder = await schedule_reminder(ctx, user.id, "2026-11-24T12:00", "sms")
    await update_user_settings(ctx, user, allow_send_sms=False)
    clock.set(local(LA, 2026, 11, 24, 12, 0))
    await worker.run_due()
    assert (await job(ctx, reminder.id)).status == "cancelled"
    [row] = await history_rows(ctx, action_id=job_action_id(reminder.id))
    assert (row.status, row.error_code, row.source) == ("denied", "PERMISSION_DENIED", "scheduler")
    assert providers.twilio.messages == []


async def test_a_reminder_to_an_address_that_opted_out_is_denied_and_not_sent(ctx, clock, worker, providers):
    user = await new_user(ctx, timezone="America/Los_Angeles")
    reminder = await schedule_reminder(ctx, user.id, "2026-11-24T12:00", "email")
    async with ctx.sessions() as session:
        await consent.record(session, address=user.email, channel="email", opted_out=True, source="email_unsubscribe")
        await session.commit()
    clock.set(local(LA, 2026, 11, 24, 12, 0))
    await worker.run_due()
    [row] = await history_rows(ctx, action_id=job_action_id(reminder.id))
    assert (row.status, row.error_code) == ("denied", "PERMISSION_DENIED")
    assert "opted out of email" in row.error_message
    assert providers.resend.emails == []


async def test_a_claim_reads_in_as_many_queries_however_many_jobs_it_holds(ctx, clock):
    """Reminders, owners, recorded outcomes, consent and flags are read for the whole claim at once."""
    selects: list[str] = []

    def count_select(_connection, _cursor, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    worker = Worker(ctx.services, worker_id="worker-a", concurrency=50)
    event.listen(ctx.engine.sync_engine, "before_cursor_execute", count_select)
    try:
        counts = []
        for users in (1, 5):
            await seed_email_reminders(ctx.sessions, users, 2, clock.now)
            selects.clear()
            assert await worker.run_due() == 2 * users
            counts.append(len(selects))
    finally:
        event.remove(ctx.engine.sync_engine, "before_cursor_execute", count_select)
    assert counts[0] == counts[1]


async def test_a_failing_provider_is_retried_with_backoff_then_the_job_fails_with_the_reason(ctx, clock, providers):
    worker = Worker(ctx.services, worker_id="worker-a", backoff=Backoff(first=timedelta(minutes=1), max_attempts=3))
    user = await new_user(ctx, timezone="America/Los_Angeles")
    reminder = await schedule_reminder(ctx, user.id, "2026-11-24T12:00", "email")
    providers.resend.fail_next(100, 500)
    clock.set(local(LA, 2026, 11, 24, 12, 0))
    waits = []
    for _ in range(2):
        await worker.run_due()
        retried = await job(ctx, reminder.id)
        assert retried.status == "pending" and "Resend is not available" in retried.last_error
        waits.append(retried.next_attempt_at - clock.now)
        clock.set(retried.next_attempt_at)
    await worker.run_due()
    failed = await job(ctx, reminder.id)
    assert waits == [timedelta(minutes=1), timedelta(minutes=2)]
    assert failed.status == "failed" and failed.last_error.startswith("gave up after 3 attempts: Resend is not available")
    assert providers.resend.emails == []


async def test_an_expired_pending_action_becomes_expired_with_a_history_row(ctx, clock, worker):
    user = await new_user(ctx, timezone="America/Los_Angeles")
    proposal = await dispatch(ctx.services, Actor(user.id, "api"), "send_sms", {"message": "Run at six"})
    assert proposal.needs_confirmation
    clock.advance(timedelta(minutes=6))
    await worker.maintain()
    async with ctx.sessions() as session:
        assert (await session.get(PendingAgentAction, proposal.pending_action_id)).status == "expired"
    statuses = [row.status for row in await history_rows(ctx, action_id=proposal.pending_action_id)]
    assert statuses == ["proposed", "expired"]


async def test_a_job_whose_lease_lapsed_is_run_by_another_worker_and_never_sent_twice(ctx, clock, worker, providers):
    user = await new_user(ctx, timezone="America/Los_Angeles")
    reminder = await schedule_reminder(ctx, user.id, "2026-11-24T12:00", "sms")
    clock.set(local(LA, 2026, 11, 24, 12, 0))
    stalled = Worker(ctx.services, worker_id="worker-stalls")
    [claimed] = await stalled.claim(10)
    assert await worker.run_due() == 0  # its lease still holds
    clock.advance(DEFAULT_LEASE + timedelta(seconds=1))
    assert await worker.run_due() == 1
    await stalled.run_job(claimed)  # the stalled worker wakes up and runs the job it claimed
    finished = await job(ctx, reminder.id)
    assert (finished.status, finished.attempts, finished.locked_by) == ("done", 2, None)
    assert len(providers.twilio.messages) == 1
    executed = [row for row in await history_rows(ctx, action_id=job_action_id(reminder.id)) if row.status == "executed"]
    assert len(executed) == 1


async def test_a_job_running_longer_than_its_lease_keeps_it_while_its_worker_lives(ctx, clock, providers):
    user = await new_user(ctx, timezone="America/Los_Angeles")
    reminder = await schedule_reminder(ctx, user.id, "2026-11-24T12:00", "sms")
    clock.set(local(LA, 2026, 11, 24, 12, 0))
    providers.twilio.delay_s = 1.5  # Twilio is slow: the job is still running when its lease would end
    slow = Worker(ctx.services, worker_id="worker-slow", poll_interval=0.02, lease_renewal_interval=0.05)
    stop = asyncio.Event()
    running = asyncio.create_task(slow.run(stop))
    try:
        await wait_for_status(ctx, reminder.id, "running")
        for _ in range(6):  # past the 5-minute lease, a minute at a time, renewed at each step
            clock.advance(timedelta(minutes=1))
            await asyncio.sleep(0.15)
        assert await Worker(ctx.services, worker_id="worker-b").claim(10) == []
    finally:
        stop.set()
        await running
    assert (await job(ctx, reminder.id)).status == "done"
    assert [request.created for request in providers.twilio.requests] == [True]


async def test_a_job_run_again_after_its_sms_went_out_unrecorded_adopts_that_sms(ctx, clock, worker, providers):
    user = await new_user(ctx, timezone="America/Los_Angeles")
    reminder = await schedule_reminder(ctx, user.id, "2026-11-24T12:00", "sms", "Stretch")
    twilio_clock, providers.twilio.clock = providers.twilio.clock, clock  # Twilio's timestamps in test time
    try:
        clock.set(local(LA, 2026, 11, 24, 12, 0))
        [claimed] = await Worker(ctx.services, worker_id="worker-dies").claim(10)
        clock.advance(timedelta(seconds=2))
        assert ctx.services.twilio is not None
        sent = await ctx.services.twilio.send_sms(user.phone, "Stretch")  # the send; the worker dies before recording it
        clock.advance(DEFAULT_LEASE + timedelta(seconds=1))
        assert await worker.run_due() == 1
    finally:
        providers.twilio.clock = twilio_clock
    assert len(providers.twilio.messages) == 1
    [executed] = [row for row in await history_rows(ctx, action_id=job_action_id(reminder.id)) if row.status == "executed"]
    assert executed.result["message_sid"] == sent
    assert (await job(ctx, reminder.id)).status == "done"


async def test_a_first_attempt_sends_without_looking_for_an_earlier_one(ctx, clock, worker, providers):
    user = await new_user(ctx, timezone="America/Los_Angeles")
    await schedule_reminder(ctx, user.id, "2026-11-24T12:00", "sms")
    clock.set(local(LA, 2026, 11, 24, 12, 0))
    assert await worker.run_due() == 1
    assert [request.method for request in providers.twilio.requests] == ["POST"]


async def test_a_daily_0700_reminder_stays_at_0700_local_across_a_dst_change(ctx, clock, worker, providers):
    clock.set(datetime(2027, 3, 11, 12, 0, tzinfo=timezone.utc))
    user = await new_user(ctx, timezone="America/New_York")
    occurrence = await schedule_reminder(ctx, user.id, "2027-03-12T07:00", "email", recurrence="FREQ=DAILY")
    due_times = []
    for _ in range(3):
        due_times.append(occurrence.due_at)
        clock.set(occurrence.due_at)
        assert await worker.run_due() == 1
        [occurrence] = await jobs(ctx, user_id=user.id, kind="reminder", status="pending")
    due_times.append(occurrence.due_at)
    assert [moment.astimezone(NEW_YORK).strftime("%d %H:%M") for moment in due_times] == [
        "12 07:00", "13 07:00", "14 07:00", "15 07:00",
    ]
    assert [moment.hour for moment in due_times] == [12, 12, 11, 11]  # UTC: EST, then EDT from 14 March
    assert len(providers.resend.emails) == 3


async def test_dispatch_with_an_executed_action_id_returns_the_recorded_result_without_running_again(ctx):
    user = await new_user(ctx)
    actor = Actor(user.id, "api")
    first = await dispatch(ctx.services, actor, "create_task", {"title": "Once"}, confidence=0.9, action_id="a" * 32)
    again = await dispatch(ctx.services, actor, "create_task", {"title": "Once"}, confidence=0.9, action_id="a" * 32)
    assert first.success and again.success and again.data == first.data
    assert [row.status for row in await history_rows(ctx, user_id=user.id)] == ["executed"]


async def test_dispatch_with_a_proposed_action_id_returns_the_pending_proposal(ctx):
    user = await new_user(ctx, timezone="America/Los_Angeles")
    actor = Actor(user.id, "api")
    first = await dispatch(ctx.services, actor, "send_sms", {"message": "Hi"}, action_id="b" * 32)
    again = await dispatch(ctx.services, actor, "send_sms", {"message": "Hi"}, action_id="b" * 32)
    assert first.needs_confirmation and again.needs_confirmation
    assert again.pending_action_id == first.pending_action_id == "b" * 32
    assert [row.status for row in await history_rows(ctx, user_id=user.id)] == ["proposed"]


async def test_an_action_id_of_another_users_action_is_refused(ctx):
    owner, other = await new_user(ctx), await new_user(ctx)
    await dispatch(ctx.services, Actor(owner.id, "api"), "create_task", {"title": "Mine"}, action_id="c" * 32)
    stolen = await dispatch(ctx.services, Actor(other.id, "api"), "create_task", {"title": "Mine"}, action_id="c" * 32)
    assert stolen.error is not None and stolen.error.code == "INVALID_ARGUMENT"


async def test_a_claim_takes_at_most_its_limit_and_a_second_worker_takes_the_rest(ctx, clock):
    job_ids = set(await seed_email_reminders(ctx.sessions, 2, 5, clock.now))
    first = await Worker(ctx.services, worker_id="worker-a").claim(4)
    second = await Worker(ctx.services, worker_id="worker-b").claim(100)
    assert (len(first), len(second)) == (4, 6)
    assert {row.id for row in first} | {row.id for row in second} == job_ids


async def test_jobs_finishing_together_are_finished_in_one_update_where_their_worker_still_holds_them(ctx, clock):
    job_ids = set(await seed_email_reminders(ctx.sessions, 1, 3, clock.now))
    claimed = await Worker(ctx.services, worker_id="worker-a").claim(3)
    clock.advance(DEFAULT_LEASE + timedelta(seconds=1))
    [taken] = await Worker(ctx.services, worker_id="worker-b").claim(1)
    updates: list[str] = []

    def count_update(_connection, _cursor, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            updates.append(statement)

    event.listen(ctx.engine.sync_engine, "before_cursor_execute", count_update)
    try:
        async with ctx.sessions() as session:
            held = await finish(session, "worker-a", [(claimed_job, Outcome("done")) for claimed_job in claimed])
            await session.commit()
    finally:
        event.remove(ctx.engine.sync_engine, "before_cursor_execute", count_update)
    assert held == job_ids - {taken.id}
    assert len(updates) == 1
    assert {row.id for row in await jobs(ctx, status="done") if row.id in job_ids} == held
    still_taken = await job(ctx, taken.id)
    assert (still_taken.status, still_taken.locked_by) == ("running", "worker-b")
